"""Part 4: a burst of HepsiGlobal webhooks against the app under gunicorn.

5,000 deliveries (order-cancel PUTs and refund-create-result POSTs, 10 % of them repeats of another
delivery) are sent by `clients` keep-alive connections to gunicorn
(tests/benchmarks/gunicorn_conf.py); a Celery worker then processes what was stored (during the
burst with BENCH_WEBHOOKS_WORKER_DURING_BURST=1). The same burst against a trivial Django view on
the same server, sent first, is the limit. Every figure counts only this run's deliveries, so the
part can be run again on the data a previous run left behind (each run picks lines and refunds
not used yet and new cancel ids).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from tests.benchmarks.common import (
    child_env,
    free_port,
    http_burst,
    machine_cpu_seconds,
    pct,
    purge_broker,
    record,
    session_cpu_seconds,
    session_peak_rss_mb,
    start_process,
    start_worker,
    stop_process,
)

CANCEL_PATH = "/hepsiglobal/webhooks/order-cancel"
RESULT_PATH = "/hepsiglobal/webhooks/refund-create-result"
LOG_DIR = Path("/tmp/refunddesk-bench-webhooks")
DRAIN_SECONDS = 240  # ~100-150 s on this 2-core machine; a miss below means it was not enough
# 4 threads drained faster here than prefork with 2 processes (137 s against 217 s for 4,500
# events, noisy machine); BENCH_WEBHOOKS_WORKER_POOL / _CONCURRENCY to try others.
WORKER_POOL = os.environ.get("BENCH_WEBHOOKS_WORKER_POOL", "threads")
WORKER_CONCURRENCY = os.environ.get("BENCH_WEBHOOKS_WORKER_CONCURRENCY", "4")
WORKER_DURING_BURST = os.environ.get("BENCH_WEBHOOKS_WORKER_DURING_BURST", "") == "1"


def _deliveries(account, unique: int, run: int) -> list[tuple[str, str, bytes, str]]:
    """This run's unique deliveries (method, path, body, delivery key): order-cancel for lines
    nothing has refunded or cancelled yet, refund-create-result for PROCESSING refunds that have
    no request id yet (they get one, as if our create call had been answered)."""
    from orders.models import OrderLine
    from refunds.models import Refund

    refunds = list(
        Refund.objects.filter(order__account=account, status="PROCESSING", external_request_id="")
        .select_related("order")
        .order_by("id")[: unique // 2]
    )
    # Half and half while PROCESSING refunds last (each run uses up its share), then cancels.
    lines = list(
        OrderLine.objects.filter(
            order__account=account, quantity__gte=2, cancelled_quantity=0, refund_lines=None
        )
        .select_related("order")
        .order_by("id")[: unique - len(refunds)]
    )
    deliveries = []
    for i, line in enumerate(lines):
        body = {
            "cancel_id": run * 10_000 + i,
            "order_number": line.order.external_number,
            "cancel_quantity": 1,
            "order_item_number": line.external_id,
            "reason": "out_of_stock",
        }
        key = f"order-cancel:{body['cancel_id']}"
        deliveries.append(("PUT", CANCEL_PATH, json.dumps(body).encode(), key))
    for refund in refunds:
        request_id = f"REQ{run:010d}{refund.pk:013d}"  # 26 characters, like a ULID
        Refund.objects.filter(pk=refund.pk).update(external_request_id=request_id)
        body = {
            "request_id": request_id,
            "refund_number": f"RD{refund.pk}-create-refund-1",
            "order_number": refund.order.external_number,
            "status": "success",
            "errors": [],
        }
        key = f"refund-create-result:{request_id}"
        deliveries.append(("POST", RESULT_PATH, json.dumps(body).encode(), key))
    return deliveries


def _wait_until_up(base: str) -> None:
    import urllib.request

    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/_bench/trivial", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start: see " + str(LOG_DIR / "gunicorn.log"))


def _start_worker():
    return start_worker(
        pool=WORKER_POOL,
        concurrency=WORKER_CONCURRENCY,
        log=LOG_DIR / "worker.log",
        extra=("--without-mingle", "--without-gossip"),
    )


def bench_webhooks(total: int = 5000, clients: int = 16, duplicates: float = 0.10) -> None:
    from django.db.models import Count

    from orders.models import MarketplaceAccount
    from refunds.delivery.models import WebhookEvent, WebhookState
    from refunds.models import Refund, RefundEvent

    account = MarketplaceAccount.objects.get(name="Bench hepsiglobal")
    run = int(time.time()) % 10**9
    unique_wanted = total - round(total * duplicates)
    deliveries = _deliveries(account, unique_wanted, run)
    unique = len(deliveries)
    if unique < unique_wanted:
        raise RuntimeError(
            f"only {unique} unused lines and refunds for {unique_wanted} deliveries: "
            "rebuild the data set (run dataset webhooks)"
        )
    keys = [d[3] for d in deliveries]
    rng = random.Random(3)
    burst = [d[:3] for d in deliveries]
    burst += rng.sample(burst, total - unique)
    rng.shuffle(burst)
    # HepsiGlobal signs nothing (integrations/hepsiglobal/DOCS.md): the bench account takes
    # basic auth set up at onboarding, one header like the signature it replaces.
    from integrations.hepsiglobal.webhooks import basic_authorization

    account.options = {**(account.options or {}), "webhook_auth": "basic"}
    account.save(update_fields=["options"])
    headers = {
        "Authorization": basic_authorization("hepsiglobal", account.webhook_secret),
        "Content-Type": "application/json",
    }

    LOG_DIR.mkdir(exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ["-c", "tests/benchmarks/gunicorn_conf.py", "--bind", f"127.0.0.1:{port}"]
    web = start_process(
        [sys.executable, "-m", "gunicorn", *args, "config.wsgi:application"],
        child_env(),
        LOG_DIR / "gunicorn.log",
    )
    purge_broker()
    # By default the worker starts after the burst: intake is measured like the trivial view,
    # without the worker's processing competing for the same 2 cores (the queue is the buffer).
    worker = _start_worker() if WORKER_DURING_BURST else None
    try:
        _wait_until_up(base)
        # Warm-up: every gunicorn thread opens its database connection on a webhook refused for
        # its credentials (401, nothing stored) and the trivial view's code is loaded.
        warm = [("POST", RESULT_PATH, b"{}")] * 400
        http_burst(base, warm, {**headers, "Authorization": "Bearer wrong"}, clients)

        def measured(items):
            worker_cpu = (lambda: session_cpu_seconds(worker.pid)) if worker else (lambda: 0.0)
            web0, worker0 = session_cpu_seconds(web.pid), worker_cpu()
            load0, (busy0, all0) = time.process_time(), machine_cpu_seconds()
            elapsed, latencies, codes = http_burst(base, items, headers, clients)
            busy1, all1 = machine_cpu_seconds()
            cpu = {
                "server": session_cpu_seconds(web.pid) - web0,
                "worker": worker_cpu() - worker0,
                "load": time.process_time() - load0,
                "busy": busy1 - busy0,
                "all": all1 - all0,
            }
            return elapsed, latencies, codes, cpu

        trivial = [("POST", "/_bench/trivial", b"{}")] * total
        el_t, lat_t, codes_t, cpu_t = measured(trivial)
        el, lat, codes, cpu = measured(burst)
        web_rss = session_peak_rss_mb(web.pid)
    except BaseException:
        if worker:
            stop_process(worker)
        raise
    finally:
        stop_process(web)
    ok = sum(1 for c in codes if c == 200)
    rate, trivial_rate = total / el, total / el_t
    record(
        "webhooks",
        f"{total} deliveries ({total - unique} duplicates), {clients} clients",
        f"{rate:.0f}",
        "req/s",
        f">= 50% of trivial view ({trivial_rate:.0f}/s)",
        rate >= 0.5 * trivial_rate and ok == total,
        f"{ok} answered 200 ({rate / trivial_rate:.0%} of trivial); trivial "
        f"{sum(1 for c in codes_t if c == 200)} answered 200",
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
    for label, c in (("webhooks", cpu), ("trivial", cpu_t)):
        record(
            "webhooks",
            f"CPU in the {label} burst: gunicorn / celery / load generator / machine",
            f"{c['server']:.1f} / {c['worker']:.1f} / {c['load']:.1f} / "
            f"{c['busy']:.1f} of {c['all']:.1f}",
            "s",
            note="machine: busy of available core-seconds (PostgreSQL, Redis, other work too)",
        )
    record(
        "webhooks",
        "web server CPU per delivery: webhook / trivial view",
        f"{cpu['server'] / total * 1000:.2f} / {cpu_t['server'] / total * 1000:.2f}",
        "ms",
        note="gunicorn's own CPU (not PostgreSQL's) over the burst, divided by its requests",
    )

    events = WebhookEvent.objects.filter(adapter_key="hepsiglobal", delivery_key__in=keys)
    drained = time.perf_counter()
    worker = worker or _start_worker()
    try:
        deadline = time.time() + DRAIN_SECONDS
        while time.time() < deadline and events.filter(state=WebhookState.RECEIVED).exists():
            time.sleep(0.5)
        drained = time.perf_counter() - drained
        worker_rss = session_peak_rss_mb(worker.pid)
    finally:
        stop_process(worker)
    record(
        "webhooks",
        "peak RSS: one web process / the worker draining the events",
        f"{web_rss:.0f} / {worker_rss:.0f}",
        "MiB",
        note="VmHWM of the largest gunicorn process after the bursts; of the celery worker",
    )
    stored = events.count()
    states = dict(events.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    processed = states.get(WebhookState.PROCESSED, 0)
    cancels = sum(1 for k in keys if k.startswith("order-cancel:"))
    cancel_refunds = Refund.objects.filter(
        order__account=account, external_id__in=[f"cancel-{k}" for k in keys]
    ).count()
    confirmed = RefundEvent.objects.filter(
        refund__external_request_id__in=[k.split(":", 1)[1] for k in keys if "result" in k],
        action="marketplace_confirmed",
    ).count()
    once = cancel_refunds == cancels and confirmed == unique - cancels
    record(
        "webhooks",
        "stored / processed events (unique deliveries)",
        f"{stored} / {processed}",
        "",
        str(unique),
        stored == unique and processed == unique and once,
        f"states {states}; {cancel_refunds} cancel refunds for {cancels} cancels, "
        f"{confirmed} confirmations for {unique - cancels} results; worker "
        f"{'during' if WORKER_DURING_BURST else 'after'} the burst, all processed "
        f"{drained:.1f} s after it ({unique / drained:.0f} events/s)",
    )
