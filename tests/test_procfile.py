"""The Procfile's processes: they name modules that exist, every queue has its worker, one beat,
and the web's gunicorn settings come from the environment."""

import json
import os
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

from config.celery import app
from refunds.delivery.routing import all_queues

ROOT = Path(__file__).resolve().parent.parent


def _processes() -> dict[str, list[str]]:
    processes = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        assert name not in processes, f"{name} twice"
        processes[name] = shlex.split(command)
    return processes


def _option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_the_procfile_has_release_web_beat_and_one_worker_per_queue():
    processes = _processes()
    assert processes["release"] == ["python", "manage.py", "migrate", "--noinput"]
    assert processes["web"] == ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
    assert processes["beat"][:4] == ["celery", "-A", "config", "beat"]
    workers = {name: argv for name, argv in processes.items() if name.startswith("worker")}
    assert set(processes) == {"release", "web", "beat", *workers}
    consumed = []
    for argv in workers.values():
        assert argv[:4] == ["celery", "-A", "config", "worker"]
        assert "-B" not in argv  # one beat only, its own process
        consumed += _option(argv, "-Q").split(",")
    # Each queue exactly once, and only queues the app declares.
    assert sorted(consumed) == sorted(all_queues())
    assert sorted(consumed) == sorted(app.amqp.queues)
    node_names = [_option(argv, "-n") for argv in workers.values()]
    assert len(set(node_names)) == len(node_names)


def test_gunicorn_accepts_the_web_command_and_loads_the_app():
    argv = _processes()["web"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    bin_dir = Path(sys.executable).parent
    checked = subprocess.run(  # our own Procfile's command
        [str(bin_dir / argv[0]), "--check-config", *argv[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    broken = subprocess.run(  # the same, naming a module that does not exist
        [str(bin_dir / argv[0]), "--check-config", *argv[1:-1], "config.no_such_wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert broken.returncode == 1


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "5")
    monkeypatch.setenv("GUNICORN_GRACEFUL_TIMEOUT", "45")
    config = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert config["bind"] == "0.0.0.0:8123"
    assert config["workers"] == 3
    assert config["threads"] == 5
    assert config["worker_class"] == "gthread"
    assert config["graceful_timeout"] == 45
    assert config["preload_app"] is False


def test_the_access_log_line_is_json_with_the_request_id():
    config = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    atoms = {
        "t": "[02/Dec/2026:00:10:00 +0000]",
        "h": "10.0.0.7",
        "m": "POST",
        "U": "/webhooks/llzw/",
        "q": "a=1",
        "s": 202,
        "B": 17,
        "M": 12,
        "{x-request-id}o": "0af7651916cd43dd8448eb211c80319c",
        "f": "-",
        "a": "curl/8.5",
    }
    assert json.loads(config["access_log_format"] % atoms) == {
        "time": "[02/Dec/2026:00:10:00 +0000]",
        "remote": "10.0.0.7",
        "method": "POST",
        "path": "/webhooks/llzw/",
        "query": "a=1",
        "status": 202,
        "bytes": "17",
        "duration_ms": 12,
        "request_id": "0af7651916cd43dd8448eb211c80319c",
        "referer": "-",
        "user_agent": "curl/8.5",
    }
