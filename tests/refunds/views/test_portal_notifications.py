import pytest
from django.core import mail

from refunds.calculator import LineChoice
from refunds.services import refund_approve, refund_deny, refund_request

pytestmark = pytest.mark.django_db


def _request(order, user, *, refund_only=False):
    line = order.lines.first()
    return refund_request(
        actor=user,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def test_waiting_mail_asks_for_tracking_and_lists_items(
    order, customer_user, agent, django_capture_on_commit_callbacks
):
    refund = _request(order, customer_user)
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=agent, refund=refund)
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == f"Refund {refund.number}: Approved — send the goods back"
    sku = order.lines.first().sku
    assert f"  - Product ({sku}) x 1: 10.00 USD" in message.body
    assert (
        "Enter the carrier and tracking number here once it is posted: "
        f"http://127.0.0.1:8000/portal/refunds/{refund.pk}/"
    ) in message.body


def test_denied_mail_gives_the_reason(
    order, customer_user, agent, django_capture_on_commit_callbacks
):
    refund = _request(order, customer_user)
    with django_capture_on_commit_callbacks(execute=True):
        refund_deny(actor=agent, refund=refund, reason="Outside the return window")
    [message] = mail.outbox
    assert message.subject == f"Refund {refund.number}: Denied"
    assert "Reason: Outside the return window" in message.body
    assert f"Follow it at http://127.0.0.1:8000/portal/refunds/{refund.pk}/" in message.body
