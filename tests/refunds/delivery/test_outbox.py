"""Outbox mechanics against PostgreSQL: claiming (skip locked, leases), starting attempts, the
per-account rate limit and the back-off arithmetic. No broker: on_commit never fires here."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.delivery.models import OutboundAction, OutboundAttempt, OutboundState
from refunds.delivery.outbox import (
    action_start_attempt,
    backoff_ceiling,
    due_actions_claim,
    retry_delay,
)
from refunds.delivery.ratelimit import window
from tests import factories
from tests.fixtures.pipeline import approve_refund, ensure_role_groups

NOW = timezone.now


@pytest.fixture
def actions(db):
    """Three outbox rows (three approved refunds) on one LLZW account."""
    ensure_role_groups()
    agent = factories.agent(username="outbox-agent@example.com")
    account = factories.AccountFactory(adapter_key="llzw", name="LLZW outbox")
    order = factories.make_order(account=account, lines=[(1, "10.00", "0.00", "0.00")] * 3)
    return [approve_refund(order, agent, line=i).outbound_actions.get() for i in range(3)]


def _set(action, **fields):
    OutboundAction.objects.filter(pk=action.pk).update(**fields)
    action.refresh_from_db()
    return action


def test_claim_takes_due_pending_rows_once_per_sweep_hold(actions, settings):
    settings.OUTBOX_SWEEP_INTERVAL = 15
    first, second, third = actions
    _set(third, next_attempt_at=NOW() + dt.timedelta(minutes=5))

    assert sorted(due_actions_claim()) == sorted([first.pk, second.pk])
    assert due_actions_claim() == []  # held for this sweep: not sent twice
    _set(first, claimed_until=NOW() - dt.timedelta(seconds=1))
    assert due_actions_claim() == [first.pk]  # the message was lost: sent again


def test_claim_leaves_live_in_flight_and_final_rows_but_takes_a_dead_workers(actions):
    live, dead, done = actions
    _set(live, state=OutboundState.IN_FLIGHT, claimed_until=NOW() + dt.timedelta(minutes=1))
    _set(dead, state=OutboundState.IN_FLIGHT, claimed_until=NOW() - dt.timedelta(seconds=1))
    _set(done, state=OutboundState.SUCCEEDED)

    assert due_actions_claim() == [dead.pk]


def test_start_attempt_marks_in_flight_with_a_lease_and_an_attempt_row(actions, settings):
    settings.OUTBOX_LEASE_SECONDS = 180
    action = actions[0]

    claim = action_start_attempt(action.pk)

    action.refresh_from_db()
    assert claim.attempt == 1
    assert (action.state, action.attempts) == (OutboundState.IN_FLIGHT, 1)
    assert action.claimed_until > NOW() + dt.timedelta(seconds=170)
    attempt = OutboundAttempt.objects.get(action=action)
    assert (attempt.number, attempt.outcome, attempt.finished_at) == (1, "started", None)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"state": OutboundState.SUCCEEDED}, "already succeeded"),
        ({"state": OutboundState.DEAD}, "already dead"),
        ({"state": OutboundState.IN_FLIGHT}, "in flight on another worker"),
        ({"next_attempt_at": "later"}, "not due yet"),
    ],
)
def test_start_attempt_skips_and_changes_nothing(actions, fields, reason):
    action = actions[0]
    if fields.get("state") == OutboundState.IN_FLIGHT:
        fields = {**fields, "claimed_until": NOW() + dt.timedelta(minutes=1)}
    if fields.get("next_attempt_at") == "later":
        fields = {"next_attempt_at": NOW() + dt.timedelta(minutes=1)}
    before = _set(action, **fields)

    claim = action_start_attempt(action.pk)

    after = OutboundAction.objects.get(pk=action.pk)
    assert (claim.attempt, claim.reason) == (0, reason)
    assert (after.state, after.attempts, after.claimed_until) == (
        before.state,
        before.attempts,
        before.claimed_until,
    )
    assert OutboundAttempt.objects.count() == 0


def test_dead_workers_attempt_is_closed_as_crashed_and_counted(actions, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    action = actions[0]
    action_start_attempt(action.pk)
    _set(action, claimed_until=NOW() - dt.timedelta(seconds=1))  # the worker died

    assert action_start_attempt(action.pk).attempt == 2
    _set(action, claimed_until=NOW() - dt.timedelta(seconds=1))  # and died again
    claim = action_start_attempt(action.pk)

    assert (claim.attempt, claim.exhausted) == (0, True)
    outcomes = list(OutboundAttempt.objects.filter(action=action).values_list("outcome", flat=True))
    assert outcomes == ["crashed", "crashed"]


def test_rate_limit_is_shared_per_account(actions):
    first, second, third = actions
    first.account.rate_limit_per_second = Decimal("2")
    first.account.save()

    assert action_start_attempt(first.pk).attempt == 1
    assert action_start_attempt(second.pk).attempt == 1
    claim = action_start_attempt(third.pk)

    assert claim.attempt == 0
    assert 0 < claim.retry_in <= 1
    third.refresh_from_db()
    assert third.state == OutboundState.PENDING
    assert third.attempts == 0
    assert third.next_attempt_at > NOW()


def test_rate_windows():
    assert window(Decimal("2")) == (1.0, 2)
    assert window(Decimal("0.5")) == (2.0, 1)
    assert window(Decimal("10")) == (1.0, 10)


def test_back_off_grows_to_the_cap_with_full_jitter(settings):
    settings.OUTBOX_BACKOFF_BASE = 1
    settings.OUTBOX_BACKOFF_CAP = 8
    assert [backoff_ceiling(n) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]
    for attempt in range(1, 7):
        delays = [retry_delay(attempt) for _ in range(200)]
        assert all(0 <= d <= backoff_ceiling(attempt) for d in delays)
        assert len(set(delays)) > 1  # jitter


def test_retry_after_is_a_floor_and_is_capped(settings):
    settings.OUTBOX_BACKOFF_BASE = 1
    settings.OUTBOX_BACKOFF_CAP = 8
    settings.OUTBOX_RETRY_AFTER_CAP = 30
    assert all(retry_delay(1, retry_after=5) >= 5 for _ in range(50))
    assert retry_delay(1, retry_after=1000) == 30
