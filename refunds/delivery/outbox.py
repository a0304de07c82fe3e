"""Writing, claiming and finishing outbox rows.

`outbound_action_create` is called by the refund services inside their transaction; the delivery
task is enqueued only once that transaction commits, so a rollback leaves no row and sends
nothing. Whatever happens to that message, `due_actions_claim` (the beat sweeper) finds the row
again: a pending row that is due, or an in-flight row whose worker's lease ran out (the worker
died mid-call).

An action's lifecycle: PENDING -> IN_FLIGHT (one OutboundAttempt per call) -> SUCCEEDED |
FAILED (the platform refused) | DEAD (gave up after OUTBOX_MAX_ATTEMPTS; no call reached the
platform) | UNKNOWN (gave up, and some call got no answer: the platform may have acted), or
back to PENDING with a later `next_attempt_at` after a transient failure.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import random
import threading
from dataclasses import dataclass, field

from celery import current_app as app
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone

from integrations.base import OutboundKind
from integrations.registry import ADAPTERS, adapter_class
from orders.models import MarketplaceAccount

from .models import OutboundAction, OutboundAttempt, OutboundState
from .payloads import refund_data, to_json
from .ratelimit import account_wait_seconds
from .routing import delivery_queue

logger = logging.getLogger(__name__)

DELIVER_TASK = "refunds.delivery.tasks.deliver_outbound_action"
FINAL_STATES = (
    OutboundState.SUCCEEDED,
    OutboundState.FAILED,
    OutboundState.DEAD,
    OutboundState.UNKNOWN,
)


def refund_creation_key(refund) -> str:
    """The idempotency key the marketplace knows this refund's money by: the key of its first
    create action, for every later one too (a staff retry, a status check). A new key would let
    the platform take a retry for a second refund and pay it twice."""
    first = (
        OutboundAction.objects.filter(refund=refund, kind=OutboundKind.CREATE_REFUND)
        .order_by("id")
        .values_list("idempotency_key", flat=True)
        .first()
    )
    return first or f"RD{refund.pk}-create-refund-1"


def outbound_action_create(
    *, refund, kind: OutboundKind, delay_seconds: float = 0
) -> OutboundAction:
    """Write one outbox row for `refund` (which the caller holds locked) and enqueue its delivery
    after commit. The idempotency key is fixed here and sent on every attempt: for the refund's
    money (create, and reading its status) it is the refund's creation key; other actions
    (approve, deny, tracking...) get one key per action."""
    if kind == OutboundKind.CREATE_REFUND:
        key = sent_key = refund_creation_key(refund)
        open_action = OutboundAction.objects.filter(
            idempotency_key=key, state__in=(OutboundState.PENDING, OutboundState.IN_FLIGHT)
        ).first()
        if open_action is not None:
            return open_action  # still being delivered: the same call, not a second one
    else:
        sequence = OutboundAction.objects.filter(refund=refund, kind=kind).count() + 1
        key = f"RD{refund.pk}-{kind.value.replace('_', '-')}-{sequence}"
        sent_key = refund_creation_key(refund) if kind == OutboundKind.READ_STATUS else key
    action = OutboundAction.objects.create(
        refund=refund,
        account=refund.order.account,
        kind=kind,
        idempotency_key=key,
        payload=to_json(refund_data(refund, idempotency_key=sent_key)),
        next_attempt_at=timezone.now() + dt.timedelta(seconds=delay_seconds),
    )
    countdown = delay_seconds or None
    adapter_key = action.account.adapter_key
    transaction.on_commit(
        lambda: enqueue_delivery(action.pk, countdown=countdown, adapter_key=adapter_key)
    )
    return action


def enqueue_delivery(
    action_id: int, *, countdown: float | None = None, adapter_key: str | None = None
) -> None:
    """Send the delivery message, to its marketplace's queue (`deliveries.<adapter key>`; the
    router, routing.route_task, reads the key from the row when the caller does not give it). A
    broker that is down must not break the caller: the row is in the database and the sweeper
    will send it again."""
    queue = delivery_queue(adapter_key) if adapter_key else None
    try:
        app.send_task(DELIVER_TASK, args=[action_id], countdown=countdown, queue=queue)
    except Exception:  # the broker is unreachable; the sweeper delivers it later
        logger.warning(
            "could not enqueue outbound action %s; the sweeper will", action_id, exc_info=True
        )


def due_actions_claim(*, limit: int = 100) -> list[int]:
    """Claim outbox rows that are due (pending, or in flight past their lease: a worker died),
    skipping rows another sweeper holds, and return their ids for re-enqueueing.

    A pending row is claimed for one sweep interval only, so a message lost on the way is sent
    again at the next sweep; an in-flight row is left alone until its worker's lease runs out."""
    now = timezone.now()
    hold = dt.timedelta(seconds=max(settings.OUTBOX_SWEEP_INTERVAL, 1) * 2)
    with transaction.atomic():
        rows = list(
            OutboundAction.objects.select_for_update(skip_locked=True)
            .filter(
                Q(state=OutboundState.PENDING, next_attempt_at__lte=now)
                & (Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
                | Q(state=OutboundState.IN_FLIGHT, claimed_until__lte=now)
                | Q(state=OutboundState.IN_FLIGHT, claimed_until__isnull=True)
            )
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        OutboundAction.objects.filter(pk__in=rows, state=OutboundState.PENDING).update(
            claimed_until=now + hold
        )
    return rows


# --- the delivery task's steps ----------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What the delivery task may do with an action: call (with this attempt number) or skip."""

    action_id: int
    attempt: int  # 0: skip
    reason: str = ""
    exhausted: bool = False  # the previous worker died and no attempts are left
    retry_in: float | None = None  # rate limited: send the message again after this delay
    # The action as written by the claim (with its account), so that the task need not read it
    # again before the call.
    action: OutboundAction | None = field(default=None, compare=False, repr=False)


@functools.cache
def _unlimited_adapter_keys() -> tuple[str, ...]:
    """Adapters whose platform publishes no rate limit (the registry is fixed at import)."""
    keys = []
    for key in ADAPTERS:
        if not adapter_class(key).capabilities.rate_limit_per_second:  # BrokenAdapter: loud
            keys.append(key)
    return tuple(keys)


_row_converters = threading.local()


def _converters(model) -> list:
    """Each concrete field's column and converters, as the ORM applies them to a raw row; kept
    per thread and connection wrapper (the converters are bound to it)."""
    cache = getattr(_row_converters, "cache", None)
    if cache is None or cache[0] is not connections[DEFAULT_DB_ALIAS]:
        cache = _row_converters.cache = (connections[DEFAULT_DB_ALIAS], {})
    found = cache[1].get(model)
    if found is None:
        found = cache[1][model] = []
        for f in model._meta.concrete_fields:
            col = f.get_col(model._meta.db_table)
            found.append(
                (col, connection.ops.get_db_converters(col) + f.get_db_converters(connection))
            )
    return found


def _instance(model, values):
    """A model instance from a raw row holding its concrete columns in field order, converted
    as the ORM would (JSON, decimals, datetimes)."""
    fields = model._meta.concrete_fields
    row = []
    for (col, converters), value in zip(_converters(model), values, strict=True):
        for convert in converters:
            value = convert(value, col, connection)
        row.append(value)
    return model.from_db(connection.alias, [f.attname for f in fields], row)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@functools.cache
def _fast_claim_sql() -> str:
    action_cols = ", ".join(f'a."{f.column}"' for f in OutboundAction._meta.concrete_fields)
    account_cols = ", ".join(f'm."{f.column}"' for f in MarketplaceAccount._meta.concrete_fields)
    actions, attempts = _table(OutboundAction), _table(OutboundAttempt)
    accounts = _table(MarketplaceAccount)
    # Only table and column names from the models are interpolated; every value is a parameter.
    return f"""
        WITH claimed AS (
            UPDATE {actions} AS a
               SET state = %(in_flight)s, attempts = a.attempts + 1,
                   claimed_until = %(lease)s, updated_at = %(now)s
             WHERE a.id = (
                   SELECT o.id FROM {actions} o
                     JOIN {accounts} am ON am.id = o.account_id
                    WHERE o.id = %(id)s AND o.state = %(pending)s AND o.next_attempt_at <= %(now)s
                      AND COALESCE(am.rate_limit_per_second, 0) = 0
                      AND am.adapter_key = ANY(%(keys)s)
                      FOR UPDATE OF o SKIP LOCKED)
            RETURNING a.*
        ), logged AS (
            INSERT INTO {attempts}
                   (action_id, number, started_at, finished_at, outcome, message, response)
            SELECT id, attempts, %(now)s, NULL, 'started', '', '{{}}'::jsonb FROM claimed
        )
        SELECT {action_cols}, {account_cols}
          FROM claimed a JOIN {accounts} m ON m.id = a.account_id"""  # noqa: S608


def _fast_start_attempt(action_id: int, now: dt.datetime) -> Claim | None:
    """The common case in one statement (one round trip, no transaction of its own): a pending,
    due action of an account without a rate limit, not held by another worker, is marked in
    flight under a lease and its attempt row written, exactly as the full path below would.
    None when the row is anything else; the full path then decides."""
    if connection.vendor != "postgresql":
        return None  # SQLite (`make run`): the full path below does the same in a few statements
    params = {
        "id": action_id,
        "now": now,
        "lease": now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
        "in_flight": OutboundState.IN_FLIGHT.value,
        "pending": OutboundState.PENDING.value,
        "keys": list(_unlimited_adapter_keys()),
    }
    with connection.cursor() as cursor:
        cursor.execute(_fast_claim_sql(), params)
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(OutboundAction._meta.concrete_fields)
    action = _instance(OutboundAction, row[:split])
    action.account = _instance(MarketplaceAccount, row[split:])
    return Claim(action_id, action.attempts, action=action)


def action_start_attempt(action_id: int) -> Claim:
    """Take an action for one call, in one short transaction: skip it when it is final, not due
    yet (a retry waits for its time, e.g. a Retry-After) or held by a live worker; otherwise mark
    it in flight under a lease and write the attempt row before any HTTP leaves."""
    now = timezone.now()
    claim = _fast_start_attempt(action_id, now)
    if claim is not None:
        return claim
    with transaction.atomic():
        # `of=self`: lock the action only, not the joined account row (every delivery of the
        # account would queue on it otherwise); a rate-limited account is locked explicitly by
        # account_wait_seconds below.
        action = (
            OutboundAction.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account")
            .filter(pk=action_id)
            .first()
        )
        if action is None:
            return Claim(action_id, 0, "locked by another worker or gone")
        if action.state in FINAL_STATES:
            return Claim(action_id, 0, f"already {action.state}")
        if (
            action.state == OutboundState.IN_FLIGHT
            and action.claimed_until
            and (action.claimed_until > now)
        ):
            return Claim(action_id, 0, "in flight on another worker")
        if action.state == OutboundState.PENDING and action.next_attempt_at > now:
            return Claim(action_id, 0, "not due yet")
        if action.state == OutboundState.IN_FLIGHT:
            # The worker that held it died (lease over): close its attempt as crashed.
            OutboundAttempt.objects.filter(action=action, finished_at__isnull=True).update(
                finished_at=now, outcome="crashed", message="The worker stopped during the call."
            )
            if action.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
                return Claim(action_id, 0, "no attempts left", exhausted=True)
        wait = account_wait_seconds(action.account)
        now = timezone.now()
        if wait > 0:
            action.state = OutboundState.PENDING
            action.next_attempt_at = now + dt.timedelta(seconds=wait)
            action.claimed_until = None
            action.save(update_fields=["state", "next_attempt_at", "claimed_until", "updated_at"])
            return Claim(action_id, 0, f"rate limited for {wait:.2f}s", retry_in=wait)
        action.attempts += 1
        action.state = OutboundState.IN_FLIGHT
        action.claimed_until = now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
        action.save(update_fields=["attempts", "state", "claimed_until", "updated_at"])
        OutboundAttempt.objects.create(
            action=action, number=action.attempts, started_at=now, outcome="started"
        )
        return Claim(action_id, action.attempts, action=action)


def backoff_ceiling(attempt: int) -> float:
    """The longest back-off after failed attempt number `attempt`: base * 2^(attempt-1), capped.
    Settings are read at call time."""
    base, cap = settings.OUTBOX_BACKOFF_BASE, settings.OUTBOX_BACKOFF_CAP
    return min(cap, base * (2 ** max(attempt - 1, 0)))


def retry_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential back-off with full jitter (uniform between 0 and the ceiling, so retries from
    many actions spread out), never shorter than the platform's Retry-After (itself capped)."""
    delay = random.uniform(0, backoff_ceiling(attempt))  # noqa: S311 - jitter, not security
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(float(retry_after), settings.OUTBOX_RETRY_AFTER_CAP))
    return delay


def longest_retry_delay() -> float:
    """The longest countdown the pipeline ever sets (for the visibility timeout check)."""
    return max(settings.OUTBOX_BACKOFF_CAP, settings.OUTBOX_RETRY_AFTER_CAP)


def jsonable(value):
    """A platform's raw answer as JSON (amounts as strings, dates as ISO text)."""
    return json.loads(json.dumps(value, default=str))


def action_finish_attempt(
    action: OutboundAction,
    *,
    number: int,
    state: str,
    outcome: str,
    message: str = "",
    response: dict | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    """Record how an attempt ended and move the action on (called inside the task's
    transaction, with the action row locked): the attempt row and the action row in one
    statement; `action` is updated in memory to match."""
    now = timezone.now()
    response = jsonable(response or {})
    message = message[:5000]
    action.state = state
    action.last_error = message if outcome not in ("accepted", "confirmed") else ""
    action.response = response
    action.claimed_until = None
    action.updated_at = now
    if connection.vendor != "postgresql":  # SQLite (`make run`): the same in two statements
        OutboundAttempt.objects.filter(action=action, number=number).update(
            finished_at=now, outcome=outcome, message=message, response=response
        )
        fields = ["state", "last_error", "response", "claimed_until", "updated_at"]
        if next_attempt_at is not None:
            action.next_attempt_at = next_attempt_at
            fields.append("next_attempt_at")
        if state in FINAL_STATES:
            action.completed_at = now
            fields.append("completed_at")
        action.save(update_fields=fields)
        return
    sets = ["state = %s", "last_error = %s", "response = %s::jsonb", "claimed_until = NULL"]
    params: list = [state, action.last_error, json.dumps(response)]
    if next_attempt_at is not None:
        action.next_attempt_at = next_attempt_at
        sets.append("next_attempt_at = %s")
        params.append(next_attempt_at)
    if state in FINAL_STATES:
        action.completed_at = now
        sets.append("completed_at = %s")
        params.append(now)
    sets.append("updated_at = %s")
    params.append(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH attempt AS (UPDATE {_table(OutboundAttempt)}"  # noqa: S608 (model names only)
            " SET finished_at = %s, outcome = %s, message = %s, response = %s::jsonb"
            " WHERE action_id = %s AND number = %s)"
            f" UPDATE {_table(OutboundAction)} SET {', '.join(sets)} WHERE id = %s",
            [now, outcome, message, json.dumps(response), action.pk, number, *params, action.pk],
        )


# --- demo data --------------------------------------------------------------------------------

_PAST_OUTCOMES = {
    "accepted": OutboundState.SUCCEEDED,
    "confirmed": OutboundState.SUCCEEDED,
    "rejected": OutboundState.FAILED,
}


def action_record_past_delivery(action_id: int, *, outcome: str, message: str = "") -> None:
    """Demo data only (`seed_demo`): the action was delivered before the demo began and the
    platform answered `outcome` ("accepted", "confirmed" or "rejected", with its `message`).
    Leaves the rows as that delivery would have: one finished attempt and the action final, but
    without calling the platform (so without the account's rate limit). The refund's side is the
    caller's, through the refund services. A final action is left as it is."""
    state = _PAST_OUTCOMES[outcome]
    with transaction.atomic():
        action = OutboundAction.objects.select_for_update(of=("self",)).get(pk=action_id)
        if action.state in FINAL_STATES:
            return
        action.attempts += 1
        action.save(update_fields=["attempts", "updated_at"])
        OutboundAttempt.objects.create(
            action=action, number=action.attempts, started_at=timezone.now(), outcome="started"
        )
        action_finish_attempt(
            action, number=action.attempts, state=state, outcome=outcome, message=message
        )
