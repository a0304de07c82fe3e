"""Assigning a refund to a person: the service's rules, the audit trail it writes, the sentences
the timeline shows, and the detail page's assignment form (assign to me, to a colleague, to
nobody; refusals beside the field with nothing changed)."""

import pytest
from django.urls import reverse

from refunds.calculator import LineChoice
from refunds.errors import RefundError
from refunds.models import Refund, RefundEvent
from refunds.services import assignable_users, refund_assign, refund_deny, refund_request
from refunds.timeline import event_sentence
from tests import factories


@pytest.fixture
def refund(order, customer_user):
    line = order.lines.order_by("id").first()
    return refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def _events(refund, action="assign"):
    return list(RefundEvent.objects.filter(refund=refund, action=action).order_by("id"))


@pytest.mark.django_db
def test_assign_reassign_and_unassign_are_recorded_as_sentences(refund, agent, agent2, manager):
    refund_assign(actor=agent, refund=refund, assignee=agent)
    refund_assign(actor=manager, refund=refund, assignee=agent2)
    refund_assign(actor=agent2, refund=refund, assignee=None, note="Off on Friday")
    refund.refresh_from_db()
    assert refund.assigned_to is None
    events = _events(refund)
    assert [e.changes["assigned_to"] for e in events] == [
        ["", agent.username],
        [agent.username, agent2.username],
        [agent2.username, ""],
    ]
    assert [e.actor for e in events] == [agent, manager, agent2]
    # No status moves: the event records the status it happened in.
    assert {(e.from_status, e.to_status) for e in events} == {("REQUESTED", "REQUESTED")}
    assert [event_sentence(e) for e in events] == [
        f"{agent.username} (refund agent) took the refund.",
        f"{manager.username} (refund manager) reassigned the refund from {agent.username} "
        f"to {agent2.username}.",
        f"{agent2.username} (refund agent) unassigned the refund (it was {agent2.username}'s)."
        " Note: “Off on Friday”",
    ]


@pytest.mark.django_db
def test_assigning_a_colleague_reads_as_assigned_to(refund, manager, agent):
    refund_assign(actor=manager, refund=refund, assignee=agent)
    (event,) = _events(refund)
    assert event_sentence(event) == (
        f"{manager.username} (refund manager) assigned the refund to {agent.username}."
    )


@pytest.mark.django_db
def test_refusals_change_nothing(refund, agent, customer_user, order):
    outsider = factories.UserFactory(username="warehouse@example.com", is_staff=True)
    assert outsider not in assignable_users()
    cases = [
        (customer_user, agent, "Only staff can assign refunds"),
        (outsider, agent, "You do not have permission to assign refunds"),
        (
            agent,
            outsider,
            "warehouse@example.com does not work on refunds: choose a refund agent or manager",
        ),
        (agent, None, f"{refund.number} is already unassigned"),
    ]
    for actor, assignee, message in cases:
        with pytest.raises(RefundError) as refused:
            refund_assign(actor=actor, refund=refund, assignee=assignee)
        assert refused.value.message == message
    refund_assign(actor=agent, refund=refund, assignee=agent)
    with pytest.raises(RefundError, match="is already assigned to"):
        refund_assign(actor=agent, refund=refund, assignee=agent)
    assert len(_events(refund)) == 1


@pytest.mark.django_db
def test_a_final_refund_cannot_be_assigned(refund, agent, agent2):
    refund_deny(actor=agent, refund=refund, reason="Outside the return window")
    with pytest.raises(RefundError) as refused:
        refund_assign(actor=agent, refund=refund, assignee=agent2)
    assert refused.value.message == f"{refund.number} is denied: there is nothing left to work on"
    assert Refund.objects.get(pk=refund.pk).assigned_to is None
    assert _events(refund) == []


def _post(client, refund, **data):
    return client.post(reverse("staff:refund-action", args=[refund.pk, "assign"]), data)


@pytest.mark.django_db
def test_detail_page_assigns_to_me_and_to_a_colleague(client, refund, agent, agent2):
    client.force_login(agent)
    page = client.get(reverse("staff:refund-detail", args=[refund.pk])).content.decode()
    assert 'id="act-assign"' in page
    assert "Assign to me" in page
    response = _post(client, refund, **{"assign-to-me": "1"})
    assert response.status_code == 302
    assert Refund.objects.get(pk=refund.pk).assigned_to == agent
    page = client.get(response["Location"]).content.decode()
    assert f"{refund.number} is now assigned to {agent.username}." in page
    assert f"{agent.username} (you)" in page
    assert "Assign to me" not in page
    response = _post(client, refund, **{"assign-assignee": str(agent2.pk)})
    assert response.status_code == 302
    assert Refund.objects.get(pk=refund.pk).assigned_to == agent2


@pytest.mark.django_db
def test_detail_page_refuses_a_bad_assignee_beside_the_field(client, refund, agent):
    client.force_login(agent)
    customer = factories.UserFactory(username="someone@example.com")
    for value in (str(customer.pk), "999999", "not-a-number"):
        response = _post(client, refund, **{"assign-assignee": value})
        assert response.status_code == 400
        body = response.content.decode()
        assert "Select a valid choice." in body
        assert "Nothing was changed" in body
    response = _post(client, refund, **{"assign-assignee": ""})  # already nobody
    assert response.status_code == 400
    assert f"{refund.number} is already unassigned" in response.content.decode()
    assert Refund.objects.get(pk=refund.pk).assigned_to is None
    assert _events(refund) == []


@pytest.mark.django_db
def test_no_assignment_form_on_a_final_refund(client, refund, agent):
    refund_deny(actor=agent, refund=refund, reason="No")
    client.force_login(agent)
    page = client.get(reverse("staff:refund-detail", args=[refund.pk])).content.decode()
    assert 'id="act-assign"' not in page
