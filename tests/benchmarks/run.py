"""`make bench`: Refund Desk at scale on this machine, measured side by side with its limits.

Runs against its own PostgreSQL database (refunddesk_bench, recreated when the data set is built)
and Redis db 14, prints a table and rewrites the figures section of BENCHMARKS.md. Not part of
`make test`. `python -m tests.benchmarks.run lists webhooks` runs some parts on the data set the
last full run left behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.benchmarks.settings")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
import psycopg  # noqa: E402

PARTS = ["dataset", "lists", "delivery", "webhooks", "contention"]
GROWTH_LIMIT = 1.5  # issue 17: each list's p95 at 1,000,000 within 1.5x of its 100,000 figure


def scale() -> int:
    """BENCH_SCALE orders and refunds (make bench: 1,000,000; make bench-quick: 100,000)."""
    return int(os.environ.get("BENCH_SCALE", "1000000"))


def scale_label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k"


def results_path(n: int) -> Path:
    return ROOT / "tests" / "benchmarks" / f"results-{scale_label(n)}.json"


def recreate_database() -> None:
    from django.conf import settings

    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')


def bench_dataset() -> None:
    from django.core.management import call_command

    from tests.benchmarks.common import record
    from tests.benchmarks.dataset import build

    call_command("migrate", verbosity=0)
    info = build(scale=scale())
    record(
        "dataset",
        f"{info['orders']:,} orders / {info['lines']:,} lines / {info['refunds']:,} refunds "
        "built (COPY)",
        round(info["seconds"], 1),
        "s",
    )


def run_part(name: str) -> None:
    if name == "dataset":
        bench_dataset()
        return
    module = __import__(f"tests.benchmarks.{name}", fromlist=["run"])
    getattr(module, f"bench_{name}")()


def report_growth() -> None:
    """Each list's p95 beside the same figure at the other scale's last recorded run."""
    from tests.benchmarks.common import RESULTS, record

    small, large = 100_000, 1_000_000
    here = scale()
    other = large if here == small else small
    if here not in (small, large) or not results_path(other).exists():
        return
    stored = json.loads(results_path(other).read_text())
    current = list(RESULTS)
    by_scale = {here: current, other: stored}
    p95 = {
        n: {
            r["name"]: float(str(r["value"]).split("/")[1])
            for r in rows
            if r["section"] == "lists" and r["name"].endswith("median / p95")
        }
        for n, rows in by_scale.items()
    }
    for name, at_small in p95[small].items():
        at_large = p95[large].get(name)
        if at_large is None:
            continue
        growth = at_large / at_small if at_small else float("inf")
        peer = name.startswith("stock admin")
        record(
            "growth",
            f"{name.removesuffix(': median / p95')}: p95 100k -> 1M",
            f"{growth:.2f}",
            "x",
            "" if peer else f"within {GROWTH_LIMIT}x",
            None if peer else growth <= GROWTH_LIMIT,
            f"p95 {at_small:.1f} ms at 100k, {at_large:.1f} ms at 1M; the "
            f"{scale_label(other)} figure from {results_path(other).name}"
            + ("" if peer or growth <= GROWTH_LIMIT else "; grows with the rows it scans or skips"),
        )


def write_report(started: float) -> None:
    from tests.benchmarks.common import RESULTS

    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    tag = "figures" if scale() == 1_000_000 else f"figures-{scale_label(scale())}"
    begin, end = f"<!-- {tag}:begin -->", f"<!-- {tag}:end -->"
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
            f"Measured by `{'make bench' if scale() == 1_000_000 else 'make bench-quick'}` "
            f"(BENCH_SCALE={scale():,}) on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
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
    results_path(scale()).write_text(json.dumps(RESULTS, indent=1))


def main() -> None:
    from tests.benchmarks.common import record

    started = time.perf_counter()
    django.setup()
    parts = sys.argv[1:] or PARTS
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        sys.exit(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if "dataset" in parts:
        recreate_database()
    for part in parts:
        try:
            run_part(part)
        except Exception as exc:  # a failed part is reported, the others still run
            record(part, "FAILED", f"{type(exc).__name__}: {exc}"[:300], "", "", False)
    if "lists" in parts:
        report_growth()
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if parts == PARTS:  # only a full run rewrites the recorded figures
        write_report(started)


if __name__ == "__main__":
    main()
