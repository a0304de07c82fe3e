"""`make bench`'s settings (DJANGO_SETTINGS_MODULE=tests.benchmarks.settings): PostgreSQL and
Redis like the tests, plus a trivial view to compare against (tests/benchmarks/urls.py)."""

from config.settings.base import database_from_url, env
from config.settings.test import *  # noqa: F403

DATABASES = {
    "default": database_from_url(
        env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refunddesk_bench")
    )
}
ROOT_URLCONF = "tests.benchmarks.urls"
DEBUG = False
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"handlers": [], "level": "WARNING"},
}
# Persistent database connections (one per gunicorn thread / worker thread): without them every
# webhook paid a PostgreSQL connection set-up (a backend fork). No CONN_HEALTH_CHECKS: it costs a
# round trip at the start of every request, and the benchmark's PostgreSQL does not restart.
DATABASES["default"]["CONN_MAX_AGE"] = int(env("DB_CONN_MAX_AGE", "300"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
# The production default (config/settings/base.py), which the test settings above turn off.
WEBHOOK_ACCOUNTS_TTL_SECONDS = float(env("WEBHOOK_ACCOUNTS_TTL_SECONDS", "2"))
