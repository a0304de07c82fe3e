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


def test_status_table_uses_our_vocabulary():
    assert mapping.REFUND_REQUEST_STATUS == {
        "sent": "PROCESSING",
        "updating": "PROCESSING",
        "completed": "ISSUED",
        "refused": "DENIED",
    }


def test_full_refund_description_has_no_items():
    refund = make_refund(total=Decimal("45.00"), customer_explanation="")
    assert mapping.refund_payload(refund, merchant_email="m@x.io") == {
        "description": "Full refund of 45.00 EUR (Refund Desk ref rd-refund-1-create). "
        "Reason: damaged",
        "email": "m@x.io",
    }


def test_partial_description_lists_lines_shipping_and_other():
    refund = make_refund(
        total=Decimal("17.50"),
        shipping_amount=Decimal("5.00"),
        additional_amount=Decimal("2.50"),
        reason_code="",
        customer_explanation="",
    )
    assert mapping.refund_description(refund) == (
        "Partial refund of 17.50 EUR (Refund Desk ref rd-refund-1-create). "
        "Items: 1 x Mug [SKU SKU-1, line L1] 10.00; shipping 5.00; other 2.50."
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
    shown = text.count(" x N")
    assert f"and {40 - shown} more line(s)" in text
    assert text.startswith("Partial refund of 40.00 EUR (Refund Desk ref rd-refund-1-create).")


def test_missing_merchant_email_is_left_out():
    assert "email" not in mapping.refund_payload(make_refund(), merchant_email="")
