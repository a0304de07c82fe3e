"""The back office in a real browser: sign in, filter, decide, bulk, admin, screenshots."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _customer_refund(order, *, line_index=0, quantity=1, reason="damaged", refund_only=True):
    customer = order.customer
    if customer.user_id is None:
        customer.user = factories.UserFactory(username=customer.email)
        customer.save(update_fields=["user"])
    line = list(order.lines.order_by("id"))[line_index]
    return refund_request(
        actor=customer.user,
        order=order,
        reason_code=reason,
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=quantity)],
        customer_explanation="Arrived broken",
    )


def _seed_queue():
    """A queue that looks like a working day: several marketplaces, statuses and ages."""
    accounts = [
        factories.AccountFactory(name="HepsiGlobal TR", adapter_key="hepsiglobal"),
        factories.AccountFactory(name="Noventiq EU", adapter_key="noventiq"),
        factories.AccountFactory(name="LLZW main", adapter_key="llzw"),
        factories.AccountFactory(name="Shoplazza US", adapter_key="shoplazza"),
    ]
    reasons = ["damaged", "defective", "not_as_described", "changed_mind", "late_delivery"]
    refunds = []
    now = timezone.now()
    for i in range(14):
        order = factories.make_order(
            account=accounts[i % 4],
            lines=((3, f"{12 + i * 7}.50", "0.00", "1.25"), (1, "49.00", "0", "0")),
        )
        # Noventiq refunds an item with all its units (its Capabilities): the whole line there.
        whole = order.account.adapter_key == "noventiq"
        refund = _customer_refund(
            order, reason=reasons[i % 5], quantity=3 if whole else 1 + i % 3, refund_only=i % 2 == 0
        )
        refunds.append(refund)
        Refund.objects.filter(pk=refund.pk).update(created_at=now - dt.timedelta(hours=5 * i))
    status_plan = {
        1: "WAITING",
        2: "PROCESSING",
        3: "ISSUED",
        5: "DENIED",
        7: "ISSUED",
        9: "CANCELLED",
        11: "PROCESSING",
    }
    for index, status in status_plan.items():
        fields = {"status": status}
        if status == "ISSUED":
            fields["issued_at"] = now - dt.timedelta(hours=index)
        Refund.objects.filter(pk=refunds[index].pk).update(**fields)
    Refund.objects.filter(pk=refunds[11].pk).update(
        needs_attention=True, attention_message="Shoplazza US refused: order already refunded"
    )
    Refund.objects.filter(pk=refunds[7].pk).update(
        has_drift=True, drift_note="Shoplazza US reports DENIED, Refund Desk has ISSUED"
    )
    return refunds


def test_agent_filters_queue_and_opens_refund_then_dashboard(page, make_agent):
    agent = make_agent("agent-e2e@example.com")
    refunds = _seed_queue()
    sign_in(page, agent.username)
    page.wait_for_url("**/staff/refunds/")
    assert page.locator("h1").inner_text() == "Refund queue"
    screenshot(page, "staff-queue")

    page.locator("summary", has_text="More filters").click()
    page.select_option("select[name=marketplace]", "noventiq")
    page.locator("form.filter-form button[type=submit]").click()
    page.wait_for_load_state()
    numbers = page.locator("a.refund-link").all_inner_texts()
    expected = [r.number for r in refunds if r.order.account.adapter_key == "noventiq"]
    assert sorted(numbers) == sorted(expected)

    page.goto("/staff/refunds/")
    page.click("nav.tabs >> text=Needs attention")
    page.wait_for_load_state()
    assert page.locator("a.refund-link").all_inner_texts() == [refunds[11].number]
    page.locator("a.refund-link").first.click()
    page.wait_for_load_state()
    assert page.locator("#refund-status").inner_text() == "Processing"
    assert page.get_by_text("Shoplazza US refused: order already refunded").count() == 1
    assert page.locator("form.action-retry").count() == 1
    screenshot(page, "staff-detail-attention")

    page.goto(f"/staff/refunds/{refunds[0].pk}/")
    screenshot(page, "staff-detail")
    page.goto("/staff/dashboard/")
    page.wait_for_function("document.querySelectorAll('canvas').length === 3")
    # Chart.js drew: the canvases have a rendering context with size.
    page.wait_for_function("Chart.getChart('chart-per-day') !== undefined")
    assert page.locator(".kpi-bad .kpi-value").inner_text() == "1"
    screenshot(page, "staff-dashboard")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/staff/refunds/{refunds[0].pk}/")
    assert page.locator("form.action-approve").is_visible()
    screenshot(page, "staff-detail-mobile")


def test_agent_cannot_approve_a_refund_they_requested(page, make_agent):
    agent = make_agent("maker@example.com")
    order = factories.make_order()
    sign_in(page, agent.username, next_url=f"/staff/orders/{order.pk}/refund/")
    line = order.lines.get()
    page.fill(f"input[name=qty_{line.pk}]", "1")
    page.wait_for_selector("#preview-total")
    assert page.locator("#preview-total").inner_text() == "10.00 USD"
    page.select_option("select[name=reason_code]", "damaged")
    screenshot(page, "staff-new-refund")
    page.click("button[name=create]")
    page.wait_for_load_state()
    refund = Refund.objects.get(order=order)
    assert page.locator(".message.success").inner_text() == (
        f"{refund.number} requested for 10.00 USD."
    )
    assert page.locator("form.action-approve").count() == 0
    note = "You requested this refund, so someone else must approve it."
    assert page.get_by_text(note).count() == 1
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"


def test_bulk_approve_reports_per_refund_results(page, make_agent):
    agent = make_agent("bulk@example.com")
    order = factories.make_order(lines=((3, "10.00", "0", "0"),))
    theirs = [_customer_refund(order), _customer_refund(order)]
    line = order.lines.get()
    own = refund_request(
        actor=agent,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    sign_in(page, agent.username)
    for refund in [*theirs, own]:
        page.check(f"input.row-check[value='{refund.pk}']")
    page.select_option("#bulk-action", "approve")
    page.click("text=Apply to selected")
    # The queue asks first, with the count and the total (confirm.js).
    assert page.locator("#confirm-dialog-title").inner_text() == "Approve 3 refunds for 30.00 USD?"
    page.click("#confirm-dialog-ok")
    page.wait_for_selector(".messages li")
    messages = page.locator(".messages li").all_inner_texts()
    assert sorted(messages) == sorted(
        [
            f"{theirs[0].number}: approved, now Processing",
            f"{theirs[1].number}: approved, now Processing",
            f"{own.number}: You requested this refund, so someone else must approve it",
            "2 of 3 refunds approved",
        ]
    )
    screenshot(page, "staff-bulk-results")
    statuses = dict(Refund.objects.values_list("pk", "status"))
    assert statuses == {theirs[0].pk: "PROCESSING", theirs[1].pk: "PROCESSING", own.pk: "REQUESTED"}


def test_manager_approves_above_limit_refund_in_admin(page, make_manager, settings):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    manager = make_manager("manager-e2e@example.com")
    order = factories.make_order(lines=((1, "120.00", "0", "0"),))
    refund = _customer_refund(order)
    assert refund.total == Decimal("120.00")
    sign_in(page, manager.username, next_url="/admin/refunds/refund/")
    page.wait_for_url("**/admin/refunds/refund/")
    page.check(f"input[name=_selected_action][value='{refund.pk}']")
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")
    # Bulk approve asks first, with the count and the total.
    assert page.locator("h1").inner_text() == "Approve 1 refund for 120.00 USD?"
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("ul.messagelist")
    assert (
        f"{refund.number}: approved, now Processing" in page.locator("ul.messagelist").inner_text()
    )
    screenshot(page, "admin-approve-above-limit")
    refund.refresh_from_db()
    assert refund.status == "PROCESSING"
