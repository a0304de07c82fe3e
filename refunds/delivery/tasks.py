"""Celery tasks: thin. Ids in, rows loaded, the adapter called outside any transaction, the answer
applied through the refund services. Delivery is at least once (late acks, reject on worker
lost); the outbox row's state and idempotency key make every repeat harmless.

- deliver_outbound_action(action_id)  one call to the marketplace for one outbox row
- sweep_outbox()                      beat: re-enqueue due rows (lost messages, dead workers)
- poll_marketplaces()                 beat: one poll_account per enabled account
- poll_account(account_id)            statuses of refunds in PROCESSING, the platform's list
- process_webhook_event(event_id)     apply a stored, verified webhook
- process_webhook_events(event_ids)   apply a batch of them (what the intake view publishes)
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.base import Accepted, Confirmed, FailedForNow, OutboundKind, Rejected, Result
from orders.models import MarketplaceAccount

from ..models import Refund
from ..prepared import prepared_get
from ..services import refund_apply_marketplace_result, refund_mark_outcome_unknown
from .adapters import account_adapter
from .models import OutboundAction, OutboundState
from .outbox import (
    FINAL_STATES,
    action_finish_attempt,
    action_start_attempt,
    due_actions_claim,
    enqueue_delivery,
    refund_creation_key,
    retry_delay,
)
from .payloads import from_json
from .polling import account_poll
from .processors import stale_events_claim, webhook_event_process, webhook_event_retry_or_fail
from .publishing import PROCESS_BATCH_TASK, enqueue_processing

logger = logging.getLogger(__name__)


# --- delivery ---------------------------------------------------------------------------------


@shared_task(name="refunds.delivery.tasks.deliver_outbound_action", ignore_result=True)
def deliver_outbound_action(action_id: int) -> str:
    claim = action_start_attempt(action_id)
    if claim.exhausted:
        _give_up(action_id, number=None, message="The worker stopped during every attempt.")
        return "dead"
    if not claim.attempt:
        if claim.retry_in:
            enqueue_delivery(action_id, countdown=claim.retry_in)
        return f"skipped: {claim.reason}"
    action = claim.action or OutboundAction.objects.select_related("account").get(pk=action_id)
    # What every line about this delivery carries (config.logs writes them as JSON fields).
    ids = {
        "outbound_action_id": action_id,
        "refund_id": action.refund_id,
        "marketplace": action.account.adapter_key,
    }
    try:
        adapter = account_adapter(action.account)
        result: Result = adapter.perform(action.kind, from_json(action.payload))
    except Exception as exc:  # a bug or bad data, not a platform answer: retry, then give up
        logger.exception(
            "outbound action %s crashed on attempt %s", action_id, claim.attempt, extra=ids
        )
        result = FailedForNow(
            message=f"Refund Desk crashed: {type(exc).__name__}: {exc}", code="crashed"
        )
    outcome = _apply_result(
        action_id, claim.attempt, result, adapter_key=action.account.adapter_key
    )
    logger.info(
        "outbound action %s %s attempt %s: %s",
        action_id,
        action.kind,
        claim.attempt,
        outcome,
        extra={**ids, "outcome": _outcome(result)},
    )
    return outcome


# Attempt outcomes after which the platform may have acted without telling us.
UNANSWERED_OUTCOMES = ("unknown", "crashed")


def _outcome(result: Result) -> str:
    if isinstance(result, FailedForNow):
        if result.code == "crashed":
            return "crashed"
        return "unknown" if result.may_have_acted else "failed"
    return {
        Accepted: "accepted",
        Confirmed: "confirmed",
        Rejected: "rejected",
        FailedForNow: "failed",
    }[type(result)]


def _action_for_update(action_id, *, with_account: bool):
    rows = (
        OutboundAction.objects.select_for_update(of=("self",))
        .annotate(refund_order_id=F("refund__order_id"))
        .defer("payload", "response")
        .filter(pk=action_id)
    )
    return rows.select_related("account") if with_account else rows


def _locked_action(action_id: int, *, with_account: bool) -> OutboundAction:
    """The action row, locked, with what applying a result needs: its state, and a refund
    stand-in carrying the ids the refund services lock by (they read the refund again under
    their own lock, so loading it here would be wasted). `of=self`: lock the action row only.
    Without it PostgreSQL also locks the joined rows, and every delivery of the account would
    wait for this transaction. Compiled once per thread (`refunds.prepared`)."""
    action = prepared_get(
        f"delivery.locked_action.{'account' if with_account else 'bare'}",
        OutboundAction,
        functools.partial(_action_for_update, with_account=with_account),
        action_id,
    )
    action.refund = Refund(pk=action.refund_id, order_id=action.refund_order_id)
    return action


def _apply_result(
    action_id: int, number: int, result: Result, *, adapter_key: str | None = None
) -> str:
    """Apply one attempt's result. `adapter_key`: the account's adapter, when the caller has
    the account in hand already (it is only used to label the audit event)."""
    retry_in = None
    with transaction.atomic():
        action = _locked_action(action_id, with_account=adapter_key is None)
        if adapter_key is None:
            adapter_key = action.account.adapter_key
        via = f"{adapter_key} {action.kind}"
        still_ours = action.state == OutboundState.IN_FLIGHT and action.attempts == number
        if isinstance(result, FailedForNow):
            if not still_ours:
                return "superseded"
            if number >= settings.OUTBOX_MAX_ATTEMPTS:
                unanswered = _outcome(result) in UNANSWERED_OUTCOMES or _had_unanswered(action)
                state = OutboundState.UNKNOWN if unanswered else OutboundState.DEAD
                action_finish_attempt(
                    action,
                    number=number,
                    state=state,
                    outcome=_outcome(result),
                    message=result.message,
                    response=dict(result.raw),
                )
                _flag_given_up(action, number, result.message, via, unanswered=unanswered)
                return str(state)
            retry_in = retry_delay(number, retry_after=result.retry_after)
            action_finish_attempt(
                action,
                number=number,
                state=OutboundState.PENDING,
                outcome=_outcome(result),
                message=result.message,
                response=dict(result.raw),
                next_attempt_at=timezone.now() + dt.timedelta(seconds=retry_in),
            )
            transaction.on_commit(
                lambda: enqueue_delivery(action_id, countdown=retry_in, adapter_key=adapter_key)
            )
            return f"retry in {retry_in:.2f}s"
        # A platform answer is applied even when our lease ran out meanwhile: it is the truth,
        # and the services make applying it twice harmless.
        # No savepoint: any error leaves this transaction, which is rolled back whole.
        refund_apply_marketplace_result(
            refund=action.refund, result=result, kind=action.kind, via=via, savepoint=False
        )
        if still_ours:
            state = (
                OutboundState.FAILED if isinstance(result, Rejected) else OutboundState.SUCCEEDED
            )
            message = result.message if isinstance(result, Rejected) else ""
            action_finish_attempt(
                action,
                number=number,
                state=state,
                outcome=_outcome(result),
                message=message,
                response=dict(result.raw),
            )
        return _outcome(result)


def _had_unanswered(action: OutboundAction) -> bool:
    """Whether an earlier attempt of the action got no answer (so the platform may have acted)."""
    return action.attempt_log.filter(outcome__in=UNANSWERED_OUTCOMES).exists()


def _flag_given_up(
    action: OutboundAction, attempts: int, message: str, via: str, *, unanswered: bool
) -> None:
    """Tell the refund that its delivery was given up. Money that may have moved (a create or a
    status check that got no answer) is an unknown outcome, never a refusal: the refund is
    checked with the platform, or by a person, before anything else is done with it."""
    if unanswered and action.kind == OutboundKind.CREATE_REFUND:
        refund_mark_outcome_unknown(
            refund=action.refund,
            attempts=attempts,
            last_error=message,
            idempotency_key=refund_creation_key(action.refund),
            via=via,
        )
        return
    if unanswered:
        text = f"no answer after {attempts} attempts; it may have been done (last: {message})"
    else:
        text = f"could not be sent in {attempts} attempts; nothing reached it (last: {message})"
    refund_apply_marketplace_result(
        refund=action.refund,
        result=Rejected(code="gave_up", message=text),
        kind=action.kind,
        via=via,
    )


def _give_up(action_id: int, *, number: int | None, message: str) -> None:
    """The worker stopped during every attempt: nobody knows what the platform did."""
    with transaction.atomic():
        action = _locked_action(action_id, with_account=True)
        if action.state in FINAL_STATES:
            return
        action.state = OutboundState.UNKNOWN
        action.last_error = message
        action.claimed_until = None
        action.completed_at = timezone.now()
        action.save(
            update_fields=["state", "last_error", "claimed_until", "completed_at", "updated_at"]
        )
        _flag_given_up(
            action,
            action.attempts,
            message,
            f"{action.account.adapter_key} {action.kind}",
            unanswered=True,
        )


@shared_task(name="refunds.delivery.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> int:
    """Beat: send due outbox rows again, and webhook events whose processing message was lost
    (stored but still unprocessed after a few sweeps). Running it twice at once is harmless:
    rows are claimed with skip locked and both tasks skip work already done."""
    ids = due_actions_claim()
    for action_id in ids:
        enqueue_delivery(action_id)
    events = stale_events_claim()  # fairly: events that keep failing never starve a new one
    for event_id in events:
        enqueue_processing(event_id)
    return len(ids) + len(events)


# --- polling ----------------------------------------------------------------------------------


@shared_task(name="refunds.delivery.tasks.poll_marketplaces", ignore_result=True)
def poll_marketplaces() -> int:
    ids = list(MarketplaceAccount.objects.filter(is_enabled=True).values_list("pk", flat=True))
    for account_id in ids:
        poll_account.apply_async(args=[account_id], expires=settings.POLL_INTERVAL)
    return len(ids)


@shared_task(name="refunds.delivery.tasks.poll_account", ignore_result=True)
def poll_account(account_id: int) -> dict:
    return account_poll(account_id)


# --- webhooks ---------------------------------------------------------------------------------


@shared_task(
    name="refunds.delivery.tasks.process_webhook_event",
    bind=True,
    ignore_result=True,
    max_retries=None,
)
def process_webhook_event(self, event_id: int) -> str:
    """Apply one stored event. A failure of any kind (the webhook raced our own delivery and
    names a refund we cannot find yet, bad data, a bug) is counted on the event, which is sent
    again after WEBHOOK_RETRY_DELAY, and failed with the reason after WEBHOOK_MAX_RETRIES
    retries: never a message retried without bound, never an event the sweeper keeps
    re-sending."""
    try:
        return webhook_event_process(event_id)
    except Exception as exc:
        return webhook_event_retry_or_fail(event_id, exc)


@shared_task(name=PROCESS_BATCH_TASK, ignore_result=True)
def process_webhook_events(event_ids: list[int]) -> dict[str, int]:
    """Apply a batch of stored events, one after the other, each as `process_webhook_event`
    would. An event whose processing fails (its refund is not known yet, or anything else) is
    counted and handed to that single-event task after WEBHOOK_RETRY_DELAY, or failed for good
    after its retries (`webhook_event_retry_or_fail`). Every event is locked and skipped once
    processed, so a batch delivered again (late ack after a lost worker) or also sent by the
    sweeper is harmless. Near the soft time limit the rest of the batch goes out again as a new
    message."""
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
