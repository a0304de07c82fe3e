"""Mapping details that need no sandbox."""

from __future__ import annotations

from decimal import Decimal

from integrations.shoplazza import mapping
from tests.integrations.shoplazza.conftest import refund


def test_long_explanations_are_cut_but_the_key_survives():
    data = refund("RD7-create-refund-2", customer_explanation="x" * 400)

    note = mapping.refund_note(data)

    assert len(note) == mapping.NOTE_MAX_LENGTH
    assert note.endswith(" [RD-RD7-create-refund-2]")
    assert mapping.key_from_note(note) == "RD7-create-refund-2"


def test_key_from_note_reads_only_a_trailing_marker():
    assert mapping.key_from_note("[RD-a] then more text") == ""
    assert mapping.key_from_note("") == ""
    assert mapping.key_from_note(None) == ""
    assert mapping.key_from_note("text [RD-a b]") == "a b"


def test_statuses_map_to_our_vocabulary():
    assert mapping.our_status("pending") == "PROCESSING"
    assert mapping.our_status("finished") == "ISSUED"
    assert mapping.our_status("failed") == "DENIED"


def test_every_error_code_is_classified_with_a_staff_message():
    assert set(mapping.ERROR_CODES) == {
        "InvalidParameter",
        "Unauthorized",
        "Forbidden",
        "NotFound",
        "RefundFailed",
        "TooManyRequests",
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unsupported_grant_type",
    }
    transient = {c for c, (kind, _) in mapping.ERROR_CODES.items() if kind == mapping.TRANSIENT}
    assert transient == {"TooManyRequests"}
    assert all(
        message.startswith(("Shoplazza", "The Shoplazza"))
        for _, message in mapping.ERROR_CODES.values()
    )


def test_amounts_are_strings_in_the_currency_minor_unit():
    assert mapping.money(Decimal("45"), "USD") == "45.00"
    assert mapping.money(Decimal("45.5"), "EUR") == "45.50"
    assert mapping.money(Decimal("1200"), "JPY") == "1200"


def test_product_total_is_left_out_when_the_parts_do_not_add_up():
    custom = refund(total=Decimal("42.00"))

    body = mapping.refund_payload(custom)["refund"]

    assert "refund_product_total" not in body
    assert body["refund_total"] == "42.00"
    assert mapping.refund_payload(refund())["refund"]["refund_product_total"] == "40.00"


def test_deprecated_refund_status_is_read_and_finished_at_stands_in_without_it():
    # Refund properties [P4]: refund_status is @Deprecated; payment_details[].finished_at is ""
    # until the channel finished (ASSUMPTIONS A2).
    done = {"payment_method": "card", "refund_price": "5.00", "finished_at": "2025-01-15T10:30:00Z"}
    open_ = {"payment_method": "card", "refund_price": "5.00", "finished_at": ""}

    assert mapping.record_status({"refund_status": "failed", "payment_details": [done]}) == "failed"
    assert mapping.record_status({"payment_details": [done, done]}) == "finished"
    assert mapping.record_status({"payment_details": [done, open_]}) == "pending"
    assert mapping.record_status({"payment_details": []}) == "pending"
    assert mapping.record_status({}) == "pending"


def test_token_lifetime_reads_expires_at_then_expires_in():
    # OAuth Authentication [P6]: expires_at, a timestamp in seconds; the SDK [P7] also reads
    # expires_in.
    assert mapping.token_lifetime({"expires_at": 10_003_600}, 10_000_000) == 3600
    assert mapping.token_lifetime({"expires_at": "10003600"}, 10_000_000) == 3600
    assert mapping.token_lifetime({"expires_in": 7200}, 10_000_000) == 7200
    assert mapping.token_lifetime({"expires_at": 0, "expires_in": 60}, 10_000_000) == 60
    assert mapping.token_lifetime({"expires_at": 9_999_000}, 10_000_000) == -1000
    assert mapping.token_lifetime({}, 10_000_000) is None
    assert mapping.token_lifetime({"expires_at": "soon"}, 10_000_000) is None


def test_the_tip_is_what_goes_beyond_the_other_additional_charges():
    def tip(additional: str, tip_total: str = "3.00", other: str = "2.00") -> Decimal:
        return mapping.tip_amount(
            refund(
                additional_amount=Decimal(additional),
                order_tip_total=Decimal(tip_total),
                order_additional_total=Decimal(other),
            )
        )

    assert tip("5.00") == Decimal("3.00")
    assert tip("4.00") == Decimal("2.00")
    assert tip("2.00") == Decimal("0.00")
    assert tip("3.00", other="0.00") == Decimal("3.00")
    assert tip("2.00", tip_total="0.00") == Decimal("0.00")
