"""A manager's day in the admin, in a real browser: approve a refund on its page, deny another
after confirming the dialog with a reason, the refunds list at 1366 px without sideways
scrolling, and bulk approve through its confirmation page (count and total, Cancel, Confirm)."""

from __future__ import annotations

import re

import pytest

from refunds.models import Refund
from tests import factories

from .axe import assert_no_serious_axe_violations
from .conftest import screenshot, sign_in
from .test_staff_browser import _customer_refund, _seed_queue

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _messages(page) -> str:
    return page.locator("ul.messagelist").inner_text()


def test_manager_approves_and_denies_on_the_refunds_admin_page(page, make_manager):
    manager = make_manager("manager-admin-e2e@example.com")
    first = _customer_refund(factories.make_order(lines=((1, "20.00", "0", "0"),)))
    second = _customer_refund(factories.make_order(lines=((1, "30.00", "0", "0"),)))
    sign_in(page, manager.username, next_url="/admin/refunds/refund/")
    page.wait_for_url("**/admin/refunds/refund/")

    page.locator("#result_list th.field-number_link a").filter(
        has_text=re.compile(rf"^{first.number}\b")
    ).click()
    page.wait_for_url(f"**/admin/refunds/refund/{first.pk}/change/")
    # Read-only: nothing pretends to save, and the back office is one click away.
    assert page.locator("input[name=_save], input[name=_continue], .deletelink").count() == 0
    link = page.get_by_role("link", name="Open in the back office").first
    assert link.get_attribute("href") == f"/staff/refunds/{first.pk}/"
    # On a phone the decision comes first, above the read-only fields.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.get_by_role("button", name="Approve refund").is_visible()
    assert page.get_by_role("button", name="Deny refund").is_visible()
    screenshot(page, "admin-refund-390")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.fill("textarea[name=approve-note]", "Photos checked")
    page.get_by_role("button", name="Approve refund").click()
    page.wait_for_url(f"**/admin/refunds/refund/{first.pk}/change/")
    assert _messages(page) == f"{first.number} approved: now Processing."
    assert page.locator(".rd-decision .rd-badge").inner_text() == "Processing"
    assert "approved the refund of 20.00 USD: Requested → Processing" in (
        page.locator("#events-group").inner_text()
    )
    first.refresh_from_db()
    assert first.status == "PROCESSING"

    page.goto(f"/admin/refunds/refund/{second.pk}/change/")
    page.fill("textarea[name=deny-reason]", "The item was used")
    # Cancelling the dialog sends nothing.
    page.get_by_role("button", name="Deny refund").click()
    dialog = page.locator("dialog.confirm-dialog")
    dialog.wait_for(state="visible")
    assert page.locator("#confirm-dialog-title").inner_text() == f"Deny {second.number}?"
    page.click("#confirm-dialog-cancel")
    dialog.wait_for(state="hidden")
    second.refresh_from_db()
    assert second.status == "REQUESTED"
    page.get_by_role("button", name="Deny refund").click()
    dialog.wait_for(state="visible")
    screenshot(page, "admin-deny-confirm")
    page.click("#confirm-dialog-ok")
    page.wait_for_selector("ul.messagelist")
    assert _messages(page) == f"{second.number} denied: now Denied."
    assert page.locator(".rd-decision .rd-badge").inner_text() == "Denied"
    second.refresh_from_db()
    assert (second.status, second.response_reason) == ("DENIED", "The item was used")
    event = second.events.order_by("id").last()
    assert (event.action, event.actor_id) == ("deny", manager.pk)
    # Nothing left to decide: no buttons.
    assert page.locator(".rd-approve-form, .rd-deny-form").count() == 0
    screenshot(page, "admin-refund-denied")


def test_refunds_changelist_fits_a_1366_px_screen(page, make_manager):
    make_manager("manager-admin-width@example.com")
    _seed_queue()
    Refund.objects.filter(pk=Refund.objects.order_by("id").first().pk).update(
        needs_attention=True, attention_message="Refused", has_drift=True
    )
    page.set_viewport_size({"width": 1366, "height": 768})
    sign_in(page, "manager-admin-width@example.com", next_url="/admin/refunds/refund/")
    page.wait_for_url("**/admin/refunds/refund/")
    assert page.locator("#result_list tbody tr").count() == 14
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 1366
    results = page.evaluate(
        "(() => { const r = document.querySelector('#changelist-form .results');"
        " return [r.scrollWidth, r.clientWidth]; })()"
    )
    assert results[0] <= results[1]  # the table itself does not scroll sideways either
    headers = page.locator("#result_list thead th .text").all_text_contents()
    assert [h.strip() for h in headers][1:] == [
        "Refund · requested",
        "Status",
        "Order · seller account",
        "Customer",
        "Amount",
        "Reason",
    ]
    filters = page.locator("#changelist-filter").inner_text().lower()
    assert "marketplace" in filters
    assert "adapter" not in filters
    screenshot(page, "admin-refunds-1366")


def test_bulk_approve_asks_with_the_count_and_total_then_approves(page, make_manager):
    manager = make_manager("manager-admin-bulk@example.com")
    usd = _customer_refund(factories.make_order(lines=((1, "12.34", "0", "0"),)))
    jpy = _customer_refund(
        factories.make_order(currency="JPY", lines=((1, "500", "0", "0"),), shipping="0")
    )
    untouched = _customer_refund(factories.make_order(lines=((1, "8.00", "0", "0"),)))
    sign_in(page, manager.username, next_url="/admin/refunds/refund/?status__exact=REQUESTED")
    page.wait_for_url("**/admin/refunds/refund/?status__exact=REQUESTED")

    def pick_two_and_approve():
        for refund in (usd, jpy):
            page.check(f"input[name=_selected_action][value='{refund.pk}']")
        page.select_option("select[name=action]", "approve_selected")
        page.click("button[name=index]")
        page.wait_for_selector("h1#rd-bulk-question")

    pick_two_and_approve()
    assert page.locator("h1").inner_text() == "Approve 2 refunds for 12.34 USD + 500 JPY?"
    rows = page.locator("tr.rd-bulk-row")
    assert rows.count() == 2
    assert [rows.nth(i).locator("th").inner_text() for i in range(2)] == [usd.number, jpy.number]
    assert page.locator("td.rd-bulk-amount").all_inner_texts() == ["12.34 USD", "500 JPY"]
    screenshot(page, "admin-bulk-approve-confirm")
    assert_no_serious_axe_violations(page)
    # Cancel: back to the list as it was filtered, nothing changed.
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url("**/admin/refunds/refund/?status__exact=REQUESTED")
    assert page.locator("#result_list tbody tr").count() == 3
    assert page.locator("ul.messagelist").count() == 0
    statuses = dict(Refund.objects.values_list("pk", "status"))
    assert statuses == {usd.pk: "REQUESTED", jpy.pk: "REQUESTED", untouched.pk: "REQUESTED"}
    assert [r.events.count() for r in (usd, jpy, untouched)] == [1, 1, 1]

    pick_two_and_approve()
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/admin/refunds/refund/?status__exact=REQUESTED")
    assert _messages(page).splitlines() == [
        f"{usd.number}: approved, now Processing",
        f"{jpy.number}: approved, now Processing",
        "2 of 2 refunds approved",
    ]
    statuses = dict(Refund.objects.values_list("pk", "status"))
    assert statuses == {usd.pk: "PROCESSING", jpy.pk: "PROCESSING", untouched.pk: "REQUESTED"}
    # The filtered list now shows only the one still waiting for a decision.
    assert page.locator("#result_list tbody tr").count() == 1
    screenshot(page, "admin-bulk-approved")
