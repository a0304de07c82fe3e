"""LLZW mapping: payload, statuses, error table, dates and exact amounts (no HTTP)."""

import datetime as dt
from decimal import Decimal

from integrations.llzw import mapping
from refunds.states import RefundStatus

from .support import refund_data


def test_every_documented_error_type_is_in_the_table():
    assert set(mapping.ERROR_CODES) == {
        "API.SECURITY",
        "API.SECURITY.ACCESS_DENIED",
        "API.SECURITY.INVALID_CREDENTIAL",
        "API.ENTITY_NOT_FOUND",
        "API.DEPENDENT_ENTITY_NOT_FOUND",
        "API.ENTITY_ALREADY_EXISTS",
        "API.INVALID_PARAMETER",
        "API.OPERATION_UNSUPPORTED",
        "API.REJECTED_BY_ENTITY",
        "API.INTERNAL_SERVER_ERROR",
    }
    transient = {t for t, (kind, _) in mapping.ERROR_CODES.items() if kind == mapping.TRANSIENT}
    assert transient == {"API.INTERNAL_SERVER_ERROR"}
    assert all(message.startswith("LLZW") for _, message in mapping.ERROR_CODES.values())


def test_every_shop_status_maps_to_ours():
    assert set(mapping.STATUS_MAP.values()) == {s.value for s in RefundStatus}
    assert mapping.STATUS_MAP["PENDING"] == "REQUESTED"


def test_create_payload_has_the_four_required_fields():
    payload = mapping.create_payload(refund_data(total=Decimal("12.34")))

    assert payload == {
        "orderId": 1001,
        "reason": "The mug arrived broken [RD:rd-11-create]",
        "amount": Decimal("12.34"),
        "refundOnly": True,
    }


def test_a_refund_with_a_return_is_sent_as_refund_only_even_with_tracking():
    # The return was received in Refund Desk; the SELLER could not SHIP_INIT anyway.
    assert mapping.create_payload(refund_data(refund_only=False))["refundOnly"] is True
    with_tracking = refund_data(refund_only=False, return_tracking_id="T1")
    assert mapping.create_payload(with_tracking)["refundOnly"] is True


def test_reason_falls_back_to_the_code_and_keeps_the_marker_within_255():
    assert mapping.create_payload(refund_data(customer_explanation=""))["reason"] == (
        "damaged [RD:rd-11-create]"
    )
    long = mapping.create_payload(refund_data(customer_explanation="word " * 100))["reason"]
    assert len(long) <= 255
    assert long.endswith(" [RD:rd-11-create]")
    assert mapping.idempotency_key_in(long) == "rd-11-create"


def test_order_id_needs_digits():
    assert mapping.order_id("1001") == 1001
    assert mapping.order_id(" 7 ") == 7
    assert mapping.order_id("LZ-1001") is None
    assert mapping.order_id("") is None


def test_dumps_writes_exact_decimal_numbers():
    text = mapping.dumps(
        {
            "amount": Decimal("0.10"),
            "big": Decimal("12345678901234.99"),
            "n": [Decimal("1")],
            "s": "x",
        }
    )

    assert text == '{"amount": 0.10, "big": 12345678901234.99, "n": [1], "s": "x"}'
    assert mapping.loads(text)["big"] == Decimal("12345678901234.99")


def test_parse_date_reads_the_documented_format():
    assert mapping.parse_date("2019-10-1 3:00 PM GMT+1:00") == dt.datetime(
        2019, 10, 1, 15, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))
    )
    assert mapping.parse_date("2019-10-1 12:05 AM GMT-5:30") == dt.datetime(
        2019, 10, 1, 0, 5, tzinfo=dt.timezone(-dt.timedelta(hours=5, minutes=30))
    )
    assert mapping.parse_date("2026-11-23T14:00:00+00:00") == dt.datetime(
        2026, 11, 23, 14, 0, tzinfo=dt.UTC
    )
    assert mapping.parse_date("2026-11-23T14:00:00") is None
    assert mapping.parse_date("yesterday") is None
    assert mapping.parse_date(None) is None
