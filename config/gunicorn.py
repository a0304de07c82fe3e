"""Gunicorn settings for production (Procfile `web: gunicorn -c config/gunicorn.py config.wsgi`).

Every figure comes from the environment, with defaults for a small machine:
    PORT                       port to listen on (0.0.0.0), default 8000
    WEB_CONCURRENCY            worker processes, default 2 x CPUs + 1 (at most 8)
    GUNICORN_THREADS           threads per worker (gthread), default 4
    GUNICORN_TIMEOUT           seconds a request may take before its worker is restarted, 30
    GUNICORN_GRACEFUL_TIMEOUT  seconds a worker gets to finish its requests on SIGTERM/HUP, 30
    GUNICORN_KEEPALIVE         seconds an idle keep-alive connection is held (behind a proxy), 5
    GUNICORN_MAX_REQUESTS      requests before a worker is replaced (0: never), default 2000
    FORWARDED_ALLOW_IPS        proxies whose X-Forwarded-* gunicorn believes, default 127.0.0.1
The app is not preloaded: each worker imports Django after the fork (no connection or publisher
thread is shared across a fork). Access log: one JSON object per request on stdout, with the
request id the app answers with (X-Request-ID), so it joins the app's JSON logs.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = f"0.0.0.0:{_int('PORT', 8000)}"
workers = _int("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8))
worker_class = "gthread"
threads = _int("GUNICORN_THREADS", 4)
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
preload_app = False
proc_name = "refund-desk-web"

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# JSON-ish: one object per line, status and duration as numbers. Gunicorn does not escape the
# atoms, so a path, user agent or referer holding a double quote makes its line invalid JSON.
access_log_format = (
    '{"time": "%(t)s", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", '
    '"query": "%(q)s", "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s, '
    '"request_id": "%({x-request-id}o)s", "referer": "%(f)s", "user_agent": "%(a)s"}'
)
