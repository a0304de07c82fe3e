"""Approve a refund -> the sandbox holds exactly one refund for it and Refund Desk shows ISSUED,
for each marketplace through its own way of answering, with a real worker on Redis."""

import pytest

from integrations.llzw.sandbox import STAFF_SECONDS
from integrations.registry import adapter_class
from refunds.delivery.models import OutboundAction, OutboundState
from refunds.models import Refund
from tests.fixtures.pipeline import approve_refund, wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _issued(refund_id):
    """The refund once it is ISSUED and its create action is final (a poll may see the platform's
    answer before the delivery task has recorded it)."""
    refund = Refund.objects.get(pk=refund_id)
    pending = refund.outbound_actions.filter(state__in=["pending", "in_flight"]).exists()
    return refund if refund.status == "ISSUED" and not pending else None


def test_hepsiglobal_refund_issued_by_webhook(
    celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account("hepsiglobal")
    order = sandbox_order(account)
    refund = approve_refund(order, pipeline_staff, quantity=1)
    action = OutboundAction.objects.get(refund=refund)

    refund = wait_until(lambda: _issued(refund.pk), message="HepsiGlobal refund ISSUED")

    assert sandbox.ledger("hepsiglobal", action.idempotency_key)["count"] == 1
    assert len(refund.external_request_id) == 26
    action.refresh_from_db()
    assert action.state == OutboundState.SUCCEEDED
    assert action.attempts == 1
    assert refund.webhook_events.get().state == "processed"


def _created_then_advanced(sandbox, key, refund_id):
    """Once the platform took the refund, let it pay out (the simulator's own clock)."""
    action = OutboundAction.objects.filter(refund_id=refund_id).first()
    if action is not None and action.state == OutboundState.SUCCEEDED:
        sandbox.advance(key)
    return _issued(refund_id)


@pytest.mark.parametrize("key", ["noventiq", "llzw", "shoplazza"])
def test_polled_marketplace_refund_issued_by_beat_poll(
    key, celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account(key)
    order = sandbox_order(account)
    # One unit, or all of them where the platform refunds an item whole (Noventiq).
    whole = not adapter_class(key).capabilities.partial_line_quantity
    quantity = order.lines.order_by("id")[0].quantity if whole else 1
    refund = approve_refund(order, pipeline_staff, quantity=quantity)
    action = OutboundAction.objects.get(refund=refund)

    refund = wait_until(
        lambda: _created_then_advanced(sandbox, key, refund.pk), message=f"{key} refund ISSUED"
    )

    assert sandbox.ledger(key, action.idempotency_key)["count"] == 1
    assert sandbox.ledger(key)["count"] == 1
    action.refresh_from_db()
    assert (action.state, action.attempts) == (OutboundState.SUCCEEDED, 1)
    assert refund.needs_attention is False
    assert refund.has_drift is False


def test_shoplazza_requests_keep_to_two_per_second_across_workers(
    celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account("shoplazza")
    order = sandbox_order(account, lines=[(1, "10.00", "0.00", "0.00")] * 5)
    refunds = [approve_refund(order, pipeline_staff, line=i) for i in range(5)]

    for refund in refunds:
        wait_until(
            lambda r=refund: _created_then_advanced(sandbox, "shoplazza", r.pk),
            message=f"refund {refund.pk} ISSUED",
        )

    assert sandbox.ledger("shoplazza")["count"] == 5
    times = sorted(r["at"] for r in sandbox.requests("shoplazza"))
    # A GCRA bucket of 2/s: at most one request more than the rate in any second.
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert busiest <= 3


def test_llzw_refund_issued_by_the_shops_staff_on_their_own_as_in_make_run(
    celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    """No advance(): the shop's staff confirm and pay on their own pace (the simulator's
    staff_seconds, 5 s in `make run`), and Refund Desk sees it only by polling the list."""
    sandbox.configure("llzw", staff_seconds=1)
    try:
        account = marketplace_account("llzw")
        refund = approve_refund(sandbox_order(account), pipeline_staff, quantity=1)
        action = OutboundAction.objects.get(refund=refund)

        refund = wait_until(lambda: _issued(refund.pk), message="LLZW refund ISSUED by polling")
    finally:
        sandbox.configure("llzw", staff_seconds=STAFF_SECONDS)

    shop = sandbox.ledger("llzw", action.idempotency_key)["refunds"]
    assert [(r["status"], r["refundOnly"], r["requester"]) for r in shop] == [
        ("ISSUED", True, "demo")
    ]
    assert [r["method"] for r in sandbox.requests("llzw") if r["method"] == "PATCH"] == []
    assert (refund.needs_attention, refund.has_drift) == (False, False)
    assert refund.events.filter(action="marketplace_confirmed").count() == 1
