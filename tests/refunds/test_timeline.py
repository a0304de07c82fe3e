"""Audit events as sentences (refunds/timeline.py): who and in which role, the amounts with
their currency, the marketplace's answer summarised, raw data pretty-printed."""

import pytest

from refunds.calculator import LineChoice
from refunds.models import RefundEvent
from refunds.services import refund_approve, refund_deny, refund_request
from refunds.timeline import event_sentence, pretty_json


def _refund(order, actor):
    line = order.lines.first()
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


@pytest.mark.django_db
def test_request_and_approve_read_as_sentences_with_role_and_currency(
    order, customer_user, manager
):
    refund = _refund(order, customer_user)
    refund_approve(actor=manager, refund=refund)
    request_event, approve_event = RefundEvent.objects.filter(refund=refund).order_by("id")
    money = f"{refund.total:.2f} {refund.currency}"
    assert event_sentence(request_event) == (
        f"{customer_user.username} (customer) asked for a refund of {money}, without a return: "
        "Requested."
    )
    assert event_sentence(approve_event).startswith(
        f"{manager.username} (refund manager) approved the refund of {money}: Requested → "
    )


@pytest.mark.django_db
def test_deny_sentence_carries_the_reason(order, customer_user, agent):
    refund = _refund(order, customer_user)
    refund_deny(actor=agent, refund=refund, reason="Outside the return window")
    event = RefundEvent.objects.filter(refund=refund, action="deny").get()
    assert event_sentence(event) == (
        f"{agent.username} (refund agent) denied the refund of "
        f"{refund.total:.2f} {refund.currency}: Requested → Denied. "
        "Reason: “Outside the return window”"
    )


@pytest.mark.django_db
def test_marketplace_answer_is_summarised_for_the_system_actor(order, customer_user):
    refund = _refund(order, customer_user)
    event = RefundEvent.objects.create(
        refund=refund,
        actor=None,
        actor_label="system: webhook",
        action="marketplace_rejected",
        from_status="PROCESSING",
        to_status="PROCESSING",
        changes={"external_id": ["", "MP-77"]},
        note="Order already refunded",
    )
    assert event_sentence(event) == (
        "The system (webhook): the marketplace rejected the refund (marketplace refund id MP-77). "
        "Marketplace said: “Order already refunded”"
    )


def test_pretty_json_is_indented_and_sorted_and_empty_for_nothing():
    assert pretty_json({"b": 1, "a": [1, "x"]}) == '{\n  "a": [\n    1,\n    "x"\n  ],\n  "b": 1\n}'
    assert pretty_json({}) == ""
    assert pretty_json(None) == ""
