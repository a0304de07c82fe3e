"""Maker-checker and the approval limit, enforced by the services themselves."""

from decimal import Decimal

import pytest

from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.errors import RefundError
from refunds.models import Refund, RefundEvent
from refunds.services import refund_approve, refund_request
from tests import factories


def _snapshot(refund):
    return (
        Refund.objects.filter(pk=refund.pk).values().get(),
        list(RefundEvent.objects.filter(refund=refund).values()),
        list(OutboundAction.objects.filter(refund=refund).values()),
    )


def _request(actor, order, quantity=1):
    line = order.lines.order_by("id").first()
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=quantity)],
    )


@pytest.fixture
def big_order(db):
    return factories.make_order(lines=((2, "300.00", "0.00", "0.00"),), shipping="0.00")


def test_agent_cannot_approve_a_refund_they_requested(order, agent, agent2):
    refund = _request(agent, order)
    before = _snapshot(refund)
    with pytest.raises(RefundError) as exc_info:
        refund_approve(actor=agent, refund=refund)
    assert exc_info.value.message == "You requested this refund, so someone else must approve it"
    assert exc_info.value.code == "maker_checker"
    assert _snapshot(refund) == before
    assert refund_approve(actor=agent2, refund=refund).status == "PROCESSING"


def test_manager_cannot_approve_own_request_either(big_order, manager):
    refund = _request(manager, big_order)
    assert refund.requester_role == "manager"
    before = _snapshot(refund)
    with pytest.raises(RefundError, match="someone else must approve it"):
        refund_approve(actor=manager, refund=refund)
    assert _snapshot(refund) == before


def test_agent_cannot_approve_above_the_limit(big_order, agent, manager):
    refund = _request(agent2 := factories.agent(username="maker@example.com"), big_order, 2)
    assert refund.requester_role == "agent"
    assert refund.requested_by == agent2
    assert refund.total == Decimal("600.00")
    before = _snapshot(refund)
    with pytest.raises(RefundError) as exc_info:
        refund_approve(actor=agent, refund=refund)
    assert exc_info.value.message == (
        "Refunds above 500.00 USD need a refund manager's approval (this one is 600.00 USD)"
    )
    assert exc_info.value.code == "approval_limit"
    assert _snapshot(refund) == before
    refund = refund_approve(actor=manager, refund=refund)
    assert refund.status == "PROCESSING"
    event = RefundEvent.objects.filter(refund=refund).last()
    assert (event.action, event.actor, event.actor_label) == ("approve", manager, manager.username)


def test_agent_may_approve_exactly_the_limit(agent, agent2):
    order = factories.make_order(lines=((1, "500.00", "0.00", "0.00"),), shipping="0.00")
    refund = _request(agent, order)
    assert refund.total == Decimal("500.00")
    assert refund_approve(actor=agent2, refund=refund).status == "PROCESSING"


def test_the_limit_is_read_from_settings_at_call_time(order, agent, agent2, settings):
    settings.REFUND_APPROVAL_LIMIT = Decimal("5.00")
    refund = _request(agent, order)  # 10.00
    with pytest.raises(RefundError, match=r"Refunds above 5\.00 USD need a refund manager"):
        refund_approve(actor=agent2, refund=refund)
    assert Refund.objects.get(pk=refund.pk).status == "REQUESTED"


def test_staff_without_permission_is_refused(order, agent):
    clerk = factories.UserFactory(username="clerk@example.com", is_staff=True)
    refund = _request(agent, order)
    before = _snapshot(refund)
    with pytest.raises(RefundError) as exc_info:
        refund_approve(actor=clerk, refund=refund)
    assert exc_info.value.message == "You do not have permission to approve this refund"
    assert exc_info.value.code == "forbidden"
    assert _snapshot(refund) == before


def test_disabled_account_is_refused(order, agent, agent2):
    refund = _request(agent, order)
    agent2.is_active = False
    agent2.save()
    with pytest.raises(RefundError, match="This account is disabled"):
        refund_approve(actor=agent2, refund=refund)
    assert Refund.objects.get(pk=refund.pk).status == "REQUESTED"


def test_customer_cannot_request_a_refund_on_someone_elses_order(agent):
    bob = factories.UserFactory(username="bob@example.com")
    order = factories.make_order()
    with pytest.raises(RefundError, match="You do not have permission to request this refund"):
        _request(bob, order)
    assert Refund.objects.count() == 0


def test_customer_request_records_portal_source(order, customer_user):
    refund = _request(customer_user, order)
    assert (refund.source, refund.requester_role, refund.requester_name) == (
        "portal",
        "customer",
        "alice@example.com",
    )


def test_customer_cannot_refund_an_unpaid_order(customer_user):
    customer = factories.CustomerFactory(email="alice@example.com", user=customer_user)
    order = factories.make_order(customer=customer, status="pending")
    with pytest.raises(RefundError, match="Only paid orders can be refunded"):
        _request(customer_user, order)
    assert Refund.objects.count() == 0


def test_approval_rechecks_money_against_newer_refunds(order, agent, agent2, customer_user):
    refund = _request(customer_user, order)
    # The marketplace re-sent the order with a smaller total since the request was made.
    type(order).objects.filter(pk=order.pk).update(grand_total=Decimal("5.00"))
    before = _snapshot(refund)
    with pytest.raises(RefundError) as exc_info:
        refund_approve(actor=agent2, refund=refund)
    assert exc_info.value.code == "over_refund"
    assert exc_info.value.message == (
        f"Order {order.external_number}: 5.00 USD refundable, 10.00 USD in this refund"
    )
    assert _snapshot(refund) == before
