"""What is still refundable: every figure quantized to the order currency's minor unit, and the
money per refundable unit from the money module's allocation, adding up to the line's rest."""

from decimal import Decimal

import pytest

from refunds.calculator import LineChoice
from refunds.selectors import order_refundable, order_refundable_total
from refunds.services import refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def _exponents(*amounts: Decimal) -> set[int]:
    return {a.as_tuple().exponent for a in amounts}


def test_a_jpy_order_has_no_minor_units_anywhere(agent):
    order = factories.make_order(currency="JPY", lines=((3, "500", "0", "0"),), shipping="300")
    line = order.lines.get()
    refund_request(
        actor=agent,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        shipping_amount="100",
    )
    room = order_refundable(order)
    info = room.lines[line.pk]
    figures = (
        info.paid_amount,
        info.refunded_amount,
        info.amount,
        *info.unit_amounts,
        room.shipping,
        room.additional,
        room.total,
        room.refunded_total,
        order_refundable_total(order),
    )
    # The columns hold two decimals; what is shown and compared holds the currency's none.
    assert [str(f) for f in figures] == [
        "1500",
        "500",
        "1000",
        "500",
        "500",
        "200",
        "0",
        "1200",
        "600",
        "1200",
    ]
    assert _exponents(*figures) == {0}


def test_three_units_of_ten_with_one_refunded(agent):
    order = factories.make_order(
        lines=((3, "10.00", "0", "0"), (3, "3.34", "0.02", "0"), (1, "0.01", "0", "0")),
        shipping="0",
    )
    tens, thirds, cent = order.lines.order_by("id")
    refund_request(
        actor=agent,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[
            LineChoice(order_line_id=tens.pk, quantity=1),
            LineChoice(order_line_id=thirds.pk, quantity=1),
        ],
    )
    room = order_refundable(order)
    assert (room.lines[tens.pk].units, room.lines[tens.pk].amount) == (2, Decimal("20.00"))
    assert room.lines[tens.pk].unit_amounts == (Decimal("10.00"), Decimal("10.00"))
    # 10.00 over three units is 3.33 + 3.34 + 3.33; the first is refunded.
    assert room.lines[thirds.pk].amount == Decimal("6.67")
    assert room.lines[thirds.pk].unit_amounts == (Decimal("3.34"), Decimal("3.33"))
    assert [room.lines[thirds.pk].amount_for(n) for n in (0, 1, 2)] == [
        Decimal("0.00"),
        Decimal("3.34"),
        Decimal("6.67"),
    ]
    assert room.lines[cent.pk].unit_amounts == (Decimal("0.01"),)
    for info in room.lines.values():
        assert sum(info.unit_amounts) == info.amount
    assert _exponents(
        *(x for i in room.lines.values() for x in (i.amount, i.refunded_amount, *i.unit_amounts))
    ) == {-2}


def test_after_an_amount_only_refund_the_rest_is_spread_over_the_units(agent):
    order = factories.make_order(lines=((3, "10.00", "0", "0"),), shipping="0")
    line = order.lines.get()
    refund_request(actor=agent, order=order, reason_code="other", refund_only=True, amount="25")
    info = order_refundable(order).lines[line.pk]
    assert (info.units, info.amount) == (3, Decimal("5.00"))
    assert info.unit_amounts == (Decimal("1.67"), Decimal("1.67"), Decimal("1.66"))
    assert sum(info.unit_amounts) == info.amount
