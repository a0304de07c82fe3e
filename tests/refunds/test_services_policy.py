"""refund_request applies the account's return policy: a customer's request for a line the policy
does not let them return is refused and writes nothing; a reason that needs an explanation needs
one; staff may override with a note, recorded on the request's event and in its sentence; a
refund the marketplace reports is recorded as it is."""

import datetime as dt

import pytest
from django.utils import timezone

from orders.models import ReturnPolicy
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.errors import RefundError
from refunds.models import Refund, RefundEvent
from refunds.services import refund_request
from refunds.timeline import event_sentence

pytestmark = pytest.mark.django_db


def _written():
    return (Refund.objects.count(), RefundEvent.objects.count(), OutboundAction.objects.count())


@pytest.fixture
def closed_order(order):
    """Alice's order, delivered 40 days ago under a 30-day window; its last line is final sale."""
    order.delivered_at = timezone.now() - dt.timedelta(days=40)
    order.save()
    ReturnPolicy.objects.create(
        account=order.account, window_days=30, non_returnable_skus=order.lines.last().sku
    )
    return order


def _closed_on(order) -> str:
    day = timezone.localtime(order.delivered_at).date() + dt.timedelta(days=30)
    return f"{day.day} {day:%b %Y}"


def test_a_customer_request_outside_the_window_is_refused_and_writes_nothing(
    closed_order, customer_user
):
    line = closed_order.lines.first()
    before = _written()
    with pytest.raises(RefundError) as refused:
        refund_request(
            actor=customer_user,
            order=closed_order,
            reason_code="defective",
            refund_only=False,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        )
    assert refused.value.field == f"line_{line.pk}"
    assert refused.value.code == "policy"
    assert refused.value.message == (
        f"{line.name} ({line.sku}): Returns for this order closed on {_closed_on(closed_order)}, "
        "30 days after delivery."
    )
    assert _written() == before


def test_a_customer_request_for_a_final_sale_line_inside_the_window_is_refused(
    order, customer_user
):
    order.delivered_at = timezone.now() - dt.timedelta(days=2)
    order.save()
    first, _, final = order.lines.order_by("id")
    ReturnPolicy.objects.create(
        account=order.account, window_days=30, non_returnable_skus=final.sku
    )
    with pytest.raises(RefundError) as refused:
        refund_request(
            actor=customer_user,
            order=order,
            reason_code="defective",
            refund_only=False,
            lines=[
                LineChoice(order_line_id=first.pk, quantity=1),
                LineChoice(order_line_id=final.pk, quantity=1),
            ],
        )
    assert refused.value.field == f"line_{final.pk}"
    assert refused.value.message.endswith(": This item cannot be returned (final sale).")
    assert _written() == (0, 0, 0)

    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="defective",
        refund_only=False,
        lines=[LineChoice(order_line_id=first.pk, quantity=1)],
    )
    assert [line.order_line_id for line in refund.lines.all()] == [first.pk]


def test_a_customer_amount_spread_over_an_ineligible_line_is_refused(closed_order, customer_user):
    with pytest.raises(RefundError) as refused:
        refund_request(
            actor=customer_user,
            order=closed_order,
            reason_code="defective",
            refund_only=True,
            amount="10.00",
        )
    assert refused.value.field == "amount"
    assert _written() == (0, 0, 0)


def test_other_needs_an_explanation_from_the_customer(order, customer_user):
    line = order.lines.first()
    kwargs = {
        "actor": customer_user,
        "order": order,
        "reason_code": "other",
        "refund_only": True,
        "lines": [LineChoice(order_line_id=line.pk, quantity=1)],
    }
    with pytest.raises(RefundError) as refused:
        refund_request(**kwargs, customer_explanation="  ")
    assert refused.value.field == "customer_explanation"
    assert refused.value.message == "Tell us what happened: the reason “Other” needs an explanation"
    assert _written() == (0, 0, 0)

    refund = refund_request(**kwargs, customer_explanation="The box was empty")
    assert refund.customer_explanation == "The box was empty"


def test_staff_outside_the_policy_need_an_override_note(closed_order, agent):
    line = closed_order.lines.first()
    kwargs = {
        "actor": agent,
        "order": closed_order,
        "reason_code": "defective",
        "refund_only": True,
        "lines": [LineChoice(order_line_id=line.pk, quantity=1)],
    }
    with pytest.raises(RefundError) as refused:
        refund_request(**kwargs, policy_override_note="   ")
    assert refused.value.field == "policy_override_note"
    assert refused.value.message == (
        f"{line.name} ({line.sku}): Returns for this order closed on {_closed_on(closed_order)}, "
        "30 days after delivery. To refund it anyway, say why you override the return policy"
    )
    assert _written() == (0, 0, 0)

    refund = refund_request(
        **kwargs, policy_override_note="The courier lost it for a month", note="Checked DHL"
    )
    event = refund.events.get(action="request")
    assert event.changes["policy_override"] == {
        "note": "The courier lost it for a month",
        "lines": {
            line.sku: f"{line.name} ({line.sku}): Returns for this order closed on "
            f"{_closed_on(closed_order)}, 30 days after delivery."
        },
    }
    assert event.note == "Checked DHL"
    assert event_sentence(event) == (
        f"agent1@example.com (refund agent) asked for a refund of {refund.total} USD, without a "
        "return: Requested, overriding the return policy: “The courier lost it for a month”. "
        "Note: “Checked DHL”"
    )


def test_staff_inside_the_policy_record_no_override(closed_order, agent):
    closed_order.account.return_policy.window_days = None
    closed_order.account.return_policy.save()
    closed_order.account.refresh_from_db()
    line = closed_order.lines.first()
    refund = refund_request(
        actor=agent,
        order=closed_order,
        reason_code="other",  # staff record what the customer said; no explanation needed
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        policy_override_note="not needed",
    )
    event = refund.events.get(action="request")
    assert "policy_override" not in event.changes
    assert "overriding" not in event_sentence(event)


def test_a_refund_the_marketplace_reports_is_recorded_outside_the_policy(closed_order):
    final = closed_order.lines.last()
    refund = refund_request(
        actor=None,
        order=closed_order,
        reason_code="other",
        refund_only=True,
        lines=[LineChoice(order_line_id=final.pk, quantity=1)],
        via="webhook",
        external_id="MP-1",
    )
    assert refund.source == "marketplace"
    assert "policy_override" not in refund.events.get(action="request").changes
