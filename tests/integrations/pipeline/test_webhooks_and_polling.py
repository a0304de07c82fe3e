"""Webhooks and polling end to end: the sandboxes call the live server, the worker processes;
duplicates, reverse order, platform-opened refunds and drift."""

import pytest
import requests

from refunds.delivery.models import OutboundAction, WebhookEvent
from refunds.models import Refund
from tests.fixtures.pipeline import approve_refund, wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _status(refund_id):
    return Refund.objects.get(pk=refund_id).status


def test_duplicated_reversed_webhooks_end_right_and_are_processed_once(
    celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account("hepsiglobal")
    order = sandbox_order(
        account, lines=[(1, "10.00", "0.00", "0.00"), (3, "5.00", "0.00", "0.00")]
    )
    sandbox.faults("hepsiglobal", hold_webhooks=True)
    first = approve_refund(order, pipeline_staff, line=0)
    second_line = order.lines.order_by("id")[1]
    response = requests.post(
        f"{sandbox.url_for('hepsiglobal')}/_sim/order-cancel",
        timeout=5,
        json={
            "order_number": order.external_number,
            "order_item_number": second_line.external_id,
            "cancel_quantity": 2,
            "reason": "out_of_stock",
        },
    )
    assert response.status_code == 200, response.text
    wait_until(
        lambda: OutboundAction.objects.filter(refund=first, state="succeeded").exists(),
        message="the create call answered",
    )
    wait_until(lambda: sandbox.webhooks("hepsiglobal")["pending"] == 2, message="2 held webhooks")

    assert sandbox.release("hepsiglobal", reverse=True, duplicate=True)["released"] == 2
    wait_until(lambda: _status(first.pk) == "ISSUED", message="the result applied")
    wait_until(
        lambda: WebhookEvent.objects.filter(state="processed").count() == 2,
        message="both events processed",
    )

    sent = wait_until(
        lambda: (s := sandbox.webhooks("hepsiglobal")["sent"]) and len(s) == 4 and s,
        message="four deliveries answered",
    )
    assert {entry["status"] for entry in sent} == {200}
    assert WebhookEvent.objects.count() == 2
    cancel_refund = Refund.objects.get(covers_cancellation=True)
    assert (cancel_refund.status, cancel_refund.reason_code, cancel_refund.source) == (
        "REQUESTED",
        "out_of_stock",
        "marketplace",
    )
    assert list(cancel_refund.lines.values_list("quantity", flat=True)) == [2]
    second_line.refresh_from_db()
    assert second_line.cancelled_quantity == 2
    first.refresh_from_db()
    assert first.events.filter(action="marketplace_confirmed").count() == 1


def test_llzw_refund_opened_on_the_shop_is_imported_once_then_follows_the_shop(
    celery_worker, sandbox, marketplace_account, sandbox_order
):
    account = marketplace_account("llzw")
    order = sandbox_order(account)
    response = requests.post(
        f"{sandbox.url_for('llzw')}/_sim/customer-refund",
        timeout=5,
        json={
            "orderId": int(order.external_number),
            "reason": "damaged",
            "amount": 10.00,
            "refundOnly": True,
        },
    )
    assert response.status_code == 200, response.text
    external_id = str(response.json()["data"]["id"])

    refund = wait_until(
        lambda: Refund.objects.filter(external_id=external_id).first(),
        message="the shop's refund imported",
    )
    assert (refund.status, refund.source, refund.requester_role) == (
        "REQUESTED",
        "marketplace",
        "marketplace",
    )
    assert str(refund.total) == "10.00"
    assert refund.has_drift is False

    # The shop's own staff confirm it on the shop (LLZW's API has no seller decision, seed 003):
    # the next poll moves it on, never twice.
    confirmed = requests.post(
        f"{sandbox.url_for('llzw')}/_sim/refunds/{external_id}/confirm", timeout=5
    )
    assert confirmed.status_code == 200, confirmed.text
    wait_until(lambda: _status(refund.pk) == "PROCESSING", message="the shop's status applied")
    assert Refund.objects.filter(order=order).count() == 1
    refund.refresh_from_db()
    assert refund.events.filter(action="marketplace_status").count() == 1
