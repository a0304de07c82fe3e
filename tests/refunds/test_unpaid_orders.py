"""Nothing is refundable on an order that was not paid (issue 11, item 3): pending, cancelled
(voided) or without payments. Refused requests and approvals write nothing."""

from decimal import Decimal

import pytest

from orders.models import PaymentLine
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.errors import RefundError
from refunds.models import Refund, RefundEvent
from refunds.selectors import order_refundable, order_refundable_total
from refunds.services import refund_approve, refund_request
from tests import factories

pytestmark = pytest.mark.django_db

ZERO = Decimal("0.00")


def _unpaid(kind: str):
    """Orders that hold no money of the customer's."""
    if kind == "pending without payments":
        order = factories.make_order(status="pending")
        order.payments.all().delete()
    elif kind == "paid without payments":
        order = factories.make_order(status="paid")
        order.payments.all().delete()
    else:  # cancelled (voided) before it was paid, payments as the platform listed them
        order = factories.make_order(status="cancelled")
    return order


UNPAID = ["pending without payments", "paid without payments", "cancelled"]
WHY = {
    "pending without payments": "is pending payment",
    "paid without payments": "has no payments",
    "cancelled": "is cancelled",
}


def _written():
    return (Refund.objects.count(), RefundEvent.objects.count(), OutboundAction.objects.count())


@pytest.mark.parametrize("kind", UNPAID)
def test_nothing_is_refundable_on_an_order_that_was_not_paid(kind):
    order = _unpaid(kind)

    room = order_refundable(order)

    assert (room.is_paid, room.total, room.shipping, room.additional) == (False, ZERO, ZERO, ZERO)
    assert [(info.units, info.amount) for info in room.lines.values()] == [(0, ZERO)]
    assert order_refundable_total(order) == ZERO


@pytest.mark.parametrize("kind", UNPAID)
def test_staff_cannot_request_a_refund_on_an_unpaid_order(kind, agent):
    order = _unpaid(kind)
    line = order.lines.get()

    for attempt in (
        {"amount": "5.00"},
        {"lines": [LineChoice(order_line_id=line.pk, quantity=1)]},
        {"shipping_amount": "5.00"},
    ):
        with pytest.raises(RefundError) as exc_info:
            refund_request(
                actor=agent, order=order, reason_code="other", refund_only=True, **attempt
            )
        assert exc_info.value.message == (
            f"Only paid orders can be refunded: order {order.external_number} {WHY[kind]}"
        )
        assert (exc_info.value.field, exc_info.value.code) == ("order", "not_paid")
    assert _written() == (0, 0, 0)


def test_a_marketplace_refund_on_an_unpaid_order_is_refused():
    order = _unpaid("pending without payments")
    with pytest.raises(RefundError, match="Only paid orders can be refunded"):
        refund_request(
            actor=None,
            order=order,
            reason_code="other",
            refund_only=True,
            amount="5.00",
            external_id="R-1",
            via="llzw poll",
        )
    assert _written() == (0, 0, 0)


def test_approving_a_refund_on_an_order_no_longer_paid_is_refused(order, customer_user, agent):
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    # The marketplace re-sent the order as pending payment, without its payments.
    type(order).objects.filter(pk=order.pk).update(status="pending")
    PaymentLine.objects.filter(order=order).delete()
    before = list(Refund.objects.values())

    with pytest.raises(RefundError) as exc_info:
        refund_approve(actor=agent, refund=refund)

    assert exc_info.value.message == (
        f"Only paid orders can be refunded: order {order.external_number} is pending payment"
    )
    assert (exc_info.value.field, exc_info.value.code) == ("order", "not_paid")
    assert list(Refund.objects.values()) == before
    assert _written() == (1, 1, 0)
