"""Approve a refund -> the sandbox holds exactly one refund for it and Refund Desk shows ISSUED,
for each marketplace through its own way of answering, with a real worker on Redis."""

import pytest

from integrations.models import OutboundAction, OutboundState
from refunds.models import Refund
from tests.fixtures.pipeline import approve_refund, wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _issued(refund_id):
    refund = Refund.objects.get(pk=refund_id)
    return refund if refund.status == "ISSUED" else None


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
