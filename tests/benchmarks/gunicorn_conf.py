"""Gunicorn for the webhook benchmark on a small machine (2 cores shared with PostgreSQL, Redis,
the Celery worker and the load generator): a few processes (the GIL allows one running thread per
process) with a few threads each to overlap the waits on PostgreSQL and Redis. Override with
GUNICORN_WORKERS / GUNICORN_THREADS."""

import os

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
keepalive = 30
backlog = 2048
loglevel = "warning"
accesslog = None
preload_app = True
