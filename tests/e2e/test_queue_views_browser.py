"""The queue's views in a real browser: the search box above the tabs, each view's refunds, due
marks, and bulk approve asking with the count and total before anything changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.models import Refund, RefundEvent
from refunds.services import refund_assign, refund_request
from tests import factories

from .conftest import screenshot, sign_in
from .test_staff_browser import _customer_refund

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _order(price: str, **customer):
    customer = factories.CustomerFactory(**customer) if customer else factories.CustomerFactory()
    return factories.make_order(customer=customer, lines=((1, price, "0", "0"),))


def _age(refund, hours: float, **fields):
    when = timezone.now() - dt.timedelta(hours=hours)
    Refund.objects.filter(pk=refund.pk).update(created_at=when, **fields)
    RefundEvent.objects.filter(refund=refund).update(created_at=when)


def _seed(agent, manager):
    """One refund for each view: who sees it and in which order is known."""
    refunds = {
        "old": _customer_refund(_order("10.00", email="zoe.fragment@example.com", name="Zoe")),
        "new": _customer_refund(_order("12.34")),
        "big": _customer_refund(_order("120.00")),
        "flagged": _customer_refund(_order("15.00")),
        "issued": _customer_refund(_order("16.00")),
        "assigned": _customer_refund(_order("17.00"), refund_only=False),
    }
    own_order = _order("11.00")
    refunds["own"] = refund_request(
        actor=agent,
        order=own_order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=own_order.lines.get().pk, quantity=1)],
    )
    _age(refunds["old"], 30)  # requested 30 h ago: 6 h past its 24 h
    _age(refunds["big"], 20)
    _age(refunds["own"], 10)
    _age(refunds["flagged"], 5, status="PROCESSING", needs_attention=True)
    _age(refunds["issued"], 40, status="ISSUED", issued_at=timezone.now())
    _age(refunds["assigned"], 50, status="WAITING")
    refund_assign(actor=manager, refund=refunds["assigned"], assignee=agent)
    _age(refunds["new"], 1)
    return refunds


def _row(page, refund):
    return page.locator(f"tr:has(input.row-check[value='{refund.pk}'])")


def _listed(page) -> list[str]:
    return page.locator("table.queue a.refund-link").all_inner_texts()


def _open_view(page, label: str) -> None:
    page.locator("nav.views a", has_text=label).click()
    page.wait_for_load_state()
    assert page.locator("nav.views a[aria-current=page]").inner_text() == label


def test_search_box_above_the_tabs_finds_a_fragment(page, make_agent, make_manager, settings):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    agent = make_agent("views-search@example.com")
    refunds = _seed(agent, make_manager("views-search-manager@example.com"))
    sign_in(page, agent.username)
    page.wait_for_url("**/staff/refunds/")
    search = page.locator("form.queue-search input[name=q]")
    assert search.is_visible()  # not in the collapsed filters panel
    assert page.locator("details.filters").get_attribute("open") is None
    tabs_top = page.locator("nav.statuses").bounding_box()["y"]
    assert search.bounding_box()["y"] < tabs_top
    search.fill("OE.FRAG")  # part of zoe.fragment@example.com, in another case
    search.press("Enter")
    page.wait_for_load_state()
    assert _listed(page) == [refunds["old"].number]
    assert page.locator("nav.statuses a", has_text="All").locator(".count").inner_text() == "1"
    assert page.locator("form.queue-search input[name=q]").input_value() == "OE.FRAG"
    screenshot(page, "staff-queue-search")


def test_each_view_lists_its_refunds(page, make_agent, make_manager, settings):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    agent = make_agent("views-agent@example.com")
    refunds = _seed(agent, make_manager("views-manager@example.com"))
    number = {key: refund.number for key, refund in refunds.items()}
    sign_in(page, agent.username)
    page.wait_for_url("**/staff/refunds/")
    # The default: what needs a decision, oldest first.
    assert page.locator("nav.views a[aria-current=page]").inner_text() == "Needs a decision"
    decision = [number[k] for k in ("old", "big", "own", "flagged", "new")]
    assert _listed(page) == decision
    old_row = _row(page, refunds["old"])
    assert old_row.locator(".due").inner_text() == "Overdue by 6 h"
    assert "due-overdue" in old_row.locator(".due").get_attribute("class")
    assert _row(page, refunds["new"]).locator(".due").inner_text() == "Due in 23 h"
    screenshot(page, "staff-queue-needs-decision")

    _open_view(page, "Awaiting a manager")
    assert _listed(page) == [number["big"], number["own"]]
    _open_view(page, "Assigned to me")
    assert _listed(page) == [number["assigned"]]
    assert page.locator("table.queue .due").inner_text().startswith("Due in 11 d")
    _open_view(page, "Overdue")
    assert _listed(page) == [number["old"], number["flagged"]]  # 30 h of 24, 5 h of 2
    _open_view(page, "All")
    assert sorted(_listed(page)) == sorted(number.values())
    issued_row = _row(page, refunds["issued"])
    assert issued_row.locator(".due").inner_text() == "No due time"
    # The status tabs stay in the view and count it.
    _open_view(page, "Needs a decision")
    requested_tab = page.locator("nav.statuses a", has_text="Requested")
    assert requested_tab.locator(".count").inner_text() == "4"
    requested_tab.click()
    page.wait_for_load_state()
    assert _listed(page) == [number[k] for k in ("old", "big", "own", "new")]


def test_bulk_approve_asks_with_the_count_and_total(page, make_agent, make_manager, settings):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    agent = make_agent("views-bulk@example.com")
    refunds = _seed(agent, make_manager("views-bulk-manager@example.com"))
    chosen = [refunds["old"], refunds["new"]]  # 10.00 + 12.34
    sign_in(page, agent.username)
    page.wait_for_url("**/staff/refunds/")
    events_before = RefundEvent.objects.count()
    for refund in chosen:
        page.check(f"input.row-check[value='{refund.pk}']")
    page.select_option("#bulk-action", "approve")
    page.click("#bulk-submit")
    dialog = page.locator("dialog.confirm-dialog")
    dialog.wait_for(state="visible")
    assert page.locator("#confirm-dialog-title").inner_text() == "Approve 2 refunds for 22.34 USD?"
    assert page.locator("#confirm-dialog-ok").inner_text() == "Approve"
    screenshot(page, "staff-queue-bulk-confirm")
    page.click("#confirm-dialog-cancel")
    dialog.wait_for(state="hidden")
    assert page.url.endswith("/staff/refunds/")
    statuses = dict(Refund.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in chosen] == ["REQUESTED", "REQUESTED"]
    assert RefundEvent.objects.count() == events_before

    page.click("#bulk-submit")
    dialog.wait_for(state="visible")
    page.click("#confirm-dialog-ok")
    page.wait_for_selector(".messages li")
    assert sorted(page.locator(".messages li").all_inner_texts()) == sorted(
        [
            f"{refunds['old'].number}: approved, now Processing",
            f"{refunds['new'].number}: approved, now Processing",
            "2 of 2 refunds approved",
        ]
    )
    statuses = dict(Refund.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in chosen] == ["PROCESSING", "PROCESSING"]
    # Approved, they left the default view.
    assert refunds["old"].number not in _listed(page)
