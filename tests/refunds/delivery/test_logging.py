"""The delivery task's log lines name the refund and outbound action they concern, and the task
(config.logs writes them as JSON fields)."""

import io
import json
import logging

import pytest

from config.logs import Formatter, RequestContextFilter
from refunds.delivery.models import OutboundAction, OutboundState
from refunds.delivery.tasks import deliver_outbound_action
from tests.fixtures.pipeline import approve_refund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_celery_worker")]


def test_a_delivery_logs_its_refund_action_and_task_ids(
    sandbox, marketplace_account, sandbox_order, agent
):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(Formatter())
    task_logger = logging.getLogger("refunds.delivery.tasks")
    task_logger.addHandler(handler)
    task_logger.setLevel(logging.INFO)
    try:
        refund = approve_refund(sandbox_order(marketplace_account("llzw")), agent)
        action = OutboundAction.objects.get(refund=refund, kind="create_refund")
        deliver_outbound_action.apply(args=[action.pk], task_id="task-42")
    finally:
        task_logger.removeHandler(handler)
        task_logger.setLevel(logging.NOTSET)
    action.refresh_from_db()
    assert action.state == OutboundState.SUCCEEDED
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert {
        k: line[k]
        for k in (
            "level",
            "message",
            "refund_id",
            "outbound_action_id",
            "marketplace",
            "outcome",
            "task_id",
        )
    } == {
        "level": "INFO",
        "message": f"outbound action {action.pk} create_refund attempt 1: accepted",
        "refund_id": refund.pk,
        "outbound_action_id": action.pk,
        "marketplace": "llzw",
        "outcome": "accepted",
        "task_id": "task-42",
    }
