"""What the marketplaces tell us about a refund (the delivery task, webhooks, polls): their
results and statuses, outcomes nobody answered, drift from what Refund Desk holds, the stale
check, and cancelled order lines. The actor is always the system."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from integrations.base import Accepted, Confirmed, FailedForNow, OutboundKind, Rejected, Result
from integrations.registry import adapter_class
from orders.models import OrderLine
from refunds.delivery.models import OutboundAction, OutboundState
from refunds.delivery.outbox import outbound_action_create

from .. import notifications
from ..models import Refund
from ..states import Action, RefundStatus, is_forward
from ._common import SYSTEM, lock, mark_drift, record, save

logger = logging.getLogger(__name__)


def refund_mark_outcome_unknown(
    *, refund: Refund, attempts: int, last_error: str, idempotency_key: str, via: str
) -> Refund:
    """Sending the refund was given up without an answer: the marketplace may have paid it. Not
    a refusal: the refund needs attention as "outcome unknown" and cannot be denied. Where the
    adapter finds a refund by our key before creating one (`Capabilities.refund_lookup`), the
    marketplace is asked again once, with the same key, through the outbox: it answers with the
    refund it holds, or takes it now if it never got it. Otherwise, or when that got no answer
    either, a person is asked to check on the marketplace, with the evidence."""
    with transaction.atomic():
        order, refund = lock(refund)
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
        save(refund, "needs_attention", "outcome_unknown", "attention_message")
        record(
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
            rid = refund.pk
            transaction.on_commit(lambda: notifications.needs_attention(rid))
    return refund


def refund_apply_marketplace_result(
    *,
    refund: Refund,
    result: Result,
    kind: str = OutboundKind.CREATE_REFUND,
    via: str,
    savepoint: bool = True,
) -> Refund:
    """Apply what a marketplace answered (delivery task, webhook or poll). Idempotent, and a
    refund never moves backwards: a late "accepted" after "confirmed" changes nothing.

    `savepoint=False`: the caller's own transaction wraps this call and lets every error out of
    it, rolling the whole of it back (the delivery task), so the savepoint would only cost its
    SAVEPOINT and RELEASE round trips."""
    with transaction.atomic(savepoint=savepoint):
        order, refund = lock(refund)
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
                mark_drift(refund, note=drift, via=via)
            return refund
        if not fields:
            return refund
        save(refund, *dict.fromkeys(fields))
        record(
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
        order, refund = lock(refund)
        current = RefundStatus(refund.status)
        if new == current:
            return refund
        if not is_forward(current, new):
            if current in (RefundStatus.ISSUED, RefundStatus.DENIED, RefundStatus.CANCELLED):
                note = f"{order.account.name} reports {new.value}, Refund Desk has {current.value}"
                if not refund.has_drift or refund.drift_note != note:
                    refund.has_drift, refund.drift_note = True, note
                    save(refund, "has_drift", "drift_note")
                    record(
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
        save(refund, *fields)
        record(
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
        _, refund = lock(refund)
        if refund.has_drift and refund.drift_note == note:
            return refund
        mark_drift(refund, note=note, via=via)
    return refund


def refunds_flag_stale_processing(*, now=None) -> int:
    """Flag (as drift) every refund in PROCESSING that its marketplace accepted more than
    REFUND_STALE_PROCESSING_HOURS ago and has neither confirmed nor refused since. Not a
    delivery failure, so not "needs attention": a retry would send the money twice. Staff check
    the refund on the marketplace; a late result still completes it. Idempotent: the note is
    stable, so a second run records nothing. Returns how many refunds were newly flagged."""
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
            _, refund = lock(refund)
            if refund.status != RefundStatus.PROCESSING or refund.has_drift:
                continue  # answered (or flagged) since the query above
            mark_drift(refund, note=note, via="stale check")
        flagged += 1
        logger.warning("refund %s stale in PROCESSING: %s", refund.number, note)
    return flagged


def order_line_record_cancellation(*, order_line: OrderLine, quantity: int) -> OrderLine:
    """The seller cancelled units of a line (a marketplace told us)."""
    with transaction.atomic():
        line = OrderLine.objects.select_for_update().get(pk=order_line.pk)
        new = min(line.cancelled_quantity + quantity, line.quantity)
        if new != line.cancelled_quantity:
            line.cancelled_quantity = new
            line.save(update_fields=["cancelled_quantity"])
    return line
