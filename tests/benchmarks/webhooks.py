"""Part 4: a burst of HepsiGlobal webhooks against the app under gunicorn."""

from __future__ import annotations

import concurrent.futures as cf
import json
import sys
import threading
import time
from pathlib import Path

from tests.benchmarks.common import (
    child_env,
    free_port,
    pct,
    purge_broker,
    record,
    start_process,
    stop_process,
)


def bench_webhooks(total: int = 5000, clients: int = 16) -> None:
    import random

    import requests

    from integrations.models import WebhookEvent
    from orders.models import MarketplaceAccount, OrderLine
    from refunds.models import Refund

    account = MarketplaceAccount.objects.get(name="Bench hepsiglobal")
    port = free_port()
    web = start_process(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "4",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        child_env(),
        Path("/tmp/refunddesk-bench-gunicorn.log"),
    )
    purge_broker()
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
            "8",
            "--loglevel",
            "WARNING",
        ],
        child_env(),
        Path("/tmp/refunddesk-bench-worker2.log"),
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{base}/_bench/trivial", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.2)
    lines = list(
        OrderLine.objects.filter(
            order__account=account, order__refunds__isnull=True, quantity__gte=2
        ).select_related("order")[: total // 2]
    )
    processing = list(
        Refund.objects.filter(order__account=account, status="PROCESSING", external_request_id="")[
            : total // 2
        ]
    )
    for r in processing:
        Refund.objects.filter(pk=r.pk).update(external_request_id=f"REQ{r.pk:024d}")
    deliveries = []
    for i, line in enumerate(lines):
        body = {
            "cancel_id": 9_000_000 + i,
            "order_number": line.order.external_number,
            "cancel_quantity": 1,
            "order_item_number": line.external_id,
            "reason": "out_of_stock",
        }
        deliveries.append(("PUT", "/hepsiglobal/webhooks/order-cancel", body))
    for r in processing:
        body = {
            "request_id": f"REQ{r.pk:024d}",
            "refund_number": f"RD{r.pk}-create-refund-1",
            "order_number": "",
            "status": "success",
            "errors": [],
        }
        deliveries.append(("POST", "/hepsiglobal/webhooks/refund-create-result", body))
    unique = len(deliveries)
    rng = random.Random(3)
    deliveries += rng.sample(deliveries, total - unique)
    rng.shuffle(deliveries)
    headers = {
        "Authorization": f"Bearer {account.webhook_secret}",
        "Content-Type": "application/json",
    }

    def burst(items, url_for):
        latencies, codes = [], []
        local = threading.local()

        def send(item):
            session = getattr(local, "s", None) or requests.Session()
            local.s = session
            method, path, body = url_for(item)
            data = json.dumps(body).encode()
            t0 = time.perf_counter()
            r = session.request(method, base + path, data=data, headers=headers, timeout=30)
            latencies.append(time.perf_counter() - t0)
            codes.append(r.status_code)

        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(clients) as pool:
            list(pool.map(send, items))
        return time.perf_counter() - t0, latencies, codes

    el_t, lat_t, _ = burst(range(total), lambda i: ("POST", "/_bench/trivial", {}))
    el, lat, codes = burst(deliveries, lambda d: d)
    ok = sum(1 for c in codes if c == 200)
    rate, trivial_rate = total / el, total / el_t
    record(
        "webhooks",
        f"{total} deliveries ({total - unique} duplicates), {clients} clients",
        f"{rate:.0f}",
        "req/s",
        f">= 50% of trivial view ({trivial_rate:.0f}/s)",
        rate >= 0.5 * trivial_rate,
        f"{ok} answered 200",
    )
    p50, p99 = pct(lat, 0.5) * 1000, pct(lat, 0.99) * 1000
    record(
        "webhooks",
        "latency p50 / p99",
        f"{p50:.1f} / {p99:.1f}",
        "ms",
        "p99 < 100 ms",
        p99 < 100,
        f"trivial view p50/p99 {pct(lat_t, 0.5) * 1000:.1f} / {pct(lat_t, 0.99) * 1000:.1f} ms",
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        pending = WebhookEvent.objects.filter(state="received").count()
        if not pending:
            break
        time.sleep(0.5)
    stored = WebhookEvent.objects.filter(adapter_key="hepsiglobal").count()
    processed = WebhookEvent.objects.exclude(state="received").count()
    record(
        "webhooks",
        "stored / processed events (unique deliveries)",
        f"{stored} / {processed}",
        "",
        str(unique),
        stored == unique and processed == unique,
    )
    stop_process(web)
    stop_process(worker)
