"""Tests run against PostgreSQL (and Redis for the Celery integration tests)."""

from .base import *  # noqa: F403
from .base import database_from_url, env

DATABASES = {
    "default": database_from_url(
        env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/refunddesk_test")
    )
}
DATABASES["default"]["TEST"] = {"NAME": DATABASES["default"]["NAME"]}
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A worker subprocess in the browser tests may write its e-mails to files to be checked.
EMAIL_BACKEND = env("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = env("TEST_EMAIL_FILE_PATH", "")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Evidence photos in this process's memory: nothing written to disk, and the live server of
    # the browser tests (a thread of this process) reads what the test body sees.
    "evidence": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"user": "100000/minute"}}  # noqa: F405
# Tests change accounts' secrets and send the next webhook at once: no kept accounts (the TTL
# itself is tested in tests/refunds/delivery/test_webhook_lean_path.py).
WEBHOOK_ACCOUNTS_TTL_SECONDS = float(env("WEBHOOK_ACCOUNTS_TTL_SECONDS", "0"))
