"""`manage.py worker_health` (refunds/management/commands/worker_health.py)."""

import io
import re

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.fixtures.ports import free_port


def test_worker_health_fails_with_exit_code_1_when_no_worker_answers(no_celery_worker):
    with pytest.raises(CommandError) as refused:
        call_command("worker_health", "--timeout", "1")
    assert refused.value.returncode == 1
    assert str(refused.value) == "No Celery worker answered a ping within 1 s."


def test_worker_health_fails_with_exit_code_1_when_the_broker_is_unreachable():
    with override_settings(CELERY_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0"):
        with pytest.raises(CommandError) as refused:
            call_command("worker_health", "--timeout", "1")
    assert refused.value.returncode == 1
    assert str(refused.value).startswith("Could not reach the broker: ")


def test_worker_health_succeeds_when_a_worker_answers(celery_worker):
    out = io.StringIO()
    call_command("worker_health", "--timeout", "5", stdout=out)
    assert re.fullmatch(r"Workers answering: [\w.-]+@[\w.-]+\n", out.getvalue())


def test_worker_health_needs_a_worker_on_the_queue_asked_for(celery_worker):
    with pytest.raises(CommandError) as refused:
        call_command("worker_health", "--timeout", "5", "--queue", "no-such-queue")
    assert refused.value.returncode == 1
    assert str(refused.value) == (
        "No Celery worker consuming 'no-such-queue' answered a ping within 5 s."
    )
    default_queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")  # Celery's own
    out = io.StringIO()
    call_command("worker_health", "--timeout", "5", "--queue", default_queue, stdout=out)
    assert re.fullmatch(r"Workers answering: [\w.-]+@[\w.-]+\n", out.getvalue())
