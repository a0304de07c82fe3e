"""Money arithmetic: Decimal only, quantized to the currency's minor unit, parts that always add
up to the whole. No ORM here."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

# ISO 4217 minor units for the currencies that differ from two decimals.
MINOR_UNITS: dict[str, int] = {
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
}
ZERO = Decimal("0")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: 0.01 for USD, 1 for JPY, 0.001 for KWD."""
    return Decimal(1).scaleb(-MINOR_UNITS.get(currency.upper(), 2))


def quantize(amount: Decimal | int | str, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    if isinstance(amount, float):
        raise TypeError("money must never be a float")
    return Decimal(amount).quantize(minor_unit(currency), rounding=rounding)


def to_minor(amount: Decimal, currency: str) -> int:
    return int(quantize(amount, currency) / minor_unit(currency))


def from_minor(amount_minor: int, currency: str) -> Decimal:
    return quantize(Decimal(amount_minor) * minor_unit(currency), currency)


def allocate(total: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `total` in proportion to `weights` by the largest-remainder method, so that the parts
    are whole minor units and add up to `total` exactly. Zero weights get zero."""
    total_minor = to_minor(total, currency)
    weight_sum = sum(weights, ZERO)
    if not weights:
        return []
    if weight_sum <= 0:
        if total_minor:
            raise ValueError("cannot allocate a non-zero total over zero weights")
        return [quantize(ZERO, currency) for _ in weights]
    exact = [Decimal(total_minor) * w / weight_sum for w in weights]
    floors = [int(x.to_integral_value(rounding=ROUND_DOWN)) for x in exact]
    remainder = total_minor - sum(floors)
    # Largest fractional parts first; ties go to the earlier part so the result is stable.
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:remainder]:
        floors[i] += 1
    return [from_minor(m, currency) for m in floors]


def unit_share(
    *, line_total: Decimal, line_quantity: int, units_before: int, units: int, currency: str
) -> Decimal:
    """The amount for `units` of a line whose `line_total` (price × quantity − discount + tax)
    covers `line_quantity` units, after `units_before` were already refunded. Cumulative rounding:
    refunding a line unit by unit adds up to exactly `line_total`."""
    if units < 0 or units_before < 0 or units_before + units > line_quantity:
        raise ValueError("units out of range")

    def upto(n: int) -> Decimal:
        return quantize(line_total * n / line_quantity, currency)

    return upto(units_before + units) - upto(units_before)


def unit_amounts(
    *, line_total: Decimal, line_quantity: int, units_left: int, amount_left: Decimal, currency: str
) -> list[Decimal]:
    """The money for each of a line's `units_left` still refundable units (the last ones of the
    line), adding up to exactly `amount_left`. Each unit's share is its `unit_share` of the line;
    when earlier refunds took a different amount than those units' shares (an amount-only
    adjustment, cancelled units), `amount_left` is spread over the units in proportion to their
    shares by largest remainder. No units left: nothing to spread."""
    if units_left <= 0:
        return []
    if units_left > line_quantity:
        raise ValueError("units out of range")
    units_before = line_quantity - units_left
    shares = [
        unit_share(
            line_total=line_total,
            line_quantity=line_quantity,
            units_before=units_before + i,
            units=1,
            currency=currency,
        )
        for i in range(units_left)
    ]
    amount_left = quantize(amount_left, currency)
    if sum(shares, ZERO) == amount_left:
        return shares
    weights = shares if sum(shares, ZERO) > 0 else [Decimal(1)] * units_left
    return allocate(amount_left, weights, currency)


def format_amount(amount: Decimal | int | str, currency: str) -> str:
    """The amount as digits with exactly the currency's decimals: "20.00" (USD), "1500" (JPY),
    "1.250" (KWD). Never an exponent, never "-0.00"."""
    value = quantize(amount, currency)
    if value.is_zero():
        value = abs(value)
    return f"{value:f}"


def format_money(amount: Decimal | int | str, currency: str) -> str:
    """Money for a person to read, in a page, an e-mail or an error message: "20.00 USD"."""
    return f"{format_amount(amount, currency)} {currency.upper()}"
