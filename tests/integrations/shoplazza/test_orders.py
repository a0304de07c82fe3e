"""Reading an order (MarketplaceAdapter.read_order): Shoplazza's Get Order Detail [P10], from
the published example and against the sandbox over HTTP. Each constant names its page ([Pn]
and the assumptions An: the lists at the top of integrations/shoplazza/mapping.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests

from integrations.base import OrderData, OrderLineData, PermanentError
from integrations.shoplazza import mapping
from tests.integrations.shoplazza.conftest import (
    ORDER_ID,
    control,
    make_adapter,
    sandbox_requests,
    token,
)

# [P10] Get Order Detail (v2025.06), the "Example" column of the order's fields.
PUBLISHED_ORDER = {
    "id": "ord_123",
    "created_at": "2023-01-01T00:00:00Z",
    "updated_at": "2023-01-01T00:00:00Z",
    "note": "Gift note",
    "number": "#1001",
    "total_price": "100.00",
    "sub_total": "90.00",
    "currency": "USD",
    "financial_status": "paid",
    "status": "fulfilled",
    "cancelled_at": "",
    "cancel_reason": "",
    "payment_method": "",
    "fulfillment_status": "fulfilled",
    "placed_at": "2023-01-01T00:00:00Z",
    "tags": "vip",
    "buyer_accepts_marketing": True,
    "code_discount_total": "10.00",
    "customer_note": "Handle with care",
    "total_discount": "10.00",
    "total_tax": "5.00",
    "total_shipping": "5.00",
}
PUBLISHED_ANSWER = {
    "code": "success",
    "message": "Order retrieved successfully",
    "data": {"order": PUBLISHED_ORDER},
}
# [P12] the line item of the Fulfillment example (https://shoplazza.dev/reference/fulfillment-1).
PUBLISHED_LINE_ITEM = {
    "id": "3224873d-71b4-4762-b25e-10a895deff42",
    "product_id": "a1a88be0-a1d4-47e4-a2f2-ba6e131cf447",
    "variant_id": "e9a785a4-739b-45e6-93bb-d056d706c295",
    "variant_title": "L-blue-S",
    "product_title": "shirt",
    "product_handle": "shirt",
    "quantity": 1,
    "note": "",
    "fulfillment_status": "finished",
    "sku": "T-M-L-blue-S-A001009",
    "weight_unit": "kg",
    "vendor": "shoplazza",
    "product_url": "/products/shirt",
    "compare_at_price": "97.00",
    "image": "//cdn.shoplazza.com/ccf0794c594bad32a320eea0d6bfe40c.jpeg",
    "price": "81.00",
    "total": "81.00",
    "weight": "1.10",
    "properties": [
        {"name": "size", "value": "L"},
        {"name": "color", "value": "blue"},
        {"name": "type", "value": "S"},
    ],
    "custom_properties": None,
    "refund_quantity": 0,
    "refund_total": "0.00",
    "taxable": True,
    "requires_shipping": True,
    "shipping_quantity": 1,
}
# A9: the customer object's field names are our assumption (no copy of a page shows them).
CUSTOMER = {"email": "jane@example.com", "first_name": "Jane", "last_name": "Doe"}

# Every order field [P10] and [P11] name (A9: the customer object), and the line item's [P12].
ORDER_FIELDS = set(PUBLISHED_ORDER) | {
    "total_tip_received",
    "additional_total",
    "line_items",
    "payment_line",
    "shipping_line",
    "billing_address",
    "shipping_address",
    "customer",
}
LINE_ITEM_FIELDS = set(PUBLISHED_LINE_ITEM)


def test_the_published_order_with_its_line_item_and_a_customer_reads_as_our_order():
    order = {**PUBLISHED_ORDER, "line_items": [PUBLISHED_LINE_ITEM], "customer": CUSTOMER}

    data = mapping.order_data(mapping.order_answer({**PUBLISHED_ANSWER, "data": {"order": order}}))

    assert data == OrderData(
        external_number="ord_123",
        status="fulfilled",
        currency="USD",
        placed_at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
        paid_at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
        customer_email="jane@example.com",
        customer_name="Jane Doe",
        lines=(
            OrderLineData(
                external_id="3224873d-71b4-4762-b25e-10a895deff42",
                sku="T-M-L-blue-S-A001009",
                name="shirt - L-blue-S",
                quantity=1,
                unit_price=Decimal("81.00"),
                discount=Decimal("0"),
                # A10: total_price 100.00 - total_shipping 5.00 - the line's 81.00.
                tax=Decimal("14.00"),
                fulfilled_quantity=1,
            ),
        ),
        shipping_total=Decimal("5.00"),
    )
    assert data.payments == ()  # A8: no payment_line id is published


def test_the_published_order_without_lines_or_a_customer_is_not_mirrored():
    assert mapping.order_data(PUBLISHED_ORDER) is None
    assert mapping.order_data({**PUBLISHED_ORDER, "line_items": [PUBLISHED_LINE_ITEM]}) is None


def test_the_sandbox_answers_get_order_detail_with_only_published_fields(sim, api):
    response = requests.get(
        f"{api}/openapi/2026-01/orders/{ORDER_ID}",
        headers={"Access-Token": token(api)},
        timeout=5,
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["code"], set(body["data"])) == ("success", {"order"})
    order = body["data"]["order"]
    assert set(order) <= ORDER_FIELDS
    assert all(set(item) <= LINE_ITEM_FIELDS for item in order["line_items"])
    assert (order["financial_status"], order["status"], order["fulfillment_status"]) == (
        "paid",
        "placed",
        "partially_shipped",
    )
    assert [
        (i["id"], i["quantity"], i["shipping_quantity"], i["fulfillment_status"])
        for i in order["line_items"]
    ] == [("li_1", 2, 1, "partially_shipped"), ("li_2", 1, 0, "waiting")]


def test_read_order_maps_the_sandbox_order(sim, api, base_url):
    data = make_adapter(api).read_order(ORDER_ID)

    assert data == OrderData(
        external_number=ORDER_ID,
        status="paid",
        currency="USD",
        placed_at=dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC),
        paid_at=dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC),
        customer_email="alice@example.com",
        customer_name="Alice",
        lines=(
            OrderLineData(
                "li_1",
                "MUG",
                "Mug",
                2,
                Decimal("20.00"),
                Decimal("0.00"),
                Decimal("0.00"),
                fulfilled_quantity=1,
            ),
            OrderLineData(
                "li_2",
                "TEE",
                "Tee",
                1,
                Decimal("30.00"),
                Decimal("0.00"),
                Decimal("0.00"),
                fulfilled_quantity=0,
            ),
        ),
        shipping_total=Decimal("5.00"),
        tip_total=Decimal("0.00"),
        additional_total=Decimal("0.00"),
    )
    reads = sandbox_requests(base_url, method="GET", path="/openapi/2026-01/orders/")
    assert [r["path"] for r in reads] == [f"/openapi/2026-01/orders/{ORDER_ID}"]


def test_read_order_of_an_unpaid_order_is_pending_without_a_payment_time(sim, api):
    data = make_adapter(api).read_order("SL-2002")

    assert (data.external_number, data.status, data.paid_at) == ("SL-2002", "pending", None)


def test_read_order_of_an_unknown_order_is_none(sim, api):
    assert make_adapter(api).read_order("SL-404") is None
    assert make_adapter(api).read_order("") is None


def test_read_order_without_the_read_order_scope_raises_forbidden(sim, api, base_url):
    control(base_url, "PUT", "config", {"scopes": []})

    with pytest.raises(PermanentError) as raised:
        make_adapter(api).read_order(ORDER_ID)

    assert raised.value.code == "Forbidden"


@pytest.mark.parametrize(
    ("status", "financial", "fulfillment", "ours"),
    [
        ("opened", "waiting", "initialled", "pending"),
        ("opened", "paying", "waiting", "pending"),
        ("placed", "authorized", "waiting", "pending"),
        ("placed", "partially_paid", "waiting", "pending"),
        ("placed", "paid", "waiting", "paid"),
        ("placed", "paid", "partially_shipped", "paid"),
        ("placed", "partially_refunded", "waiting", "paid"),
        ("finished", "refunded", "finished", "fulfilled"),
        ("placed", "paid", "shipped", "fulfilled"),
        ("placed", "refunding", "shipped", "fulfilled"),
        ("placed", "refund_failed", "waiting", "paid"),
        ("cancelled", "refunded", "cancelled", "cancelled"),
        ("placed", "failed", "waiting", "cancelled"),
        ("opened", "cancelled", "waiting", "cancelled"),
        ("placed", "voided", "waiting", None),
    ],
)
def test_order_status_follows_the_published_status_words(status, financial, fulfillment, ours):
    order = {"status": status, "financial_status": financial, "fulfillment_status": fulfillment}

    assert mapping.order_status(order) == ours


def _order(**changes) -> dict:
    return {
        "id": "o1",
        "currency": "USD",
        "financial_status": "paid",
        "status": "placed",
        "created_at": "2026-11-01T10:00:00Z",
        "placed_at": "2026-11-01T10:05:00Z",
        "total_price": "60.00",
        "total_shipping": "0.00",
        "customer": CUSTOMER,
        "line_items": [
            {
                "id": "a",
                "sku": "A",
                "product_title": "A",
                "quantity": 1,
                "price": "10.00",
                "total": "10.00",
                "fulfillment_status": "waiting",
            },
            {
                "id": "b",
                "sku": "B",
                "product_title": "B",
                "quantity": 2,
                "price": "25.00",
                "total": "50.00",
                "fulfillment_status": "shipped",
            },
        ],
        **changes,
    }


def test_an_order_level_discount_is_spread_over_the_lines_by_largest_remainder():
    data = mapping.order_data(_order(total_price="50.00"))

    assert [(li.external_id, li.discount, li.tax, li.fulfilled_quantity) for li in data.lines] == [
        ("a", Decimal("1.67"), Decimal("0"), 0),
        ("b", Decimal("8.33"), Decimal("0"), 2),
    ]
    assert sum(li.unit_price * li.quantity - li.discount for li in data.lines) == Decimal("50.00")


def test_a_partially_shipped_line_without_its_shipped_units_is_not_mirrored():
    lines = _order()["line_items"]
    lines[1] = {**lines[1], "fulfillment_status": "partially_shipped"}

    assert mapping.order_data(_order(line_items=lines)) is None
    lines[1] = {**lines[1], "shipping_quantity": 1}
    assert mapping.order_data(_order(line_items=lines)).lines[1].fulfilled_quantity == 1


def test_an_order_without_an_email_or_whose_total_the_lines_cannot_carry_is_not_mirrored():
    assert mapping.order_data(_order(customer={"first_name": "Jane"})) is None
    assert mapping.order_data(_order(total_price="-1.00")) is None
    shipping_only = _order(customer={}, shipping_address={"email": "s@example.com"})
    assert mapping.order_data(shipping_only).customer_email == "s@example.com"
