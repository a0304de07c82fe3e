"""The delivery path on SQLite, as `make run` runs it (the suite's other tests use PostgreSQL):
`manage.py rundemo` with its demo data, its worker on the filesystem broker and the sandboxes,
until the outbox has delivered refunds and the webhooks that answer them were processed. The
SQLite branch of the outbox and the intake's statement once broke every delivery unnoticed."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.ports import free_port

ROOT = Path(__file__).resolve().parents[3]


def _counts(db: Path) -> dict:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute(
            "SELECT"
            " (SELECT COUNT(*) FROM integrations_outboundaction WHERE state = 'succeeded'),"
            " (SELECT COUNT(*) FROM integrations_outboundattempt WHERE outcome = 'crashed'),"
            " (SELECT COUNT(*) FROM integrations_webhookevent WHERE state = 'processed'),"
            " (SELECT COUNT(*) FROM refunds_refundevent"
            "   WHERE action = 'marketplace_confirmed' AND actor_id IS NULL)"
        ).fetchone()
    return dict(zip(("succeeded", "crashed", "webhooks", "confirmed"), rows, strict=True))


@pytest.mark.slow
def test_make_run_delivers_refunds_on_sqlite(tmp_path):
    db = tmp_path / "demo.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{db}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
        "OUTBOX_SWEEP_INTERVAL": "1",
        "POLL_INTERVAL": "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, timeout=120)
    log = tmp_path / "rundemo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [
                *manage,
                "rundemo",
                "--web-port",
                str(free_port()),
                "--sandbox-port",
                str(free_port()),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 150
        counts = {}
        while time.monotonic() < deadline:
            assert demo.poll() is None, log.read_text()[-3000:]
            if db.exists():
                counts = _counts(db)
                if counts["succeeded"] >= 3 and counts["webhooks"] >= 1 and counts["confirmed"]:
                    break
            time.sleep(1)
        assert counts["succeeded"] >= 3, (counts, log.read_text()[-3000:])
        assert counts["webhooks"] >= 1, counts
        assert counts["confirmed"] >= 1, counts  # a marketplace confirmed a refund we sent
        assert counts["crashed"] == 0, log.read_text()[-3000:]
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
    assert "Traceback" not in log.read_text()
