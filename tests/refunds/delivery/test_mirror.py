"""An order a webhook or a polled refund names but Refund Desk does not have is read from the
platform (MarketplaceAdapter.read_order) and mirrored through the orders service (issue 13):
Noventiq's GET /v1/order/{order_id} against its sandbox over HTTP; the webhook and polling paths
with a platform whose order API is a stand-in (HepsiGlobal and LLZW publish none we use)."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import requests

from integrations.base import OrderData, OrderLineData, OrderPaymentData, TransientError
from integrations.hepsiglobal.client import HepsiGlobalAdapter
from integrations.llzw.client import LlzwAdapter
from integrations.registry import ADAPTERS, Entry
from orders.models import Order
from refunds.delivery.mirror import order_mirror
from refunds.delivery.models import WebhookEvent
from refunds.delivery.polling import account_poll
from refunds.delivery.processors import webhook_event_process
from refunds.models import Refund
from tests import factories

NOVENTIQ_ORDER = {
    "external_number": "912001",
    "customer": {"email": "mira@example.com", "name": "Mira Stone"},
    "status": "paid",
    "currency": "EUR",
    "placed_at": "2026-11-20T09:00:00+00:00",
    "paid_at": "2026-11-20T09:05:00+00:00",
    "lines": [
        {
            "external_id": "P1",
            "sku": "LIC-1",
            "name": "Licence",
            "quantity": 2,
            "unit_price": "15.00",
            "discount": "1.00",
            "tax": "2.00",
        },
        {
            "external_id": "P2",
            "sku": "LIC-2",
            "name": "Support",
            "quantity": 1,
            "unit_price": "9.99",
        },
    ],
    "payments": [{"external_id": "X", "method": "CreditCard", "amount": "40.99"}],
}


@pytest.mark.django_db(transaction=True)
def test_noventiq_order_is_read_and_mirrored_once(sandbox, marketplace_account):
    account = marketplace_account("noventiq")
    sandbox.load_orders("noventiq", [NOVENTIQ_ORDER])

    order = order_mirror(account, "912001")

    assert Order.objects.filter(account=account).count() == 1
    order = Order.objects.get(pk=order.pk)
    assert (order.external_number, order.status, order.currency) == ("912001", "paid", "EUR")
    assert order.placed_at == dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    assert (order.customer.email, order.customer.name) == ("mira@example.com", "Mira Stone")
    assert [
        (li.external_id, li.sku, li.quantity, li.unit_price, li.discount, li.tax)
        for li in order.lines.order_by("external_id")
    ] == [
        ("P1", "LIC-1", 2, Decimal("15.00"), Decimal("1.00"), Decimal("2.00")),
        ("P2", "LIC-2", 1, Decimal("9.99"), Decimal("0.00"), Decimal("0.00")),
    ]
    assert order.grand_total == Decimal("40.99")
    assert list(order.payments.values_list("external_id", "method", "amount")) == [
        ("912001-payment", "CreditCard", Decimal("40.99"))
    ]
    reads = [r for r in sandbox.requests("noventiq") if r["path"] == "/v1/order/912001"]
    assert len(reads) == 1
    assert order_mirror(account, "912001") == order  # Refund Desk has it now: not read again
    reads = [r for r in sandbox.requests("noventiq") if r["path"] == "/v1/order/912001"]
    assert len(reads) == 1


@pytest.mark.django_db(transaction=True)
def test_an_order_the_platform_does_not_know_is_none_and_nothing_is_written(
    sandbox, marketplace_account
):
    account = marketplace_account("noventiq")

    assert order_mirror(account, "912404") is None
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_a_platform_that_cannot_be_asked_raises_and_nothing_is_written():
    account = factories.AccountFactory(
        adapter_key="noventiq",
        base_url="http://127.0.0.1:9/noventiq",
        credentials={"username": "demo", "password": "demo-secret"},
    )

    with pytest.raises(TransientError):
        order_mirror(account, "912001")
    assert Order.objects.count() == 0


# --- the webhook and polling paths, with a stand-in order API ----------------------------------

STAND_IN = OrderData(
    external_number="",
    status="paid",
    currency="USD",
    placed_at=dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC),
    customer_email="omar@example.com",
    customer_name="Omar",
    lines=(OrderLineData("A1", "SKU-A", "Lamp", 3, Decimal("10.00")),),
    payments=(OrderPaymentData("PAY", "card", Decimal("30.00")),),
)


class HepsiGlobalWithOrders(HepsiGlobalAdapter):
    def read_order(self, order_external_number):
        return OrderData(**{**STAND_IN.__dict__, "external_number": order_external_number})


class LlzwWithOrders(LlzwAdapter):
    def read_order(self, order_external_number):
        return OrderData(**{**STAND_IN.__dict__, "external_number": order_external_number})


def _stand_in(monkeypatch, key, cls):
    entry = ADAPTERS[key]
    monkeypatch.setitem(
        ADAPTERS, key, Entry(entry.label, f"{__name__}.{cls.__name__}", entry.sandbox)
    )


@pytest.mark.django_db
def test_order_cancel_for_an_unknown_order_mirrors_it_and_refunds_the_units(client, monkeypatch):
    _stand_in(monkeypatch, "hepsiglobal", HepsiGlobalWithOrders)
    token = "whsec-mirror-path-token-01"
    account = factories.AccountFactory(
        adapter_key="hepsiglobal",
        base_url="http://127.0.0.1:9/hepsiglobal",
        credentials={"client_id": "x", "client_secret": "y"},
        webhook_secret=token,
    )
    payload = {
        "cancel_id": 91,
        "order_number": "HG-9100",
        "cancel_quantity": 2,
        "order_item_number": "A1",
        "reason": "out_of_stock",
    }
    response = client.put(
        f"/hepsiglobal/{token}/webhooks/order-cancel",
        data=json.dumps(payload).encode(),
        content_type="application/json",
    )
    assert response.status_code == 200

    assert webhook_event_process(WebhookEvent.objects.get().pk) == "processed"

    order = Order.objects.get(account=account, external_number="HG-9100")
    refund = Refund.objects.get()
    assert refund.order == order
    assert (refund.status, refund.source, str(refund.total)) == (
        "REQUESTED",
        "marketplace",
        "20.00",
    )
    assert order.lines.get().cancelled_quantity == 2


@pytest.mark.django_db(transaction=True)
def test_polled_refund_of_an_unknown_order_is_imported_on_the_mirrored_order(
    sandbox, marketplace_account, monkeypatch
):
    _stand_in(monkeypatch, "llzw", LlzwWithOrders)
    account = marketplace_account("llzw")
    # The shop has the order (and a customer's refund on it); Refund Desk never imported it.
    sandbox.load_orders(
        "llzw",
        [
            {
                "external_number": "913001",
                "customer": {"email": "omar@example.com", "name": "Omar"},
                "status": "paid",
                "currency": "USD",
                "placed_at": "2026-11-21T08:00:00+00:00",
                "paid_at": "2026-11-21T08:01:00+00:00",
                "lines": [
                    {
                        "external_id": "A1",
                        "sku": "SKU-A",
                        "name": "Lamp",
                        "quantity": 3,
                        "unit_price": "10.00",
                    }
                ],
                "payments": [{"external_id": "PAY", "method": "card", "amount": "30.00"}],
            }
        ],
    )
    created = requests.post(
        f"{sandbox.url_for('llzw')}/_sim/customer-refund",
        timeout=5,
        json={"orderId": 913001, "reason": "damaged", "amount": 10.00, "refundOnly": True},
    )
    assert created.status_code == 200, created.text

    stats = account_poll(account.pk)

    order = Order.objects.get(account=account, external_number="913001")
    refund = Refund.objects.get()
    assert refund.order == order
    assert (refund.status, refund.source, str(refund.total)) == (
        "REQUESTED",
        "marketplace",
        "10.00",
    )
    assert stats["imported"] == 1
    assert "unknown_order" not in stats
