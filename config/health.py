"""Probes for a process manager or load balancer, and the Prometheus scrape endpoint.

/healthz  liveness: the process answers. Touches nothing else, so a database outage never makes
          an orchestrator restart every web process.
/readyz   readiness: the database answers, every migration this code knows is applied, the
          cache stores and reads a value and the broker accepts a connection. 200 when all hold,
          503 naming the check that failed otherwise (JSON: {"checks": {"database": "ok", ...}};
          a failure shows the error's type, its message is logged).
/metrics  Prometheus text exposition (refunds/metrics.py), only with METRICS_TOKEN as a bearer
          token (404 when no token is configured) and, if METRICS_ALLOWED_NETWORKS is set, from
          an address inside it (refunds/client_address.py).

None of them needs a session or a sign-in; none writes to the database.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import uuid
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu import Connection

from refunds.client_address import client_address

logger = logging.getLogger(__name__)

BROKER_TIMEOUT = 2.0  # seconds; a probe must answer well within the orchestrator's timeout


@require_GET
@never_cache
def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")


class UnappliedMigrations(Exception):
    pass


@lru_cache(maxsize=1)
def _migration_targets() -> tuple[tuple[tuple[str, str], tuple[tuple[str, str], ...]], ...]:
    """The leaf migrations of this code (read from disk once per process: the code does not
    change under a running process), each with the migrations it replaces if it is a squash."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    targets = []
    for node in loader.graph.leaf_nodes():
        replaced = loader.replacements.get(node)
        targets.append((node, tuple(replaced.replaces) if replaced else ()))
    return tuple(targets)


def _check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_migrations() -> None:
    """One query: every leaf migration (or everything a leaf squash replaces) is recorded."""
    applied = set(MigrationRecorder(connections["default"]).applied_migrations())
    missing = [
        f"{app}.{name}"
        for (app, name), replaces in _migration_targets()
        if (app, name) not in applied and not (replaces and set(replaces) <= applied)
    ]
    if missing:
        raise UnappliedMigrations("unapplied migrations: " + ", ".join(sorted(missing)))


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    try:
        if cache.get(key) != "1":
            raise RuntimeError("the cache did not return the value just stored")
    finally:
        cache.delete(key)


def _check_broker() -> None:
    from config.celery import app

    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=BROKER_TIMEOUT,
        transport_options=dict(app.conf.broker_transport_options or {}),
    ) as connection:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT
        )
        connection.default_channel  # noqa: B018 - opening a channel talks to the broker (Redis pings)


def _describe(name: str, error: Exception) -> str:
    """What the probe answers: the error's type only (the endpoint is public; a message may
    name hosts or databases), the migrations' names; the whole message goes to the log."""
    logger.warning("readyz: %s check failed: %s", name, error)
    if isinstance(error, UnappliedMigrations):
        return f"failed: {error}"
    return f"failed: {type(error).__name__}"


@require_GET
@never_cache
def readyz(request):
    results: dict[str, str] = {}
    for name, check in (
        ("database", _check_database),
        ("migrations", _check_migrations),
        ("cache", _check_cache),
        ("broker", _check_broker),
    ):
        if name == "migrations" and results["database"] != "ok":
            results[name] = "skipped: the database is unreachable"
            continue
        try:
            check()
        except Exception as error:  # any failure is "not ready", never a 500
            results[name] = _describe(name, error)
        else:
            results[name] = "ok"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": results},
        status=200 if ready else 503,
    )


def _address_allowed(request) -> bool:
    networks = [
        ipaddress.ip_network(entry, strict=False) for entry in settings.METRICS_ALLOWED_NETWORKS
    ]
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in network for network in networks)


@require_GET
@never_cache
def metrics(request):
    from refunds.metrics import exposition

    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are not enabled (set METRICS_TOKEN).")
    if not _address_allowed(request):
        return HttpResponse(
            "Metrics are not served to this address.\n", status=403, content_type="text/plain"
        )
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        response = HttpResponse(
            "Send Authorization: Bearer <METRICS_TOKEN>.\n", status=401, content_type="text/plain"
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)
