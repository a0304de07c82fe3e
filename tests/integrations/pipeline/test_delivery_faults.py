"""Nothing lost, nothing twice: faults on the way to HepsiGlobal (its sandbox over HTTP), with a
real worker and beat on Redis."""

import pytest
from django.db import transaction

from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction, OutboundAttempt, OutboundState
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories
from tests.fixtures.pipeline import approve_refund, wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
KEY = "hepsiglobal"
CREATE = {"method": "POST", "path": "/v1/refunds"}


def _final(refund_id, status="ISSUED"):
    refund = Refund.objects.get(pk=refund_id)
    busy = refund.outbound_actions.filter(state__in=["pending", "in_flight"]).exists()
    return refund if refund.status == status and not busy else None


def _create_calls(sandbox):
    return [
        r for r in sandbox.requests(KEY) if r["method"] == "POST" and r["path"] == "/v1/refunds"
    ]


def _outcomes(action):
    return list(OutboundAttempt.objects.filter(action=action).values_list("outcome", flat=True))


@pytest.fixture
def hepsi(sandbox, marketplace_account, sandbox_order, pipeline_staff):
    account = marketplace_account(KEY)
    return account, sandbox_order(account), pipeline_staff


def test_server_errors_then_success_is_retried_and_refunds_once(celery_worker, sandbox, hepsi):
    _account, order, agent = hepsi
    sandbox.faults(KEY, script=[{"fault": "500", **CREATE}, {"fault": "503", **CREATE}])

    refund = approve_refund(order, agent)
    refund = wait_until(lambda: _final(refund.pk), message="ISSUED after two 5xx")

    action = OutboundAction.objects.get(refund=refund)
    assert (action.state, action.attempts) == (OutboundState.SUCCEEDED, 3)
    # A 5xx is no answer: the platform may have acted (here it had not), so not a refusal.
    assert _outcomes(action) == ["unknown", "unknown", "accepted"]
    assert len(_create_calls(sandbox)) == 3
    assert sandbox.ledger(KEY, action.idempotency_key)["count"] == 1
    assert sandbox.ledger(KEY)["count"] == 1


def test_rate_limited_with_retry_after_waits_that_long(celery_worker, sandbox, hepsi):
    _account, order, agent = hepsi
    sandbox.faults(KEY, script=[{"fault": "429", "retry_after": 2, **CREATE}])

    refund = approve_refund(order, agent)
    refund = wait_until(lambda: _final(refund.pk), message="ISSUED after a 429")

    first, second = _create_calls(sandbox)
    assert second["at"] - first["at"] >= 2
    action = OutboundAction.objects.get(refund=refund)
    assert _outcomes(action) == ["failed", "accepted"]
    assert sandbox.ledger(KEY)["count"] == 1


def test_connection_dropped_after_the_refund_was_recorded_creates_no_second(
    celery_worker, sandbox, hepsi
):
    _account, order, agent = hepsi
    sandbox.faults(KEY, script=[{"fault": "drop", **CREATE}])

    refund = approve_refund(order, agent)
    refund = wait_until(lambda: _final(refund.pk), message="ISSUED after a dropped answer")

    action = OutboundAction.objects.get(refund=refund)
    assert _outcomes(action) == ["unknown", "accepted"]
    assert len(_create_calls(sandbox)) == 2
    assert sandbox.ledger(KEY, action.idempotency_key)["count"] == 1
    assert sandbox.ledger(KEY)["count"] == 1


def test_permanent_refusal_is_not_retried_and_needs_attention(
    celery_worker, sandbox, marketplace_account, pipeline_staff
):
    account = marketplace_account(KEY)
    order = factories.make_order(account=account, external_number="990001")  # unknown there

    refund = approve_refund(order, pipeline_staff)
    wait_until(
        lambda: OutboundAction.objects.filter(refund=refund, state=OutboundState.FAILED).first(),
        message="the action FAILED",
    )
    # Two sweeps and two polls ran since, and what they queued is done: nothing sent it again.
    celery_worker.wait_for_runs(celery_worker.log_mark(), sweep_outbox=2, poll_account=2)

    action = OutboundAction.objects.get(refund=refund)
    assert (action.state, action.attempts) == (OutboundState.FAILED, 1)
    assert _outcomes(action) == ["rejected"]
    assert len(_create_calls(sandbox)) == 1
    refund.refresh_from_db()
    assert refund.status == "PROCESSING"
    assert refund.needs_attention is True
    assert refund.attention_message.startswith(f"{account.name} refused: ")
    assert "990001" in refund.attention_message
    assert action.last_error in refund.attention_message


def test_rollback_after_the_outbox_row_was_written_leaves_nothing(celery_worker, sandbox, hepsi):
    _account, order, agent = hepsi

    written = []

    def approve_then_fail():
        with transaction.atomic():
            approve_refund(order, agent)
            written.append(OutboundAction.objects.count())
            raise RuntimeError("the view failed after the approval")

    mark = celery_worker.log_mark()
    with pytest.raises(RuntimeError):
        approve_then_fail()
    assert written == [1]
    runs = celery_worker.wait_for_runs(mark, sweep_outbox=2)  # and what they queued is done

    assert [run for run in runs if run.short_name == "deliver_outbound_action"] == []
    assert OutboundAction.objects.count() == 0
    assert Refund.objects.count() == 0
    assert _create_calls(sandbox) == []
    assert sandbox.ledger(KEY)["count"] == 0


def test_poison_action_ends_unknown_after_max_attempts(celery_worker, sandbox, hepsi):
    account, order, _agent = hepsi
    customer = factories.UserFactory(username=order.customer.email)
    order.customer.user = customer
    order.customer.save()
    refund = refund_request(
        actor=customer,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=order.lines.first().pk, quantity=1)],
    )
    action = OutboundAction.objects.create(
        refund=refund,
        account=account,
        kind="create_refund",
        idempotency_key="RD-poison",
        payload={"refund_id": refund.pk, "broken": True},
        next_attempt_at=refund.created_at,
    )  # a snapshot the adapter cannot read: every attempt crashes

    wait_until(
        lambda: OutboundAction.objects.filter(pk=action.pk, state=OutboundState.UNKNOWN).first(),
        timeout=40,
        message="the poison action given up",
    )
    # It stays dead: two sweeps ran since, and what they queued is done, without another try.
    celery_worker.wait_for_runs(celery_worker.log_mark(), sweep_outbox=2)

    action.refresh_from_db()
    max_attempts = int(celery_worker.env["OUTBOX_MAX_ATTEMPTS"])
    # Our own crash says nothing of what the platform did: the outcome is unknown.
    assert (action.state, action.attempts) == (OutboundState.UNKNOWN, max_attempts)
    assert _outcomes(action) == ["crashed"] * max_attempts
    assert action.completed_at is not None
    refund.refresh_from_db()
    assert (refund.needs_attention, refund.outcome_unknown) == (True, True)
    assert f"did not answer ({max_attempts} attempts, last: " in refund.attention_message
    assert _create_calls(sandbox) == []
