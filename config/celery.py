"""The Celery application. Configuration lives in Django settings under the CELERY_ namespace."""

import os

from celery import Celery
from django.conf import settings

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


app.autodiscover_tasks()
