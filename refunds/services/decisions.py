"""What people decide about a refund: approve, deny, record the return shipment and the goods
received, cancel, retry a failed delivery, resolve a drift. Whether the actor may is
`refunds.rules.decide`, asked under the locks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from integrations.base import OutboundKind
from orders.money import format_money, unit_share
from refunds.delivery.outbox import outbound_action_create

from ..calculator import unpaid_order_error
from ..errors import RefundError
from ..models import Refund
from ..rules import decide, decide_role
from ..selectors import order_is_paid, order_refundable_total
from ..states import Action, RefundStatus
from ._common import (
    allow,
    clean_text,
    load_permissions,
    lock,
    next_status,
    platform_knows,
    record,
    save,
)


@dataclass(frozen=True)
class Received:
    """What came back for one refund line."""

    quantity: int
    restock: bool = False


def refund_approve(*, actor, refund: Refund, note: str = "") -> Refund:
    """Approve: REQUESTED → WAITING (goods come back) or → PROCESSING (refund only, the
    marketplace is told at once). Maker-checker and the approval limit apply.

    Approvals of one order queue on its lock, so the locked part reads only what it must: the
    order, the refund and the sum of the order's other active refunds."""
    load_permissions(actor)
    with transaction.atomic():
        _, refund = lock(refund)
        allow(decide(actor, refund, Action.APPROVE))
        new_status = next_status(Action.APPROVE, refund)
        # Money is checked again: other refunds may have been requested since this one.
        _recheck_money(refund)
        old = refund.status
        refund.status = new_status
        refund.confirmed_at = timezone.now()
        save(refund, "status", "confirmed_at")
        record(refund, actor=actor, via="", action=Action.APPROVE, from_status=old, note=note)
        if new_status == RefundStatus.PROCESSING:
            outbound_action_create(refund=refund, kind=OutboundKind.CREATE_REFUND)
        elif platform_knows(refund):
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
    delivery failed for good ("needs attention"), and never while its outcome is unknown."""
    reason = clean_text(reason, "reason", max_length=2000, required=True)
    load_permissions(actor)
    with transaction.atomic():
        _, refund = lock(refund)
        allow(decide(actor, refund, Action.DENY))
        old = refund.status
        refund.status = next_status(Action.DENY, refund)
        refund.response_reason = reason
        refund.needs_attention = False
        save(refund, "status", "response_reason", "needs_attention")
        record(refund, actor=actor, via=via, action=Action.DENY, from_status=old, note=reason)
        if platform_knows(refund) and actor is not None:
            outbound_action_create(refund=refund, kind=OutboundKind.DENY_REFUND)
    return refund


def refund_ship(*, actor, refund: Refund, tracking_id: str, carrier: str, via: str = "") -> Refund:
    """Record the return shipment (tracking id and carrier) while the refund is WAITING."""
    tracking_id = clean_text(tracking_id, "tracking_id", max_length=100, required=True)
    carrier = clean_text(carrier, "carrier", max_length=100, required=True)
    load_permissions(actor)
    with transaction.atomic():
        _, refund = lock(refund)
        allow(decide(actor, refund, Action.SHIP))
        if (refund.return_tracking_id, refund.return_carrier) == (tracking_id, carrier):
            return refund
        changes = {
            "tracking_id": [refund.return_tracking_id, tracking_id],
            "carrier": [refund.return_carrier, carrier],
        }
        refund.return_tracking_id, refund.return_carrier = tracking_id, carrier
        save(refund, "return_tracking_id", "return_carrier")
        record(
            refund,
            actor=actor,
            via=via,
            action=Action.SHIP,
            from_status=refund.status,
            changes=changes,
        )
        if platform_knows(refund) and actor is not None:
            outbound_action_create(refund=refund, kind=OutboundKind.SEND_RETURN_SHIPMENT)
    return refund


def refund_receive(
    *, actor, refund: Refund, received: Mapping[int, Received], note: str = ""
) -> Refund:
    """Record the goods that came back (per refund line: units received and whether they go back
    into stock): WAITING → PROCESSING. The refund is capped to what was received."""
    load_permissions(actor)
    with transaction.atomic():
        _, refund = lock(refund)
        allow(decide(actor, refund, Action.RECEIVE))
        new_status = next_status(Action.RECEIVE, refund)
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
        save(refund, "status", "lines_amount", "total", "received_at")
        record(
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
    load_permissions(actor)
    with transaction.atomic():
        _, refund = lock(refund)
        allow(decide(actor, refund, Action.CANCEL))
        old = refund.status
        refund.status = next_status(Action.CANCEL, refund)
        save(refund, "status")
        record(
            refund,
            actor=actor,
            via=via,
            action=Action.CANCEL,
            from_status=old,
            note=clean_text(note, "note", max_length=2000),
        )
        if platform_knows(refund) and actor is not None:
            outbound_action_create(refund=refund, kind=OutboundKind.CANCEL_REFUND)
    return refund


def refund_retry(*, actor, refund: Refund, note: str = "") -> Refund:
    """Send a refund whose delivery failed for good once more, with a new outbox row."""
    load_permissions(actor)
    with transaction.atomic():
        _, refund = lock(refund)
        allow(decide(actor, refund, Action.RETRY))
        was_unknown = refund.outcome_unknown
        refund.needs_attention = False
        refund.attention_message = ""
        refund.outcome_unknown = False
        save(refund, "needs_attention", "attention_message", "outcome_unknown")
        # The same idempotency key as every earlier attempt: a platform that already holds the
        # refund answers with it instead of paying a second time.
        action = outbound_action_create(refund=refund, kind=OutboundKind.CREATE_REFUND)
        record(
            refund,
            actor=actor,
            via="",
            action=Action.RETRY,
            from_status=refund.status,
            changes={"idempotency_key": action.idempotency_key, "outcome_was_unknown": was_unknown},
            note=note,
        )
    return refund


def refund_resolve_drift(*, actor, refund: Refund, note: str = "") -> Refund:
    """Staff who may approve clear a drift flag once they have checked the marketplace."""
    load_permissions(actor)
    with transaction.atomic():
        order, refund = lock(refund)
        allow(decide_role(actor, Action.APPROVE, order))
        if not refund.has_drift:
            return refund
        refund.has_drift, refund.drift_note = False, ""
        save(refund, "has_drift", "drift_note")
        record(
            refund,
            actor=actor,
            via="",
            action="drift_resolved",
            from_status=refund.status,
            note=note,
        )
    return refund
