"""`make bench`: Refund Desk at scale on this machine, measured side by side with its limits.

Runs against its own PostgreSQL database (refunddesk_bench, recreated each run) and Redis db 14,
prints a table and rewrites the figures section of BENCHMARKS.md. Not part of `make test`.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
import psycopg  # noqa: E402

RESULTS: list[dict] = []


def record(
    section: str, name: str, value, unit: str = "", target: str = "", met=None, note: str = ""
) -> None:
    RESULTS.append(
        {
            "section": section,
            "name": name,
            "value": value,
            "unit": unit,
            "target": target,
            "met": met,
            "note": note,
        }
    )
    flag = "" if met is None else ("  OK" if met else "  MISSED")
    print(
        f"[{section}] {name}: {value} {unit} {('target ' + target) if target else ''}{flag}",
        flush=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def recreate_database() -> None:
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')


# --- 1. data set -----------------------------------------------------------------------------


def bench_dataset() -> None:
    from django.core.management import call_command

    from tests.benchmarks.dataset import build

    call_command("migrate", verbosity=0)
    info = build()
    record(
        "dataset",
        "100,000 orders / 300,000 lines / 100,000 refunds built (COPY)",
        round(info["seconds"], 1),
        "s",
    )


# --- 2. lists --------------------------------------------------------------------------------


def bench_lists() -> None:
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from orders.models import Order

    user, _ = User.objects.get_or_create(
        username="bench-manager@example.com", defaults={"is_staff": True, "is_superuser": False}
    )
    user.groups.add(Group.objects.get(name="Refund manager"))
    client = Client()
    client.force_login(user)
    sample = Order.objects.select_related("customer").order_by("id")[500]
    number, email = sample.external_number, sample.customer.email

    raw_base = (
        "SELECT r.id, r.status, r.total, r.currency, r.created_at, o.external_number, "
        "a.name, c.email FROM refunds_refund r JOIN orders_order o ON o.id = r.order_id "
        "JOIN orders_marketplaceaccount a ON a.id = o.account_id "
        "JOIN orders_customer c ON c.id = o.customer_id {where} "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT 50"
    )
    variants = {
        "unfiltered": ("", {}, ""),
        "status=WAITING": ("WHERE r.status = %(s)s", {"s": "WAITING"}, "status=WAITING"),
        "search order number": ("WHERE o.external_number = %(q)s", {"q": number}, f"q={number}"),
        "search e-mail": ("WHERE c.email = %(q)s", {"q": email}, f"q={email}"),
    }
    endpoints = {
        "staff queue": "/staff/refunds/?{qs}&page_size=50",
        "API list": "/api/v2/refunds?size=50&{qs}",
        "admin changelist": "/admin/refunds/refund/?{qs}",
    }
    api_qs = {
        "unfiltered": "",
        "status=WAITING": "status=WAITING",
        "search order number": f"orderNumber={number}",
        "search e-mail": f"customerEmail={email}",
    }
    admin_qs = {
        "unfiltered": "",
        "status=WAITING": "status__exact=WAITING",
        "search order number": f"q={number}",
        "search e-mail": f"q={email}",
    }
    for variant, (where, params, qs) in variants.items():
        raw_times = []
        sql = raw_base.format(where=where)
        with connection.cursor() as cursor:
            for _ in range(25):
                t0 = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                raw_times.append(time.perf_counter() - t0)
        raw_median = statistics.median(raw_times)
        for endpoint, pattern in endpoints.items():
            query = {"API list": api_qs, "admin changelist": admin_qs}.get(endpoint, {}).get(
                variant, qs
            )
            url = pattern.format(qs=query)
            times, queries, status = [], set(), None
            for i in range(25):
                with CaptureQueriesContext(connection) as ctx:
                    t0 = time.perf_counter()
                    response = client.get(url)
                    elapsed = time.perf_counter() - t0
                status = response.status_code
                if i >= 3:
                    times.append(elapsed)
                    queries.add(len(ctx.captured_queries))
            med, p95 = statistics.median(times) * 1000, pct(times, 0.95) * 1000
            ratio = med / (raw_median * 1000)
            label = f"{endpoint}, {variant}"
            if status != 200:
                record("lists", label, f"HTTP {status}", "", "200", False, url)
                continue
            record(
                "lists",
                f"{label}: median / p95",
                f"{med:.1f} / {p95:.1f}",
                "ms",
                "p95 < 100 ms",
                p95 < 100,
            )
            record(
                "lists",
                f"{label}: SQL queries per request",
                "/".join(map(str, sorted(queries))),
                "",
                "constant",
                len(queries) == 1,
            )
            record(
                "lists",
                f"{label}: ratio to raw SQL ({raw_median * 1000:.2f} ms)",
                f"{ratio:.1f}",
                "x",
                "< 3",
                ratio < 3,
            )


# --- helpers for the live parts ----------------------------------------------------------------


def start_process(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def child_env(**extra) -> dict:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.bench",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{settings.DATABASES['default']['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def purge_broker() -> None:
    from config.celery import app

    app.control.purge()


def bench_users():
    from django.contrib.auth.models import Group, User

    users = []
    for name in ("bench-agent@example.com", "bench-requester@example.com"):
        user, _ = User.objects.get_or_create(username=name, defaults={"is_staff": True})
        user.groups.add(Group.objects.get(name="Refund agent"))
        users.append(user)
    return users


# --- 3. delivery throughput ------------------------------------------------------------------


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


# --- 4. webhook intake -----------------------------------------------------------------------


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


# --- 5. contention ---------------------------------------------------------------------------


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


# --- report ----------------------------------------------------------------------------------


def write_report(started: float) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    begin, end = "<!-- figures:begin -->", "<!-- figures:end -->"
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    rows = ["| section | figure | value | target | met | note |", "|---|---|---|---|---|---|"]
    for r in RESULTS:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        rows.append(
            f"| {r['section']} | {r['name']} | {r['value']} {r['unit']} | {r['target']} "
            f"| {met} | {r['note']} |"
        )
    block = "\n".join(
        [
            begin,
            f"Measured by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
            f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, "
            f"run time {time.perf_counter() - started:.0f} s.",
            "",
            *rows,
            end,
        ]
    )
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
    (ROOT / "tests" / "benchmarks" / "results.json").write_text(json.dumps(RESULTS, indent=1))


def main() -> None:
    started = time.perf_counter()
    django.setup()
    recreate_database()
    parts = sys.argv[1:] or ["dataset", "lists", "delivery", "webhooks", "contention"]
    for part in parts:
        try:
            globals()[f"bench_{part}"]()
        except Exception as exc:  # a failed part is reported, the others still run
            record(part, "FAILED", f"{type(exc).__name__}: {exc}"[:300], "", "", False)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    write_report(started)


if __name__ == "__main__":
    main()
