"""`manage.py rundemo`: what `make run` runs after migrate.

Starts the marketplace sandboxes, seeds the demo data (loading the orders into the sandboxes),
then the web server, a Celery worker and Celery beat. Each process runs in its own process group
and its output is prefixed with its name; one Ctrl-C (or SIGTERM) stops them all: terminated
first, killed if they do not stop. If one process dies, the others are stopped too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from refunds.delivery.routing import all_queues

STOP_GRACE_SECONDS = 8


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


class Command(BaseCommand):
    help = "Run the demo: sandboxes, seed data, web server, Celery worker and beat. Ctrl-C stops."

    def add_arguments(self, parser):
        parser.add_argument("--web-port", type=int, default=8000)
        parser.add_argument("--sandbox-port", type=int, default=8001)
        parser.add_argument("--no-seed", action="store_true", help="Skip seed_demo.")

    def handle(self, *args, web_port: int, sandbox_port: int, no_seed: bool, **options):
        self._lock = threading.Lock()
        self._stopping = False
        self.children: list[Child] = []
        web_url = f"http://127.0.0.1:{web_port}"
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        broker_dir = Path(settings.CELERY_BROKER_DIR)
        broker_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
            "SANDBOX_URL": sandbox_url,
            "REFUND_DESK_BASE_URL": web_url,
            "PYTHONUNBUFFERED": "1",
        }
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        celery = [sys.executable, "-m", "celery", "-A", "config"]

        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self._start(
                Child(
                    "sandbox",
                    [*manage, "runsandbox", "--port", str(sandbox_port), "--callback-url", web_url],
                )
            )
            self._wait_for(f"{sandbox_url}/_control/health", "sandbox")
            if not no_seed:
                self._say("seed", "seeding the demo data...")
                seed = subprocess.run(  # noqa: S603 - our own manage.py
                    [*manage, "seed_demo"],
                    env=self.env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                for line in (seed.stdout + seed.stderr).splitlines():
                    self._say("seed", line)
                if seed.returncode:
                    raise CommandError("seed_demo failed; see its output above")
            self._start(Child("web", [*manage, "runserver", f"127.0.0.1:{web_port}", "--noreload"]))
            self._start(
                Child(
                    "worker",
                    [
                        *celery,
                        "worker",
                        "--loglevel",
                        "INFO",
                        "--pool",
                        "solo",
                        "--without-gossip",
                        "--without-mingle",
                        # one worker for the demo: every queue (production runs one per queue)
                        "-Q",
                        ",".join(all_queues()),
                    ],
                )
            )
            self._start(
                Child(
                    "beat",
                    [
                        *celery,
                        "beat",
                        "--loglevel",
                        "INFO",
                        "--schedule",
                        str(broker_dir / "celerybeat-schedule"),
                    ],
                )
            )
            self._wait_for(f"{web_url}/admin/login/", "web")
            self._say(
                "demo",
                f"Refund Desk on {web_url}/ (admin: {web_url}/admin/), "
                f"sandboxes on {sandbox_url}/. Log in as manager@example.com "
                "/ refund-desk-demo. Ctrl-C stops everything.",
            )
            self._supervise()
        except KeyboardInterrupt:
            pass
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    # --- processes --------------------------------------------------------------------------

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(  # noqa: S603 - fixed argv
            child.argv,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        child.reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.reader.start()
        self.children.append(child)
        self._say(child.name, f"started (pid {child.process.pid})")

    def _pump(self, child: Child) -> None:
        for line in child.process.stdout:
            self._say(child.name, line.rstrip("\n"))

    def _say(self, name: str, line: str) -> None:
        with self._lock:
            self.stdout.write(f"{name:>8} | {line}")
            self.stdout.flush()

    def _wait_for(self, url: str, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            try:
                if requests.get(url, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise CommandError(f"{name} did not answer at {url} within {timeout:.0f} s")

    def _check_children(self) -> None:
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise CommandError(f"{child.name} exited with code {code}; stopping the demo")

    def _supervise(self) -> None:
        while True:
            self._check_children()
            time.sleep(0.5)

    def _on_signal(self, signum, frame) -> None:
        raise KeyboardInterrupt

    def _stop_all(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        # A second Ctrl-C (or the same one reaching us twice through make) must not cut the
        # shutdown short and leave children behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        running = [c for c in self.children if c.process.poll() is None]
        if running:
            self._say("demo", "stopping " + ", ".join(c.name for c in running) + "...")
        for child in running:
            _signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self._say(child.name, "did not stop in time; killing it")
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait(timeout=5)
        for child in self.children:
            # The group may still hold grandchildren (e.g. worker pool processes).
            _signal_group(child.process, signal.SIGKILL)
            if child.reader is not None:
                child.reader.join(timeout=2)
        self._say("demo", "stopped")


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
