"""Inbound webhooks: the base view and the processors.

The view (`/<adapter key>/webhooks/<name>`, the names each adapter class declares in
`webhook_endpoints`) does four things and nothing else:
  1. verify: every enabled account of that adapter key is tried; the adapter's `parse_webhook`
     checks the signature with a constant-time comparison and raises WebhookRejected, which we
     answer with its status (401) storing nothing;
  2. store the raw event with its unique delivery key in one INSERT ... ON CONFLICT DO NOTHING;
     a second delivery of the same key inserts nothing and is answered 200 doing nothing;
  3. answer 200 `{}` at once;
  4. hand the event after commit to the process's batching publisher, which sends the new ids
     of a few milliseconds in one `integrations.tasks.process_webhook_events` message (defined
     here); the beat sweeper sends events left `received` as single `process_webhook_event`s.

What is stored is what can be kept safely: headers and body with credentials redacted and
signatures reduced to a fingerprint (integrations.http), and no text PostgreSQL refuses (NUL,
unpaired surrogates: replaced). Bodies are parsed with a bounded depth (integrations.jsontext).

The processor re-reads the stored event (parsing it again with the same adapter, so no parsed
copy can drift from the raw body, without verifying it again: it was verified on arrival, and its
stored headers no longer hold what was checked) and applies it through the refund services, which
never move a refund backwards: duplicates and out-of-order deliveries end in the right state. A
failed attempt of any kind is counted on the event and retried after WEBHOOK_RETRY_DELAY, and
after WEBHOOK_MAX_RETRIES retries the event is FAILED with the reason; the sweeper re-sends only
events whose message is overdue, those that never failed first.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import threading
import time

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from .base import (
    Accepted,
    Confirmed,
    OutboundKind,
    Rejected,
    WebhookMessage,
    WebhookRejected,
    WebhookTopic,
)
from .http import redact_headers, redact_text
from .jsontext import storable_text
from .models import OutboundAction, WebhookEvent, WebhookState

logger = logging.getLogger(__name__)
PROCESS_TASK = "integrations.tasks.process_webhook_event"
PROCESS_BATCH_TASK = "integrations.tasks.process_webhook_events"


class RefundNotYetKnown(Exception):
    """The webhook names a refund we cannot find yet (it raced our own delivery)."""


def _headers(request: HttpRequest) -> dict[str, str]:
    """The request's headers (cookies never), each value storable (no NUL)."""
    return {
        key: storable_text(value)
        for key, value in request.headers.items()
        if key.lower() != "cookie"
    }


def _adapter_class_or_none(key: str):
    from .registry import adapter_class

    try:
        return adapter_class(key)
    except (LookupError, ImportError, AttributeError):
        return None


_publishing = threading.local()


def _producer():
    """This thread's own broker connection and producer, kept between calls (a thread never
    shares it) and rebuilt when the broker URL changes. Acquiring one from Celery's producer pool
    and releasing it on every send_task was about a quarter of the publish's CPU in a profile."""
    from config.celery import app

    url = app.conf.broker_url
    producer = getattr(_publishing, "producer", None)
    if producer is None or getattr(_publishing, "url", None) != url:
        _drop_producer()
        producer = app.amqp.Producer(app.connection_for_write())
        _publishing.producer, _publishing.url = producer, url
    return producer


def _drop_producer() -> None:
    producer = getattr(_publishing, "producer", None)
    _publishing.producer = None  # start again from a new connection next time
    if producer is not None:
        with contextlib.suppress(Exception):  # a broken connection: nothing more to do
            producer.connection.release()


def enqueue_processing(event_id: int) -> None:
    """Publish one event at once as its own `process_webhook_event` message (the sweeper's path:
    it does not depend on the batch task). The view uses `enqueue_processing_soon`."""
    from config.celery import app

    try:
        app.send_task(PROCESS_TASK, args=[event_id], producer=_producer())
    except Exception:  # the broker is down: the event is stored and the sweeper sends it again
        logger.warning("could not enqueue webhook event %s", event_id, exc_info=True)
        _drop_producer()


class _Batcher:
    """Publishes new events in batches, one `process_webhook_events` message per batch: a Celery
    publish costs ~2 ms of CPU, most of the view's cost when it was paid for every webhook.

    The view only puts the id in a queue; one daemon thread per process takes what is queued (up
    to BATCH_SIZE ids, waiting at most BATCH_WAIT after the first) and publishes it. Started
    lazily and again in each process (gunicorn forks after loading the app). A batch that cannot
    be published (broker down) or is still queued when the process ends is logged; its events are
    stored as `received` and the beat sweeper (tasks.sweep_outbox) enqueues them again."""

    BATCH_SIZE = 50
    BATCH_WAIT = 0.005  # seconds after a batch's first id
    EXIT_WAIT = 2.0  # seconds given at exit to publish what is queued

    def __init__(self):
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.SimpleQueue | None = None
        self._thread: threading.Thread | None = None
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget_parent)

    def _forget_parent(self) -> None:
        # The parent's queue and thread are not ours (a fork copies neither thread nor held lock).
        self._lock = threading.Lock()
        self._pid = self._queue = self._thread = None

    def put(self, event_id: int) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            self._queue.put(event_id)

    def _start(self) -> None:
        pid = os.getpid()
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run, args=(self._queue,), name="webhook-publisher", daemon=True
        )
        self._thread.start()
        self._pid = pid
        atexit.register(self._flush_at_exit, pid)

    def _run(self, ids: queue.SimpleQueue) -> None:
        while True:
            batch = [ids.get()]
            if batch[0] is None:
                return
            deadline = time.monotonic() + self.BATCH_WAIT
            stop = False
            while len(batch) < self.BATCH_SIZE:
                try:
                    event_id = ids.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if event_id is None:
                    stop = True
                    break
                batch.append(event_id)
            self._publish(batch)
            if stop:
                return

    @staticmethod
    def _publish(batch: list[int]) -> None:
        from config.celery import app

        try:
            app.send_task(PROCESS_BATCH_TASK, args=[batch], producer=_producer())
        except Exception:  # the broker is down: the events are stored, the sweeper sends them
            logger.warning(
                "could not enqueue webhook events %s (the sweeper will)", batch, exc_info=True
            )
            _drop_producer()

    def _flush_at_exit(self, pid: int) -> None:
        thread, ids = self._thread, self._queue
        if self._pid != pid or pid != os.getpid() or thread is None:
            return
        ids.put(None)  # the thread publishes what is queued before it, then stops
        thread.join(self.EXIT_WAIT)
        if thread.is_alive():
            logger.warning("webhook events still queued at exit: the sweeper will enqueue them")

    def flush(self, timeout: float = 5.0) -> None:
        """Publish everything queued so far in this process and stop the thread (the next put
        starts a new one). For tests."""
        with self._lock:
            if self._pid != os.getpid() or self._thread is None:
                return
            self._queue.put(None)
            self._thread.join(timeout)
            self._pid = self._queue = self._thread = None


_batcher = _Batcher()


def enqueue_processing_soon(event_id: int) -> None:
    """Hand a stored event to the process's batching publisher (returns at once)."""
    _batcher.put(event_id)


METHOD_HEADER = "X-Refund-Desk-Method"  # kept with the stored headers, to parse the event again


class WebhookView(View):
    """One view for every marketplace; the adapter declares which names and methods exist."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def dispatch(self, request: HttpRequest, key: str, name: str | None = None):
        name = name or ""
        adapter_cls = _adapter_class_or_none(key)
        endpoints = getattr(adapter_cls, "webhook_endpoints", {}) if adapter_cls else {}
        if name not in endpoints:
            return JsonResponse({"message": "Unknown webhook"}, status=404)
        if request.method not in endpoints[name]:
            response = JsonResponse({"message": "Method not allowed"}, status=405)
            response["Allow"] = ", ".join(endpoints[name])
            return response
        body = request.body
        if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
            return JsonResponse({"message": "Body too large"}, status=413)
        headers = _headers(request)
        verified = _verify(
            adapter_cls, key=key, name=name, method=request.method, headers=headers, body=body
        )
        if isinstance(verified, JsonResponse):
            return verified
        account, message = verified
        _store(
            account=account,
            key=key,
            name=name,
            message=message,
            headers={**redact_headers(headers), METHOD_HEADER: request.method},
            body=body,
        )
        return JsonResponse({})


# Verifying adapters, one per account and process, rebuilt whenever the account's configuration
# (secret included) differs from the one it was built with. Building an adapter builds its HTTP
# session, which verification never uses: it was built again on every delivery.
_verifiers: dict[int, object] = {}


def _verifier(adapter_cls, account):
    from .payloads import account_config

    config = account_config(account)
    adapter = _verifiers.get(account.pk)
    if adapter is None or type(adapter) is not adapter_cls or adapter.account != config:
        adapter = adapter_cls(config)
        _verifiers[account.pk] = adapter
    return adapter


_ACCOUNTS = (
    "SELECT id, name, base_url, credentials, webhook_secret, options FROM {table}"
    " WHERE adapter_key = %s AND is_enabled ORDER BY name, id"
)


def _enabled_accounts(key: str):
    """The enabled accounts of one marketplace, read on every delivery (a disabled account or a
    new secret counts at once) with one plain query: through the ORM it took ~0.9 ms of CPU, the
    largest part of the view after the Celery publish."""
    from orders.models import MarketplaceAccount

    with connection.cursor() as cursor:
        cursor.execute(_ACCOUNTS.format(table=MarketplaceAccount._meta.db_table), [key])
        rows = cursor.fetchall()
    for pk, name, base_url, credentials, secret, options in rows:
        yield MarketplaceAccount(
            id=pk,
            adapter_key=key,
            name=name,
            base_url=base_url,
            credentials=_json_value(credentials),
            webhook_secret=secret,
            options=_json_value(options),
            is_enabled=True,
        )


def _json_value(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


def _verify(adapter_cls, *, key, name, method, headers, body):
    refusal = WebhookRejected("No enabled account for this marketplace accepts this webhook")
    for account in _enabled_accounts(key):
        if not account.webhook_secret:
            continue  # refuse when no secret is configured
        adapter = _verifier(adapter_cls, account)
        try:
            message = adapter.parse_webhook(name=name, method=method, headers=headers, body=body)
        except WebhookRejected as exc:
            refusal = exc
            # A signature that fits no account is 401; a verified but unreadable body is final.
            if exc.status != 401:
                break
            continue
        return account, message
    return JsonResponse({"message": refusal.message}, status=refusal.status or 401)


_INSERT = (
    "INSERT INTO {table} (account_id, adapter_key, name, delivery_key, topic, headers, body, state,"
    " error, received_at, processing_attempts, next_attempt_at)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', %s, 0, NULL)"
    " ON CONFLICT (adapter_key, delivery_key) DO NOTHING RETURNING id"
)


def storable_body(body: bytes) -> str:
    """What is kept of a verified body: its text, with what PostgreSQL refuses (NUL) replaced
    and the values of secret-looking fields redacted. It is parsed again (without verifying:
    the signature was over the original) when the event is processed."""
    return redact_text(storable_text(body.decode("utf-8", "replace")))


def _store(*, account, key, name, message: WebhookMessage, headers, body) -> int | None:
    """Store the event in one statement (INSERT ... ON CONFLICT DO NOTHING: a second delivery of
    the same key inserts nothing and raises nothing) and enqueue it once committed. Returns the
    new event's id, None for a duplicate. `headers` are stored as given (the view redacts
    them); the body is stored as `storable_body` makes it."""
    ignored = message.topic == WebhookTopic.IGNORED
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT.format(table=WebhookEvent._meta.db_table),
            [
                account.pk,
                key,
                name,
                storable_text(message.delivery_key[:200]),
                str(message.topic),
                json.dumps(headers),
                storable_body(body),
                WebhookState.IGNORED if ignored else WebhookState.RECEIVED,
                timezone.now(),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        logger.debug("duplicate webhook %s %s ignored", key, message.delivery_key)
        return None
    event_id = row[0]
    if not ignored:
        # Outside a transaction the insert is committed already and this runs at once.
        transaction.on_commit(lambda: enqueue_processing_soon(event_id))
    return event_id


webhook_view = csrf_exempt(WebhookView.as_view())


# --- processing -------------------------------------------------------------------------------


def _message_of(event: WebhookEvent) -> WebhookMessage:
    from .registry import adapter_class

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
    from refunds.errors import RefundError

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
            return "failed"
        _finish(event, WebhookState.PROCESSED, refund=refund)
        return "processed"


@shared_task(name=PROCESS_BATCH_TASK, ignore_result=True)
def process_webhook_events(event_ids: list[int]) -> dict[str, int]:
    """Apply a batch of stored events, one after the other, each as `process_webhook_event`
    would. An event whose processing fails (its refund is not known yet, or anything else) is
    counted and handed to that single-event task after WEBHOOK_RETRY_DELAY, or failed for good
    after its retries (`webhook_event_retry_or_fail`). Every event is locked and skipped once
    processed, so a batch delivered again (late ack after a lost worker) or also sent by the
    sweeper is harmless. Near the soft time limit the rest of the batch goes out again as a new
    message."""
    from celery.exceptions import SoftTimeLimitExceeded

    outcomes: dict[str, int] = {}
    for index, event_id in enumerate(event_ids):
        try:
            outcome = webhook_event_process(event_id)
        except SoftTimeLimitExceeded:
            rest = list(event_ids[index:])
            logger.warning("webhook batch near its time limit: %s events sent again", len(rest))
            process_webhook_events.apply_async(args=[rest])
            outcomes["sent again"] = len(rest)
            return outcomes
        except Exception as exc:
            outcome = webhook_event_retry_or_fail(event_id, exc)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


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
    from config.celery import app

    if not isinstance(exc, RefundNotYetKnown):  # expected while a webhook races our delivery
        logger.exception("webhook event %s could not be processed", event_id)
    delay = webhook_event_record_failure(event_id, failure_reason(exc))
    if delay is None:
        return "failed"
    try:
        app.send_task(PROCESS_TASK, args=[event_id], countdown=delay)
    except Exception:  # the broker is down: the sweeper sends it once its retry is overdue
        logger.warning("could not enqueue webhook event %s again", event_id, exc_info=True)
    return "retry"


SWEEP_BATCH = 100


def stale_events_claim(*, limit: int = SWEEP_BATCH) -> list[int]:
    """The `received` events whose processing message is overdue (lost: broker down, worker
    gone), for the sweeper to send again: never processed and received before the stale window,
    or whose retry was due before it. Fewest failed attempts first, then the longest waiting:
    events that keep failing never keep a new one waiting, and each one claimed is marked sent
    now, so the next sweeps take the next ones instead of the same ones again."""
    from django.db.models.functions import Coalesce

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
    from refunds.models import Refund

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
    raise RefundNotYetKnown(
        f"No refund for {event.adapter_key} webhook {event.delivery_key} "
        f"(request {message.external_request_id or '-'}, key {message.idempotency_key or '-'}, "
        f"refund {message.external_id or '-'})"
    )


def _refund_result(event: WebhookEvent, message: WebhookMessage):
    from refunds.services import refund_apply_marketplace_result
    from refunds.states import RefundStatus

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
    from refunds.services import refund_apply_marketplace_result, refund_apply_remote_status
    from refunds.states import RefundStatus

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
    out_of_stock, nothing comes back) and record the line's cancelled quantity, once."""
    from orders.models import Order, OrderLine
    from refunds.calculator import LineChoice
    from refunds.models import Refund
    from refunds.services import order_line_record_cancellation, refund_request

    order = Order.objects.filter(
        account=event.account, external_number=message.order_external_number
    ).first()
    line = (
        OrderLine.objects.filter(order=order, external_id=message.order_line_external_id).first()
        if order
        else None
    )
    if line is None or message.quantity <= 0:
        raise WebhookRejected(
            f"Order {message.order_external_number} line {message.order_line_external_id} "
            "is unknown or the quantity is not positive",
            status=422,
        )
    external_id = f"cancel-{message.delivery_key}"
    if Refund.objects.filter(order=order, external_id=external_id).exists():
        return Refund.objects.get(order=order, external_id=external_id)
    refund = refund_request(
        actor=None,
        order=order,
        reason_code="out_of_stock",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=message.quantity)],
        via=f"{event.adapter_key} order cancel",
        external_id=external_id,
        covers_cancellation=True,
        requester_name=event.account.name,
        customer_explanation=f"The seller cancelled {message.quantity} unit(s): "
        f"{message.reason or 'out_of_stock'}",
    )
    order_line_record_cancellation(order_line=line, quantity=message.quantity)
    return refund
