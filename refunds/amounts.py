"""A refund's amount explained line by line for the customer: item, quantity × unit price, the
share of the line's discount and tax, the line's amount; then shipping, additional charges and
the total. The line amounts are the refund's own (the calculator's); the shares only explain
them, and any rounding left over is folded into the last share shown, so each row adds up."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from orders.money import ZERO, quantize

from .models import Refund


@dataclass(frozen=True)
class LineAmount:
    name: str
    sku: str
    quantity: int  # 0: a share of the line's money rather than whole units
    unit_price: Decimal
    gross: Decimal  # quantity × unit price
    discount: Decimal  # the discount's share, as a positive amount taken off
    tax: Decimal  # the tax's share
    adjustment: Decimal  # what neither explains (an amount staff changed), signed
    amount: Decimal


@dataclass(frozen=True)
class Breakdown:
    lines: tuple[LineAmount, ...]
    shipping: Decimal
    additional: Decimal
    total: Decimal
    currency: str

    @property
    def has_discount(self) -> bool:
        return any(line.discount for line in self.lines)

    @property
    def has_tax(self) -> bool:
        return any(line.tax for line in self.lines)

    @property
    def has_adjustment(self) -> bool:
        return any(line.adjustment for line in self.lines)

    @property
    def columns_before_amount(self) -> int:
        """How many columns the table has before the amount (for the footer's headings)."""
        return 2 + self.has_discount + self.has_tax + self.has_adjustment


def _line(refund_line, currency: str) -> LineAmount:
    line = refund_line.order_line
    amount = quantize(refund_line.amount, currency)
    quantity = refund_line.quantity
    if not quantity:
        zero = quantize(ZERO, currency)
        return LineAmount(line.name, line.sku, 0, line.unit_price, zero, zero, zero, amount, amount)
    gross = quantize(line.unit_price * quantity, currency)
    share = Decimal(quantity) / Decimal(line.quantity)
    discount = quantize(line.discount * share, currency)
    tax = quantize(line.tax * share, currency)
    rest = amount - (gross - discount + tax)
    adjustment = quantize(ZERO, currency)
    if rest and line.tax:
        tax += rest
    elif rest and line.discount:
        discount -= rest
    else:
        adjustment = rest
    return LineAmount(
        line.name, line.sku, quantity, line.unit_price, gross, discount, tax, adjustment, amount
    )


def refund_breakdown(refund: Refund) -> Breakdown:
    """The refund's lines (loaded with their order lines) explained."""
    currency = refund.currency
    return Breakdown(
        lines=tuple(_line(refund_line, currency) for refund_line in refund.lines.all()),
        shipping=quantize(refund.shipping_amount, currency),
        additional=quantize(refund.additional_amount, currency),
        total=quantize(refund.total, currency),
        currency=currency,
    )
