"""A refund's page while it is delivered: the status block says in words what the refund waits
for (from its outbox rows and their attempts, on a driven clock), polls only while something is
moving, and its endpoint answers with the block alone while nothing changed and with every part
of the page out-of-band once something did. Also the previous / next links of the default queue
and the link to the admin."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.base import Confirmed
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction, OutboundAttempt
from refunds.models import Refund
from refunds.selectors import refund_detail_queryset
from refunds.services import (
    refund_apply_marketplace_result,
    refund_approve,
    refund_mark_outcome_unknown,
    refund_request,
)
from refunds.views.staff.detail import live_signature, live_status
from tests import factories


def _request(order, actor, *, refund_only=True):
    line = order.lines.order_by("id").first()
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def _loaded(refund) -> Refund:
    return refund_detail_queryset().get(pk=refund.pk)


def _status(refund, now):
    return live_status(_loaded(refund), "LLZW shop", now)


@pytest.fixture
def approved(order, customer_user, agent):
    return refund_approve(actor=agent, refund=_request(order, customer_user))


@pytest.mark.django_db
def test_each_moment_of_a_delivery_in_words(approved):
    action = OutboundAction.objects.get(refund=approved)
    created = action.created_at
    queued = _status(approved, created + dt.timedelta(minutes=3))
    assert queued.live
    assert queued.tone == "pending"
    assert queued.text == "Queued to be sent to LLZW shop: the refund — queued 3 min ago."

    OutboundAction.objects.filter(pk=action.pk).update(state="in_flight", attempts=1)
    sending = _status(approved, created)
    assert sending.live
    assert sending.text == "Sending the refund to LLZW shop now — attempt 1."

    later = created + dt.timedelta(minutes=10)
    OutboundAction.objects.filter(pk=action.pk).update(
        state="pending",
        attempts=2,
        last_error="503 Service Unavailable",
        next_attempt_at=later + dt.timedelta(seconds=40),
    )
    failing = _status(approved, later)
    assert failing.live
    assert failing.text == (
        "Sending the refund to LLZW shop failed for now (attempt 2: 503 Service Unavailable); "
        "next try in 40 s."
    )

    OutboundAction.objects.filter(pk=action.pk).update(
        state="succeeded", attempts=3, completed_at=later
    )
    OutboundAttempt.objects.create(
        action=action, number=3, started_at=later, finished_at=later, outcome="accepted"
    )
    waiting = _status(approved, later + dt.timedelta(hours=2))
    assert waiting.live
    assert waiting.text == (
        "Waiting for LLZW shop to confirm the refund — sent 2 h ago, attempt 3."
    )

    refund_apply_marketplace_result(refund=approved, result=Confirmed(external_id="R-1"), via="t")
    approved.refresh_from_db()
    issued = _status(approved, approved.issued_at + dt.timedelta(seconds=20))
    assert not issued.live
    assert issued.tone == "ok"
    assert issued.text == "Issued: LLZW shop confirmed the refund less than a minute ago."


@pytest.mark.django_db
def test_no_polling_while_a_person_must_act(order, customer_user, agent):
    requested = _request(order, customer_user, refund_only=False)
    status = _status(requested, timezone.now())
    assert not status.live
    assert status.text == "Waiting for a decision: approve or deny the refund."
    waiting = refund_approve(actor=agent, refund=requested)
    OutboundAction.objects.filter(refund=waiting).update(state="succeeded")
    assert _status(waiting, timezone.now()).text == (
        "Waiting for the customer to send the goods back."
    )
    other = refund_approve(
        actor=agent, refund=_request(factories.make_order(customer=order.customer), customer_user)
    )
    (sent,) = OutboundAction.objects.filter(refund=other)
    OutboundAction.objects.filter(pk=sent.pk).update(state="unknown")
    refund_mark_outcome_unknown(
        refund=other,
        attempts=5,
        last_error="read timed out",
        idempotency_key=sent.idempotency_key,
        via="test",
    )
    unknown = _status(other, timezone.now())
    assert not unknown.live
    assert unknown.tone == "warn"
    assert unknown.text == (
        "Stopped: LLZW shop did not answer, so a person must check it (see below)."
    )


@pytest.mark.django_db
def test_live_endpoint_sends_the_block_alone_until_something_changes(client, agent, approved):
    client.force_login(agent)
    url = reverse("staff:refund-live", args=[approved.pk])
    signature = live_signature(_loaded(approved))
    same = client.get(url, {"v": signature})
    assert same.status_code == 200
    assert same["Cache-Control"] == "no-store"
    body = same.content.decode()
    assert 'id="live-status"' in body
    assert "hx-swap-oob" not in body
    assert 'hx-trigger="every 2s"' in body  # still delivering: it keeps asking

    refund_apply_marketplace_result(refund=approved, result=Confirmed(external_id="R-9"), via="t")
    changed = client.get(url, {"v": signature}).content.decode()
    for part in ("refund-status", "refund-alerts", "refund-facts", "refund-actions"):
        assert f'id="{part}" hx-swap-oob="true"' in changed, part
    assert 'id="refund-timeline" hx-swap-oob="true"' in changed
    assert ">Issued</span>" in changed
    assert "hx-trigger" not in changed  # final: the page stops asking
    assert "R-9" in changed  # the facts: the marketplace's refund id


@pytest.mark.django_db
def test_live_endpoint_is_for_staff_only(client, customer_user, agent, approved):
    url = reverse("staff:refund-live", args=[approved.pk])
    client.force_login(customer_user)
    assert client.get(url).status_code == 403
    client.force_login(agent)
    assert client.get(reverse("staff:refund-live", args=[987654])).status_code == 404


@pytest.mark.django_db
def test_the_page_polls_only_while_delivering(client, agent, order, customer_user, approved):
    client.force_login(agent)
    page = client.get(reverse("staff:refund-detail", args=[approved.pk])).content.decode()
    assert f'hx-get="/staff/refunds/{approved.pk}/live/?v=' in page
    requested = _request(factories.make_order(customer=order.customer), customer_user)
    page = client.get(reverse("staff:refund-detail", args=[requested.pk])).content.decode()
    assert "hx-get" not in page
    assert "Waiting for a decision: approve or deny the refund." in page


@pytest.mark.django_db
def test_previous_and_next_follow_the_default_queue(client, agent, manager, order, customer_user):
    refunds = [
        _request(factories.make_order(customer=order.customer), customer_user) for _ in range(3)
    ]
    start = timezone.now() - dt.timedelta(hours=5)
    for i, refund in enumerate(refunds):
        Refund.objects.filter(pk=refund.pk).update(created_at=start + dt.timedelta(hours=i))
    client.force_login(agent)

    def links(refund):
        context = client.get(reverse("staff:refund-detail", args=[refund.pk])).context
        return context["previous_url"], context["next_url"]

    detail = [reverse("staff:refund-detail", args=[r.pk]) for r in refunds]
    assert links(refunds[0]) == ("", detail[1])
    assert links(refunds[1]) == (detail[0], detail[2])
    assert links(refunds[2]) == (detail[1], "")
    # Approved, the middle one leaves the queue: its page still leads on to its neighbours...
    refund_approve(actor=manager, refund=refunds[1])
    assert links(refunds[1]) == (detail[0], detail[2])
    # ...and they now lead past it.
    assert links(refunds[0]) == ("", detail[2])


@pytest.mark.django_db
def test_the_page_links_to_the_admin_and_the_admin_back(client, manager, approved):
    client.force_login(manager)
    page = client.get(reverse("staff:refund-detail", args=[approved.pk])).content.decode()
    assert f'href="{reverse("admin:refunds_refund_change", args=[approved.pk])}"' in page
