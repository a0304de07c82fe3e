"""A refund's page in headless Chromium as an agent works it: Deny and Cancel ask first (Cancel
in the dialog changes nothing), the keyboard moves through the queue and approves (after the
question) or goes to the deny reason, and Assign to me. The live update while a real worker
delivers is in test_detail_live_browser.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.models import Refund, RefundEvent
from refunds.services import refund_request
from tests import factories

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _requested(count: int) -> list[Refund]:
    """`count` requested refunds, oldest first, each on its own order of one customer."""
    customer_user = factories.UserFactory(username="carol@example.com")
    customer = factories.CustomerFactory(email="carol@example.com", user=customer_user)
    now = timezone.now()
    refunds = []
    for i in range(count):
        order = factories.make_order(customer=customer, lines=((2, f"{20 + i}.00", "0", "0"),))
        refund = refund_request(
            actor=customer_user,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=order.lines.get().pk, quantity=1)],
        )
        Refund.objects.filter(pk=refund.pk).update(created_at=now - dt.timedelta(hours=10 - i))
        refunds.append(refund)
    return refunds


def _status(pk: int) -> str:
    return Refund.objects.get(pk=pk).status


def test_deny_and_cancel_ask_first(page, make_agent):
    make_agent("agent-confirm@example.com")
    first, second = _requested(2)
    sign_in(page, "agent-confirm@example.com", next_url=f"/staff/refunds/{first.pk}/")
    page.fill("#id_deny-reason", "Outside the return window")
    page.locator("form.action-deny button[type=submit]").click()
    dialog = page.locator("dialog.confirm-dialog")
    dialog.wait_for(state="visible")
    assert dialog.locator("h2").inner_text() == f"Deny {first.number} for 20.00 USD?"
    assert "cannot be reopened" in dialog.inner_text()
    screenshot(page, "staff-detail-deny-confirm")
    page.click("#confirm-dialog-cancel")
    dialog.wait_for(state="hidden")
    assert _status(first.pk) == "REQUESTED"
    # What was typed is still there; now confirm.
    assert page.input_value("#id_deny-reason") == "Outside the return window"
    page.locator("form.action-deny button[type=submit]").click()
    page.click("#confirm-dialog-ok")
    page.wait_for_url(f"**/staff/refunds/{first.pk}/")
    page.locator(".message.success").wait_for()
    assert page.locator("#refund-status").inner_text() == "Denied"
    assert _status(first.pk) == "DENIED"

    page.goto(f"/staff/refunds/{second.pk}/")
    page.locator("form.action-cancel button[type=submit]").click()
    assert page.locator("dialog.confirm-dialog h2").inner_text() == f"Cancel {second.number}?"
    page.keyboard.press("Escape")  # Esc is Cancel too
    page.locator("dialog.confirm-dialog").wait_for(state="hidden")
    assert _status(second.pk) == "REQUESTED"


def test_keyboard_moves_through_the_queue_approves_and_goes_to_deny(page, make_agent):
    make_agent("agent-keys@example.com")
    refunds = _requested(3)
    sign_in(page, "agent-keys@example.com", next_url=f"/staff/refunds/{refunds[0].pk}/")
    page.keyboard.press("j")
    page.wait_for_url(f"**/staff/refunds/{refunds[1].pk}/")
    page.keyboard.press("j")
    page.wait_for_url(f"**/staff/refunds/{refunds[2].pk}/")
    page.keyboard.press("k")
    page.wait_for_url(f"**/staff/refunds/{refunds[1].pk}/")

    # Typing a j into a field types a j.
    page.click("#id_deny-reason")
    page.keyboard.type("jk")
    assert page.input_value("#id_deny-reason") == "jk"
    assert page.url.endswith(f"/staff/refunds/{refunds[1].pk}/")
    page.fill("#id_deny-reason", "")
    page.locator("h1").click()

    # d goes to the deny reason.
    page.keyboard.press("d")
    assert page.evaluate("document.activeElement.id") == "id_deny-reason"
    page.locator("h1").click()

    # a asks first; Cancel leaves it requested, OK approves.
    page.keyboard.press("a")
    dialog = page.locator("dialog.confirm-dialog")
    dialog.wait_for(state="visible")
    assert dialog.locator("h2").inner_text() == f"Approve {refunds[1].number} for 21.00 USD?"
    page.click("#confirm-dialog-cancel")
    dialog.wait_for(state="hidden")
    assert _status(refunds[1].pk) == "REQUESTED"
    page.keyboard.press("a")
    page.click("#confirm-dialog-ok")
    page.locator(".message.success").wait_for()
    assert _status(refunds[1].pk) == "PROCESSING"
    # Approved, it left the queue: its page still leads on to the next one.
    page.keyboard.press("j")
    page.wait_for_url(f"**/staff/refunds/{refunds[2].pk}/")


def test_assign_to_me_then_to_nobody(page, make_agent):
    agent = make_agent("agent-assign@example.com")
    (refund,) = _requested(1)
    sign_in(page, "agent-assign@example.com", next_url=f"/staff/refunds/{refund.pk}/")
    assert page.locator("#assigned-to").inner_text() == "Nobody"
    page.click("text=Assign to me")
    page.locator(".message.success").wait_for()
    assert page.locator("#assigned-to").inner_text() == "agent-assign@example.com (you)"
    assert Refund.objects.get(pk=refund.pk).assigned_to_id == agent.pk
    assert (
        "agent-assign@example.com (refund agent) took the refund."
        in page.locator("#refund-timeline").inner_text()
    )
    page.select_option("#id_assign-assignee", label="Nobody (unassigned)")
    page.click("text=Save assignment")
    page.locator(".message.success").wait_for()
    assert page.locator("#assigned-to").inner_text() == "Nobody"
    assert RefundEvent.objects.filter(refund=refund, action="assign").count() == 2
