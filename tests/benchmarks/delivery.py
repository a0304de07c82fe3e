"""Part 3: delivery throughput through the outbox to a slow sandbox.

2,000 refund-only refunds are requested and approved through the refund services (each approval
writes one outbox row and queues its delivery message after commit) while no worker runs; then a
`celery worker --pool threads --concurrency 8` (and again at 32) drains them against the
HepsiGlobal sandbox, which answers every request after 100 ms. The ceiling is
`concurrency / 0.1 s` actions per second.

The figure is measured from the database: from the first attempt's start to the last action's
completion (the worker's own start-up is not delivery time; the wall-clock time from the worker's
launch is in the note). The sandbox ledger must then hold exactly 2,000 refunds: none lost, none
twice.

Every run builds its own 2,000 fresh HepsiGlobal orders (the data set gives every order a
refund already), so the part can be run again and again on the data left behind. It never hangs:
the worker is watched (a dead worker, no progress for STALL_SECONDS, or DEADLINE_SECONDS overall
end the wait) and whatever was reached is recorded as MISSED with the reason.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

from tests.benchmarks.common import (
    free_port,
    purge_broker,
    record,
    session_cpu_seconds,
    session_peak_rss_mb,
    start_worker,
    stop_process,
)

DEADLINE_SECONDS = 90.0  # the drain, from the worker launch (25 s at 80/s)
STALL_SECONDS = 20.0  # no action finished for this long: something is broken
LATENCY_MS = 100
SETUP_THREADS = 4  # refunds are requested and approved by this many threads (distinct orders)
WORKER_LOG = Path("/tmp/refunddesk-bench-worker.log")
POOL = os.environ.get("BENCH_DELIVERY_POOL", "threads")  # or prefork: one process per slot


def _fresh_orders(account, count: int) -> list:
    """`count` new paid orders of `account`, 3 lines each, one card payment; their numbers are
    unique to this run. The data set's orders all have a refund already."""
    from orders.models import Customer, Order, OrderLine, PaymentLine

    run = uuid.uuid4().hex[:8]
    customer, _ = Customer.objects.get_or_create(
        email="bench-delivery@example.com", defaults={"name": "Bench Delivery"}
    )
    now = dt.datetime.now(dt.UTC)
    prices = [Decimal("19.90"), Decimal("7.50"), Decimal("42.00")]
    items = sum(prices, Decimal(0))
    shipping = Decimal("4.99")
    orders = Order.objects.bulk_create(
        Order(
            account=account,
            external_number=f"DLV-{run}-{i:05d}",
            customer=customer,
            status="paid",
            currency="USD",
            placed_at=now,
            paid_at=now,
            items_total=items,
            shipping_total=shipping,
            grand_total=items + shipping,
        )
        for i in range(count)
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=o,
            external_id=f"{o.external_number}-L{j}",
            sku=f"SKU-{j}",
            name=f"Bench product {j}",
            quantity=2,
            unit_price=price / 2,
        )
        for o in orders
        for j, price in enumerate(prices)
    )
    PaymentLine.objects.bulk_create(
        PaymentLine(
            order=o, external_id=f"{o.external_number}-P1", method="card", amount=o.grand_total
        )
        for o in orders
    )
    return list(
        Order.objects.filter(pk__in=[o.pk for o in orders])
        .prefetch_related("lines", "payments")
        .select_related("customer")
        .order_by("pk")
    )


def _sandbox_payload(orders) -> list[dict]:
    return [
        {
            "external_number": o.external_number,
            "currency": o.currency,
            "placed_at": o.placed_at.isoformat(),
            "status": "paid",
            "shipping_total": str(o.shipping_total),
            "grand_total": str(o.grand_total),
            "customer": {"email": o.customer.email, "name": o.customer.name},
            "lines": [
                {
                    "external_id": ln.external_id,
                    "sku": ln.sku,
                    "name": ln.name,
                    "quantity": ln.quantity,
                    "unit_price": str(ln.unit_price),
                    "discount": str(ln.discount),
                    "tax": str(ln.tax),
                }
                for ln in o.lines.all()
            ],
            "payments": [
                {"external_id": p.external_id, "method": p.method, "amount": str(p.amount)}
                for p in o.payments.all()
            ],
        }
        for o in orders
    ]


def _states(ids) -> dict[str, int]:
    """How many of the run's actions are in each state. One array parameter, not an IN list of
    2,000: this runs every 0.2 s in the process that also serves the sandbox, and building and
    quoting that IN list took most of this process's CPU, holding the GIL the sandbox's request
    threads need (py-spy on the bench process), which delayed the platform's answers."""
    from django.db import connection

    from refunds.delivery.models import OutboundAction

    table = connection.ops.quote_name(OutboundAction._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state, count(*) FROM {table} WHERE refund_id = ANY(%s) GROUP BY state",  # noqa: S608
            [list(ids)],
        )
        return dict(cursor.fetchall())


def _log_tail(lines: int = 15) -> str:
    try:
        text = WORKER_LOG.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


# Issue 17: delivery at concurrency 8 and 32 (BENCH_DELIVERY_CONCURRENCY="8,32").
CONCURRENCIES = [int(c) for c in os.environ.get("BENCH_DELIVERY_CONCURRENCY", "8,32").split(",")]


def bench_delivery() -> None:
    for concurrency in CONCURRENCIES:
        deliver(concurrency=concurrency)


def deliver(count: int = 2000, concurrency: int = 8) -> None:
    import requests
    from django.db import connection, connections
    from django.db.models import Max, Min

    from integrations.sandbox.server import serve_in_thread
    from orders.models import MarketplaceAccount
    from refunds.calculator import LineChoice
    from refunds.delivery.models import OutboundAction, OutboundAttempt, OutboundState
    from refunds.services import refund_approve, refund_request
    from tests.benchmarks.common import bench_users

    setup_started = time.perf_counter()
    server = hub = worker = None
    try:
        web_port = free_port()
        server, hub, base = serve_in_thread(
            keys=["hepsiglobal"], callback_url=f"http://127.0.0.1:{web_port}"
        )
        account = MarketplaceAccount.objects.get(name="Bench hepsiglobal")
        account.base_url = f"{base}/hepsiglobal"
        account.credentials = {"client_id": "demo", "client_secret": "demo-secret"}
        # HepsiGlobal publishes no request rate limit (shared/marketplaces.md): the bench account
        # has none configured either, like a real HepsiGlobal account.
        account.rate_limit_per_second = None
        # HepsiGlobal signs nothing: the bench account and the sandbox use basic auth (the
        # bench secret is too short for a path token; integrations/hepsiglobal/DOCS.md).
        account.options = {**(account.options or {}), "webhook_auth": "basic"}
        account.save()
        requests.put(
            f"{base}/_control/hepsiglobal/config",
            json={"webhook_secret": account.webhook_secret, "webhook_auth": "basic"},
            timeout=5,
        ).raise_for_status()
        orders = _fresh_orders(account, count)
        loaded = requests.post(
            f"{base}/_control/hepsiglobal/orders", json=_sandbox_payload(orders), timeout=60
        )
        loaded.raise_for_status()
        if loaded.json().get("loaded") != count:
            raise RuntimeError(f"the sandbox loaded {loaded.json()} orders, not {count}")
        agent, requester = bench_users()
        purge_broker()
        # Every request waits 100 ms; results would come back by webhook, but not during the run.
        requests.put(
            f"{base}/_control/hepsiglobal/faults",
            json={"latency_ms": LATENCY_MS, "webhook_delay": 3600},
            timeout=5,
        ).raise_for_status()

        def request_and_approve(chunk) -> list[int]:
            """Through the services, as staff would: each approval writes the outbox row and
            queues its message on commit (no worker runs yet)."""
            try:
                ids = []
                for o in chunk:
                    refund = refund_request(
                        actor=requester,
                        order=o,
                        reason_code="damaged",
                        refund_only=True,
                        lines=[LineChoice(order_line_id=o.lines.all()[0].pk, quantity=1)],
                    )
                    refund_approve(actor=agent, refund=refund)
                    ids.append(refund.pk)
                return ids
            finally:
                connections.close_all()  # this thread's connection

        chunks = [orders[i::SETUP_THREADS] for i in range(SETUP_THREADS)]
        with ThreadPoolExecutor(SETUP_THREADS) as pool:
            ids = [pk for part in pool.map(request_and_approve, chunks) for pk in part]
        queued = _states(ids)
        if queued != {OutboundState.PENDING: count}:
            raise RuntimeError(f"expected {count} pending outbox rows, found {queued}")
        connection.close()
        setup = time.perf_counter() - setup_started

        # Deliveries go to their platform's queue (refunds/delivery/routing.py); a worker on
        # "celery" alone got none of them once the queues were split.
        from refunds.delivery.routing import delivery_queue

        worker = start_worker(
            pool=POOL,
            concurrency=concurrency,
            log=WORKER_LOG,
            extra=("-Q", delivery_queue("hepsiglobal")),
        )
        started = time.perf_counter()
        bench_cpu = time.process_time()
        final = (OutboundState.SUCCEEDED, OutboundState.FAILED, OutboundState.DEAD)
        done = finished = 0
        last_progress, problem = started, ""
        while True:
            now = time.perf_counter()
            counts = _states(ids)
            done = counts.get(OutboundState.SUCCEEDED, 0)
            progress = sum(counts.get(s, 0) for s in final)
            if progress > finished:
                finished, last_progress = progress, now
            if finished >= count:
                if done < count:
                    problem = f"not every action succeeded: {counts}"
                break
            if worker.poll() is not None:
                problem = f"the worker exited with code {worker.returncode}: {_log_tail()}"
                break
            if now - last_progress > STALL_SECONDS:
                problem = f"no action finished for {STALL_SECONDS:.0f} s: {counts}; {_log_tail(5)}"
                break
            if now - started > DEADLINE_SECONDS:
                problem = f"not done after {DEADLINE_SECONDS:.0f} s: {counts}"
                break
            time.sleep(0.2)
        wall = time.perf_counter() - started
        # The worker's whole session: with --pool prefork its children do the work.
        worker_cpu = session_cpu_seconds(worker.pid)
        worker_rss = session_peak_rss_mb(worker.pid)
        bench_cpu = time.process_time() - bench_cpu  # the sandbox serves from this process
        stop_process(worker)
        worker = None

        span = (
            OutboundAttempt.objects.filter(action__refund_id__in=ids).aggregate(
                first=Min("started_at")
            )["first"],
            OutboundAction.objects.filter(
                refund_id__in=ids, state=OutboundState.SUCCEEDED
            ).aggregate(last=Max("completed_at"))["last"],
        )
        elapsed = (span[1] - span[0]).total_seconds() if all(span) else wall
        attempts = OutboundAttempt.objects.filter(action__refund_id__in=ids).count()
        ledger = requests.get(f"{base}/_control/hepsiglobal/ledger", timeout=30).json()
        token_calls = sum(
            1
            for r in requests.get(f"{base}/_control/hepsiglobal/requests", timeout=30).json()
            if r["path"] == "/v1/auth/token"
        )
        connection.close()
    finally:
        if worker is not None:
            stop_process(worker)
        if server is not None:
            server.shutdown()
            server.server_close()
        if hub is not None:
            hub.stop()

    rate = done / elapsed if elapsed > 0 else 0.0
    limit = concurrency / (LATENCY_MS / 1000)
    note = (
        f"{elapsed:.1f} s first call to last completion ({wall:.1f} s from worker launch), "
        f"{attempts} attempts, {token_calls} token requests; CPU per action: worker "
        f"{1000 * worker_cpu / max(finished, 1):.1f} ms, sandbox "
        f"{1000 * bench_cpu / max(finished, 1):.1f} ms; worker --pool {POOL} "
        f"--concurrency {concurrency}; setup {setup:.0f} s"
    )
    if problem:
        note = f"{problem[:400]}; {note}"
    record(
        "delivery",
        f"{done} of {count} actions delivered at concurrency {concurrency} "
        f"(sandbox answers after {LATENCY_MS} ms)",
        f"{rate:.1f}",
        "actions/s",
        f">= 80% of {limit:.0f}/s",
        rate >= 0.8 * limit and not problem,
        note,
    )
    record(
        "delivery",
        f"peak RSS of the worker (--pool {POOL} --concurrency {concurrency})",
        f"{worker_rss:.0f}",
        "MiB",
        note="VmHWM of the celery worker's largest process during the drain",
    )
    record(
        "delivery",
        f"refunds on the sandbox ledger (concurrency {concurrency})",
        ledger.get("count"),
        "",
        str(count),
        ledger.get("count") == count,
        "exactly once: one sandbox refund per outbox row",
    )
