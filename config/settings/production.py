"""Production: secrets and hosts must come from the environment."""

from config.sentry import init_sentry

from .base import *  # noqa: F403
from .base import env, env_bool, env_list, logging_config

DEBUG = False
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set in production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
# Sign-in lockout counters and API throttles must be shared by every web process, or each one
# counts on its own and N processes allow N times the attempts.
if not env("CACHE_URL"):
    raise RuntimeError("CACHE_URL must be set in production (a shared cache, e.g. redis://...)")
LOGGING = logging_config(env("LOG_FORMAT", "json"))
SENTRY_DSN = env("SENTRY_DSN")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", "production")
SENTRY_RELEASE = env("SENTRY_RELEASE")
init_sentry(
    SENTRY_DSN,
    environment=SENTRY_ENVIRONMENT,
    release=SENTRY_RELEASE,
    traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0")),
)
# Persistent database connections (with health checks) unless DB_CONN_MAX_AGE says otherwise:
# a new PostgreSQL connection per request or task costs a backend fork.
DATABASES["default"]["CONN_MAX_AGE"] = int(env("DB_CONN_MAX_AGE", "60"))  # noqa: F405
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# A load balancer or orchestrator probes the processes directly over plain HTTP: redirected to
# https, /readyz would answer 301 (a "success" to most probes) even when it is not ready.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    "evidence": EVIDENCE_STORAGE,  # noqa: F405
}
