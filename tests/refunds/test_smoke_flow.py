from decimal import Decimal

import pytest

from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.models import RefundEvent
from refunds.services import refund_approve, refund_request


@pytest.mark.django_db(transaction=False)
def test_customer_request_then_agent_approve_writes_event_and_outbox(order, customer_user, agent):
    line = order.lines.first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    assert refund.total == Decimal("10.00")
    refund = refund_approve(actor=agent, refund=refund)
    assert refund.status == "PROCESSING"
    assert RefundEvent.objects.filter(refund=refund).count() == 2
    assert OutboundAction.objects.filter(refund=refund).count() == 1
