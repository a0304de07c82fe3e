"""The refund as its customer reads it (refunds.customer_status): the headline and the steps of a
return through its whole life, "We are looking into it" instead of a frozen status while staff
handle a delay, and the status e-mail in two parts (text and HTML) built from them."""

import pytest
from django.core import mail

from refunds import customer_status
from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import (
    Received,
    refund_approve,
    refund_cancel,
    refund_deny,
    refund_receive,
    refund_request,
    refund_ship,
)

pytestmark = pytest.mark.django_db


def _request(order, customer_user, *, refund_only=False):
    return refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=order.lines.order_by("id").first().pk, quantity=1)],
    )


def _read(refund):
    refund = Refund.objects.prefetch_related("events", "lines").get(pk=refund.pk)
    events = list(refund.events.all())
    return customer_status.headline(refund, events), customer_status.steps(refund, events)


def _states(steps):
    return [(s.label, s.state, s.detail) for s in steps]


def test_a_return_from_request_to_issued(order, customer_user, agent):
    refund = _request(order, customer_user)
    headline, steps = _read(refund)
    assert (headline.label, headline.tone) == ("Requested", "pending")
    assert _states(steps) == [
        ("Requested", "done", "10.00 USD"),
        ("Approved — send the goods back", "current", ""),
        ("Parcel on its way", "next", ""),
        ("Parcel received", "next", ""),
        ("Refund issued", "next", "10.00 USD"),
    ]
    refund_approve(actor=agent, refund=refund)
    headline, _ = _read(refund)
    assert (headline.label, headline.tone) == ("Approved — send the goods back", "action")
    refund_ship(actor=customer_user, refund=refund, carrier="DHL", tracking_id="JD0001")
    headline, steps = _read(refund)
    assert headline.label == "Parcel on its way"
    assert _states(steps)[2] == ("Parcel on its way", "done", "DHL JD0001")
    assert _states(steps)[3] == ("Parcel received", "current", "")
    line = refund.lines.get()
    refund_receive(actor=agent, refund=refund, received={line.pk: Received(quantity=1)})
    headline, steps = _read(refund)
    assert headline.label == "Parcel received"
    assert headline.next_step == "Your refund of 10.00 USD is being paid out."
    assert steps[3].state == "done"
    assert steps[3].when is not None
    assert steps[4].state == "current"
    Refund.objects.filter(pk=refund.pk).update(status="ISSUED", issued_at=steps[3].when)
    headline, steps = _read(refund)
    assert (headline.label, headline.tone) == ("Refund issued", "ok")
    assert headline.next_step == "10.00 USD was refunded to your original payment method."
    assert [s.state for s in steps] == ["done"] * 5


def test_refund_only_skips_the_parcel(order, customer_user, agent):
    refund = refund_approve(actor=agent, refund=_request(order, customer_user, refund_only=True))
    headline, steps = _read(refund)
    assert headline.label == "Approved — refund on its way"
    assert _states(steps) == [
        ("Requested", "done", "10.00 USD"),
        ("Approved", "done", ""),
        ("Refund issued", "current", "10.00 USD"),
    ]


def test_denied_and_cancelled_end_there(order, customer_user, agent):
    denied = refund_deny(actor=agent, refund=_request(order, customer_user), reason="Worn")
    headline, steps = _read(denied)
    assert (headline.label, headline.tone) == ("Denied", "closed")
    assert headline.next_step == "Your refund request was denied. Reason: Worn"
    assert _states(steps) == [("Requested", "done", "10.00 USD"), ("Denied", "done", "Worn")]
    cancelled = refund_cancel(actor=customer_user, refund=_request(order, customer_user))
    assert [s.label for s in _read(cancelled)[1]] == ["Requested", "Cancelled"]


def test_a_delay_staff_handle_reads_as_looking_into_it(order, customer_user, agent):
    refund = refund_approve(actor=agent, refund=_request(order, customer_user, refund_only=True))
    Refund.objects.filter(pk=refund.pk).update(
        needs_attention=True, attention_message="LLZW refused: order is locked"
    )
    headline, steps = _read(refund)
    assert (headline.label, headline.tone) == ("We are looking into it", "delay")
    assert "locked" not in headline.next_step  # our internal words stay with the staff
    assert steps[-1] == customer_status.Step(
        "Refund issued", None, "We are looking into it", "current"
    )


def test_status_mail_has_a_text_and_an_html_part(
    order, customer_user, agent, django_capture_on_commit_callbacks
):
    refund = _request(order, customer_user)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        refund_approve(actor=agent, refund=refund)
    [message] = mail.outbox
    assert message.subject == f"Refund {refund.number}: Approved — send the goods back"
    assert message.body.startswith(
        f"Hello {order.customer.name},\n\n"
        f"Refund {refund.number} for order {order.external_number} (10.00 USD): "
        "Approved — send the goods back.\n"
        "Pack the items, post them, and enter the carrier and tracking number here.\n"
    )
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    link = f"http://127.0.0.1:8000/portal/refunds/{refund.pk}/"
    assert f'<a href="{link}"' in html
    assert "<h1" in html
    assert "Approved — send the goods back</h1>" in html
    assert "Refund total</td>" in html
    assert "10.00 USD" in html
    assert "<script" not in html
