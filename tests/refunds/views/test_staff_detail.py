from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction, OutboundAttempt, WebhookEvent
from refunds.models import Refund, RefundEvent, RefundLine
from refunds.services import refund_approve, refund_request
from tests import factories


def _refund(order, actor, *, refund_only=False, quantity=1, line_index=0):
    line = list(order.lines.all())[line_index]
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=quantity)],
    )


def _detail(refund):
    return reverse("staff:refund-detail", args=[refund.pk])


def _action(refund, name):
    return reverse("staff:refund-action", args=[refund.pk, name])


def _snapshot(refund):
    refund.refresh_from_db()
    return (
        refund.status,
        refund.total,
        refund.response_reason,
        refund.return_tracking_id,
        RefundEvent.objects.filter(refund=refund).count(),
        OutboundAction.objects.filter(refund=refund).count(),
    )


@pytest.mark.django_db
def test_detail_shows_order_lines_payments_refundable_and_actions(
    client, agent, order, customer_user
):
    refund = _refund(order, customer_user)
    client.force_login(agent)
    response = client.get(_detail(refund))
    assert response.status_code == 200
    assert set(response.context["forms"]) == {"approve", "deny", "cancel"}
    body = response.content.decode()
    assert f"Order {order.external_number}" in body
    # 20.00 + 29.47 (3 × 9.99 − 1.00 + 0.50) + 100.00 + 5.00 shipping
    assert "card · 154.47 USD" in body
    assert response.context["refundable"].total == Decimal("144.47")
    assert "Approve 10.00 USD" in body
    assert "The llzw adapter is not installed" in body or "LLZW shop can" in body


@pytest.mark.django_db
def test_detail_customer_forbidden_and_unknown_refund_404(client, customer_user, agent, order):
    refund = _refund(order, customer_user)
    client.force_login(customer_user)
    assert client.get(_detail(refund)).status_code == 403
    client.force_login(agent)
    assert client.get(reverse("staff:refund-detail", args=[987654])).status_code == 404


@pytest.mark.django_db
def test_agent_cannot_approve_a_refund_they_requested(client, agent, order):
    refund = _refund(order, agent)
    client.force_login(agent)
    response = client.get(_detail(refund))
    assert "approve" not in response.context["forms"]
    assert "You requested this refund, so someone else must approve it." in (
        response.content.decode()
    )
    before = _snapshot(refund)
    response = client.post(_action(refund, "approve"), {"approve-note": ""})
    assert response.status_code == 400
    assert "You requested this refund, so someone else must approve it" in (
        response.content.decode()
    )
    assert _snapshot(refund) == before


@pytest.mark.django_db
def test_agent_approves_and_sees_message(client, agent, order, customer_user):
    refund = _refund(order, customer_user, refund_only=True)
    client.force_login(agent)
    response = client.post(_action(refund, "approve"), {"approve-note": "looks right"}, follow=True)
    assert response.redirect_chain == [(_detail(refund), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"{refund.number} approved: now Processing."
    ]
    refund.refresh_from_db()
    assert refund.status == "PROCESSING"
    assert OutboundAction.objects.filter(refund=refund, kind="create_refund").count() == 1


@pytest.mark.django_db
def test_above_limit_needs_a_manager(client, agent, manager, settings, order, customer_user):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    refund = _refund(order, customer_user, line_index=2)  # 100.00
    client.force_login(agent)
    response = client.get(_detail(refund))
    assert "approve" not in response.context["forms"]
    before = _snapshot(refund)
    response = client.post(_action(refund, "approve"), {})
    assert response.status_code == 400
    assert "need a refund manager&#x27;s approval" in response.content.decode()
    assert _snapshot(refund) == before
    client.force_login(manager)
    client.post(_action(refund, "approve"), {})
    refund.refresh_from_db()
    assert refund.status == "WAITING"


@pytest.mark.django_db
def test_deny_without_reason_shows_field_error_and_changes_nothing(
    client, agent, order, customer_user
):
    refund = _refund(order, customer_user)
    before = _snapshot(refund)
    client.force_login(agent)
    response = client.post(_action(refund, "deny"), {"deny-reason": "   "})
    assert response.status_code == 400
    form = response.context["forms"]["deny"]
    assert form.errors == {"reason": ["This field is required."]}
    assert _snapshot(refund) == before
    client.post(_action(refund, "deny"), {"deny-reason": "Outside the return window"})
    refund.refresh_from_db()
    assert (refund.status, refund.response_reason) == ("DENIED", "Outside the return window")


@pytest.mark.django_db
def test_ship_and_receive_with_per_line_quantities(client, agent, agent2, order, customer_user):
    refund = _refund(order, customer_user, quantity=2)  # 2 × 10.00
    refund_approve(actor=agent2, refund=refund)
    client.force_login(agent)
    response = client.get(_detail(refund))
    assert set(response.context["forms"]) == {"deny", "ship", "receive", "cancel"}
    response = client.post(_action(refund, "ship"), {"ship-carrier": "UPS", "ship-tracking_id": ""})
    assert response.status_code == 400
    assert response.context["forms"]["ship"].errors == {"tracking_id": ["This field is required."]}
    client.post(_action(refund, "ship"), {"ship-carrier": "UPS", "ship-tracking_id": "1Z42"})
    refund.refresh_from_db()
    assert (refund.return_carrier, refund.return_tracking_id) == ("UPS", "1Z42")
    line = RefundLine.objects.get(refund=refund)
    before = _snapshot(refund)
    response = client.post(_action(refund, "receive"), {f"receive-received_{line.pk}": "3"})
    assert response.status_code == 400
    assert response.context["forms"]["receive"].errors == {
        f"received_{line.pk}": ["Ensure this value is less than or equal to 2."]
    }
    assert _snapshot(refund) == before
    client.post(
        _action(refund, "receive"),
        {f"receive-received_{line.pk}": "1", f"receive-restock_{line.pk}": "on"},
    )
    refund.refresh_from_db()
    line.refresh_from_db()
    assert refund.status == "PROCESSING"
    assert refund.total == Decimal("10.00")
    assert (line.received_quantity, line.restock) == (1, True)


@pytest.mark.django_db
def test_refused_action_from_the_wrong_status_changes_nothing(client, agent, order, customer_user):
    refund = _refund(order, customer_user)
    before = _snapshot(refund)
    client.force_login(agent)
    response = client.post(_action(refund, "retry"), {"retry-note": ""})
    assert response.status_code == 400
    assert "Cannot retry a refund that is requested" in response.content.decode()
    assert _snapshot(refund) == before
    assert client.post(_action(refund, "explode"), {}).status_code == 404


@pytest.mark.django_db
def test_timeline_merges_events_outbound_attempts_and_webhooks(client, agent, order, customer_user):
    refund = _refund(order, customer_user, refund_only=True)
    refund_approve(actor=agent, refund=refund)
    action = OutboundAction.objects.get(refund=refund)
    OutboundAttempt.objects.create(
        action=action,
        number=1,
        started_at=timezone.now(),
        outcome="rejected",
        message="ORDER_NOT_FOUND",
    )
    WebhookEvent.objects.create(
        account=order.account,
        adapter_key="llzw",
        name="refund-result",
        delivery_key="d-1",
        topic="refund.succeeded",
        headers={},
        body="{}",
        refund=refund,
        state="processed",
    )
    client.force_login(agent)
    response = client.get(_detail(refund))
    kinds = [e.kind for e in response.context["timeline"]]
    assert kinds == ["event", "event", "outbound", "attempt", "webhook"]
    body = response.content.decode()
    assert f"Attempt 1 of create refund (key RD{refund.pk}-create-refund-1): rejected" in body
    assert "ORDER_NOT_FOUND" in body
    assert "Webhook from llzw: refund-result · refund.succeeded (processed)" in body


def _detail_refunds(count):
    requester = factories.agent(username="requester@example.com")
    order = factories.make_order(lines=tuple((1, "1.00", "0", "0") for _ in range(count)))
    refund = refund_request(
        actor=requester,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1) for line in order.lines.all()],
    )
    for i in range(count):
        RefundEvent.objects.create(
            refund=refund,
            actor_label="system",
            action=f"note{i}",
            from_status="REQUESTED",
            to_status="REQUESTED",
        )
    return refund


@pytest.mark.parametrize("rows", [10, 100])
@pytest.mark.django_db
def test_detail_runs_a_fixed_number_of_queries(client, agent, rows, django_assert_num_queries):
    refund = _detail_refunds(rows)
    client.force_login(agent)
    # session, user, 2 × permissions, refund, 7 prefetches (lines, events with their actors,
    # outbound actions, webhooks, evidence photos, order lines, payments; attempts are skipped
    # when there are no actions), the actors' groups (their roles in the timeline), the two
    # refundable sums, the previous and next refunds needing a decision, and the people it may be
    # assigned to
    with django_assert_num_queries(18):
        response = client.get(_detail(refund))
    assert len(response.context["refund"].lines.all()) == rows
    assert len(response.context["timeline"]) == rows + 1


@pytest.mark.django_db
def test_capabilities_are_shown_when_the_adapter_is_installed(client, agent, customer_user):
    order = factories.make_order(
        account=factories.AccountFactory(name="HG", adapter_key="hepsiglobal"),
        customer=factories.CustomerFactory(user=customer_user),
    )
    refund = _refund(order, customer_user)
    client.force_login(agent)
    response = client.get(_detail(refund))
    capabilities = response.context["capabilities"]
    assert capabilities is not None
    body = response.content.decode()
    for note in capabilities.notes:
        assert note.replace("'", "&#x27;") in body


@pytest.mark.django_db
def test_needs_attention_offers_retry_and_deny(client, agent, agent2, order, customer_user):
    refund = _refund(order, customer_user, refund_only=True)
    refund_approve(actor=agent2, refund=refund)
    Refund.objects.filter(pk=refund.pk).update(
        needs_attention=True, attention_message="LLZW refused: closed"
    )
    OutboundAction.objects.filter(refund=refund).update(state="failed")  # as the refusal left it
    client.force_login(agent)
    response = client.get(_detail(refund))
    assert set(response.context["forms"]) == {"deny", "retry"}
    assert "LLZW refused: closed" in response.content.decode()
    client.post(_action(refund, "retry"), {"retry-note": "fixed the account"})
    refund.refresh_from_db()
    assert refund.needs_attention is False
    keys = OutboundAction.objects.filter(refund=refund, kind="create_refund").values_list(
        "idempotency_key", flat=True
    )
    assert list(keys) == [f"RD{refund.pk}-create-refund-1"] * 2  # the same refund, asked again


def test_an_unknown_outcome_offers_retry_but_not_deny(client, agent, agent2, order, customer_user):
    from refunds.services import refund_mark_outcome_unknown

    refund = _refund(order, customer_user, refund_only=True)
    refund_approve(actor=agent2, refund=refund)
    order.account.adapter_key = "hepsiglobal"
    order.account.save(update_fields=["adapter_key"])
    OutboundAction.objects.filter(refund=refund).update(state="unknown")
    refund_mark_outcome_unknown(
        refund=refund,
        attempts=8,
        last_error="no answer",
        idempotency_key=f"RD{refund.pk}-create-refund-1",
        via="test",
    )
    client.force_login(agent)
    response = client.get(_detail(refund))
    body = response.content.decode()
    assert set(response.context["forms"]) == {"retry"}
    assert (
        '<div class="alert alert-warn" role="alert" id="outcome-unknown">Outcome unknown: ' in body
    )
    assert "Needs attention." not in body
    assert "It cannot be denied while the outcome is unknown" in body
    before = _snapshot(refund)
    response = client.post(_action(refund, "deny"), {"deny-reason": "Never mind"})
    assert response.status_code == 400
    assert "may have paid this refund" in response.content.decode()
    assert _snapshot(refund) == before

    queue = client.get(reverse("staff:refund-queue")).content.decode()
    assert "Outcome unknown</span>" in queue


@pytest.mark.django_db
def test_a_refused_action_says_why_once(client, agent, order):
    refund = _refund(order, agent)
    client.force_login(agent)
    page = client.get(_detail(refund))
    reason = "You requested this refund, so someone else must approve it."
    assert page.context["action_notes"] == [reason]
    response = client.post(_action(refund, "approve"), {"approve-note": ""})
    assert response.status_code == 400
    assert response.context["forms"]["approve"].non_field_errors() == [reason[:-1]]
    assert response.context["action_notes"] == []
    assert response.content.decode().count("someone else must approve it") == 1


@pytest.mark.django_db
def test_noventiq_capabilities_say_an_item_is_refunded_with_all_its_units(
    client, agent, customer_user
):
    order = factories.make_order(
        account=factories.AccountFactory(name="NQ", adapter_key="noventiq"),
        customer=factories.CustomerFactory(user=customer_user),
    )
    refund = _refund(order, customer_user, quantity=2)  # the item's every unit
    client.force_login(agent)
    body = client.get(_detail(refund)).content.decode()
    assert '<li class="no">Refund some units of an item (not all)</li>' in body
    assert "Noventiq refunds whole order items: every unit of each item" in body
