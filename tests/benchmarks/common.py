"""Shared helpers for the benchmark parts: recording figures, ports, percentiles, child
processes running against the benchmark database and broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
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
