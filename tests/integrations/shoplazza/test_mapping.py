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
