"""Part 5: concurrent approvals of distinct refunds and of the same refund."""

from __future__ import annotations

import concurrent.futures as cf
import time

from tests.benchmarks.common import bench_users, record


def bench_contention(n: int = 50) -> None:
    from django.db import connection

    from integrations.models import OutboundAction
    from orders.models import MarketplaceAccount
    from refunds.calculator import LineChoice
    from refunds.errors import RefundError
    from refunds.models import Refund
    from refunds.services import refund_approve, refund_request
    from tests.factories import make_order

    agent, requester = bench_users()
    account = MarketplaceAccount.objects.get(name="Bench llzw")

    def open_refunds(count: int) -> list[int]:
        order = make_order(lines=[(1, "20.00", "0", "0")] * count, account=account)
        return [
            refund_request(
                actor=requester,
                order=order,
                reason_code="damaged",
                refund_only=True,
                lines=[LineChoice(order_line_id=line.pk, quantity=1)],
            ).pk
            for line in order.lines.all()
        ]

    def approve(refund_id: int) -> bool:
        try:
            refund_approve(actor=agent, refund=Refund.objects.get(pk=refund_id))
            return True
        except RefundError:
            return False
        finally:
            connection.close()

    cases = (
        ("distinct refunds of one order", open_refunds(n)),
        ("the same refund", open_refunds(1) * n),
    )
    connection.close()
    for label, ids in cases:
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(n) as pool:
            results = list(pool.map(approve, ids))
        elapsed = time.perf_counter() - t0
        rows = OutboundAction.objects.filter(refund_id__in=set(ids)).count()
        want = len(set(ids))
        record(
            "contention",
            f"{n} concurrent approvals of {label}",
            f"{n / elapsed:.0f}",
            "approvals/s",
            "",
            None,
            f"{sum(results)} succeeded, {elapsed:.2f} s",
        )
        record("contention", f"outbox rows for {label}", rows, "", str(want), rows == want)
