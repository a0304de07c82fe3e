"""Shared helpers for the benchmark parts: recording figures, ports, percentiles, child
processes running against the benchmark database and broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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
        f"[{section}] {name}: {value} {unit} {('target ' + target) if target else ''}{flag}"
        + (f"  ({note})" if note else ""),
        flush=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


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


def start_worker(*, pool: str, concurrency: int | str, log: Path, extra=()) -> subprocess.Popen:
    """A Celery worker on the benchmark database and broker, its output in `log`."""
    args = [sys.executable, "-m", "celery", "-A", "config", "worker"]
    args += ["--pool", pool, "--concurrency", str(concurrency), "--loglevel", "WARNING", *extra]
    return start_process(args, child_env(), log)


def child_env(**extra) -> dict:
    from django.conf import settings

    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.benchmarks.settings",
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


# --- load generation and CPU accounting (the webhook part) -------------------------------------


def http_burst(
    base: str, items: list[tuple[str, str, bytes]], headers: dict, clients: int
) -> tuple[float, list[float], list[int]]:
    """Send every (method, path, body) over `clients` keep-alive connections (one thread each,
    plain http.client: requests costs several times the CPU per call and the load generator
    shares the cores with the server). Returns the elapsed seconds, the latencies and codes."""
    import http.client
    import threading
    import time
    from urllib.parse import urlsplit

    host, port = urlsplit(base).hostname, urlsplit(base).port
    latencies: list[float] = []
    codes: list[int] = []
    start = threading.Barrier(clients + 1)

    def client(share):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine_lat, mine_codes = [], []
        start.wait()
        for method, path, body in share:
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                status = 0
            mine_lat.append(time.perf_counter() - t0)
            mine_codes.append(status)
        conn.close()
        latencies.extend(mine_lat)
        codes.extend(mine_codes)

    threads = [
        threading.Thread(target=client, args=(items[i::clients],), daemon=True)
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, latencies, codes


def _session_processes(session_id: int):
    """(the /proc entry, its stat fields after the command) of each live process of a session."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id:  # fields[3] is the session id (field 6 of stat)
            yield entry, fields


def session_cpu_seconds(session_id: int) -> float:
    """User + system CPU seconds of the live processes of one session (a child started by
    start_process leads its own session: gunicorn's master and workers, celery's worker)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = sum(int(f[11]) + int(f[12]) for _e, f in _session_processes(session_id))  # utime+stime
    return total / ticks


def session_peak_rss_mb(session_id: int) -> float:
    """The largest peak resident set (VmHWM) of one live process of a session, in MiB: for
    gunicorn one web process (its master or a worker), for celery the worker."""
    peak = 0
    for entry, _fields in _session_processes(session_id):
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))  # kB
    return peak / 1024


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident set (VmHWM) of one process, in MiB (this one by default)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores, from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]  # not guest time
    values = [int(v) for v in fields]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = values[3] + values[4]
    return (sum(values) - idle) / ticks, sum(values) / ticks
