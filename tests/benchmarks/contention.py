"""Part 5: concurrent approvals of distinct refunds of one order, of the same refund, and of
refunds of distinct orders of one marketplace account.

Approvals of one order serialise on the order's row lock by design (that lock is what keeps the
refunds within what is refundable), so their throughput is set by the work done while holding it;
approvals of distinct orders must not serialise at all. Every run builds fresh orders (with a
fresh customer), so `run contention` can be repeated on the data set left behind. Each approval
behaves like a request: its own database connection, the acting user and the refund loaded anew.
All approvals run as threads of this one process, so the distinct-orders case (no shared lock) is
the ceiling this process and machine allow; one order's approvals can at best come close to it.
Here the lock holder also waits for the GIL after each of its queries (up to the 5 ms switch
interval while another thread runs Python), so every query under the lock costs more than in a
deployment of several processes.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

from tests.benchmarks.common import bench_users, pct, record


def bench_contention(n: int = 50) -> None:
    from django.contrib.auth.models import User
    from django.db import connection, transaction

    from orders.models import Customer, MarketplaceAccount
    from refunds.calculator import LineChoice
    from refunds.delivery.models import OutboundAction
    from refunds.errors import RefundError
    from refunds.models import Refund
    from refunds.services import refund_approve, refund_request
    from tests.factories import make_order

    agent, requester = bench_users()
    account = MarketplaceAccount.objects.get(name="Bench llzw")
    tag = f"{time.time_ns():x}"
    customer = Customer.objects.create(email=f"contention-{tag}@example.com", name="Contention")
    orders_made = 0

    def fresh_order(lines: int):
        nonlocal orders_made
        orders_made += 1
        return make_order(
            lines=[(1, "20.00", "0", "0")] * lines,
            account=account,
            customer=customer,
            external_number=f"CONT-{tag}-{orders_made}",
        )

    def open_refunds(order) -> list[int]:
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

    def is_order_lock(sql: str) -> bool:
        return sql.startswith('SELECT "orders_order"') and "FOR UPDATE" in sql

    # Queries of one approval: before its transaction, in it (of which under the order's lock)
    # and after commit (the e-mail; the Celery publish is not a query).
    sample = open_refunds(fresh_order(1))[0]
    counts = {"before": 0, "transaction": 0, "locked": 0, "after commit": 0}

    def count(execute, sql, params, many, context):
        if connection.in_atomic_block:
            counts["transaction"] += 1
            counts["locked"] += bool(counts["locked"] or is_order_lock(sql))
        else:
            counts["after commit" if counts["transaction"] else "before"] += 1
        return execute(sql, params, many, context)

    actor = User.objects.get(pk=agent.pk)
    refund = Refund.objects.get(pk=sample)
    with connection.execute_wrapper(count):
        refund_approve(actor=actor, refund=refund)
    record(
        "contention",
        "queries per approval: before / in the transaction (under the order lock) / after commit",
        f"{counts['before']} / {counts['transaction']} ({counts['locked']}) / "
        f"{counts['after commit']}",
    )

    def approve(refund_id: int, start: threading.Barrier) -> tuple[bool, float, float | None]:
        """One approval as a request makes it: (approved, seconds, seconds the order's lock was
        held from its grant to the commit, for an approval that committed)."""
        held: list[float] = []

        def watch(execute, sql, params, many, context):
            result = execute(sql, params, many, context)
            if connection.in_atomic_block and is_order_lock(sql):
                granted = time.perf_counter()
                transaction.on_commit(lambda: held.append(time.perf_counter() - granted))
            return result

        try:
            start.wait()
            t0 = time.perf_counter()
            try:
                with connection.execute_wrapper(watch):
                    actor = User.objects.get(pk=agent.pk)
                    refund_approve(actor=actor, refund=Refund.objects.get(pk=refund_id))
                ok = True
            except RefundError:
                ok = False
            return ok, time.perf_counter() - t0, held[0] if held else None
        finally:
            connection.close()

    cases = (  # (label, refund ids, whether the approvals queue on one order's lock)
        ("distinct refunds of one order", open_refunds(fresh_order(n)), True),
        ("the same refund", open_refunds(fresh_order(1)) * n, False),
        (
            "refunds of distinct orders of one account",
            [open_refunds(fresh_order(1))[0] for _ in range(n)],
            False,
        ),
    )
    connection.close()
    for label, ids, one_lock in cases:
        start = threading.Barrier(len(ids))
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(len(ids)) as pool:
            results = list(pool.map(approve, ids, [start] * len(ids)))
        elapsed = time.perf_counter() - t0
        latencies = [seconds * 1000 for _, seconds, _ in results]
        holds = [held * 1000 for _, _, held in results if held is not None]
        rows = OutboundAction.objects.filter(refund_id__in=set(ids)).count()
        want = len(set(ids))
        record(
            "contention",
            f"{n} concurrent approvals of {label}",
            f"{n / elapsed:.0f}",
            "approvals/s",
            "",
            None,
            f"{sum(ok for ok, _, _ in results)} succeeded, {elapsed:.2f} s",
        )
        record(
            "contention",
            f"latency per approval of {label}, p50 / p95",
            f"{pct(latencies, 0.5):.0f} / {pct(latencies, 0.95):.0f}",
            "ms",
        )
        if one_lock:
            record(
                "contention",
                f"order lock held per approval of {label} (grant to commit), p50 / p95",
                f"{pct(holds, 0.5):.1f} / {pct(holds, 0.95):.1f}",
                "ms",
            )
        record("contention", f"outbox rows for {label}", rows, "", str(want), rows == want)
