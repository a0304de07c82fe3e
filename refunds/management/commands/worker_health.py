"""`manage.py worker_health`: exit 0 when a Celery worker answers a ping within the timeout,
1 otherwise (no worker, or the broker is unreachable). For a container health check or a
monitor; `--destination celery@host` asks one worker only, `--queue` asks for a worker that
consumes that queue."""

from __future__ import annotations

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Exit 0 when a Celery worker answers a ping within --timeout seconds, 1 otherwise."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=5.0, help="Seconds to wait (5).")
        parser.add_argument(
            "--destination", action="append", default=None, help="A worker name (repeatable)."
        )
        parser.add_argument(
            "--queue", default="", help="Healthy only if an answering worker consumes it."
        )

    def handle(self, *args, timeout, destination, queue, **options):
        if timeout <= 0:
            raise CommandError("--timeout must be a positive number of seconds.", returncode=2)
        try:
            # The broker named by the settings now (a test may override it), with the app's
            # transport options.
            with current_app.connection_for_write(settings.CELERY_BROKER_URL) as connection:
                control = current_app.control
                replies = control.ping(
                    timeout=timeout, destination=destination, connection=connection
                )
                names = sorted(name for reply in replies for name in reply)
                if names and queue:
                    active = control.inspect(
                        destination=names, timeout=timeout, connection=connection
                    ).active_queues()
                    names = sorted(
                        name
                        for name, queues in (active or {}).items()
                        if any(q.get("name") == queue for q in queues or ())
                    )
        except Exception as error:  # the broker is down: not healthy, and say why
            raise CommandError(f"Could not reach the broker: {error}", returncode=1) from error
        if not names:
            wanted = f" consuming {queue!r}" if queue else ""
            raise CommandError(
                f"No Celery worker{wanted} answered a ping within {timeout:g} s.", returncode=1
            )
        self.stdout.write("Workers answering: " + ", ".join(names))
