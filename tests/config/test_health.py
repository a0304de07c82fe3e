"""/healthz, /readyz and /metrics' access rules (config/health.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import override_settings

from tests.fixtures.ports import free_port

ROOT = Path(__file__).resolve().parent.parent.parent

# Runs in a fresh process whose DATABASE_URL points at a port nothing listens on, so the test
# database of this process is never touched.
PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client()
out = {}
for path in ("/healthz", "/readyz"):
    response = client.get(path)
    out[path] = [response.status_code, response.content.decode()]
print(json.dumps(out))
"""


def _probe_with_database_down():
    environ = dict(os.environ)
    environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{free_port()}/rd_unreachable"
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_healthz_answers_and_readyz_refuses_while_the_database_is_unreachable():
    out = _probe_with_database_down()
    assert out["/healthz"] == [200, "ok\n"]
    status, body = out["/readyz"]
    assert status == 503
    checks = json.loads(body)["checks"]
    assert json.loads(body)["status"] == "not ready"
    assert checks["database"] == "failed: OperationalError"
    assert checks["migrations"] == "skipped: the database is unreachable"
    assert (checks["cache"], checks["broker"]) == ("ok", "ok")


@pytest.mark.django_db
def test_readyz_is_ready_with_everything_up_and_needs_no_sign_in(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "ok"},
    }
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz_refuses_while_a_migration_is_not_applied(client):
    # The recorder forgets the last refunds migration inside this test's transaction (rolled
    # back after it): to the probe, exactly as if the release step had not run `migrate` yet.
    leaf = next(node for node in MigrationLoader(None).graph.leaf_nodes() if node[0] == "refunds")
    MigrationRecorder.Migration.objects.filter(app=leaf[0], name=leaf[1]).delete()
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["migrations"] == f"failed: unapplied migrations: {leaf[0]}.{leaf[1]}"
    assert (checks["database"], checks["cache"], checks["broker"]) == ("ok", "ok", "ok")


@pytest.mark.django_db
def test_readyz_refuses_while_the_broker_is_unreachable(client):
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"] == "failed: OperationalError"
    assert (checks["database"], checks["migrations"], checks["cache"]) == ("ok", "ok", "ok")


@pytest.mark.django_db
def test_readyz_refuses_while_the_cache_is_unreachable(client):
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
        }
    }
    with override_settings(CACHES=caches):
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["cache"] == "failed: ConnectionError"
    assert (checks["database"], checks["migrations"], checks["broker"]) == ("ok", "ok", "ok")


@pytest.mark.django_db
def test_metrics_answers_404_when_no_token_is_configured(client):
    with override_settings(METRICS_TOKEN=""):
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token", "Basic s3cret-metrics", "Bearer", "Bearer s3cret-métrics"],
)
def test_metrics_refuses_a_missing_or_wrong_token_with_401(client, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    with override_settings(METRICS_TOKEN="s3cret-metrics"):
        response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"refund_desk" not in response.content


@pytest.mark.django_db
def test_metrics_serves_the_exposition_with_the_right_token(client):
    with override_settings(METRICS_TOKEN="s3cret-metrics"):
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    assert 'refund_desk_refunds{status="REQUESTED"} 0.0' in body
    assert "# TYPE refund_desk_outbox_actions gauge" in body


@pytest.mark.django_db
def test_metrics_refuses_an_address_outside_the_allow_list_even_with_the_token(client):
    with override_settings(METRICS_TOKEN="s3cret-metrics", METRICS_ALLOWED_NETWORKS=["10.0.0.0/8"]):
        refused = client.get(
            "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics", REMOTE_ADDR="192.0.2.7"
        )
        allowed = client.get(
            "/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics", REMOTE_ADDR="10.1.2.3"
        )
    assert refused.status_code == 403
    assert allowed.status_code == 200


PRODUCTION_PROBE = """
import json, django
django.setup()
from django.test import Client
client = Client()
print(json.dumps({path: client.get(path).status_code for path in ("/healthz", "/readyz", "/")}))
"""


def test_probes_over_plain_http_are_not_redirected_to_https_in_production():
    environ = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="testserver",
        CACHE_URL="redis://127.0.0.1:6379/11",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/rd_unreachable",
    )
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_PROBE],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # The database is unreachable: readiness says so itself instead of a redirect; any other
    # page still goes to https.
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "/healthz": 200,
        "/readyz": 503,
        "/": 301,
    }
