from decimal import Decimal

from integrations.base import RefundLineData
from integrations.noventiq import mapping

from .conftest import make_refund


def test_every_documented_error_code_is_in_the_table():
    assert sorted(mapping.ERROR_CODES) == [
        110,
        111,
        1007,
        1008,
        1009,
        15000,
        15010,
        15020,
        15030,
        15040,
        15050,
        15060,
    ]
    transient = sorted(c for c in mapping.ERROR_CODES if mapping.is_transient(c))
    assert transient == [1009]


def test_staff_messages():
    assert mapping.staff_message(15030, "x") == "Noventiq refuses: the order is not paid"
    assert mapping.staff_message(15010, "Invalid field value: description") == (
        "Noventiq refuses a field of the refund request: Invalid field value: description."
    )
    assert mapping.staff_message(99999, "Odd") == "Noventiq refused the request (error 99999): Odd"


def _order(status="paid", refunded=()):
    return {
        "order_id": 700101,
        "status": status,
        "products": [
            {
                "id": pid,
                "refund": {"date": "2026-11-02T00:00:00+00:00"} if pid in refunded else None,
            }
            for pid in ("L1", "L2")
        ],
    }


def test_outcome_is_issued_when_every_covered_item_is_refunded():
    refund = make_refund()  # L1
    assert mapping.refund_outcome(_order(), refund).issued is False
    assert mapping.refund_outcome(_order(refunded=("L2",)), refund).issued is False
    outcome = mapping.refund_outcome(_order(refunded=("L1",)), refund)
    assert (outcome.issued, outcome.covered, outcome.refunded) == (True, ("L1",), ("L1",))


def test_outcome_of_a_refund_without_lines_covers_every_item():
    refund = make_refund(lines=())
    assert mapping.refund_outcome(_order(refunded=("L1",)), refund).issued is False
    assert mapping.refund_outcome(_order(refunded=("L1", "L2")), refund).issued is True


def test_outcome_reads_the_documented_order_statuses():
    refund = make_refund()
    deleted = mapping.refund_outcome(_order(status="deleted"), refund)
    assert (deleted.issued, deleted.terminated) == (True, False)
    terminated = mapping.refund_outcome(_order(status="Terminated"), refund)
    assert (terminated.issued, terminated.terminated) == (False, True)
    assert mapping.refund_outcome(_order(status="not paid"), refund).issued is False


def test_an_empty_refund_object_is_no_refund():
    order = _order()
    order["products"][0]["refund"] = {}
    assert mapping.refund_outcome(order, make_refund()).issued is False


def test_order_data_of_a_fully_refunded_paid_order_is_paid_and_of_an_unpaid_one_cancelled():
    body = {
        "order_id": 5555555,
        "status": "deleted",
        "create_date": "2021-08-13T09:16:35+03:00",
        "pay_date": "2021-08-13T09:20:00+03:00",
        "currency": "eur",
        "customer": {"email": "customer@gmail.com", "first_name": "Marcel", "last_name": "Laporte"},
        "payment": {"payment_method": "CreditCard"},
        "products": [
            {
                "id": "111111",
                "sku": "0001",
                "name": "Demo",
                "price": "100.00",
                "quantity": 1,
                "discount_amount": "",
                "vat_amount": "0.00",
                "amount": "100.00",
            }
        ],
    }
    data = mapping.order_data(body)
    assert (data.external_number, data.status, data.currency) == ("5555555", "paid", "EUR")
    assert data.customer_name == "Marcel Laporte"
    assert [(p.method, p.amount) for p in data.payments] == [("CreditCard", Decimal("100.00"))]
    unpaid = mapping.order_data({**body, "pay_date": ""})
    assert (unpaid.status, unpaid.payments) == ("cancelled", ())
    assert mapping.order_data({**body, "products": []}) is None


def test_full_refund_description_has_no_items():
    refund = make_refund(total=Decimal("45.00"), customer_explanation="")
    assert mapping.refund_payload(refund, merchant_email="m@x.io") == {
        "description": "Full refund of 45.00 EUR (Refund Desk ref rd-refund-1-create). "
        "Reason: damaged",
        "email": "m@x.io",
    }


def test_partial_description_lists_lines_shipping_and_other():
    refund = make_refund(
        total=Decimal("27.50"),
        shipping_amount=Decimal("5.00"),
        additional_amount=Decimal("2.50"),
        reason_code="",
        customer_explanation="",
    )
    assert mapping.refund_description(refund) == (
        "Partial refund of 27.50 EUR (Refund Desk ref rd-refund-1-create). "
        "Items: 2 x Mug [SKU SKU-1, line L1] 20.00; shipping 5.00; other 2.50."
    )


def test_description_never_exceeds_500_and_keeps_whole_lines():
    lines = tuple(
        RefundLineData(
            order_line_external_id=f"L{i}",
            sku=f"S{i}",
            name="N" * 40,
            quantity=1,
            amount=Decimal("1.00"),
            restock=False,
        )
        for i in range(40)
    )
    text = mapping.refund_description(
        make_refund(lines=lines, total=Decimal("40.00"), customer_explanation="y" * 900)
    )
    assert len(text) <= 500
    # Too long in full: every line is named short (SKU and line id, what staff refund by).
    assert " x N" not in text
    shown = text.count(" x [SKU ")
    assert shown > 10
    assert f"1 x [SKU S{shown - 1}, line L{shown - 1}]; and {40 - shown} more line(s)." in text
    assert text.startswith("Partial refund of 40.00 EUR (Refund Desk ref rd-refund-1-create).")


def test_lines_too_long_in_full_are_all_named_short_when_that_fits():
    lines = tuple(
        RefundLineData(
            order_line_external_id=f"L{i}",
            sku=f"S{i}",
            name="A very long product name " * 4,
            quantity=1,
            amount=Decimal("1.00"),
            restock=False,
        )
        for i in range(8)
    )
    text = mapping.refund_description(make_refund(lines=lines, total=Decimal("8.00")))
    assert text == (
        "Partial refund of 8.00 EUR (Refund Desk ref rd-refund-1-create). Items: "
        + "; ".join(f"1 x [SKU S{i}, line L{i}]" for i in range(8))
        + ". Reason: damaged: The mug arrived broken."
    )


def test_missing_merchant_email_is_left_out():
    assert "email" not in mapping.refund_payload(make_refund(), merchant_email="")
