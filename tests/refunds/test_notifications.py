"""refunds/notifications.py: `muted()` (demo data) sends nothing for the changes committed inside
it, and only inside it."""

import pytest
from django.core import mail

from refunds import notifications
from refunds.calculator import LineChoice
from refunds.services import refund_approve, refund_deny, refund_request

pytestmark = pytest.mark.django_db


def test_muted_sends_no_mail_for_changes_committed_inside_it_and_only_there(
    order, customer_user, agent, django_capture_on_commit_callbacks
):
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=order.lines.first().pk, quantity=1)],
    )
    with notifications.muted(), django_capture_on_commit_callbacks(execute=True) as due:
        refund_approve(actor=agent, refund=refund)

    assert len(due) == 1  # the "Waiting for return" e-mail was due, and ran muted
    assert mail.outbox == []

    with django_capture_on_commit_callbacks(execute=True):
        refund_deny(actor=agent, refund=refund, reason="No return arrived")

    [message] = mail.outbox
    assert message.subject == f"Refund {refund.number}: Denied"
