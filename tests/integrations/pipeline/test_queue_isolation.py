"""A slow marketplace does not hold up another's deliveries: two workers on their own delivery
queues (Redis), HepsiGlobal's sandbox answering after 5 s, LLZW's at once. Every HepsiGlobal
worker slot is busy with a slow call (and one more delivery waits behind them) while an LLZW
refund is delivered and ISSUED."""

import tempfile
from pathlib import Path

import pytest
from django.conf import settings

from refunds.delivery.models import OutboundAction, OutboundAttempt, OutboundState
from refunds.models import Refund
from tests.fixtures.pipeline import WorkerProcess, approve_refund, wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

# Calls of several seconds: timeouts and lease long enough that no slow call is cut short or
# taken over (the sweeper would otherwise send it again).
SLOW_ENV = {
    "MARKETPLACE_READ_TIMEOUT": "15",
    "CELERY_TASK_SOFT_TIME_LIMIT": "40",
    "CELERY_TASK_TIME_LIMIT": "45",
    "OUTBOX_LEASE_SECONDS": "60",
}


@pytest.fixture
def two_workers(no_celery_worker):
    no_celery_worker.purge()
    broker = str(settings.CELERY_BROKER_URL)
    slow = WorkerProcess(
        broker,
        Path(tempfile.mkdtemp(prefix="rd-hepsi-")),
        queues=["deliveries.hepsiglobal"],
        name="hepsiglobal",
        beat=False,
    )
    others = WorkerProcess(
        broker,
        Path(tempfile.mkdtemp(prefix="rd-others-")),
        queues=["default", "webhooks", "polling", "deliveries.llzw"],
        name="others",
    )
    try:
        yield slow.start(**SLOW_ENV), others.start(**SLOW_ENV)
    finally:
        slow.stop()
        others.stop()


def test_llzw_refund_is_issued_while_every_hepsiglobal_call_is_still_in_flight(
    two_workers, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    sandbox.faults("hepsiglobal", latency_ms=5000)
    hepsi_order = sandbox_order(
        marketplace_account("hepsiglobal"), lines=[(1, "10.00", "0.00", "0.00")] * 3
    )
    hepsi = [approve_refund(hepsi_order, pipeline_staff, line=i) for i in range(3)]
    hepsi_actions = OutboundAction.objects.filter(refund__in=hepsi)

    # The HepsiGlobal worker's two slots are both waiting on the platform.
    wait_until(
        lambda: hepsi_actions.filter(state=OutboundState.IN_FLIGHT).count() == 2,
        timeout=30,
        message="two HepsiGlobal calls in flight",
    )
    llzw_order = sandbox_order(marketplace_account("llzw"))
    llzw = approve_refund(llzw_order, pipeline_staff)
    llzw_action = OutboundAction.objects.get(refund=llzw)

    def llzw_issued():
        llzw_action.refresh_from_db()
        if llzw_action.state == OutboundState.SUCCEEDED:
            sandbox.advance("llzw")  # the shop's staff accept it (the simulator's clock)
        return Refund.objects.get(pk=llzw.pk).status == "ISSUED"

    wait_until(llzw_issued, timeout=30, message="the LLZW refund ISSUED")

    # At that moment no HepsiGlobal call has come back: two in flight, the third still queued.
    states = sorted(hepsi_actions.values_list("state", flat=True))
    assert states == [OutboundState.IN_FLIGHT, OutboundState.IN_FLIGHT, OutboundState.PENDING]
    assert not OutboundAttempt.objects.filter(
        action__in=hepsi_actions, finished_at__isnull=False
    ).exists()
    assert sandbox.ledger("llzw", llzw_action.idempotency_key)["count"] == 1

    # And the slow platform gets every refund, once each.
    wait_until(
        lambda: hepsi_actions.filter(state=OutboundState.SUCCEEDED).count() == 3,
        timeout=90,
        message="every HepsiGlobal delivery done",
    )
    for action in hepsi_actions:
        assert sandbox.ledger("hepsiglobal", action.idempotency_key)["count"] == 1
        assert action.attempts == 1
