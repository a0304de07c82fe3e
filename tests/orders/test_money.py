"""Money arithmetic: Decimal only, quantized per currency, parts add up to the whole."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.money import (
    allocate,
    format_amount,
    format_money,
    from_minor,
    minor_unit,
    quantize,
    to_minor,
    unit_amounts,
    unit_share,
)

CURRENCIES = st.sampled_from(["USD", "EUR", "TRY", "JPY", "KWD"])
FAST = settings(max_examples=50, deadline=None)


def test_minor_units():
    assert minor_unit("USD") == Decimal("0.01")
    assert minor_unit("jpy") == Decimal("1")
    assert minor_unit("KWD") == Decimal("0.001")


def test_quantize_rounds_half_up_and_refuses_floats():
    assert quantize(Decimal("2.345"), "USD") == Decimal("2.35")
    assert quantize("2.344", "USD") == Decimal("2.34")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")
    with pytest.raises(TypeError, match="never be a float"):
        quantize(2.5, "USD")


def test_allocate_examples():
    assert allocate(Decimal("10.00"), [Decimal(1)] * 3, "USD") == [
        Decimal("3.34"),
        Decimal("3.33"),
        Decimal("3.33"),
    ]
    assert allocate(Decimal("1.00"), [Decimal(0), Decimal(2), Decimal(1)], "USD") == [
        Decimal("0.00"),
        Decimal("0.67"),
        Decimal("0.33"),
    ]
    assert allocate(Decimal("0"), [], "USD") == []
    with pytest.raises(ValueError, match="non-zero total over zero weights"):
        allocate(Decimal("1.00"), [Decimal(0)], "USD")


def test_unit_share_by_unit_adds_up_to_the_line():
    # 3 × 9.99 − 1.00 + 0.50 = 29.47: 9.82 + 9.83 + 9.82
    parts = [
        unit_share(
            line_total=Decimal("29.47"), line_quantity=3, units_before=i, units=1, currency="USD"
        )
        for i in range(3)
    ]
    assert parts == [Decimal("9.82"), Decimal("9.83"), Decimal("9.82")]
    assert sum(parts) == Decimal("29.47")
    with pytest.raises(ValueError, match="units out of range"):
        unit_share(
            line_total=Decimal("1"), line_quantity=1, units_before=1, units=1, currency="USD"
        )


@FAST
@given(
    currency=CURRENCIES,
    total_minor=st.integers(min_value=0, max_value=10**9),
    weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=12),
)
def test_allocate_parts_add_up_exactly(currency, total_minor, weights):
    weights = [Decimal(w) for w in weights]
    total = from_minor(total_minor, currency)
    if sum(weights) == 0 and total_minor:
        with pytest.raises(ValueError, match="zero weights"):
            allocate(total, weights, currency)
        return
    parts = allocate(total, weights, currency)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)
    assert all(quantize(p, currency) == p for p in parts)
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        if weight == 0:
            assert part == 0
        else:
            exact = total * weight / weight_sum
            assert abs(part - exact) < minor_unit(currency)


@FAST
@given(
    currency=CURRENCIES,
    line_minor=st.integers(min_value=0, max_value=10**8),
    pieces=st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=10),
)
def test_unit_shares_of_a_line_in_pieces_add_up_to_the_line(currency, line_minor, pieces):
    line_total = from_minor(line_minor, currency)
    quantity = sum(pieces)
    before = 0
    parts = []
    for units in pieces:
        part = unit_share(
            line_total=line_total,
            line_quantity=quantity,
            units_before=before,
            units=units,
            currency=currency,
        )
        assert part >= 0
        parts.append(part)
        before += units
    assert sum(parts) == line_total


@FAST
@given(currency=CURRENCIES, amount_minor=st.integers(min_value=-(10**12), max_value=10**12))
def test_minor_round_trip(currency, amount_minor):
    assert to_minor(from_minor(amount_minor, currency), currency) == amount_minor


def test_format_money_uses_the_currency_decimals():
    # What an unquantized sum looks like (SQLite's 15 significant digits, a JPY column's .00).
    assert format_money(Decimal("59.7600000000000"), "USD") == "59.76 USD"
    assert format_money(Decimal("0E-13"), "USD") == "0.00 USD"
    assert format_money(Decimal("1500.00"), "JPY") == "1500 JPY"
    assert format_money(Decimal("1E+3"), "jpy") == "1000 JPY"
    assert format_money(Decimal("1.25"), "KWD") == "1.250 KWD"
    assert format_money(Decimal("189.680"), "USD") == "189.68 USD"
    assert format_money(Decimal("-0.001"), "USD") == "0.00 USD"
    assert format_amount(Decimal("20"), "USD") == "20.00"
    assert format_amount("0.5", "EUR") == "0.50"
    assert format_amount(Decimal("12345678901.5"), "JPY") == "12345678902"
    with pytest.raises(TypeError, match="never be a float"):
        format_money(1.5, "USD")


def test_unit_amounts_of_what_is_left_of_a_line():
    # Three units of 10.00, one refunded: two units of 10.00 are left.
    assert unit_amounts(
        line_total=Decimal("30.00"),
        line_quantity=3,
        units_left=2,
        amount_left=Decimal("20.00"),
        currency="USD",
    ) == [Decimal("10.00"), Decimal("10.00")]
    # 10.00 over three units, one refunded (3.33): the next ones are 3.34 and 3.33.
    assert unit_amounts(
        line_total=Decimal("10.00"),
        line_quantity=3,
        units_left=2,
        amount_left=Decimal("6.67"),
        currency="USD",
    ) == [Decimal("3.34"), Decimal("3.33")]
    # An amount-only refund took 25.00 of the line: the 5.00 left is spread over the units.
    assert unit_amounts(
        line_total=Decimal("30.00"),
        line_quantity=3,
        units_left=3,
        amount_left=Decimal("5.00"),
        currency="USD",
    ) == [Decimal("1.67"), Decimal("1.67"), Decimal("1.66")]
    # 0.01 over three units, two cancelled without money back: the last unit carries the cent.
    assert unit_amounts(
        line_total=Decimal("0.01"),
        line_quantity=3,
        units_left=1,
        amount_left=Decimal("0.01"),
        currency="USD",
    ) == [Decimal("0.01")]
    assert unit_amounts(
        line_total=Decimal("1500"),
        line_quantity=3,
        units_left=2,
        amount_left=Decimal("1000.00"),
        currency="JPY",
    ) == [Decimal("500"), Decimal("500")]
    assert (
        unit_amounts(
            line_total=Decimal("9.99"),
            line_quantity=1,
            units_left=0,
            amount_left=Decimal("9.99"),
            currency="USD",
        )
        == []
    )
    with pytest.raises(ValueError, match="units out of range"):
        unit_amounts(
            line_total=Decimal("1"),
            line_quantity=1,
            units_left=2,
            amount_left=Decimal("1"),
            currency="USD",
        )


@FAST
@given(
    currency=CURRENCIES,
    line_minor=st.integers(min_value=0, max_value=10**8),
    quantity=st.integers(min_value=1, max_value=12),
    data=st.data(),
)
def test_unit_amounts_add_up_to_what_is_left(currency, line_minor, quantity, data):
    line_total = from_minor(line_minor, currency)
    units_left = data.draw(st.integers(min_value=1, max_value=quantity))
    left_minor = data.draw(st.integers(min_value=0, max_value=line_minor))
    amount_left = from_minor(left_minor, currency)
    parts = unit_amounts(
        line_total=line_total,
        line_quantity=quantity,
        units_left=units_left,
        amount_left=amount_left,
        currency=currency,
    )
    assert len(parts) == units_left
    assert sum(parts) == amount_left
    assert all(p >= 0 and quantize(p, currency) == p for p in parts)
    shares = unit_share(
        line_total=line_total,
        line_quantity=quantity,
        units_before=quantity - units_left,
        units=units_left,
        currency=currency,
    )
    if shares == amount_left:  # nothing taken out of turn: exactly the units' own shares
        assert parts == [
            unit_share(
                line_total=line_total,
                line_quantity=quantity,
                units_before=quantity - units_left + i,
                units=1,
                currency=currency,
            )
            for i in range(units_left)
        ]
