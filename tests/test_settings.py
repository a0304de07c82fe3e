"""Settings: production passes `check --deploy`; the SQLite default is safe to share."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from config.settings.base import database_from_url, env_bool, env_list

ROOT = Path(__file__).resolve().parent.parent


def _production_env(**env) -> dict:
    """This process's environment without what the production settings read, plus `env`."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {
            "SECRET_KEY",
            "ALLOWED_HOSTS",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
            "DB_CONN_MAX_AGE",
            "CACHE_URL",
            "LOG_FORMAT",
            "SENTRY_DSN",
            "SENTRY_ENVIRONMENT",
            "SENTRY_RELEASE",
            "DISABLE_SERVER_SIDE_CURSORS",
        }
    }
    environ["CACHE_URL"] = "redis://127.0.0.1:6379/12"
    environ.update(env)
    environ["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    return environ


def _check_deploy(**env):
    environ = _production_env(**env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_passes_check_deploy_with_no_warnings():
    result = _check_deploy(
        SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="refunds.example.com"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_production_warns_about_a_weak_secret_key():
    result = _check_deploy(SECRET_KEY="short", ALLOWED_HOSTS="refunds.example.com")
    assert result.returncode == 1
    assert "security.W009" in result.stderr


def test_production_refuses_to_start_without_a_secret_key():
    result = _check_deploy(SECRET_KEY="", ALLOWED_HOSTS="refunds.example.com")
    assert result.returncode == 1
    assert "RuntimeError: SECRET_KEY must be set in production" in result.stderr


def test_production_refuses_to_start_without_a_shared_cache():
    result = _check_deploy(
        SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="refunds.example.com", CACHE_URL=""
    )
    assert result.returncode == 1
    assert (
        "RuntimeError: CACHE_URL must be set in production (a shared cache, e.g. redis://...)"
        in result.stderr
    )


def _production_python(code: str, **env) -> str:
    """What `code` prints after django.setup() under the production settings."""
    environ = _production_env(
        SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="refunds.example.com", **env
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_uses_the_shared_redis_cache():
    code = (
        "from django.conf import settings; c = settings.CACHES['default']; "
        "print(c['BACKEND'], c['LOCATION'])"
    )
    assert _production_python(code, CACHE_URL="redis://cache.internal:6379/1") == (
        "django.core.cache.backends.redis.RedisCache redis://cache.internal:6379/1"
    )


def test_production_logs_json_by_default_and_plain_when_told():
    code = (
        "from django.conf import settings; "
        "print(settings.LOGGING['handlers']['console']['formatter'])"
    )
    assert _production_python(code) == "json"
    assert _production_python(code, LOG_FORMAT="plain") == "plain"


def test_sentry_is_not_initialised_without_a_dsn():
    code = "import sentry_sdk; print(sentry_sdk.get_client().is_active())"
    assert _production_python(code) == "False"


def test_sentry_is_initialised_with_a_dsn_without_personal_data():
    code = (
        "import sentry_sdk; c = sentry_sdk.get_client(); o = c.options; "
        "print(c.is_active(), o['dsn'], o['environment'], o['release'], "
        "o['send_default_pii'], sorted({'celery', 'django'} & set(c.integrations)))"
    )
    assert (
        _production_python(
            code,
            SENTRY_DSN="https://public@sentry.invalid/1",
            SENTRY_ENVIRONMENT="staging",
            SENTRY_RELEASE="rd-1.2.3",
        )
        == "True https://public@sentry.invalid/1 staging rd-1.2.3 False ['celery', 'django']"
    )


def test_pgbouncer_mode_disables_server_side_cursors_and_prepared_statements(monkeypatch):
    default = database_from_url("postgres://u@h/db")
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is False
    assert "prepare_threshold" not in default.get("OPTIONS", {})
    monkeypatch.setenv("DISABLE_SERVER_SIDE_CURSORS", "true")
    config = database_from_url("postgres://u@pgbouncer.internal:6432/db")
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config["OPTIONS"] == {"prepare_threshold": None}
    code = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['DISABLE_SERVER_SIDE_CURSORS'], d['OPTIONS'])"
    )
    assert _production_python(
        code,
        DATABASE_URL="postgres://u@pgbouncer.internal:6432/db",
        DISABLE_SERVER_SIDE_CURSORS="1",
    ) == ("True {'prepare_threshold': None}")


def test_production_warns_without_allowed_hosts():
    result = _check_deploy(SECRET_KEY=secrets.token_urlsafe(60))
    assert result.returncode == 1
    assert "security.W020" in result.stderr


def test_sqlite_default_uses_wal_immediate_transactions_and_a_busy_timeout():
    config = database_from_url("sqlite:////tmp/refund-desk.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == "/tmp/refund-desk.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert config["OPTIONS"]["timeout"] == 30
    assert "PRAGMA journal_mode=WAL;" in config["OPTIONS"]["init_command"]
    assert "PRAGMA busy_timeout=30000;" in config["OPTIONS"]["init_command"]


def test_postgres_url_is_parsed_without_sqlite_options():
    config = database_from_url("postgres://rd:pw@db.internal:5433/refunds")
    assert (config["ENGINE"], config["HOST"], config["PORT"], config["NAME"]) == (
        "django.db.backends.postgresql",
        "db.internal",
        5433,
        "refunds",
    )
    assert config["USER"] == "rd"
    assert "OPTIONS" not in config or "transaction_mode" not in config["OPTIONS"]


def test_env_helpers(monkeypatch):
    monkeypatch.setenv("RD_FLAG", " Yes ")
    monkeypatch.setenv("RD_LIST", "a.example.com, b.example.com,,")
    assert env_bool("RD_FLAG") is True
    assert env_bool("RD_MISSING", True) is True
    monkeypatch.setenv("RD_FLAG", "0")
    assert env_bool("RD_FLAG", True) is False
    assert env_list("RD_LIST") == ["a.example.com", "b.example.com"]


def test_production_keeps_database_connections_unless_told_otherwise():
    code = (
        "from django.conf import settings; "
        "d = settings.DATABASES['default']; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )

    def read(**env):
        environ = _production_env(
            SECRET_KEY=secrets.token_urlsafe(60), ALLOWED_HOSTS="refunds.example.com", **env
        )
        result = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.split()

    assert read() == ["60", "True"]
    assert read(DB_CONN_MAX_AGE="0") == ["0", "True"]
    assert database_from_url("postgres://u@h/db")["CONN_MAX_AGE"] == 0  # elsewhere: opt-in


def test_a_trusted_proxy_that_is_not_an_address_stops_the_start():
    result = _check_deploy(
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="refunds.example.com",
        TRUSTED_PROXIES="10.0.0.0/8, proxy.internal",
    )
    assert result.returncode == 1
    assert (
        "RuntimeError: TRUSTED_PROXIES: 'proxy.internal' is not an IP address or network"
        in result.stderr
    )


def test_trusted_proxies_are_read_from_the_environment():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from config.settings import base; print(base.TRUSTED_PROXIES)",
        ],
        cwd=ROOT,
        env={**_production_env(), "TRUSTED_PROXIES": "10.0.0.1, 2001:db8::/32"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['10.0.0.1', '2001:db8::/32']"


def test_every_page_gets_a_content_security_policy_without_inline_code(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    directives = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert directives == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
