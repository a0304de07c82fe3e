"""`make bench`: PostgreSQL and Redis like the tests, plus a trivial view to compare against."""

from .base import database_from_url, env
from .test import *  # noqa: F403

DATABASES = {
    "default": database_from_url(
        env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refunddesk_bench")
    )
}
ROOT_URLCONF = "config.urls_bench"
DEBUG = False
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"handlers": [], "level": "WARNING"},
}
