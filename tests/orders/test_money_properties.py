"""Property tests through the real services and database: random sequences of partial refunds
(by lines, by amount, shipping), receipts, cancellations and denials never refund more than was
paid, and every refund adds up to the cent."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refunds.calculator import LineChoice, propose_refund
from refunds.errors import RefundError
from refunds.models import Refund, RefundLine
from refunds.selectors import ACTIVE, order_refundable, order_refundable_total
from refunds.services import (
    Received,
    refund_approve,
    refund_cancel,
    refund_deny,
    refund_receive,
    refund_request,
)
from tests import factories

PROPERTY = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

cents = st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c).scaleb(-2))
order_lines = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=6),  # quantity
        st.integers(min_value=1, max_value=20_000),  # unit price, cents
        st.integers(min_value=0, max_value=90),  # discount, % of the line price
        st.integers(min_value=0, max_value=2_000),  # tax, cents
    ),
    min_size=1,
    max_size=4,
)

operation = st.one_of(
    st.tuples(
        st.just("lines"),
        st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6)), min_size=1, max_size=3),
        st.booleans(),
    ),
    st.tuples(st.just("amount"), cents, st.booleans()),
    st.tuples(st.just("shipping"), cents, st.booleans()),
    st.tuples(st.just("approve"), st.integers(0, 20)),
    st.tuples(st.just("receive"), st.integers(0, 20), st.integers(0, 6)),
    st.tuples(st.just("cancel"), st.integers(0, 20)),
    st.tuples(st.just("deny"), st.integers(0, 20)),
)


def _make_order(spec, shipping):
    lines = []
    for quantity, price_cents, discount_pct, tax_cents in spec:
        price = Decimal(price_cents).scaleb(-2)
        discount = (price * quantity * discount_pct / 100).quantize(Decimal("0.01"))
        lines.append((quantity, str(price), str(discount), str(Decimal(tax_cents).scaleb(-2))))
    return factories.make_order(lines=lines, shipping=str(shipping))


def _pick(order, index):
    refunds = list(Refund.objects.filter(order=order).order_by("id"))
    return refunds[index % len(refunds)] if refunds else None


def _apply(op, order, agent, manager):
    kind = op[0]
    if kind == "lines":
        lines = list(order.lines.order_by("id"))
        choices = {}
        for index, quantity in op[1]:
            choices[lines[index % len(lines)].pk] = quantity
        refund_request(
            actor=agent,
            order=order,
            reason_code="damaged",
            refund_only=op[2],
            lines=[LineChoice(order_line_id=k, quantity=v) for k, v in choices.items()],
        )
    elif kind == "amount":
        refund_request(
            actor=agent, order=order, reason_code="other", refund_only=op[2], amount=op[1]
        )
    elif kind == "shipping":
        refund_request(
            actor=agent,
            order=order,
            reason_code="late_delivery",
            refund_only=op[2],
            shipping_amount=op[1],
        )
    else:
        refund = _pick(order, op[1])
        if refund is None:
            return
        if kind == "approve":
            refund_approve(actor=manager, refund=refund)
        elif kind == "receive":
            received = {line.pk: Received(min(op[2], line.quantity)) for line in refund.lines.all()}
            refund_receive(actor=manager, refund=refund, received=received)
        elif kind == "cancel":
            refund_cancel(actor=agent, refund=refund)
        else:
            refund_deny(actor=manager, refund=refund, reason="No")


def _check_invariants(order):
    order.refresh_from_db()
    active = Refund.objects.filter(order=order, status__in=ACTIVE)
    for refund in Refund.objects.filter(order=order):
        parts = refund.lines_amount + refund.shipping_amount + refund.additional_amount
        assert refund.total == parts
        line_sum = refund.lines.aggregate(s=Sum("amount"))["s"] or Decimal("0.00")
        assert refund.lines_amount == line_sum
        assert refund.total > 0
    sums = active.aggregate(t=Sum("total"), s=Sum("shipping_amount"))
    assert (sums["t"] or 0) <= order.grand_total
    assert (sums["s"] or 0) <= order.shipping_total
    for line in order.lines.all():
        refund_lines = RefundLine.objects.filter(order_line=line, refund__status__in=ACTIVE)
        agg = refund_lines.aggregate(a=Sum("amount"), q=Sum("quantity"))
        assert (agg["a"] or 0) <= line.paid_amount
        assert (agg["q"] or 0) <= line.quantity - line.cancelled_quantity
    room = order_refundable(order)
    assert room.total == order.grand_total - (sums["t"] or 0)
    assert order_refundable_total(order) == room.total
    for refund in Refund.objects.filter(order=order):
        assert order_refundable_total(order, exclude_refund_id=refund.pk) == (
            order_refundable(order, exclude_refund_id=refund.pk).total
        )
    assert room.shipping == order.shipping_total - (sums["s"] or 0)
    for info in room.lines.values():
        assert info.amount >= 0
        assert info.units >= 0


@pytest.mark.django_db
def test_random_refund_sequences_never_over_refund(agent, manager):
    @PROPERTY
    @given(spec=order_lines, shipping=cents, ops=st.lists(operation, min_size=1, max_size=12))
    def run(spec, shipping, ops):
        savepoint = transaction.savepoint()
        refusals = []
        try:
            order = _make_order(spec, shipping)
            for op in ops:
                try:
                    _apply(op, order, agent, manager)
                except RefundError as exc:
                    refusals.append(exc.message)
                _check_invariants(order)
            assert all(refusals)  # every refusal says something
        finally:
            transaction.savepoint_rollback(savepoint)

    run()


@pytest.mark.django_db
def test_refunding_a_line_in_pieces_adds_up_to_what_was_paid(agent):
    @PROPERTY
    @given(
        spec=order_lines,
        cuts=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=6),
    )
    def run(spec, cuts):
        savepoint = transaction.savepoint()
        try:
            order = _make_order(spec, Decimal("0.00"))
            for line in order.lines.all():
                left = line.quantity
                for cut in cuts:
                    if left == 0:
                        break
                    units = min(cut, left)
                    refund_request(
                        actor=agent,
                        order=order,
                        reason_code="damaged",
                        refund_only=True,
                        lines=[LineChoice(order_line_id=line.pk, quantity=units)],
                    )
                    left -= units
                if left:
                    refund_request(
                        actor=agent,
                        order=order,
                        reason_code="damaged",
                        refund_only=True,
                        lines=[LineChoice(order_line_id=line.pk, quantity=left)],
                    )
                refunded = RefundLine.objects.filter(order_line=line).aggregate(
                    a=Sum("amount"), q=Sum("quantity")
                )
                if line.paid_amount > 0:
                    assert refunded["a"] == line.paid_amount
                assert refunded["q"] == line.quantity
            room = order_refundable(order)
            assert room.total == Decimal("0.00")
            assert all(info.units == 0 and info.amount == 0 for info in room.lines.values())
        finally:
            transaction.savepoint_rollback(savepoint)

    run()


@pytest.mark.django_db
def test_refund_by_amount_spreads_over_lines_to_the_cent(agent):
    @PROPERTY
    @given(spec=order_lines, share=st.integers(min_value=1, max_value=100))
    def run(spec, share):
        savepoint = transaction.savepoint()
        try:
            order = _make_order(spec, Decimal("0.00"))
            amount = (order.items_total * share / 100).quantize(Decimal("0.01"))
            if amount <= 0:
                return
            proposal = propose_refund(order=order, amount=amount)
            assert sum(p.amount for p in proposal.lines) == amount
            assert proposal.total == amount
            refund = refund_request(
                actor=agent, order=order, reason_code="other", refund_only=True, amount=amount
            )
            assert refund.total == amount
            for line in refund.lines.select_related("order_line"):
                assert 0 < line.amount <= line.order_line.paid_amount
        finally:
            transaction.savepoint_rollback(savepoint)

    run()


def test_over_refund_message_names_the_line_and_limit(order, agent):
    line = order.lines.order_by("id").first()
    with pytest.raises(RefundError) as exc_info:
        refund_request(
            actor=agent,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=line.pk, quantity=3)],
        )
    assert exc_info.value.message == f"Line {line.sku}: 2 units refundable, 3 requested"
    assert exc_info.value.field == "lines"
    assert Refund.objects.count() == 0


def test_bad_amounts_are_refused_with_a_message(order, agent):
    for amount, message in [
        ("abc", "'abc' is not an amount"),
        ("-1", "The amount cannot be negative"),
        ("1.001", "1.001 has more decimals than USD allows"),
        ("NaN", "'NaN' is not an amount"),
        ("10000", "Order {n}: 149.47 USD refundable, 10000.00 USD requested"),
    ]:
        with pytest.raises(RefundError) as exc_info:
            refund_request(
                actor=agent, order=order, reason_code="other", refund_only=True, amount=amount
            )
        assert exc_info.value.message == message.format(n=order.external_number)
    assert Refund.objects.count() == 0
