"""Settings shared by every environment, from environment variables with safe defaults."""

import ipaddress
import os
from decimal import Decimal
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def database_from_url(url: str) -> dict:
    """Build a DATABASES entry; SQLite gets WAL, immediate transactions and a busy timeout so
    that the web server, the worker and beat can share one file without "database is locked"."""
    config = dj_database_url.parse(
        url,
        # Persistent connections (seconds; 0 closes after each request or task). A new
        # PostgreSQL connection forks a backend: a few milliseconds per webhook or delivery.
        conn_max_age=int(env("DB_CONN_MAX_AGE", "0")),
        conn_health_checks=True,
    )
    if config["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "DISABLE_SERVER_SIDE_CURSORS"
    ):
        # Behind PgBouncer in transaction pooling a session's cursors and prepared statements
        # may be on another server connection by the next query: use neither.
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        config.setdefault("OPTIONS", {})["prepare_threshold"] = None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            ),
        }
    return config


SECRET_KEY = env("SECRET_KEY", "insecure-dev-key-change-me-refund-desk-0000000000000000")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Reverse proxies (IPs or CIDRs) whose X-Forwarded-For we believe; empty: the connecting
# address is the client's (refunds/client_address.py). Only list proxies you run.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise RuntimeError(f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from None

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",  # the sign-in lockout (refunds/lockout.py)
    "orders",
    "refunds",
    "integrations",  # the vendor code: no models, only its migrations' history and runsandbox
]

MIDDLEWARE = [
    "config.logs.RequestIdMiddleware",  # first: every later line of the request carries its id
    # Marketplaces' webhook URLs are answered here, skipping the rest (refunds/delivery/lean.py).
    "refunds.delivery.lean.WebhookLeanPathMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes refuses locked-out sign-ins first (refunds/lockout.py), then Django's ModelBackend.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files. There is no MEDIA_URL route: customers' evidence photos are served only by the
# views that check who asks (refunds/views/evidence.py), never as public files. MEDIA_ROOT must be
# a persistent folder shared by every web process (a volume), or set STORAGES["evidence"] to a
# private bucket's backend.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
EVIDENCE_STORAGE = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    # Files are named evidence/<random>.jpg inside it (refunds.models.evidence_upload_to).
    "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "evidence": EVIDENCE_STORAGE,
}

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Refund Desk <refunds@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Refund rules.
REFUND_APPROVAL_LIMIT = Decimal(env("REFUND_APPROVAL_LIMIT", "500.00"))
# Due-by per status: the hours a refund may stay in a status before the queue marks it overdue
# (counted from when it entered the status). Final statuses have none. Override some or all with
# REFUND_DUE_HOURS="REQUESTED=8,PROCESSING=4".
REFUND_DUE_HOURS = {
    "REQUESTED": 24,
    "WAITING": 14 * 24,  # the customer sends the goods back
    "PROCESSING": 2,  # the marketplace confirms the refund
} | {
    status.strip().upper(): int(hours)
    for status, _, hours in (item.partition("=") for item in env_list("REFUND_DUE_HOURS"))
}
REFUND_DESK_BASE_URL = env("REFUND_DESK_BASE_URL", "http://127.0.0.1:8000")
# Evidence photos a customer attaches to a refund (refunds/evidence.py): at most this many bytes
# per file as uploaded, this many photos per refund, and this many pixels per image (checked
# from the header before decoding, against decompression bombs).
REFUND_EVIDENCE_MAX_BYTES = int(env("REFUND_EVIDENCE_MAX_BYTES", str(10 * 1024 * 1024)))
REFUND_EVIDENCE_MAX_FILES = int(env("REFUND_EVIDENCE_MAX_FILES", "5"))
REFUND_EVIDENCE_MAX_PIXELS = int(env("REFUND_EVIDENCE_MAX_PIXELS", str(50_000_000)))
SANDBOX_URL = env("SANDBOX_URL", "http://127.0.0.1:8001")

# Marketplace HTTP calls: never without a timeout.
MARKETPLACE_CONNECT_TIMEOUT = float(env("MARKETPLACE_CONNECT_TIMEOUT", "3.05"))
MARKETPLACE_READ_TIMEOUT = float(env("MARKETPLACE_READ_TIMEOUT", "10"))

# Celery: at-least-once delivery.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_DIR = Path(env("CELERY_BROKER_DIR", str(BASE_DIR / ".broker")))
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = int(env("CELERY_TASK_TIME_LIMIT", "120"))
CELERY_TASK_SOFT_TIME_LIMIT = int(env("CELERY_TASK_SOFT_TIME_LIMIT", "100"))
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Celery's Django fixup closes every database connection around each task unless this is set;
# config/celery.py then closes them like Django does after a request, by DB_CONN_MAX_AGE and
# health checks, so a worker keeps its connections when DB_CONN_MAX_AGE > 0 and not otherwise.
CELERY_DB_REUSE_MAX = 1_000_000
# Queues (refunds/delivery/routing.py): deliveries.<adapter key> per marketplace, webhooks,
# polling, and default for beat's sweeps. config/celery.py declares them all.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = ["refunds.delivery.routing.route_task"]
# The delivery tasks (refunds.delivery.tasks): autodiscovery finds only <app>.tasks.
CELERY_IMPORTS = ["refunds.delivery.tasks"]
# Outbox retry policy (seconds). The broker visibility timeout must exceed the longest delay.
OUTBOX_MAX_ATTEMPTS = int(env("OUTBOX_MAX_ATTEMPTS", "8"))
OUTBOX_BACKOFF_BASE = float(env("OUTBOX_BACKOFF_BASE", "2"))
OUTBOX_BACKOFF_CAP = float(env("OUTBOX_BACKOFF_CAP", "600"))
# Longest Retry-After we honour; a platform asking for more is retried at this delay.
OUTBOX_RETRY_AFTER_CAP = float(env("OUTBOX_RETRY_AFTER_CAP", "3600"))
OUTBOX_SWEEP_INTERVAL = float(env("OUTBOX_SWEEP_INTERVAL", "15"))
# How long a worker holds an action it is calling the marketplace for; must exceed the task's
# hard time limit so that only a dead worker's action is ever taken over.
OUTBOX_LEASE_SECONDS = float(env("OUTBOX_LEASE_SECONDS", "180"))
# A webhook whose refund we do not know yet (it raced our own delivery) is tried again.
WEBHOOK_RETRY_DELAY = float(env("WEBHOOK_RETRY_DELAY", "5"))
WEBHOOK_MAX_RETRIES = int(env("WEBHOOK_MAX_RETRIES", "12"))
WEBHOOK_MAX_BODY_BYTES = int(env("WEBHOOK_MAX_BODY_BYTES", str(1024 * 1024)))
# How long a process keeps the enabled accounts it verifies webhooks with (refunds/delivery/
# intake.py): a disabled account or a new webhook secret counts within this many seconds.
WEBHOOK_ACCOUNTS_TTL_SECONDS = float(env("WEBHOOK_ACCOUNTS_TTL_SECONDS", "2"))
# Long lists (issue 17; refunds.pagination, refunds.filters): counted exactly up to this many
# rows, estimated beyond; a search expected to match more than the second is walked in the
# list's order instead of collected from the trigram indexes, and estimated.
LIST_EXACT_COUNT_LIMIT = int(env("LIST_EXACT_COUNT_LIMIT", "10000"))
LIST_SEARCH_EXACT_COUNT_LIMIT = int(env("LIST_SEARCH_EXACT_COUNT_LIMIT", "1000"))
POLL_INTERVAL = float(env("POLL_INTERVAL", "30"))
# A refund the marketplace accepted but has not confirmed or refused after this many hours is
# flagged for staff (drift): HepsiGlobal has no status API, so a lost result webhook would
# otherwise leave it in PROCESSING unnoticed. Checked every STALE_CHECK_INTERVAL seconds.
REFUND_STALE_PROCESSING_HOURS = float(env("REFUND_STALE_PROCESSING_HOURS", "24"))
STALE_CHECK_INTERVAL = float(env("STALE_CHECK_INTERVAL", "3600"))
# Redis only re-delivers an unacknowledged message after this many seconds, so it must be longer
# than any countdown we set (retry delays, Retry-After) or a delayed retry runs twice.
CELERY_BROKER_VISIBILITY_TIMEOUT = int(env("CELERY_BROKER_VISIBILITY_TIMEOUT", "7200"))
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "refunds.delivery.tasks.sweep_outbox",
        "schedule": OUTBOX_SWEEP_INTERVAL,
        "options": {"expires": OUTBOX_SWEEP_INTERVAL},
    },
    "marketplace-poll": {
        "task": "refunds.delivery.tasks.poll_marketplaces",
        "schedule": POLL_INTERVAL,
        "options": {"expires": POLL_INTERVAL},
    },
    "stale-processing": {
        "task": "refunds.tasks.flag_stale_processing",
        "schedule": STALE_CHECK_INTERVAL,
        "options": {"expires": STALE_CHECK_INTERVAL},
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON with a bounded nesting depth (a 400, never a RecursionError), then DRF's form parsers.
    "DEFAULT_PARSER_CLASSES": [
        "refunds.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env("API_THROTTLE_USER", "600/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Refund Desk API",
    "DESCRIPTION": "Refunds and orders across marketplaces.",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our static files (drf-spectacular-sidecar), not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RefundStatusEnum": "refunds.models.StatusChoices",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "RefundReasonEnum": "refunds.models.ReasonCode",
    },
}
SESSION_ENGINE = "config.session_store"
# Login lockout counters and API throttles live in the cache: share one between processes
# (CACHE_URL=redis://127.0.0.1:6379/1); without it each process counts on its own.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("CACHE_URL")}
        if env("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Failed sign-ins before an account (or an address) is locked out, and for how long (seconds).
LOGIN_LOCKOUT_ATTEMPTS = int(env("LOGIN_LOCKOUT_ATTEMPTS", "5"))
LOGIN_LOCKOUT_ADDRESS_ATTEMPTS = int(env("LOGIN_LOCKOUT_ADDRESS_ATTEMPTS", "20"))
LOGIN_LOCKOUT_SECONDS = int(env("LOGIN_LOCKOUT_SECONDS", "900"))
# django-axes, set up to count by account and by address with the limits above (its handler in
# refunds/lockout.py reads them when called), in the cache, with our client address.
AXES_HANDLER = "refunds.lockout.SignInLockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = "refunds.lockout.account_failure_limit"
AXES_COOLOFF_TIME = "refunds.lockout.cool_off"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "refunds.lockout.sign_in_username"
AXES_CLIENT_IP_CALLABLE = "refunds.client_address.client_address"
AXES_LOCKOUT_CALLABLE = "refunds.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = False  # the handler clears the account's count, not the address's
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused sign-in is not counted
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password"]
AXES_ENABLE_ADMIN = False  # its admin pages list database records; the cache handler keeps none
# Password-reset e-mails per e-mail address and per client address within the window (seconds);
# past that the form still says "check your e-mail" but nothing is sent.
PASSWORD_RESET_EMAIL_LIMIT = int(env("PASSWORD_RESET_EMAIL_LIMIT", "3"))
PASSWORD_RESET_ADDRESS_LIMIT = int(env("PASSWORD_RESET_ADDRESS_LIMIT", "10"))
PASSWORD_RESET_WINDOW_SECONDS = int(env("PASSWORD_RESET_WINDOW_SECONDS", "3600"))
# The portal's "Find my order": a one-time sign-in link to one order, valid this long (seconds);
# link e-mails per e-mail address and per client address within the window (seconds), past
# which the page still gives its one answer but nothing is sent.
GUEST_LINK_MAX_AGE = int(env("GUEST_LINK_MAX_AGE", "1800"))
GUEST_LINK_EMAIL_LIMIT = int(env("GUEST_LINK_EMAIL_LIMIT", "3"))
GUEST_LINK_ADDRESS_LIMIT = int(env("GUEST_LINK_ADDRESS_LIMIT", "10"))
GUEST_LINK_WINDOW_SECONDS = int(env("GUEST_LINK_WINDOW_SECONDS", "3600"))

# /metrics (config/health.py): served only with `Authorization: Bearer <METRICS_TOKEN>`; without a
# token the endpoint answers 404. METRICS_ALLOWED_NETWORKS (IPs or CIDRs, the client address as
# refunds/client_address.py reads it) limits it further when set.
METRICS_TOKEN = env("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", "")
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise RuntimeError(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not an IP address or network"
        ) from None

# Content-Security-Policy (django-csp): our own scripts, styles, fonts and images only; no inline
# script, inline style or eval anywhere (templates load static/js and static/css files). data:
# images are for the Swagger UI's icons at /api/docs/.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}


def logging_config(log_format: str) -> dict:
    """Console logging, "plain" or "json" (one JSON object a line, config.logs.Formatter); every
    record gets request_id and task_id (config.logs.RequestContextFilter)."""
    if log_format not in {"plain", "json"}:
        raise RuntimeError(f"LOG_FORMAT: {log_format!r} is neither 'plain' nor 'json'")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "config.logs.RequestContextFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
            "json": {"()": "config.logs.Formatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
        "loggers": {"django.db.backends": {"level": "INFO"}},
    }


# LOG_FORMAT: "plain" here (local, tests), "json" by default in production.
LOGGING = logging_config(env("LOG_FORMAT", "plain"))
# The worker logs through LOGGING too (JSON in production), not through a handler of its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
