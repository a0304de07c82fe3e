"""Processing stored webhook events: the processor re-reads the stored event (parsing it again
with the same adapter, so no parsed copy can drift from the raw body, without verifying it
again: it was verified on arrival, and its stored headers no longer hold what was checked) and
applies it through the refund services, which never move a refund backwards: duplicates and
out-of-order deliveries end in the right state. A failed attempt of any kind is counted on the
event and retried after WEBHOOK_RETRY_DELAY, and after WEBHOOK_MAX_RETRIES retries the event is
FAILED with the reason; the sweeper re-sends only events whose message is overdue, those that
never failed first."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations.base import (
    Accepted,
    CancelledLine,
    Confirmed,
    OutboundKind,
    Rejected,
    WebhookMessage,
    WebhookRejected,
    WebhookTopic,
)
from integrations.jsontext import storable_text
from integrations.registry import adapter_class
from orders.models import Order, OrderLine

from ..calculator import LineChoice
from ..errors import RefundError
from ..models import Refund
from ..services import (
    order_line_record_cancellation,
    refund_apply_marketplace_result,
    refund_apply_remote_status,
    refund_request,
)
from ..states import RefundStatus
from .intake import METHOD_HEADER, _verifier
from .mirror import order_mirror
from .models import OutboundAction, WebhookEvent, WebhookState
from .publishing import enqueue_processing_later

logger = logging.getLogger(__name__)


class RefundNotYetKnown(Exception):
    """The webhook names a refund we cannot find yet (it raced our own delivery)."""


def _message_of(event: WebhookEvent) -> WebhookMessage:
    adapter = _verifier(adapter_class(event.adapter_key), event.account)
    method = event.headers.get(METHOD_HEADER, "")
    methods = adapter.webhook_endpoints.get(event.name, ("POST",))
    # verified: the event was verified when it arrived; its stored headers and body are
    # redacted, so its signature cannot (and need not) be checked again.
    return adapter.parse_webhook(
        name=event.name,
        method=method or methods[0],
        headers=event.headers,
        body=event.body.encode("utf-8"),
        verified=True,
    )


def webhook_event_process(event_id: int) -> str:
    """Apply one stored event; idempotent (a processed event is skipped)."""
    with transaction.atomic():
        event = (
            # of=("self",): lock the event row only. Joined with the account, FOR UPDATE would lock
            # the account row too and SKIP LOCKED would then skip every other event of the same
            # account being processed at the same time (they were lost, never retried).
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account")
            .filter(pk=event_id, state=WebhookState.RECEIVED)
            .first()
        )
        if event is None:
            return "skipped"
        try:
            message = _message_of(event)
        except WebhookRejected as exc:
            _finish(event, WebhookState.FAILED, error=exc.message)
            return "failed"
        handler = {
            WebhookTopic.REFUND_RESULT: _refund_result,
            WebhookTopic.REFUND_STATUS: _refund_status,
            WebhookTopic.ORDER_CANCEL: _order_cancel,
        }.get(WebhookTopic(message.topic))
        if handler is None:
            _finish(event, WebhookState.IGNORED)
            return "ignored"
        try:
            with transaction.atomic():
                refund = handler(event, message)
        except (WebhookRejected, RefundError) as exc:
            _finish(event, WebhookState.FAILED, error=exc.message)
            logger.warning(
                "webhook event %s failed: %s",
                event_id,
                exc.message,
                extra={"webhook_event_id": event_id, "marketplace": event.adapter_key},
            )
            return "failed"
        _finish(event, WebhookState.PROCESSED, refund=refund)
        logger.info(
            "webhook event %s processed (%s)",
            event_id,
            message.topic,
            extra={
                "webhook_event_id": event_id,
                "marketplace": event.adapter_key,
                "refund_id": refund.pk if refund is not None else None,
            },
        )
        return "processed"


def failure_reason(exc: BaseException) -> str:
    """What an event's `error` says of a failed attempt (storable, and short enough to read)."""
    if isinstance(exc, RefundNotYetKnown):
        text = str(exc)
    else:
        text = f"Refund Desk could not process the event: {type(exc).__name__}: {exc}"
    return storable_text(text[:2000])


def webhook_event_record_failure(event_id: int, reason: str) -> float | None:
    """Count a failed processing attempt of a `received` event. Returns the seconds until its
    next attempt, or None when it will not be tried again: it failed its first attempt and
    WEBHOOK_MAX_RETRIES retries (it is then FAILED, `error` saying why), or it was processed
    meanwhile. Either way the event is never retried without bound, and the sweeper leaves it
    alone while its retry is due (`next_attempt_at`)."""
    now = timezone.now()
    with transaction.atomic():
        event = (
            WebhookEvent.objects.select_for_update()
            .filter(pk=event_id, state=WebhookState.RECEIVED)
            .only("pk", "processing_attempts")
            .first()
        )
        if event is None:
            return None
        attempts = event.processing_attempts + 1
        if attempts > settings.WEBHOOK_MAX_RETRIES:
            WebhookEvent.objects.filter(pk=event_id).update(
                state=WebhookState.FAILED,
                processing_attempts=attempts,
                next_attempt_at=None,
                error=f"Gave up after {attempts} attempts; the last one: {reason}",
                processed_at=now,
            )
            return None
        delay = settings.WEBHOOK_RETRY_DELAY
        WebhookEvent.objects.filter(pk=event_id).update(
            processing_attempts=attempts,
            next_attempt_at=now + dt.timedelta(seconds=delay),
            error=f"Attempt {attempts} failed (tried again): {reason}",
        )
        return delay


def webhook_event_retry_or_fail(event_id: int, exc: Exception) -> str:
    """After a failed processing attempt: record it, and send the event again as a single
    `process_webhook_event` after WEBHOOK_RETRY_DELAY, or leave it failed. "retry" or
    "failed"."""
    if not isinstance(exc, RefundNotYetKnown):  # expected while a webhook races our delivery
        logger.exception(
            "webhook event %s could not be processed",
            event_id,
            extra={"webhook_event_id": event_id},
        )
    delay = webhook_event_record_failure(event_id, failure_reason(exc))
    if delay is None:
        return "failed"
    enqueue_processing_later(event_id, countdown=delay)
    return "retry"


SWEEP_BATCH = 100


def stale_events_claim(*, limit: int = SWEEP_BATCH) -> list[int]:
    """The `received` events whose processing message is overdue (lost: broker down, worker
    gone), for the sweeper to send again: never processed and received before the stale window,
    or whose retry was due before it. Fewest failed attempts first, then the longest waiting:
    events that keep failing never keep a new one waiting, and each one claimed is marked sent
    now, so the next sweeps take the next ones instead of the same ones again."""
    now = timezone.now()
    stale = now - dt.timedelta(
        seconds=max(settings.OUTBOX_SWEEP_INTERVAL * 3, settings.WEBHOOK_RETRY_DELAY * 2)
    )
    with transaction.atomic():
        ids = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(state=WebhookState.RECEIVED)
            .annotate(due=Coalesce("next_attempt_at", "received_at"))
            .filter(due__lt=stale)
            .order_by("processing_attempts", "due", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            WebhookEvent.objects.filter(pk__in=ids).update(next_attempt_at=now)
    return ids


def _finish(event: WebhookEvent, state: str, *, refund=None, error: str = "") -> None:
    event.state = state
    event.error = error
    event.processed_at = timezone.now()
    fields = ["state", "error", "processed_at"]
    if refund is not None:
        event.refund = refund
        fields.append("refund")
    event.save(update_fields=fields)


def _find_refund(event: WebhookEvent, message: WebhookMessage):
    refunds = Refund.objects.filter(order__account=event.account)
    if message.external_request_id:
        found = refunds.filter(external_request_id=message.external_request_id).first()
        if found:
            return found
    if message.idempotency_key:
        action = (
            OutboundAction.objects.filter(
                account=event.account, idempotency_key=message.idempotency_key
            )
            .select_related("refund")
            .first()
        )
        if action:
            return action.refund
    if message.external_id:
        found = refunds.filter(external_id=message.external_id)
        if message.order_external_number:
            found = found.filter(order__external_number=message.order_external_number)
        found = found.first()
        if found:
            return found
    if message.order_external_number and message.order_line_external_id:
        # A platform that names only the order item it refunded (Noventiq's product.returned,
        # one per product, no id of ours): the refund of that item alone, in progress or already
        # issued (the poll may have seen the item refunded first: then the webhook changes
        # nothing). A refund of several items is left to the poll, which sees them all.
        candidates = (
            refunds.filter(
                order__external_number=message.order_external_number,
                status__in=(RefundStatus.PROCESSING, RefundStatus.ISSUED),
                lines__order_line__external_id=message.order_line_external_id,
            )
            .prefetch_related("lines__order_line")
            .order_by("-created_at", "-id")
        )
        # The one in progress first: it is what the platform has just paid.
        for candidate in sorted(candidates, key=lambda r: r.status != RefundStatus.PROCESSING):
            items = {line.order_line.external_id for line in candidate.lines.all()}
            if items == {message.order_line_external_id}:
                return candidate
    raise RefundNotYetKnown(
        f"No refund for {event.adapter_key} webhook {event.delivery_key} "
        f"(request {message.external_request_id or '-'}, key {message.idempotency_key or '-'}, "
        f"refund {message.external_id or '-'})"
    )


def _refund_result(event: WebhookEvent, message: WebhookMessage):
    refund = _find_refund(event, message)
    ids = {"external_id": message.external_id, "external_request_id": message.external_request_id}
    if message.status == RefundStatus.ISSUED:
        result = Confirmed(message=message.message, raw=dict(message.payload), **ids)
    elif message.status == RefundStatus.DENIED:
        result = Rejected(
            code="refused", message=message.message or "refused", raw=dict(message.payload)
        )
    else:
        result = Accepted(message=message.message, raw=dict(message.payload), **ids)
    via = f"{event.adapter_key} webhook {event.name}".strip()
    return refund_apply_marketplace_result(
        refund=refund, result=result, kind=OutboundKind.CREATE_REFUND, via=via
    )


def _refund_status(event: WebhookEvent, message: WebhookMessage):
    refund = _find_refund(event, message)
    via = f"{event.adapter_key} webhook {event.name}".strip()
    if message.status == RefundStatus.DENIED and refund.status == RefundStatus.PROCESSING:
        # Money we asked for was refused: a person must look (never a silent DENIED).
        return refund_apply_marketplace_result(
            refund=refund,
            result=Rejected(code="refused", message=message.message or "refused"),
            kind=OutboundKind.READ_STATUS,
            via=via,
        )
    if not message.status:
        return refund
    return refund_apply_remote_status(
        refund=refund, status=message.status, via=via, response_reason=message.message
    )


def _order_cancel(event: WebhookEvent, message: WebhookMessage):
    """The seller cancelled units the customer paid for: refund them (source marketplace, reason
    out_of_stock, nothing comes back) and record each line's cancelled quantity, once. One event
    may name several lines of one order (`cancelled_lines`): one refund covers them all."""
    cancelled = message.cancelled_lines or (
        CancelledLine(message.order_line_external_id, message.quantity, message.reason),
    )
    order = Order.objects.filter(
        account=event.account, external_number=message.order_external_number
    ).first()
    if order is None:
        # Not imported yet: read it from the platform when it has an order API (a platform that
        # cannot be asked now raises, and the event is tried again later).
        order = order_mirror(event.account, message.order_external_number)
    lines = []
    for item in cancelled:
        line = (
            OrderLine.objects.filter(order=order, external_id=item.order_line_external_id).first()
            if order
            else None
        )
        if line is None or item.quantity <= 0:
            raise WebhookRejected(
                f"Order {message.order_external_number} line {item.order_line_external_id} "
                "is unknown or the quantity is not positive",
                status=422,
            )
        lines.append((line, item))
    external_id = f"cancel-{message.delivery_key}"
    if Refund.objects.filter(order=order, external_id=external_id).exists():
        return Refund.objects.get(order=order, external_id=external_id)
    reasons = ", ".join(
        f"{item.quantity} unit(s) of {item.order_line_external_id}: "
        f"{item.reason or message.reason or 'out_of_stock'}"
        for _, item in lines
    )
    refund = refund_request(
        actor=None,
        order=order,
        reason_code="out_of_stock",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=item.quantity) for line, item in lines],
        via=f"{event.adapter_key} order cancel",
        external_id=external_id,
        covers_cancellation=True,
        requester_name=event.account.name,
        customer_explanation=(
            f"The seller cancelled {lines[0][1].quantity} unit(s): "
            f"{lines[0][1].reason or message.reason or 'out_of_stock'}"
            if len(lines) == 1
            else f"The seller cancelled {reasons}"
        ),
    )
    for line, item in lines:
        order_line_record_cancellation(order_line=line, quantity=item.quantity)
    return refund
