"""Polling and reconciliation, run in-process against the LLZW sandbox over HTTP (the beat task
`poll_account` calls exactly this)."""

import pytest
import requests

from refunds.delivery.polling import account_poll
from refunds.models import Refund, RefundEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_celery_worker")]


def _shop_refund(sandbox, order, amount=10.00):
    response = requests.post(
        f"{sandbox.url_for('llzw')}/_sim/customer-refund",
        timeout=5,
        json={
            "orderId": int(order.external_number),
            "reason": "damaged",
            "amount": amount,
            "refundOnly": True,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


def _seller(sandbox):
    session = requests.Session()
    session.post(
        f"{sandbox.url_for('llzw')}/api/v1/login",
        timeout=5,
        data={"username": "demo", "password": "demo-secret"},
    )
    return session


def test_refund_that_moved_on_without_us_is_imported_and_flagged_as_drift(
    sandbox, marketplace_account, sandbox_order
):
    account = marketplace_account("llzw")
    order = sandbox_order(account)
    external_id = _shop_refund(sandbox, order)
    _seller(sandbox).patch(
        f"{sandbox.url_for('llzw')}/api/v2/refunds/{external_id}",
        timeout=5,
        json={"action": "CONFIRM"},
    )

    stats = account_poll(account.pk)

    refund = Refund.objects.get(external_id=external_id)
    assert stats["imported"] == 1
    assert (refund.status, refund.source) == ("PROCESSING", "marketplace")
    assert refund.has_drift is True
    assert "without Refund Desk" in refund.drift_note
    events = RefundEvent.objects.filter(refund=refund).count()

    account_poll(account.pk)  # a second run changes nothing

    assert Refund.objects.filter(order=order).count() == 1
    assert RefundEvent.objects.filter(refund=refund).count() == events


def test_amount_that_differs_on_the_platform_is_flagged(
    sandbox, marketplace_account, sandbox_order
):
    account = marketplace_account("llzw")
    order = sandbox_order(account)
    external_id = _shop_refund(sandbox, order, amount=10.00)
    account_poll(account.pk)
    refund = Refund.objects.get(external_id=external_id)
    assert refund.has_drift is False
    Refund.objects.filter(pk=refund.pk).update(total="7.00", lines_amount="7.00")

    account_poll(account.pk)

    refund.refresh_from_db()
    assert refund.has_drift is True
    assert "10.00" in refund.drift_note
    assert "7.00 USD" in refund.drift_note


def test_disabled_account_is_not_polled(sandbox, marketplace_account, sandbox_order):
    account = marketplace_account("llzw", is_enabled=False)
    order = sandbox_order(account)
    _shop_refund(sandbox, order)

    assert account_poll(account.pk) == {}
    assert Refund.objects.count() == 0
