"""refunds.rules: one decision for what an actor may do now. The services refuse with exactly its
reason and code; the staff page, the portal and the admin show the action or that reason."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from refunds import rules
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.errors import RefundError
from refunds.models import Refund, RefundEvent
from refunds.selectors import refund_queryset
from refunds.services import (
    refund_apply_remote_status,
    refund_approve,
    refund_cancel,
    refund_deny,
    refund_mark_outcome_unknown,
    refund_request,
    refund_retry,
    refund_ship,
)
from refunds.states import Action, Role

pytestmark = pytest.mark.django_db


def _refund(order, actor, *, refund_only=False, line_index=0):
    line = list(order.lines.order_by("id"))[line_index]
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def _loaded(refund):
    """The refund as the pages load it (order, customer and account joined)."""
    return refund_queryset().get(pk=refund.pk)


def _snapshot(refund):
    return (
        Refund.objects.filter(pk=refund.pk).values().get(),
        list(RefundEvent.objects.filter(refund=refund).values()),
        list(OutboundAction.objects.filter(refund=refund).values()),
    )


def _refused_alike(actor, refund, action, call, *, reason, code):
    """The rule refuses with `reason` and `code`, and the service raises exactly that, changing
    nothing."""
    decision = rules.decide(actor, _loaded(refund), action)
    assert decision == rules.Decision(allowed=False, reason=reason, code=code)
    before = _snapshot(refund)
    with pytest.raises(RefundError) as refused:
        call()
    assert (refused.value.message, refused.value.code) == (reason, code)
    assert _snapshot(refund) == before


def _outcome_unknown(order, customer_user, agent2):
    refund = _refund(order, customer_user, refund_only=True)
    refund_approve(actor=agent2, refund=refund)
    order.account.adapter_key = "hepsiglobal"  # no lookup by key: a person is asked to check
    order.account.save(update_fields=["adapter_key"])
    return refund_mark_outcome_unknown(
        refund=refund,
        attempts=8,
        last_error="no answer",
        idempotency_key=f"RD{refund.pk}-create-refund-1",
        via="test",
    )


def test_allowed_names_the_role_the_actor_acts_in(order, customer_user, agent):
    refund = _loaded(_refund(order, customer_user))
    assert rules.decide(agent, refund, Action.APPROVE) == rules.Decision(
        allowed=True, role=Role.STAFF
    )
    assert rules.decide(customer_user, refund, Action.CANCEL) == rules.Decision(
        allowed=True, role=Role.CUSTOMER
    )
    assert rules.decide(None, refund, Action.DENY) == rules.Decision(allowed=True, role=Role.SYSTEM)


def test_maker_checker_is_one_refusal(order, agent):
    refund = _refund(order, agent)
    _refused_alike(
        agent,
        refund,
        Action.APPROVE,
        lambda: refund_approve(actor=agent, refund=refund),
        reason="You requested this refund, so someone else must approve it",
        code="maker_checker",
    )


def test_approval_limit_is_one_refusal(order, customer_user, agent, settings):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    refund = _refund(order, customer_user, line_index=2)  # 100.00
    _refused_alike(
        agent,
        refund,
        Action.APPROVE,
        lambda: refund_approve(actor=agent, refund=refund),
        reason="Refunds above 50.00 USD need a refund manager's approval (this one is 100.00 USD)",
        code="approval_limit",
    )


def test_wrong_stage_and_missing_permission_are_one_refusal(order, customer_user, agent):
    refund = _refund(order, customer_user)
    _refused_alike(
        customer_user,
        refund,
        Action.APPROVE,
        lambda: refund_approve(actor=customer_user, refund=refund),
        reason="You do not have permission to approve this refund",
        code="forbidden",
    )
    refund_cancel(actor=agent, refund=refund)
    _refused_alike(
        agent,
        refund,
        Action.APPROVE,
        lambda: refund_approve(actor=agent, refund=refund),
        reason="Cannot approve a refund that is cancelled; only a refund that is requested can be.",
        code="invalid_transition",
    )


def test_no_deny_while_the_outcome_is_unknown_is_one_refusal(order, customer_user, agent, agent2):
    refund = _outcome_unknown(order, customer_user, agent2)
    name = order.account.name
    _refused_alike(
        agent,
        refund,
        Action.DENY,
        lambda: refund_deny(actor=agent, refund=refund, reason="Never mind"),
        reason=(
            f"It cannot be denied while the outcome is unknown: {name} may have paid this refund "
            f"(sending it got no answer). Check it on {name} first (Retry asks again with the "
            "same key, so it cannot be paid twice)"
        ),
        code="outcome_unknown",
    )
    assert rules.decide(agent, _loaded(refund), Action.RETRY).allowed is True


def test_retry_only_after_a_failed_delivery_is_one_refusal(order, customer_user, agent, agent2):
    refund = _refund(order, customer_user, refund_only=True)
    refund_approve(actor=agent2, refund=refund)
    _refused_alike(
        agent,
        refund,
        Action.RETRY,
        lambda: refund_retry(actor=agent, refund=refund),
        reason="Only a refund whose delivery failed can be retried",
        code="refused",
    )


def test_customer_cannot_cancel_what_staff_opened_is_one_refusal(order, customer_user, agent):
    refund = _refund(order, agent)
    _refused_alike(
        customer_user,
        refund,
        Action.CANCEL,
        lambda: refund_cancel(actor=customer_user, refund=refund),
        reason="Only staff can cancel a refund that staff opened",
        code="forbidden",
    )


def test_no_return_shipment_for_a_refund_only_refund_is_one_refusal(order, customer_user, agent):
    refund = _refund(order, customer_user, refund_only=True)
    refund_apply_remote_status(refund=refund, status="WAITING", via="test")
    _refused_alike(
        customer_user,
        refund,
        Action.SHIP,
        lambda: refund_ship(actor=customer_user, refund=refund, tracking_id="T1", carrier="UPS"),
        reason="This refund needs no return shipment: the customer keeps the goods",
        code="refused",
    )


def test_the_rule_reads_no_database(order, customer_user, agent, django_assert_num_queries):
    refund = _loaded(_refund(order, agent))
    agent.get_all_permissions()  # as the services and the first has_perm of a page load them
    with django_assert_num_queries(0):
        decisions = rules.available(agent, refund)
    assert {action: d.code for action, d in decisions.items()} == {
        Action.APPROVE: "maker_checker",
        Action.DENY: "",
        Action.SHIP: "invalid_transition",
        Action.RECEIVE: "invalid_transition",
        Action.RETRY: "invalid_transition",
        Action.CANCEL: "",
    }


def test_staff_page_offers_what_the_service_accepts(client, order, customer_user, agent, agent2):
    # A refund-only refund a marketplace reports as waiting: the service records goods received
    # (it always did) but refuses a return shipment, and the page offers exactly that.
    refund = _refund(order, customer_user, refund_only=True)
    refund_apply_remote_status(refund=refund, status="WAITING", via="test")
    client.force_login(agent)
    response = client.get(reverse("staff:refund-detail", args=[refund.pk]))
    assert set(response.context["forms"]) == {"deny", "receive", "cancel"}
    assert response.context["action_notes"] == []


def test_staff_page_explains_the_approval_limit_with_the_rules_reason(
    client, order, customer_user, agent, settings
):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    refund = _refund(order, customer_user, line_index=2)
    client.force_login(agent)
    response = client.get(reverse("staff:refund-detail", args=[refund.pk]))
    assert set(response.context["forms"]) == {"deny", "cancel"}
    assert response.context["action_notes"] == [
        "Refunds above 50.00 USD need a refund manager's approval (this one is 100.00 USD)."
    ]


def test_portal_offers_cancel_only_when_the_service_would_accept_it(
    client, order, customer_user, agent
):
    own = _refund(order, customer_user)
    opened_by_staff = _refund(order, agent, line_index=1)
    client.force_login(customer_user)
    response = client.get(reverse("portal:refund-detail", args=[own.pk]))
    assert response.context["can_cancel"] is True
    response = client.get(reverse("portal:refund-detail", args=[opened_by_staff.pk]))
    assert response.context["can_cancel"] is False
    assert response.context["can_ship"] is False


def test_admin_deny_page_says_beforehand_which_refunds_will_be_refused(
    client, order, customer_user, manager, agent
):
    open_refund = _refund(order, customer_user)
    cancelled = _refund(order, customer_user, line_index=1)
    refund_cancel(actor=agent, refund=cancelled)
    client.force_login(manager)
    response = client.post(
        reverse("admin:refunds_refund_changelist"),
        {"action": "deny_selected", ACTION_CHECKBOX_NAME: [open_refund.pk, cancelled.pk]},
    )
    assert response.status_code == 200
    rows = {refund.pk: decision for refund, decision in response.context["rows"]}
    assert rows[open_refund.pk].allowed is True
    reason = (
        "Cannot deny a refund that is cancelled; only a refund that is requested, waiting for "
        "return, processing can be."
    )
    assert rows[cancelled.pk] == rules.Decision(
        allowed=False, reason=reason, code="invalid_transition"
    )
    assert f"will not be denied:</strong> {reason}" in response.content.decode()
    assert Refund.objects.get(pk=cancelled.pk).status == "CANCELLED"
    assert Refund.objects.get(pk=open_refund.pk).status == "REQUESTED"


def test_staff_may_is_the_role_part_of_the_rule(agent, customer_user):
    assert rules.staff_may(agent, Action.APPROVE) is True
    assert rules.staff_may(agent, Action.CONFIRM) is False  # the system's action only
    assert rules.staff_may(customer_user, Action.CANCEL) is False  # a customer is no staff
    assert rules.staff_may(None, Action.DENY) is False
    agent.is_active = False
    assert rules.staff_may(agent, Action.APPROVE) is False
