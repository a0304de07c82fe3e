"""At-least-once settings and the arithmetic that keeps a delayed retry from running twice."""

import pytest
from django.conf import settings

from config.celery import app
from refunds.delivery.outbox import longest_retry_delay
from tests.fixtures.pipeline import WORKER_ENV


def test_celery_is_set_for_at_least_once_delivery():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_time_limit == settings.CELERY_TASK_TIME_LIMIT
    assert app.conf.task_soft_time_limit == settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert app.conf.task_always_eager is False


def _check(values: dict) -> None:
    """The same arithmetic for production settings and for the test worker's."""
    f = {k: float(v) for k, v in values.items()}
    longest_delay = max(f["OUTBOX_BACKOFF_CAP"], f["OUTBOX_RETRY_AFTER_CAP"])
    # Redis re-delivers an unacknowledged (or countdown) message after the visibility timeout:
    # it must outlast every delay we set and every lease, or a retry runs twice.
    assert f["CELERY_BROKER_VISIBILITY_TIMEOUT"] > longest_delay
    assert f["CELERY_BROKER_VISIBILITY_TIMEOUT"] > f["OUTBOX_LEASE_SECONDS"]
    # Only a dead worker's action is taken over: the lease outlasts the hard time limit...
    assert f["OUTBOX_LEASE_SECONDS"] > f["CELERY_TASK_TIME_LIMIT"]
    assert f["CELERY_TASK_TIME_LIMIT"] > f["CELERY_TASK_SOFT_TIME_LIMIT"]
    # ...and one marketplace call (connect + read timeouts) ends before the soft limit.
    assert (
        f["MARKETPLACE_CONNECT_TIMEOUT"] + f["MARKETPLACE_READ_TIMEOUT"]
        < f["CELERY_TASK_SOFT_TIME_LIMIT"]
    )
    # A lost message is sent again within one sweep, long before the lease would.
    assert f["OUTBOX_SWEEP_INTERVAL"] < f["OUTBOX_LEASE_SECONDS"]


NAMES = [
    "OUTBOX_BACKOFF_CAP",
    "OUTBOX_RETRY_AFTER_CAP",
    "CELERY_BROKER_VISIBILITY_TIMEOUT",
    "OUTBOX_LEASE_SECONDS",
    "CELERY_TASK_TIME_LIMIT",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "MARKETPLACE_CONNECT_TIMEOUT",
    "MARKETPLACE_READ_TIMEOUT",
    "OUTBOX_SWEEP_INTERVAL",
]


def test_visibility_timeout_outlasts_every_retry_delay_and_lease():
    _check({name: getattr(settings, name) for name in NAMES})
    assert longest_retry_delay() < settings.CELERY_BROKER_VISIBILITY_TIMEOUT


def test_the_test_worker_settings_obey_the_same_arithmetic():
    _check({name: WORKER_ENV.get(name, getattr(settings, name)) for name in NAMES})


def test_broker_transport_gets_the_visibility_timeout():
    if not str(settings.CELERY_BROKER_URL).startswith("redis"):
        pytest.fail("the test settings use Redis")
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] == settings.CELERY_BROKER_VISIBILITY_TIMEOUT


def test_one_beat_schedule_sweeps_and_polls():
    schedule = app.conf.beat_schedule
    assert schedule["outbox-sweep"]["task"] == "refunds.delivery.tasks.sweep_outbox"
    assert schedule["outbox-sweep"]["schedule"] == settings.OUTBOX_SWEEP_INTERVAL
    assert schedule["marketplace-poll"]["task"] == "refunds.delivery.tasks.poll_marketplaces"
    app.loader.import_default_modules()  # what a worker does at start (autodiscovery)
    assert "refunds.delivery.tasks" in app.conf.imports  # not found by autodiscovery
    assert {
        "refunds.delivery.tasks.deliver_outbound_action",
        "refunds.delivery.tasks.process_webhook_event",
        "refunds.delivery.tasks.process_webhook_events",
        "refunds.tasks.flag_stale_processing",
    } <= set(app.tasks)


@pytest.mark.django_db(transaction=True)
def test_worker_keeps_a_healthy_connection_between_tasks_only_when_configured(monkeypatch):
    """Celery's fixup would close every connection around each task; with DB_CONN_MAX_AGE a
    worker reuses its connection like a web process does, and drops it when it is too old."""
    from celery.fixups.django import DjangoWorkerFixup
    from django.db import connection

    from config.celery import _close_old_connections
    from refunds.delivery.tasks import sweep_outbox

    fixup = DjangoWorkerFixup(app)
    assert fixup.db_reuse_max >= 1_000_000  # the fixup leaves the closing to us

    def around_a_task():
        fixup.on_task_prerun(sender=sweep_outbox)
        _close_old_connections(sender=sweep_outbox)
        connection.ensure_connection()
        _close_old_connections(sender=sweep_outbox)
        fixup.on_task_postrun(sender=sweep_outbox)

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    connection.ensure_connection()
    first = connection.connection
    around_a_task()
    around_a_task()
    assert connection.connection is first  # the same PostgreSQL session, no new backend

    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    connection.close()
    connection.ensure_connection()
    around_a_task()
    assert connection.connection is None  # the default: closed after each task, as before
