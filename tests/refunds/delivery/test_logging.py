"""The delivery task's and the webhook processor's log lines name the refund, outbound action or
webhook event they concern, and the task (config.logs writes them as JSON fields)."""

import io
import json
import logging

import pytest

from config.logs import Formatter, RequestContextFilter
from refunds.delivery.models import OutboundAction, OutboundState, WebhookEvent
from refunds.delivery.processors import webhook_event_process
from refunds.delivery.tasks import deliver_outbound_action
from tests import factories
from tests.fixtures.pipeline import approve_refund, ensure_role_groups


@pytest.fixture
def json_lines():
    """The lines the refunds.delivery loggers write through the production handler set-up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(Formatter())
    delivery_logger = logging.getLogger("refunds.delivery")
    delivery_logger.addHandler(handler)
    delivery_logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    delivery_logger.removeHandler(handler)
    delivery_logger.setLevel(logging.NOTSET)


@pytest.mark.django_db
def test_a_processed_webhook_logs_its_event_and_refund_ids(client, json_lines):
    ensure_role_groups()
    token = "whsec-test-path-token-0001"
    account = factories.AccountFactory(
        adapter_key="hepsiglobal",
        name="HG",
        base_url="http://127.0.0.1:9/hepsiglobal",
        credentials={"client_id": "x", "client_secret": "y"},
        webhook_secret=token,
    )
    order = factories.make_order(account=account, external_number="7001")
    refund = approve_refund(order, factories.agent(username="hg-agent@example.com"))
    action = refund.outbound_actions.get()
    result = {
        "request_id": "01J" + "1" * 23,
        "refund_number": action.idempotency_key,
        "order_number": "7001",
        "status": "success",
        "errors": [],
    }
    answer = client.post(
        f"/hepsiglobal/{token}/webhooks/refund-create-result",
        data=json.dumps(result),
        content_type="application/json",
    )
    assert answer.status_code == 200
    event = WebhookEvent.objects.get()

    assert webhook_event_process(event.pk) == "processed"

    (line,) = [line for line in json_lines() if line["logger"] == "refunds.delivery.processors"]
    assert {
        k: line[k] for k in ("level", "message", "webhook_event_id", "refund_id", "marketplace")
    } == {
        "level": "INFO",
        "message": f"webhook event {event.pk} processed (refund_result)",
        "webhook_event_id": event.pk,
        "refund_id": refund.pk,
        "marketplace": "hepsiglobal",
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_celery_worker")
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
