"""The Celery application. Configuration lives in Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections

from config.logs import request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("refund_desk")
app.config_from_object("django.conf:settings", namespace="CELERY")


@app.on_configure.connect
def _configure_transport(sender, **kwargs):
    """Broker transport options: a visibility timeout longer than any retry delay (Redis), and
    folders for the filesystem transport used by `make run`."""
    options = {"visibility_timeout": settings.CELERY_BROKER_VISIBILITY_TIMEOUT}
    if str(settings.CELERY_BROKER_URL).startswith("filesystem"):
        folder = settings.CELERY_BROKER_DIR
        for sub in ("out", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        options = {
            "data_folder_in": str(folder / "out"),
            "data_folder_out": str(folder / "out"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            "control_folder": str(folder / "control"),
        }
    sender.conf.broker_transport_options = options
    # Every queue declared, so that a worker started without -Q consumes them all (the routes:
    # refunds/delivery/routing.py).
    from kombu import Exchange, Queue

    from refunds.delivery.routing import all_queues

    sender.conf.task_queues = [
        Queue(name, Exchange(name, type="direct"), routing_key=name) for name in all_queues()
    ]


app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _close_old_connections(sender=None, **kwargs):
    """What Django does around a request: drop connections that are broken or older than
    DB_CONN_MAX_AGE (all of them when it is 0), so a worker reuses healthy ones between tasks.
    Not for a task applied eagerly: it runs inside its caller's transaction."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    close_old_connections()


@before_task_publish.connect
def _send_request_id(headers=None, **kwargs):
    """A task published while handling a request carries its id to the worker's log lines."""
    request_id = request_id_var.get()
    if request_id and headers is not None:
        headers.setdefault("request_id", request_id)


@task_prerun.connect
def _receive_request_id(task=None, **kwargs):
    if task is None or getattr(task.request, "is_eager", False):
        return
    request_id_var.set(getattr(task.request, "request_id", None) or "")
