"""The calculator proposes per-unit money from the money module's allocation, and its refusals
name amounts in the currency's decimals."""

from decimal import Decimal

import pytest

from refunds.calculator import LineChoice, propose_refund
from refunds.errors import RefundError
from refunds.models import Refund, RefundLine
from refunds.services import refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def test_units_after_an_amount_only_refund_get_their_share_and_add_up(agent):
    order = factories.make_order(lines=((3, "10.00", "0", "0"),), shipping="0")
    line = order.lines.get()
    refund_request(actor=agent, order=order, reason_code="other", refund_only=True, amount="25")
    amounts = []
    for _ in range(3):
        refund = refund_request(
            actor=agent,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        )
        amounts.append(refund.total)
    # 5.00 was left for three units: not all of it on the first unit and nothing on the rest.
    assert amounts == [Decimal("1.67"), Decimal("1.67"), Decimal("1.66")]
    assert sum(RefundLine.objects.filter(order_line=line).values_list("amount", flat=True)) == (
        Decimal("30.00")
    )


def test_refusals_print_amounts_in_the_currency_decimals():
    order = factories.make_order(currency="JPY", lines=((3, "500", "0", "0"),), shipping="300")
    line = order.lines.get()
    cases = [
        ({"shipping_amount": "400"}, "Shipping: 300 JPY refundable, 400 JPY requested"),
        (
            {"amount": "2000"},
            f"Order {order.external_number}: 1500 JPY refundable, 2000 JPY requested",
        ),
        (
            {"lines": [LineChoice(order_line_id=line.pk, quantity=1, amount=Decimal("1600"))]},
            f"Line {line.sku}: 1500 JPY refundable, 1600 JPY requested",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(RefundError) as exc_info:
            propose_refund(order=order, **kwargs)
        assert exc_info.value.message == message
    assert Refund.objects.count() == 0
