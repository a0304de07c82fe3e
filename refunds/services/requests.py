"""Opening a refund: by its customer (portal, API), by staff on a customer's behalf, or as a
marketplace reports it."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import transaction
from django.db.models import prefetch_related_objects

from integrations.registry import UnknownAdapter, adapter_class
from orders.models import Order

from .. import policy
from ..calculator import LineChoice, Proposal, propose_refund, unpaid_order_error
from ..errors import RefundError
from ..evidence import PreparedImage
from ..models import ReasonCode, Refund, RefundLine, RefundSource, RequesterRole
from ..rules import decide_role
from ..selectors import order_is_paid
from ..states import LARGE_REFUND_PERMISSION, Action, RefundStatus, Role
from ._common import allow, clean_text, load_permissions, lock_order, record
from .evidence import (
    files_kept_on_success,
    photo_required_error,
    reason_needs_photo,
    store_evidence,
)


def refund_request(
    *,
    actor,
    order: Order,
    reason_code: str,
    refund_only: bool,
    lines: Sequence[LineChoice] = (),
    shipping_amount=None,
    additional_amount=None,
    amount=None,
    customer_explanation: str = "",
    via: str = "",
    external_id: str = "",
    covers_cancellation: bool = False,
    requester_name: str = "",
    note: str = "",
    photos: Sequence[PreparedImage] = (),
    policy_override_note: str = "",
) -> Refund:
    """Open a refund. Customers may only do so for their own orders; only a paid order can be
    refunded; a person cannot ask for what the order's marketplace can never do (its adapter's
    Capabilities); the amount is proposed by the calculator (or checked against it when given).

    The account's return policy (refunds/policy.py): a customer cannot ask for lines it does not
    let them return, and gives an explanation where the reason needs one; staff may refund such
    lines with `policy_override_note` saying why, recorded on the request's event; a refund a
    marketplace reports is recorded as it is."""
    if reason_code not in ReasonCode.values:
        raise RefundError(
            f"Choose a reason from the list ({', '.join(ReasonCode.values)})", field="reason_code"
        )
    explanation = clean_text(customer_explanation, "customer_explanation", max_length=2000)
    override_note = clean_text(policy_override_note, "policy_override_note", max_length=2000)
    load_permissions(actor)
    # Photos (checked and re-encoded by refunds.evidence) are stored with the refund, and their
    # files deleted again when it is refused.
    with files_kept_on_success() as saved, transaction.atomic():
        order = lock_order(order.pk)
        role = allow(decide_role(actor, Action.REQUEST, order))
        if external_id:
            existing = Refund.objects.filter(order=order, external_id=external_id).first()
            if existing is not None:
                return existing
        _refuse_unpaid(order)
        if role is Role.CUSTOMER and not photos and reason_needs_photo(order.account, reason_code):
            raise photo_required_error(ReasonCode(reason_code).label)
        if role is not Role.SYSTEM:
            # A refund a marketplace reports is one it made (or, for a cancellation, whole units
            # it asks for): it is recorded as it is.
            _refuse_what_the_platform_cannot_do(
                order,
                lines=lines,
                shipping_amount=shipping_amount,
                additional_amount=additional_amount,
                amount=amount,
            )
        proposal = propose_refund(
            order=order,
            lines=lines,
            shipping_amount=shipping_amount,
            additional_amount=additional_amount,
            amount=amount,
        )
        overridden = {} if role is Role.SYSTEM else _policy_breaches(order, proposal, role, lines)
        if role is Role.CUSTOMER:
            policy.check_explanation(order.account, reason_code, explanation)
        if overridden and not override_note:
            raise RefundError(
                f"{' '.join(overridden.values())} To refund it anyway, say why you override "
                "the return policy",
                field="policy_override_note",
                code="policy",
            )
        source = {
            Role.CUSTOMER: RefundSource.PORTAL,
            Role.STAFF: RefundSource.STAFF,
            Role.SYSTEM: RefundSource.MARKETPLACE,
        }[role]
        refund = Refund.objects.create(
            order=order,
            status=RefundStatus.REQUESTED,
            requested_by=actor,
            requester_role=_requester_role(actor, role),
            requester_name=requester_name or (actor.get_username() if actor else via),
            source=source,
            reason_code=reason_code,
            customer_explanation=explanation,
            refund_only=refund_only,
            covers_cancellation=covers_cancellation,
            lines_amount=proposal.lines_amount,
            shipping_amount=proposal.shipping_amount,
            additional_amount=proposal.additional_amount,
            total=proposal.total,
            currency=order.currency,
            external_id=external_id,
        )
        RefundLine.objects.bulk_create(
            RefundLine(
                refund=refund,
                order_line_id=line.order_line_id,
                quantity=line.quantity,
                amount=line.amount,
                restock=line.restock,
            )
            for line in proposal.lines
        )
        record(
            refund,
            actor=actor,
            via=via,
            action=Action.REQUEST,
            from_status="",
            changes={
                "total": str(refund.total),
                "lines": {p.sku: [p.quantity, str(p.amount)] for p in proposal.lines},
                "shipping": str(refund.shipping_amount),
                "additional": str(refund.additional_amount),
                "refund_only": refund_only,
                **(
                    {"policy_override": {"note": override_note, "lines": overridden}}
                    if overridden
                    else {}
                ),
            },
            note=note,
        )
        if photos:
            store_evidence(refund, photos, actor=actor, via=via, saved=saved)
    return refund


def _policy_breaches(
    order: Order, proposal: Proposal, role: Role, lines: Sequence[LineChoice]
) -> dict[str, str]:
    """The proposed lines the return policy does not let the customer return, as {sku: "<item>:
    <why not>"}. A customer's request stops at the first one (naming its line's field); staff's
    come back to be overridden."""
    ids = [p.order_line_id for p in proposal.lines]
    by_id = {line.pk: line for line in order.lines.filter(pk__in=ids)}
    found = policy.breaches(policy.order_eligibility(order, lines=by_id.values()), ids)
    if not found:
        return {}
    described = {
        b.order_line_id: f"{by_id[b.order_line_id].name} ({by_id[b.order_line_id].sku}): {b.reason}"
        for b in found
    }
    if role is Role.CUSTOMER:
        first = found[0].order_line_id
        raise RefundError(
            described[first],
            # A line the customer chose is named by its form field; an amount spread over the
            # lines by the amount's.
            field=f"line_{first}" if lines else "amount",
            code="policy",
        )
    return {by_id[pk].sku: text for pk, text in described.items()}


def _requester_role(actor, role: Role) -> str:
    if role is Role.SYSTEM:
        return RequesterRole.MARKETPLACE
    if role is Role.CUSTOMER:
        return RequesterRole.CUSTOMER
    if actor.has_perm(LARGE_REFUND_PERMISSION):
        return RequesterRole.MANAGER
    return RequesterRole.AGENT


def _refuse_unpaid(order: Order) -> None:
    """Nothing on an order that was not paid is refundable: say so, rather than the calculator's
    "0.00 refundable". The payments are read once, for the calculator too."""
    prefetch_related_objects([order], "payments")
    if not order_is_paid(order):
        raise unpaid_order_error(order)


def _asks_for_money(value) -> bool:
    """Whether an amount input asks for anything (not empty, not zero). A malformed one is left
    to the calculator, which says what is wrong with it."""
    if value is None or value == "":
        return False
    try:
        return Decimal(str(value)) != 0
    except ArithmeticError:
        return False


def _refuse_what_the_platform_cannot_do(
    order: Order, *, lines: Sequence[LineChoice], shipping_amount, additional_amount, amount
) -> None:
    """Refuse, before anything is saved, a refund the order's marketplace can never accept (its
    adapter's Capabilities): sent, it would only come back refused and need attention."""
    try:
        adapter = adapter_class(order.account.adapter_key)
    except UnknownAdapter:
        return  # no adapter to ask: the delivery reports what the platform says
    can, name = adapter.capabilities, adapter.label
    unit_less = any(not c.quantity and _asks_for_money(c.amount) for c in lines)
    if not can.partial_amount_refund and (unit_less or (not lines and _asks_for_money(amount))):
        raise RefundError(
            f"{name} refunds whole units of order items only, not an amount: choose the items "
            "and how many units to refund",
            field="lines" if lines else "amount",
            code="unsupported",
        )
    if not can.partial_line_quantity:
        ordered = dict(
            order.lines.filter(pk__in=[c.order_line_id for c in lines]).values_list(
                "pk", "quantity"
            )
        )
        for choice in lines:
            whole = ordered.get(choice.order_line_id)
            if whole is not None and choice.quantity and choice.quantity != whole:
                raise RefundError(
                    f"{name} refunds an order item with all its units or not at all: refund "
                    f"all {whole} units of this item, or leave it out",
                    field="lines",
                    code="unsupported",
                )
    if not can.shipping_refund and _asks_for_money(shipping_amount):
        raise RefundError(
            f"{name} cannot refund shipping: refund it outside {name} and leave shipping at 0",
            field="shipping_amount",
            code="unsupported",
        )
    if not can.additional_charges_refund and _asks_for_money(additional_amount):
        raise RefundError(
            f"{name} cannot refund additional charges: refund them outside {name} and leave "
            "them at 0",
            field="additional_amount",
            code="unsupported",
        )
