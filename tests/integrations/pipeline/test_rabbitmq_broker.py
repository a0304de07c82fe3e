"""RabbitMQ as the broker: one refund end to end, the worker and the web side both on AMQP.
Never skipped: RabbitMQ not answering fails the test (the CI machines run it)."""

import pytest

from refunds.delivery.models import OutboundAction, OutboundState
from refunds.models import Refund
from tests.fixtures.pipeline import RABBITMQ_URL, approve_refund, wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_a_refund_is_issued_end_to_end_over_rabbitmq(
    rabbitmq_broker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    from config.celery import app

    assert app.conf.broker_url == RABBITMQ_URL
    assert "Connected to amqp://guest:**@127.0.0.1:5672//" in rabbitmq_broker.log()
    # HepsiGlobal: the delivery (deliveries.hepsiglobal) and the result webhook (webhooks),
    # both through RabbitMQ.
    mark = rabbitmq_broker.log_mark()
    account = marketplace_account("hepsiglobal")
    order = sandbox_order(account)
    refund = approve_refund(order, pipeline_staff, quantity=1)
    action = OutboundAction.objects.get(refund=refund)

    def issued():
        current = Refund.objects.get(pk=refund.pk)
        event = current.webhook_events.first()
        done = event is not None and event.state == "processed"
        return current if current.status == "ISSUED" and done else None

    refund = wait_until(issued, timeout=60, message="HepsiGlobal refund ISSUED over RabbitMQ")

    assert sandbox.ledger("hepsiglobal", action.idempotency_key)["count"] == 1
    action.refresh_from_db()
    assert action.state == OutboundState.SUCCEEDED
    assert action.attempts == 1
    assert refund.webhook_events.get().state == "processed"
    runs = {run.name for run in rabbitmq_broker.task_runs(mark) if run.finished}
    assert "refunds.delivery.tasks.deliver_outbound_action" in runs
