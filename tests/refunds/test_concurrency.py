"""Concurrency on real PostgreSQL: threads race on one refund or one order; the row locks in the
services decide, so exactly the allowed work happens once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.errors import RefundError
from refunds.models import Refund, RefundEvent
from refunds.services import refund_approve, refund_request
from tests import factories

THREADS = 20
concurrent = pytest.mark.django_db(transaction=True)


def race(work, count=THREADS):
    """Run `work(i)` in `count` threads released together; return what each returned or the
    RefundError it raised. Every thread closes its own database connection."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # a RefundError is expected; anything else fails below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, RefundError)]
    assert unexpected == []
    return results


@concurrent
def test_twenty_concurrent_approvals_give_one_approval():
    customer_user = factories.UserFactory(username="alice@example.com")
    customer = factories.CustomerFactory(email="alice@example.com", user=customer_user)
    order = factories.make_order(customer=customer, lines=((2, "10.00", "0.00", "0.00"),))
    agents = [factories.agent(username=f"racer{i}@example.com") for i in range(THREADS)]
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=order.lines.get().pk, quantity=1)],
    )

    results = race(lambda i: refund_approve(actor=agents[i], refund=refund).status)

    approved = [r for r in results if r == "PROCESSING"]
    refused = [r for r in results if isinstance(r, RefundError)]
    assert len(approved) == 1
    assert len(refused) == THREADS - 1
    assert {e.code for e in refused} == {"invalid_transition"}
    refund.refresh_from_db()
    assert refund.status == "PROCESSING"
    assert RefundEvent.objects.filter(refund=refund, action="approve").count() == 1
    assert RefundEvent.objects.filter(refund=refund).count() == 2
    assert OutboundAction.objects.filter(refund=refund).count() == 1


@concurrent
def test_concurrent_line_refunds_never_exceed_the_units_paid():
    agent = factories.agent(username="agent-race@example.com")
    order = factories.make_order(lines=((10, "10.00", "3.00", "1.50"),), shipping="5.00")
    line = order.lines.get()  # 10 × 10.00 − 3.00 + 1.50 = 98.50

    results = race(
        lambda i: (
            refund_request(
                actor=agent,
                order=order,
                reason_code="damaged",
                refund_only=True,
                lines=[LineChoice(order_line_id=line.pk, quantity=1)],
            ).total
        )
    )

    made = [r for r in results if isinstance(r, Decimal)]
    refused = [r for r in results if isinstance(r, RefundError)]
    assert len(made) == 10
    assert len(refused) == THREADS - 10
    assert {e.message for e in refused} == {f"Line {line.sku}: 0 units refundable, 1 requested"}
    assert sum(made) == Decimal("98.50")
    assert Refund.objects.filter(order=order).aggregate(t=Sum("total"))["t"] == Decimal("98.50")


@concurrent
def test_concurrent_amount_refunds_never_exceed_what_was_paid():
    agent = factories.agent(username="agent-race@example.com")
    order = factories.make_order(
        lines=((3, "20.00", "0.00", "0.00"), (1, "40.00", "0.00", "0.00")), shipping="5.00"
    )  # lines 100.00, shipping 5.00

    def work(i):
        if i % 4 == 0:
            return refund_request(
                actor=agent,
                order=order,
                reason_code="late_delivery",
                refund_only=True,
                shipping_amount="2.00",
            ).total
        return refund_request(
            actor=agent, order=order, reason_code="other", refund_only=True, amount="15.00"
        ).total

    results = race(work)

    made = [r for r in results if isinstance(r, Decimal)]
    refunds = Refund.objects.filter(order=order)
    totals = refunds.aggregate(t=Sum("total"), s=Sum("shipping_amount"), l=Sum("lines_amount"))
    assert totals["t"] == sum(made)
    assert totals["l"] <= Decimal("100.00")
    assert totals["s"] <= Decimal("5.00")
    assert totals["t"] <= order.grand_total
    # Six 15.00 refunds fit in 100.00 of lines, two 2.00 shipping refunds fit in 5.00.
    assert refunds.filter(shipping_amount=Decimal("2.00")).count() == 2
    assert refunds.filter(lines_amount=Decimal("15.00")).count() == 6


@concurrent
def test_concurrent_approvals_of_one_orders_refunds_each_happen_once():
    order = factories.make_order(lines=((1, "10.00", "0.00", "0.00"),) * THREADS)
    requester = factories.agent(username="requester@example.com")
    agents = [factories.agent(username=f"racer{i}@example.com") for i in range(THREADS)]
    refunds = [
        refund_request(
            actor=requester,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        )
        for line in order.lines.order_by("id")
    ]

    results = race(lambda i: refund_approve(actor=agents[i], refund=refunds[i]).status)

    assert results == ["PROCESSING"] * THREADS
    assert Refund.objects.filter(order=order, status="PROCESSING").count() == THREADS
    assert RefundEvent.objects.filter(refund__order=order, action="approve").count() == THREADS
    assert OutboundAction.objects.filter(refund__order=order).count() == THREADS
    assert sorted(OutboundAction.objects.values_list("refund_id", flat=True)) == sorted(
        r.pk for r in refunds
    )


@concurrent
def test_approvals_of_different_orders_of_one_account_and_customer_do_not_wait():
    """Only the order's and the refund's rows are locked: an approval in progress on one order
    holds up approvals of that order, not of the account's or the customer's other orders."""
    from django.db import OperationalError, transaction

    first = factories.make_order(lines=((2, "10.00", "0.00", "0.00"),))
    other = factories.make_order(account=first.account, customer=first.customer)
    requester, approver = factories.agent(username="req@example.com"), factories.agent()

    def request(order):
        return refund_request(
            actor=requester,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=order.lines.first().pk, quantity=1)],
        )

    in_progress, same_order, other_order = request(first), request(first), request(other)
    held, release = threading.Event(), threading.Event()

    def approve_and_wait():
        try:
            with transaction.atomic():
                refund_approve(actor=factories.agent(), refund=in_progress)
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def approve_within(refund, seconds):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{seconds}s'")
            return refund_approve(actor=approver, refund=refund)

    thread = threading.Thread(target=approve_and_wait)
    thread.start()
    try:
        assert held.wait(timeout=30)
        assert approve_within(other_order, 10).status == "PROCESSING"
        with pytest.raises(OperationalError, match="lock timeout"):
            approve_within(same_order, 1)
    finally:
        release.set()
        thread.join(timeout=30)
    statuses = dict(Refund.objects.values_list("pk", "status"))
    assert statuses == {
        in_progress.pk: "PROCESSING",
        same_order.pk: "REQUESTED",
        other_order.pk: "PROCESSING",
    }
    assert OutboundAction.objects.count() == 2
