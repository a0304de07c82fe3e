"""Part 3: delivery throughput through the outbox to a slow sandbox."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.benchmarks.common import (
    child_env,
    free_port,
    purge_broker,
    record,
    start_process,
    stop_process,
)


def bench_delivery(count: int = 2000, concurrency: int = 8) -> None:
    import requests
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from integrations.models import OutboundAction, OutboundState
    from integrations.sandbox.server import serve_in_thread
    from orders.models import MarketplaceAccount, Order
    from refunds.calculator import LineChoice
    from refunds.services import refund_approve, refund_request

    web_port = free_port()
    server, hub, base = serve_in_thread(
        keys=["hepsiglobal"], callback_url=f"http://127.0.0.1:{web_port}"
    )
    account = MarketplaceAccount.objects.get(name="Bench hepsiglobal")
    account.base_url = f"{base}/hepsiglobal"
    account.credentials = {"client_id": "demo", "client_secret": "demo-secret"}
    account.save()
    requests.put(
        f"{base}/_control/hepsiglobal/config",
        json={"webhook_secret": account.webhook_secret},
        timeout=5,
    )
    orders = list(
        Order.objects.filter(account=account, refunds__isnull=True)
        .prefetch_related("lines", "payments")
        .select_related("customer")[:count]
    )
    payload = [
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
    requests.post(f"{base}/_control/hepsiglobal/orders", json=payload, timeout=60)
    agent, _ = User.objects.get_or_create(
        username="bench-agent@example.com", defaults={"is_staff": True}
    )
    agent.groups.add(Group.objects.get(name="Refund agent"))
    requester, _ = User.objects.get_or_create(
        username="bench-requester@example.com", defaults={"is_staff": True}
    )
    requester.groups.add(Group.objects.get(name="Refund agent"))
    purge_broker()
    refunds = []
    for o in orders:
        line = o.lines.all()[0]
        refunds.append(
            refund_request(
                actor=requester,
                order=o,
                reason_code="damaged",
                refund_only=True,
                lines=[LineChoice(order_line_id=line.pk, quantity=1)],
            )
        )
    requests.put(
        f"{base}/_control/hepsiglobal/faults",
        json={"latency_ms": 100, "webhook_delay": 3600},
        timeout=5,
    )
    for refund in refunds:  # messages are queued; no worker runs yet
        refund_approve(actor=agent, refund=refund)
    connection.close()
    ids = [r.pk for r in refunds]
    log = Path("/tmp/refunddesk-bench-worker.log")
    worker = start_process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "-Q",
            "celery",
        ],
        child_env(),
        log,
    )
    started = time.perf_counter()
    deadline = started + 300
    done = 0
    while time.perf_counter() < deadline:
        done = OutboundAction.objects.filter(
            refund_id__in=ids, state=OutboundState.SUCCEEDED
        ).count()
        if done >= count:
            break
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    stop_process(worker)
    ledger = requests.get(f"{base}/_control/hepsiglobal/ledger", timeout=10).json()
    server.shutdown()
    hub.stop()
    rate = done / elapsed
    limit = concurrency / 0.1
    record(
        "delivery",
        f"{done} of {count} actions delivered (sandbox answers after 100 ms)",
        f"{rate:.1f}",
        "actions/s",
        f">= 80% of {limit:.0f}/s",
        rate >= 0.8 * limit,
        f"{elapsed:.1f} s, worker --pool threads --concurrency {concurrency}",
    )
    record(
        "delivery",
        "refunds on the sandbox ledger",
        ledger.get("count"),
        "",
        str(count),
        ledger.get("count") == count,
    )
