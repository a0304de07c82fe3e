"""`manage.py rundemo` on free ports: everything starts, the admin answers, one SIGINT stops
every process it started."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.fixtures.ports import free_port

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.slow
def test_rundemo_starts_everything_and_one_sigint_stops_it(tmp_path):
    web_port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_BROKER_DIR": str(tmp_path / "broker"),
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, timeout=120)
    log = tmp_path / "rundemo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [
                *manage,
                "rundemo",
                "--no-seed",
                "--web-port",
                str(web_port),
                "--sandbox-port",
                str(sandbox_port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while "Refund Desk on" not in log.read_text() and time.monotonic() < deadline:
            assert demo.poll() is None, log.read_text()
            time.sleep(0.5)
        text = log.read_text()
        assert f"Refund Desk on http://127.0.0.1:{web_port}/" in text
        response = requests.get(f"http://127.0.0.1:{web_port}/admin/login/", timeout=10)
        assert response.status_code == 200
        assert "Log in" in response.text
        health = requests.get(f"http://127.0.0.1:{sandbox_port}/_control/health", timeout=10)
        assert health.json()["simulators"] == ["hepsiglobal", "llzw", "noventiq", "shoplazza"]
        pids = {
            name: int(pid)
            for name, pid in re.findall(r"^ *(\w+) \| started \(pid (\d+)\)$", text, re.MULTILINE)
        }
        assert sorted(pids) == ["beat", "sandbox", "web", "worker"]
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=30)
    text = log.read_text()
    assert "stopping" in text
    assert text.rstrip().endswith("demo | stopped")
    assert "Traceback" not in text
    assert [name for name, pid in pids.items() if _alive(pid)] == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{web_port}/admin/login/", timeout=5)
