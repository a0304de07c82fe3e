"""The refund calculator: proposes the amount for chosen lines and quantities, and validates a
whole refund against what is still refundable. Used by the services and as a live preview."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from orders.models import Order
from orders.money import ZERO, allocate, format_money, quantize

from .errors import RefundError
from .selectors import PAID_STATUSES, OrderRefundable, order_refundable


@dataclass(frozen=True)
class LineChoice:
    order_line_id: int
    quantity: int
    amount: Decimal | None = None  # None: the calculator proposes it
    restock: bool = False


@dataclass(frozen=True)
class ProposedLine:
    order_line_id: int
    sku: str
    quantity: int
    amount: Decimal
    restock: bool


@dataclass(frozen=True)
class Proposal:
    lines: tuple[ProposedLine, ...]
    lines_amount: Decimal
    shipping_amount: Decimal
    additional_amount: Decimal
    total: Decimal
    currency: str
    refundable: OrderRefundable


def _money(value, field: str, currency: str) -> Decimal:
    if value is None or value == "":
        return quantize(ZERO, currency)
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise RefundError(f"{value!r} is not an amount", field=field) from None
    if not amount.is_finite():
        raise RefundError(f"{value!r} is not an amount", field=field)
    if amount < 0:
        raise RefundError("The amount cannot be negative", field=field)
    if quantize(amount, currency) != amount:
        raise RefundError(f"{amount} has more decimals than {currency} allows", field=field)
    return quantize(amount, currency)


def unpaid_order_error(order: Order) -> RefundError:
    """Why nothing on an order that `selectors.order_is_paid` finds unpaid can be refunded."""
    if order.status in PAID_STATUSES:
        why = "has no payments"
    else:
        why = f"is {order.get_status_display().lower()}"
    return RefundError(
        f"Only paid orders can be refunded: order {order.external_number} {why}",
        field="order",
        code="not_paid",
    )


def propose_refund(
    *,
    order: Order,
    lines: Sequence[LineChoice] = (),
    shipping_amount=None,
    additional_amount=None,
    amount=None,
    exclude_refund_id: int | None = None,
) -> Proposal:
    """Compute and check a refund. With `lines`, each line's amount is unit price × quantity with
    the line's discount and tax spread proportionally (cumulative rounding, so a line refunded in
    parts adds up to exactly what was paid). With only `amount`, the amount is spread over the
    lines' refundable money by largest remainder. Raises RefundError naming the line and the limit.
    """
    currency = order.currency
    refundable = order_refundable(order, exclude_refund_id=exclude_refund_id)
    if not refundable.is_paid:
        raise unpaid_order_error(order)
    shipping = _money(shipping_amount, "shipping_amount", currency)
    additional = _money(additional_amount, "additional_amount", currency)
    if shipping > refundable.shipping:
        raise RefundError(
            f"Shipping: {format_money(refundable.shipping, currency)} refundable, "
            f"{format_money(shipping, currency)} requested",
            field="shipping_amount",
        )
    if additional > refundable.additional:
        raise RefundError(
            f"Additional charges: {format_money(refundable.additional, currency)} refundable, "
            f"{format_money(additional, currency)} requested",
            field="additional_amount",
        )

    proposed: list[ProposedLine] = []
    if lines:
        seen: set[int] = set()
        for choice in lines:
            info = refundable.lines.get(choice.order_line_id)
            if info is None:
                raise RefundError("That line is not part of this order", field="lines")
            sku = info.line.sku
            if choice.order_line_id in seen:
                raise RefundError(f"Line {sku} is chosen twice", field="lines")
            seen.add(choice.order_line_id)
            if isinstance(choice.quantity, bool) or not isinstance(choice.quantity, int):
                raise RefundError(f"Line {sku}: the quantity must be a whole number", field="lines")
            if choice.quantity < 0:
                raise RefundError(f"Line {sku}: the quantity cannot be negative", field="lines")
            if choice.quantity > info.units:
                raise RefundError(
                    f"Line {sku}: {info.units} units refundable, {choice.quantity} requested",
                    field="lines",
                )
            if choice.amount is not None:
                line_amount = _money(choice.amount, "lines", currency)
            else:
                # The next units' shares; all the units left: the rest of the line, to the cent.
                line_amount = info.amount_for(choice.quantity)
            if line_amount > info.amount:
                raise RefundError(
                    f"Line {sku}: {format_money(info.amount, currency)} refundable, "
                    f"{format_money(line_amount, currency)} requested",
                    field="lines",
                )
            if choice.quantity == 0 and line_amount == 0:
                continue
            proposed.append(
                ProposedLine(
                    choice.order_line_id, sku, choice.quantity, line_amount, choice.restock
                )
            )
    elif amount is not None:
        wanted = _money(amount, "amount", currency) - shipping - additional
        if wanted < 0:
            raise RefundError(
                "The amount is smaller than the shipping and additional charges refunded",
                field="amount",
            )
        infos = [info for info in refundable.lines.values() if info.amount > 0]
        lines_room = sum((i.amount for i in infos), ZERO)
        if wanted > lines_room:
            raise RefundError(
                f"Order {order.external_number}: "
                f"{format_money(lines_room + shipping + additional, currency)} refundable, "
                f"{format_money(wanted + shipping + additional, currency)} requested",
                field="amount",
            )
        if wanted > 0:
            for info, part in zip(
                infos, allocate(wanted, [i.amount for i in infos], currency), strict=True
            ):
                if part > 0:
                    proposed.append(ProposedLine(info.line.pk, info.line.sku, 0, part, False))

    lines_amount = sum((p.amount for p in proposed), ZERO)
    total = quantize(lines_amount + shipping + additional, currency)
    if total <= 0:
        raise RefundError(
            "Choose at least one line, shipping or an amount to refund", field="lines"
        )
    if total > refundable.total:
        raise RefundError(
            f"Order {order.external_number}: {format_money(refundable.total, currency)} "
            f"refundable, {format_money(total, currency)} requested",
            field="amount",
        )
    return Proposal(
        lines=tuple(proposed),
        lines_amount=quantize(lines_amount, currency),
        shipping_amount=quantize(shipping, currency),
        additional_amount=quantize(additional, currency),
        total=total,
        currency=currency,
        refundable=refundable,
    )


def line_choices(quantities: Mapping[int, int]) -> list[LineChoice]:
    return [LineChoice(order_line_id=k, quantity=v) for k, v in quantities.items() if v]
