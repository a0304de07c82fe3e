"""Noventiq's product.returned webhook (documented shape, "Webhook examples") names only the order
and the product refunded: the processor finds the refund in progress for that item alone."""

import json

import pytest

from integrations.noventiq.webhooks import sign
from refunds.calculator import LineChoice
from refunds.delivery.models import WebhookEvent
from refunds.delivery.processors import RefundNotYetKnown, webhook_event_process
from refunds.models import Refund
from refunds.services import refund_approve, refund_request
from tests import factories
from tests.fixtures.pipeline import ensure_role_groups

SECRET = "whsec-noventiq-returned"


@pytest.fixture
def account(db):
    return factories.AccountFactory(
        adapter_key="noventiq",
        base_url="http://127.0.0.1:9/noventiq",
        credentials={"username": "demo", "password": "demo-secret"},
        webhook_secret=SECRET,
    )


def _processing(order, *lines):
    """A refund of whole items (every unit of each line), approved: PROCESSING."""
    ensure_role_groups()
    refund = refund_request(
        actor=factories.agent(username="nq-agent@example.com"),
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=li.pk, quantity=li.quantity) for li in lines],
    )
    return refund_approve(actor=factories.agent(username="nq-approver@example.com"), refund=refund)


def _returned(client, order, line):
    payload = {
        "event": "product.returned",
        "order_id": int(order.external_number),
        "create_date": order.placed_at.isoformat(),
        "currency": order.currency,
        "customer": {"email": order.customer.email},
        "product": {"id": line.external_id, "sku": line.sku, "quantity": line.quantity},
        "payment": {"payment_method": "CreditCard"},
    }
    response = client.post(
        "/noventiq/webhooks",
        data=json.dumps(payload).encode(),
        content_type="application/json",
        headers={"signature": sign(payload, SECRET)},
    )
    assert response.status_code == 200
    return WebhookEvent.objects.order_by("-id").first()


@pytest.mark.django_db
def test_product_returned_issues_the_refund_of_that_item(client, account):
    order = factories.make_order(
        account=account, external_number="914001", lines=((2, "10.00", "0.00", "0.00"),) * 2
    )
    first = order.lines.order_by("id").first()
    refund = _processing(order, first)
    assert refund.status == "PROCESSING"

    event = _returned(client, order, first)
    assert webhook_event_process(event.pk) == "processed"

    refund.refresh_from_db()
    assert refund.status == "ISSUED"
    event.refresh_from_db()
    assert event.refund == refund


@pytest.mark.django_db
def test_product_returned_of_one_item_of_several_leaves_the_refund_to_the_poll(client, account):
    order = factories.make_order(
        account=account, external_number="914002", lines=((2, "10.00", "0.00", "0.00"),) * 2
    )
    first, second = order.lines.order_by("id")
    refund = _processing(order, first, second)

    event = _returned(client, order, first)
    with pytest.raises(RefundNotYetKnown, match="No refund for noventiq webhook"):
        webhook_event_process(event.pk)

    refund.refresh_from_db()
    assert refund.status == "PROCESSING"
    assert Refund.objects.filter(status="ISSUED").count() == 0


@pytest.mark.django_db
def test_product_returned_after_the_poll_issued_the_refund_changes_nothing(client, account):
    from integrations.base import Confirmed
    from refunds.services import refund_apply_marketplace_result

    order = factories.make_order(
        account=account, external_number="914003", lines=((2, "10.00", "0.00", "0.00"),)
    )
    line = order.lines.get()
    refund = refund_apply_marketplace_result(
        refund=_processing(order, line), result=Confirmed(message="polled"), via="noventiq poll"
    )
    events_before = refund.events.count()

    event = _returned(client, order, line)
    assert webhook_event_process(event.pk) == "processed"

    refund.refresh_from_db()
    assert (refund.status, refund.events.count()) == ("ISSUED", events_before)
    event.refresh_from_db()
    assert (event.state, event.refund) == ("processed", refund)
