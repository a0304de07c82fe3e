"""A Shoplazza order a refund names but Refund Desk does not have is read with Get Order Detail
(GET /openapi/{version}/orders/{order_id}, integrations/shoplazza/mapping.py [P10]) from the
Shoplazza sandbox over HTTP and mirrored through the orders service (issue 13)."""

import datetime as dt
from decimal import Decimal

import pytest

from orders.models import Order
from refunds.delivery.mirror import order_mirror

SHOPLAZZA_ORDER = {
    "external_number": "SL-914001",
    "customer": {"email": "lena@example.com", "name": "Lena Park"},
    "status": "paid",
    "currency": "USD",
    "placed_at": "2026-11-22T09:00:00+00:00",
    "paid_at": "2026-11-22T09:02:00+00:00",
    "shipping_total": "4.00",
    "tip_total": "1.00",
    "lines": [
        {
            "external_id": "li_a",
            "sku": "LAMP",
            "name": "Lamp",
            "quantity": 2,
            "unit_price": "12.50",
            "fulfilled_quantity": 2,
        },
        {
            "external_id": "li_b",
            "sku": "BULB",
            "name": "Bulb",
            "quantity": 3,
            "unit_price": "2.00",
            "fulfilled_quantity": 1,
        },
    ],
    "payments": [{"external_id": "pl_1", "method": "card", "amount": "36.00"}],
}


@pytest.mark.django_db(transaction=True)
def test_shoplazza_order_is_read_and_mirrored_once(sandbox, marketplace_account):
    account = marketplace_account("shoplazza")
    sandbox.load_orders("shoplazza", [SHOPLAZZA_ORDER])

    order = order_mirror(account, "SL-914001")

    assert Order.objects.filter(account=account).count() == 1
    order = Order.objects.get(pk=order.pk)
    assert (order.external_number, order.status, order.currency) == ("SL-914001", "paid", "USD")
    assert order.placed_at == dt.datetime(2026, 11, 22, 9, 2, tzinfo=dt.UTC)
    assert order.paid_at == dt.datetime(2026, 11, 22, 9, 2, tzinfo=dt.UTC)
    assert (order.customer.email, order.customer.name) == ("lena@example.com", "Lena Park")
    assert [
        (li.external_id, li.sku, li.name, li.quantity, li.unit_price, li.fulfilled_quantity)
        for li in order.lines.order_by("external_id")
    ] == [
        ("li_a", "LAMP", "Lamp", 2, Decimal("12.50"), 2),
        ("li_b", "BULB", "Bulb", 3, Decimal("2.00"), 1),
    ]
    assert (order.shipping_total, order.tip_total, order.grand_total) == (
        Decimal("4.00"),
        Decimal("1.00"),
        Decimal("36.00"),
    )
    # No payment_line id is published (mapping ASSUMPTIONS A8): no payment is mirrored.
    assert order.payments.count() == 0
    path = "/openapi/2026-01/orders/SL-914001"
    assert [r["path"] for r in sandbox.requests("shoplazza") if r["path"] == path] == [path]
    assert order_mirror(account, "SL-914001") == order  # Refund Desk has it now: not read again
    assert [r["path"] for r in sandbox.requests("shoplazza") if r["path"] == path] == [path]


@pytest.mark.django_db(transaction=True)
def test_a_shoplazza_order_the_shop_does_not_know_is_none_and_nothing_is_written(
    sandbox, marketplace_account
):
    account = marketplace_account("shoplazza")

    assert order_mirror(account, "SL-914404") is None
    assert Order.objects.count() == 0
