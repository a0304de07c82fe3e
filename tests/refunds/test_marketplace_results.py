"""refunds.services.marketplace: what a marketplace answers is applied, and the e-mails it calls
for are sent once the transaction commits."""

import pytest

from integrations.base import Rejected
from refunds.calculator import LineChoice
from refunds.services import refund_apply_marketplace_result, refund_approve, refund_request

pytestmark = pytest.mark.django_db


def test_a_refusal_needs_attention_and_tells_the_managers_after_commit(
    order, customer_user, agent, manager, mailoutbox, django_capture_on_commit_callbacks
):
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    refund_approve(actor=agent, refund=refund)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        refund = refund_apply_marketplace_result(
            refund=refund, result=Rejected(code="E1", message="Order is locked"), via="test"
        )
    assert len(callbacks) == 1
    refund.refresh_from_db()
    assert (refund.status, refund.needs_attention, refund.outcome_unknown) == (
        "PROCESSING",
        True,
        False,
    )
    assert refund.attention_message == f"{order.account.name} refused: Order is locked"
    assert [(m.subject, m.to) for m in mailoutbox] == [
        (f"Refund {refund.number} needs attention", [manager.email])
    ]
