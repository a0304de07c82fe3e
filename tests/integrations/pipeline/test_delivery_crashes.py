"""Crashes: the worker SIGKILLed in the middle of a marketplace call, the broker restarted with
actions in flight. After recovery every refund is ISSUED and the platform holds each once."""

import pytest

from refunds.delivery.models import OutboundAction, OutboundAttempt, OutboundState
from refunds.models import Refund
from tests.fixtures.pipeline import approve_refund, wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
KEY = "hepsiglobal"
CREATE = {"method": "POST", "path": "/v1/refunds"}


def _final(refund_id):
    refund = Refund.objects.get(pk=refund_id)
    busy = refund.outbound_actions.filter(state__in=["pending", "in_flight"]).exists()
    return refund if refund.status == "ISSUED" and not busy else None


def _create_calls(sandbox):
    return [
        r for r in sandbox.requests(KEY) if r["method"] == "POST" and r["path"] == "/v1/refunds"
    ]


def test_worker_killed_mid_call_refunds_once_after_restart(
    pipeline_worker, celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account(KEY)
    order = sandbox_order(account)
    sandbox.faults(KEY, script=[{"fault": "latency", "seconds": 1.5, **CREATE}])

    refund = approve_refund(order, pipeline_staff)
    wait_until(lambda: _create_calls(sandbox), message="the create call to start")
    pipeline_worker.kill()
    assert OutboundAction.objects.get(refund=refund).state == OutboundState.IN_FLIGHT
    pipeline_worker.start()

    refund = wait_until(lambda: _final(refund.pk), timeout=40, message="ISSUED after restart")
    action = OutboundAction.objects.get(refund=refund)
    assert (action.state, action.attempts) == (OutboundState.SUCCEEDED, 2)
    outcomes = list(OutboundAttempt.objects.filter(action=action).values_list("outcome", flat=True))
    assert outcomes == ["crashed", "accepted"]
    assert len(_create_calls(sandbox)) == 2
    assert sandbox.ledger(KEY, action.idempotency_key)["count"] == 1
    assert sandbox.ledger(KEY)["count"] == 1


def test_broker_restarted_with_actions_in_flight_all_end_once(
    private_broker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account(KEY)
    order = sandbox_order(account, lines=[(1, "10.00", "0.00", "0.00")] * 4)
    sandbox.faults(KEY, latency_ms=300)

    refunds = [approve_refund(order, pipeline_staff, line=i) for i in range(4)]
    private_broker.restart()  # every queued message is gone

    for refund in refunds:
        wait_until(lambda r=refund: _final(r.pk), timeout=60, message=f"refund {refund.pk}")
    assert sandbox.ledger(KEY)["count"] == 4
    for action in OutboundAction.objects.filter(refund__in=refunds):
        assert action.state == OutboundState.SUCCEEDED
        assert sandbox.ledger(KEY, action.idempotency_key)["count"] == 1
    assert Refund.objects.filter(status="ISSUED").count() == 4
