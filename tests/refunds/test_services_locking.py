"""What an approval does while it holds the order's lock: approvals of one order queue on that
lock, so the locked part must stay short (the permission reads happen before it, the money check
is one sum, nothing else is re-read)."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_approve, refund_request


def _statements(work) -> list[str]:
    """The SQL `work` sends, savepoints left out (the test's own transaction makes them)."""
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        work()
    return [sql for sql in sent if "SAVEPOINT" not in sql]


def _kind(sql: str) -> str:
    """`SELECT orders_order FOR UPDATE`, `UPDATE refunds_refund`, `SELECT SUM refunds_refund`...
    The table is the statement's own, not a subquery's."""
    verb = sql.split(None, 1)[0]
    outer = sql
    while re.search(r"\([^()]*\)", outer):
        outer = re.sub(r"\([^()]*\)", "", outer)
    table = re.search(r'(?:FROM|INTO|UPDATE) "(\w+)"', outer).group(1)
    extra = " SUM" if verb == "SELECT" and "SUM(" in sql else ""
    lock = " FOR UPDATE OF" if " FOR UPDATE OF " in sql else " FOR UPDATE" * ("FOR UPDATE" in sql)
    return f"{verb}{extra} {table}{lock}"


@pytest.mark.django_db
def test_an_approval_reads_only_the_order_the_refund_and_one_sum_under_the_lock(
    order, customer_user, agent
):
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    # As a request has them: the user and the refund freshly loaded, no permission cache.
    actor = get_user_model().objects.get(pk=agent.pk)
    refund = Refund.objects.get(pk=refund.pk)

    kinds = [_kind(sql) for sql in _statements(lambda: refund_approve(actor=actor, refund=refund))]

    locked = kinds.index("SELECT orders_order FOR UPDATE OF")
    # Before the lock: the actor's permissions (user's own, then their groups').
    assert kinds[:locked] == ["SELECT auth_permission", "SELECT auth_permission"]
    # Under the lock: the order (its row only: customer and account are joined, not locked),
    # the refund, one statement reading whether the order has payments and the sum of its other
    # active refunds, the change and its audit event...
    assert kinds[locked : locked + 5] == [
        "SELECT orders_order FOR UPDATE OF",
        "SELECT refunds_refund FOR UPDATE",
        "SELECT SUM orders_order",
        "UPDATE refunds_refund",
        "INSERT refunds_refundevent",
    ]
    # ... then the outbox row (refunds.delivery.outbox reads what its payload needs), and nothing
    # that the money check used to re-read (refund lines, order lines).
    rest = kinds[locked + 5 :]
    assert rest[-1] == "INSERT integrations_outboundaction"
    assert "SELECT auth_permission" not in rest
    assert "SELECT SUM refunds_refundline" not in rest
    assert "SELECT orders_orderline" not in rest
