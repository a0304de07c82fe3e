"""The only writers of refunds.

Each action is one transaction: lock the order then the refund (always in that order), check
the transition and the actor's permission, check the money, save with `update_fields`, append a
RefundEvent and, when the marketplace must hear of it, write an outbox row. A refused action
raises RefundError and writes nothing. Work that leaves the database (HTTP, e-mail) happens only
after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery, prefetch_related_objects
from django.utils import timezone

from integrations.base import Accepted, Confirmed, FailedForNow, OutboundKind, Rejected, Result
from integrations.outbox import outbound_action_create
from integrations.registry import adapter_class
from orders.models import Order, OrderLine

from .calculator import LineChoice, propose_refund, unpaid_order_error
from .errors import RefundError
from .models import (
    ReasonCode,
    Refund,
    RefundEvent,
    RefundLine,
    RefundSource,
    RequesterRole,
)
from .money import format_money, quantize, unit_share
from .selectors import order_is_paid, order_refundable_total
from .states import (
    LARGE_REFUND_PERMISSION,
    ROLES,
    STAFF_PERMISSION,
    Action,
    RefundStatus,
    Role,
    TransitionError,
    is_forward,
    target_status,
)

logger = logging.getLogger(__name__)
SYSTEM = None  # the actor for the worker and the marketplaces


@dataclass(frozen=True)
class Received:
    """What came back for one refund line."""

    quantity: int
    restock: bool = False


# --- helpers ---------------------------------------------------------------------------------


def _actor_label(actor, via: str) -> str:
    if actor is None:
        return f"system: {via}" if via else "system"
    return actor.get_username()


def _is_owner(actor, order: Order) -> bool:
    return actor is not None and order.customer.user_id == actor.pk


def _role(actor, action: Action, order: Order) -> Role:
    """Which role the actor takes this action in, or RefundError when it may not."""
    if actor is None:
        if Role.SYSTEM in ROLES[action]:
            return Role.SYSTEM
        raise RefundError(f"Only a person can {action.value} a refund", code="forbidden")
    if not actor.is_active:
        raise RefundError("This account is disabled", code="forbidden")
    permission = STAFF_PERMISSION.get(action)
    if Role.STAFF in ROLES[action] and actor.is_staff and permission and actor.has_perm(permission):
        return Role.STAFF
    if Role.CUSTOMER in ROLES[action] and _is_owner(actor, order):
        return Role.CUSTOMER
    raise RefundError(f"You do not have permission to {action.value} this refund", code="forbidden")


def _lock_order(order_id: int) -> Order:
    """Lock the order's row only (`of=self`): without it PostgreSQL would also lock the joined
    customer and marketplace account rows, and every writer of any order of that account would
    queue behind one another."""
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "account")
        .get(pk=order_id)
    )


def _lock(refund: Refund) -> tuple[Order, Refund]:
    """Lock the order first, then the refund: every writer takes them in this order. A refund
    never moves to another order, so the caller's `order_id` names the order to lock (a refund
    not loaded from the database costs one read first)."""
    order_id = refund.order_id or Refund.objects.values_list("order_id", flat=True).get(
        pk=refund.pk
    )
    order = _lock_order(order_id)
    refund = Refund.objects.select_for_update().get(pk=refund.pk)
    if refund.order_id != order.pk:  # only an instance whose order_id was changed in memory
        raise ValueError(f"Refund {refund.pk} is not on order {order_id}")
    refund.order = order
    return order, refund


def _load_permissions(actor) -> None:
    """Read a staff actor's permissions (two queries, cached on the user object) before any lock
    is taken, so that the permission checks made under the lock cost nothing. Customers' and
    superusers' checks read no permissions, so nothing is loaded for them."""
    if actor is not None and actor.is_active and actor.is_staff and not actor.is_superuser:
        actor.get_all_permissions()


def _transition(action: Action, refund: Refund) -> RefundStatus:
    try:
        return target_status(action, RefundStatus(refund.status), refund_only=refund.refund_only)
    except TransitionError as exc:
        raise RefundError(exc.message, code="invalid_transition") from None


def _record(
    refund: Refund,
    *,
    actor,
    via: str,
    action: str,
    from_status: str,
    changes: Mapping | None = None,
    note: str = "",
) -> RefundEvent:
    event = RefundEvent.objects.create(
        refund=refund,
        actor=actor,
        actor_label=_actor_label(actor, via),
        action=action,
        from_status=from_status,
        to_status=refund.status,
        changes=dict(changes or {}),
        note=note,
    )
    if from_status != refund.status:
        from . import notifications

        refund_id, old, new = refund.pk, from_status, refund.status
        transaction.on_commit(lambda: notifications.status_changed(refund_id, old, new))
    return event


def _save(refund: Refund, *fields: str) -> None:
    refund.save(update_fields=[*fields, "updated_at"])


def _platform_knows(refund: Refund) -> bool:
    return bool(refund.external_id or refund.external_request_id)


def _requester_role(actor, role: Role) -> str:
    if role is Role.SYSTEM:
        return RequesterRole.MARKETPLACE
    if role is Role.CUSTOMER:
        return RequesterRole.CUSTOMER
    if actor.has_perm(LARGE_REFUND_PERMISSION):
        return RequesterRole.MANAGER
    return RequesterRole.AGENT


def _clean_text(value: str, field: str, *, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise RefundError("This field is required", field=field)
    if len(value) > max_length:
        raise RefundError(f"At most {max_length} characters", field=field)
    return value


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
    except (LookupError, ImportError):
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


# --- actions ---------------------------------------------------------------------------------


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
) -> Refund:
    """Open a refund. Customers may only do so for their own orders; only a paid order can be
    refunded; a person cannot ask for what the order's marketplace can never do (its adapter's
    Capabilities); the amount is proposed by the calculator (or checked against it when given)."""
    if reason_code not in ReasonCode.values:
        raise RefundError(
            f"Choose a reason from the list ({', '.join(ReasonCode.values)})", field="reason_code"
        )
    explanation = _clean_text(customer_explanation, "customer_explanation", max_length=2000)
    _load_permissions(actor)
    with transaction.atomic():
        order = _lock_order(order.pk)
        role = _role(actor, Action.REQUEST, order)
        if external_id:
            existing = Refund.objects.filter(order=order, external_id=external_id).first()
            if existing is not None:
                return existing
        _refuse_unpaid(order)
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
        _record(
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
            },
            note=note,
        )
    return refund


def refund_approve(*, actor, refund: Refund, note: str = "") -> Refund:
    """Approve: REQUESTED → WAITING (goods come back) or → PROCESSING (refund only, the
    marketplace is told at once). Maker-checker and the approval limit apply.

    Approvals of one order queue on its lock, so the locked part reads only what it must: the
    order, the refund and the sum of the order's other active refunds."""
    _load_permissions(actor)
    with transaction.atomic():
        order, refund = _lock(refund)
        _role(actor, Action.APPROVE, order)
        new_status = _transition(Action.APPROVE, refund)
        if refund.requested_by_id == actor.pk:
            raise RefundError(
                "You requested this refund, so someone else must approve it", code="maker_checker"
            )
        limit = quantize(settings.REFUND_APPROVAL_LIMIT, refund.currency)
        if refund.total > limit and not actor.has_perm(LARGE_REFUND_PERMISSION):
            raise RefundError(
                f"Refunds above {format_money(limit, refund.currency)} need a refund manager's "
                f"approval (this one is {format_money(refund.total, refund.currency)})",
                code="approval_limit",
            )
        # Money is checked again: other refunds may have been requested since this one.
        _recheck_money(refund)
        old = refund.status
        refund.status = new_status
        refund.confirmed_at = timezone.now()
        _save(refund, "status", "confirmed_at")
        _record(refund, actor=actor, via="", action=Action.APPROVE, from_status=old, note=note)
        if new_status == RefundStatus.PROCESSING:
            outbound_action_create(refund=refund, kind=OutboundKind.CREATE_REFUND)
        elif _platform_knows(refund):
            outbound_action_create(refund=refund, kind=OutboundKind.APPROVE_RETURN)
    return refund


def _recheck_money(refund: Refund) -> None:
    room = order_refundable_total(refund.order, exclude_refund_id=refund.pk)
    if refund.total > room:
        if not order_is_paid(refund.order):  # nothing is refundable on it: say why
            raise unpaid_order_error(refund.order)
        raise RefundError(
            f"Order {refund.order.external_number}: {format_money(room, refund.currency)} "
            f"refundable, {format_money(refund.total, refund.currency)} in this refund",
            code="over_refund",
        )


def refund_deny(*, actor, refund: Refund, reason: str, via: str = "") -> Refund:
    """Deny with a reason the customer will read. A PROCESSING refund can be denied only when its
    delivery failed for good ("needs attention")."""
    reason = _clean_text(reason, "reason", max_length=2000, required=True)
    _load_permissions(actor)
    with transaction.atomic():
        order, refund = _lock(refund)
        _role(actor, Action.DENY, order)
        new_status = _transition(Action.DENY, refund)
        if refund.status == RefundStatus.PROCESSING and not refund.needs_attention:
            raise RefundError(
                "This refund is being processed by the marketplace; it can be denied only if "
                "the marketplace refused it",
                code="invalid_transition",
            )
        if refund.outcome_unknown:
            raise RefundError(
                f"{order.account.name} may have paid this refund: sending it got no answer. "
                f"Check it on {order.account.name} first (Retry asks again with the same key, "
                "so it cannot be paid twice)",
                code="outcome_unknown",
            )
        old = refund.status
        refund.status = new_status
        refund.response_reason = reason
        refund.needs_attention = False
        _save(refund, "status", "response_reason", "needs_attention")
        _record(refund, actor=actor, via=via, action=Action.DENY, from_status=old, note=reason)
        if _platform_knows(refund) and actor is not None:
            outbound_action_create(refund=refund, kind=OutboundKind.DENY_REFUND)
    return refund


def refund_ship(*, actor, refund: Refund, tracking_id: str, carrier: str, via: str = "") -> Refund:
    """Record the return shipment (tracking id and carrier) while the refund is WAITING."""
    tracking_id = _clean_text(tracking_id, "tracking_id", max_length=100, required=True)
    carrier = _clean_text(carrier, "carrier", max_length=100, required=True)
    _load_permissions(actor)
    with transaction.atomic():
        order, refund = _lock(refund)
        _role(actor, Action.SHIP, order)
        _transition(Action.SHIP, refund)
        if refund.refund_only:
            raise RefundError("This refund needs no return shipment: the customer keeps the goods")
        if (refund.return_tracking_id, refund.return_carrier) == (tracking_id, carrier):
            return refund
        changes = {
            "tracking_id": [refund.return_tracking_id, tracking_id],
            "carrier": [refund.return_carrier, carrier],
        }
        refund.return_tracking_id, refund.return_carrier = tracking_id, carrier
        _save(refund, "return_tracking_id", "return_carrier")
        _record(
            refund,
            actor=actor,
            via=via,
            action=Action.SHIP,
            from_status=refund.status,
            changes=changes,
        )
        if _platform_knows(refund) and actor is not None:
            outbound_action_create(refund=refund, kind=OutboundKind.SEND_RETURN_SHIPMENT)
    return refund


def refund_receive(
    *, actor, refund: Refund, received: Mapping[int, Received], note: str = ""
) -> Refund:
    """Record the goods that came back (per refund line: units received and whether they go back
    into stock): WAITING → PROCESSING. The refund is capped to what was received."""
    _load_permissions(actor)
    with transaction.atomic():
        order, refund = _lock(refund)
        _role(actor, Action.RECEIVE, order)
        new_status = _transition(Action.RECEIVE, refund)
        lines = {line.pk: line for line in refund.lines.select_related("order_line")}
        unknown = set(received) - set(lines)
        if unknown:
            raise RefundError("Some lines are not part of this refund", field="lines")
        changes = {}
        new_lines_amount = Decimal(0)
        for line_id, line in lines.items():
            got = received.get(line_id, Received(0, False))
            if (
                isinstance(got.quantity, bool)
                or not isinstance(got.quantity, int)
                or got.quantity < 0
            ):
                raise RefundError(
                    f"Line {line.order_line.sku}: enter a whole number of units", field="lines"
                )
            if got.quantity > line.quantity:
                raise RefundError(
                    f"Line {line.order_line.sku}: {line.quantity} units expected, "
                    f"{got.quantity} received",
                    field="lines",
                )
            amount = line.amount
            if line.quantity and got.quantity < line.quantity:
                amount = unit_share(
                    line_total=line.amount,
                    line_quantity=line.quantity,
                    units_before=0,
                    units=got.quantity,
                    currency=refund.currency,
                )
            changes[line.order_line.sku] = {
                "received": got.quantity,
                "restock": got.restock,
                "amount": str(amount),
            }
            line.received_quantity, line.restock, line.amount = got.quantity, got.restock, amount
            new_lines_amount += amount
        new_total = new_lines_amount + refund.shipping_amount + refund.additional_amount
        if new_total <= 0:
            raise RefundError(
                "Nothing refundable was received; deny the refund instead", field="lines"
            )
        for line in lines.values():
            line.save(update_fields=["received_quantity", "restock", "amount"])
        old = refund.status
        refund.status = new_status
        refund.lines_amount = new_lines_amount
        refund.total = new_total
        refund.received_at = timezone.now()
        _save(refund, "status", "lines_amount", "total", "received_at")
        _record(
            refund,
            actor=actor,
            via="",
            action=Action.RECEIVE,
            from_status=old,
            changes={"lines": changes, "total": str(new_total)},
            note=note,
        )
        outbound_action_create(refund=refund, kind=OutboundKind.CREATE_REFUND)
    return refund


def refund_cancel(*, actor, refund: Refund, note: str = "", via: str = "") -> Refund:
    """Cancel: the requester (customer) or staff, while REQUESTED or WAITING."""
    _load_permissions(actor)
    with transaction.atomic():
        order, refund = _lock(refund)
        role = _role(actor, Action.CANCEL, order)
        new_status = _transition(Action.CANCEL, refund)
        if (
            role is Role.CUSTOMER
            and refund.source == RefundSource.STAFF
            and (refund.requested_by_id != actor.pk)
        ):
            raise RefundError("Only staff can cancel a refund that staff opened", code="forbidden")
        old = refund.status
        refund.status = new_status
        _save(refund, "status")
        _record(
            refund,
            actor=actor,
            via=via,
            action=Action.CANCEL,
            from_status=old,
            note=_clean_text(note, "note", max_length=2000),
        )
        if _platform_knows(refund) and actor is not None:
            outbound_action_create(refund=refund, kind=OutboundKind.CANCEL_REFUND)
    return refund


def refund_retry(*, actor, refund: Refund, note: str = "") -> Refund:
    """Send a refund whose delivery failed for good once more, with a new outbox row."""
    _load_permissions(actor)
    with transaction.atomic():
        order, refund = _lock(refund)
        _role(actor, Action.RETRY, order)
        _transition(Action.RETRY, refund)
        if not refund.needs_attention:
            raise RefundError("Only a refund whose delivery failed can be retried")
        was_unknown = refund.outcome_unknown
        refund.needs_attention = False
        refund.attention_message = ""
        refund.outcome_unknown = False
        _save(refund, "needs_attention", "attention_message", "outcome_unknown")
        # The same idempotency key as every earlier attempt: a platform that already holds the
        # refund answers with it instead of paying a second time.
        action = outbound_action_create(refund=refund, kind=OutboundKind.CREATE_REFUND)
        _record(
            refund,
            actor=actor,
            via="",
            action=Action.RETRY,
            from_status=refund.status,
            changes={"idempotency_key": action.idempotency_key, "outcome_was_unknown": was_unknown},
            note=note,
        )
    return refund


def refund_mark_outcome_unknown(
    *, refund: Refund, attempts: int, last_error: str, idempotency_key: str, via: str
) -> Refund:
    """Sending the refund was given up without an answer: the marketplace may have paid it. Not
    a refusal: the refund needs attention as "outcome unknown" and cannot be denied. Where the
    adapter finds a refund by our key before creating one (`Capabilities.refund_lookup`), the
    marketplace is asked again once, with the same key, through the outbox: it answers with the
    refund it holds, or takes it now if it never got it. Otherwise, or when that got no answer
    either, a person is asked to check on the marketplace, with the evidence."""
    from integrations.registry import adapter_class

    with transaction.atomic():
        order, refund = _lock(refund)
        if refund.status in (RefundStatus.ISSUED, RefundStatus.DENIED, RefundStatus.CANCELLED):
            return refund  # the marketplace's answer arrived meanwhile (webhook, poll)
        name = order.account.name
        last = (
            refund.events.filter(action__in=("outcome_unknown", Action.RETRY)).order_by("id").last()
        )
        asked_again = bool(last and last.action == "outcome_unknown")
        ask_platform = (
            adapter_class(order.account.adapter_key).capabilities.refund_lookup and not asked_again
        )
        evidence = f"{attempts} attempts, last: {last_error or 'no answer'}"
        if ask_platform:
            message = (
                f"Outcome unknown: {name} did not answer ({evidence}). Refund Desk is asking "
                f"{name} again with the same key {idempotency_key}: it answers with the refund "
                "it holds, or takes it now if it never got it."
            )
        else:
            message = (
                f"Outcome unknown: {name} did not answer ({evidence}). Check on {name} whether "
                f"refund {idempotency_key} exists before doing anything else. Retry asks again "
                "with the same key."
            )
        refund.needs_attention, refund.outcome_unknown = True, True
        refund.attention_message = message
        _save(refund, "needs_attention", "outcome_unknown", "attention_message")
        _record(
            refund,
            actor=SYSTEM,
            via=via,
            action="outcome_unknown",
            from_status=refund.status,
            changes={
                "attempts": attempts,
                "last_error": last_error[:500],
                "idempotency_key": idempotency_key,
                "asking_the_marketplace": ask_platform,
            },
            note=message,
        )
        if ask_platform:
            outbound_action_create(refund=refund, kind=OutboundKind.CREATE_REFUND)
        else:
            from . import notifications

            rid = refund.pk
            transaction.on_commit(lambda: notifications.needs_attention(rid))
    return refund


def refund_apply_marketplace_result(
    *, refund: Refund, result: Result, kind: str = OutboundKind.CREATE_REFUND, via: str
) -> Refund:
    """Apply what a marketplace answered (delivery task, webhook or poll). Idempotent, and a
    refund never moves backwards: a late "accepted" after "confirmed" changes nothing."""
    with transaction.atomic():
        order, refund = _lock(refund)
        old = refund.status
        fields: list[str] = []
        changes: dict = {}
        for attr, value in (
            ("external_id", getattr(result, "external_id", "")),
            ("external_request_id", getattr(result, "external_request_id", "")),
        ):
            if value and getattr(refund, attr) != value:
                changes[attr] = [getattr(refund, attr), value]
                setattr(refund, attr, value)
                fields.append(attr)
        money_kind = kind in (OutboundKind.CREATE_REFUND, OutboundKind.READ_STATUS)
        name = order.account.name
        drift = ""
        if isinstance(result, Confirmed) and money_kind:
            if refund.status == RefundStatus.PROCESSING:
                refund.status = RefundStatus.ISSUED
                refund.issued_at = timezone.now()
                refund.needs_attention = False
                refund.outcome_unknown = False
                refund.attention_message = ""
                fields += [
                    "status",
                    "issued_at",
                    "needs_attention",
                    "outcome_unknown",
                    "attention_message",
                ]
            elif refund.status == RefundStatus.ISSUED and any(old for old, _ in changes.values()):
                # Confirmed again, under other ids than the refund it already paid: a second
                # refund on the platform. Staff must see it; the ids stay as first recorded.
                for attr in changes:
                    setattr(refund, attr, changes[attr][0])
                drift = (
                    f"{name} confirmed another refund ({_ids(result)}) for this refund, which "
                    f"was already issued as {_ids(refund)}: check {name} for a double payment"
                )
                fields, changes = [], {}
        elif isinstance(result, Rejected):
            if result.code == "gave_up":
                message = f"{name}: {result.message}"
            else:
                message = f"{name} refused: {result.message}"
            if (
                refund.status
                not in (RefundStatus.ISSUED, RefundStatus.DENIED, RefundStatus.CANCELLED)
                or not money_kind
            ) and (
                refund.attention_message != message
                or not refund.needs_attention
                or (refund.outcome_unknown and money_kind)
            ):
                refund.needs_attention = True
                refund.attention_message = message
                fields += ["needs_attention", "attention_message"]
                if money_kind and refund.outcome_unknown:
                    refund.outcome_unknown = False  # the platform answered: it is known now
                    fields.append("outcome_unknown")
                from . import notifications

                rid = refund.pk
                transaction.on_commit(lambda: notifications.needs_attention(rid))
        elif isinstance(result, Accepted) and money_kind and refund.outcome_unknown:
            # Asked again after an unknown outcome, the platform holds the refund (or took it
            # now): nothing more to send; its result arrives as usual.
            if refund.status == RefundStatus.PROCESSING:
                refund.outcome_unknown = False
                refund.needs_attention = False
                refund.attention_message = ""
                fields += ["outcome_unknown", "needs_attention", "attention_message"]
        elif isinstance(result, Accepted | FailedForNow):
            pass
        if drift:
            if not (refund.has_drift and refund.drift_note == drift):
                _mark_drift(refund, note=drift, via=via)
            return refund
        if not fields:
            return refund
        _save(refund, *dict.fromkeys(fields))
        _record(
            refund,
            actor=SYSTEM,
            via=via,
            action=f"marketplace_{type(result).__name__.lower()}",
            from_status=old,
            changes=changes,
            note=getattr(result, "message", ""),
        )
    return refund


def _ids(source) -> str:
    ids = [i for i in (source.external_id, source.external_request_id) if i]
    return " / ".join(dict.fromkeys(ids)) or "no id"


def refund_apply_remote_status(
    *,
    refund: Refund,
    status: str,
    via: str,
    response_reason: str = "",
    tracking_id: str = "",
    carrier: str = "",
) -> Refund:
    """A platform reports a refund's status (poll or webhook). Forward moves are applied; a
    report that would move the refund backwards is ignored; a contradiction is flagged as drift
    for staff to see."""
    new = RefundStatus(status)
    with transaction.atomic():
        order, refund = _lock(refund)
        current = RefundStatus(refund.status)
        if new == current:
            return refund
        if not is_forward(current, new):
            if current in (RefundStatus.ISSUED, RefundStatus.DENIED, RefundStatus.CANCELLED):
                note = f"{order.account.name} reports {new.value}, Refund Desk has {current.value}"
                if not refund.has_drift or refund.drift_note != note:
                    refund.has_drift, refund.drift_note = True, note
                    _save(refund, "has_drift", "drift_note")
                    _record(
                        refund,
                        actor=SYSTEM,
                        via=via,
                        action="drift",
                        from_status=current,
                        note=note,
                    )
            return refund
        fields = ["status"]
        refund.status = new
        now = timezone.now()
        if new == RefundStatus.ISSUED:
            refund.issued_at = now
            fields.append("issued_at")
        if new in (RefundStatus.WAITING, RefundStatus.PROCESSING) and not refund.confirmed_at:
            refund.confirmed_at = now
            fields.append("confirmed_at")
        if response_reason:
            refund.response_reason = response_reason
            fields.append("response_reason")
        if tracking_id and tracking_id != refund.return_tracking_id:
            refund.return_tracking_id, refund.return_carrier = tracking_id, carrier
            fields += ["return_tracking_id", "return_carrier"]
        _save(refund, *fields)
        _record(
            refund,
            actor=SYSTEM,
            via=via,
            action="marketplace_status",
            from_status=current,
            note=response_reason,
        )
    return refund


def refund_flag_drift(*, refund: Refund, note: str, via: str) -> Refund:
    with transaction.atomic():
        _, refund = _lock(refund)
        if refund.has_drift and refund.drift_note == note:
            return refund
        _mark_drift(refund, note=note, via=via)
    return refund


def _mark_drift(refund: Refund, *, note: str, via: str) -> None:
    """Flag a locked refund as drifting from its marketplace, with the audit event."""
    refund.has_drift, refund.drift_note = True, note
    _save(refund, "has_drift", "drift_note")
    _record(refund, actor=SYSTEM, via=via, action="drift", from_status=refund.status, note=note)


def refunds_flag_stale_processing(*, now=None) -> int:
    """Flag (as drift) every refund in PROCESSING that its marketplace accepted more than
    REFUND_STALE_PROCESSING_HOURS ago and has neither confirmed nor refused since. Not a
    delivery failure, so not "needs attention": a retry would send the money twice. Staff check
    the refund on the marketplace; a late result still completes it. Idempotent: the note is
    stable, so a second run records nothing. Returns how many refunds were newly flagged."""
    from integrations.models import OutboundAction, OutboundState

    now = now or timezone.now()
    hours = settings.REFUND_STALE_PROCESSING_HOURS
    accepted_at = Subquery(
        OutboundAction.objects.filter(
            refund=OuterRef("pk"),
            kind=OutboundKind.CREATE_REFUND,
            state=OutboundState.SUCCEEDED,
        )
        .order_by("-completed_at")
        .values("completed_at")[:1]
    )
    stale = (
        Refund.objects.filter(status=RefundStatus.PROCESSING, has_drift=False)
        .annotate(accepted_at=accepted_at)
        .filter(accepted_at__lt=now - dt.timedelta(hours=hours))
        .select_related("order__account")
        .order_by("accepted_at")
    )
    flagged = 0
    for refund in stale:
        account = refund.order.account
        reference = refund.external_request_id or refund.external_id or "no id yet"
        note = (
            f"{account.name} accepted this refund on {refund.accepted_at:%Y-%m-%d %H:%M} UTC "
            f"({reference}) and has not confirmed or refused it within {hours:g} hours. Check "
            "it on the marketplace before doing anything else: a late answer still completes it."
        )
        with transaction.atomic():
            _, refund = _lock(refund)
            if refund.status != RefundStatus.PROCESSING or refund.has_drift:
                continue  # answered (or flagged) since the query above
            _mark_drift(refund, note=note, via="stale check")
        flagged += 1
        logger.warning("refund %s stale in PROCESSING: %s", refund.number, note)
    return flagged


def refund_resolve_drift(*, actor, refund: Refund, note: str = "") -> Refund:
    _load_permissions(actor)
    with transaction.atomic():
        order, refund = _lock(refund)
        _role(actor, Action.APPROVE, order)
        if not refund.has_drift:
            return refund
        refund.has_drift, refund.drift_note = False, ""
        _save(refund, "has_drift", "drift_note")
        _record(
            refund,
            actor=actor,
            via="",
            action="drift_resolved",
            from_status=refund.status,
            note=note,
        )
    return refund


def order_line_record_cancellation(*, order_line: OrderLine, quantity: int) -> OrderLine:
    """The seller cancelled units of a line (a marketplace told us)."""
    with transaction.atomic():
        line = OrderLine.objects.select_for_update().get(pk=order_line.pk)
        new = min(line.cancelled_quantity + quantity, line.quantity)
        if new != line.cancelled_quantity:
            line.cancelled_quantity = new
            line.save(update_fields=["cancelled_quantity"])
    return line
