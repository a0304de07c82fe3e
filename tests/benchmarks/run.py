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
    info = build()
    record(
        "dataset",
        "100,000 orders / 300,000 lines / 100,000 refunds built (COPY)",
        round(info["seconds"], 1),
        "s",
    )


def run_part(name: str) -> None:
    if name == "dataset":
        bench_dataset()
        return
    module = __import__(f"tests.benchmarks.{name}", fromlist=["run"])
    getattr(module, f"bench_{name}")()


def write_report(started: float) -> None:
    from tests.benchmarks.common import RESULTS

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
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if parts == PARTS:  # only a full run rewrites the recorded figures
        write_report(started)


if __name__ == "__main__":
    main()
