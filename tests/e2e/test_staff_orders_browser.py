"""The Orders page and the dashboard's links in a real browser: find an order by a fragment,
start a refund on an order that has none, and follow dashboard figures to the queue."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _refund(order, *, reason="damaged"):
    customer = order.customer
    if customer.user_id is None:
        customer.user = factories.UserFactory(username=customer.email)
        customer.save(update_fields=["user"])
    line = order.lines.order_by("id").first()
    return refund_request(
        actor=customer.user,
        order=order,
        reason_code=reason,
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def test_agent_finds_an_order_by_fragment_and_starts_a_refund(page, make_agent):
    agent = make_agent("orders-e2e@example.com")
    alice = factories.CustomerFactory(email="alice@example.com", name="Alice Smith")
    bob = factories.CustomerFactory(email="bob@example.com", name="Bob Stone")
    wanted = factories.make_order(customer=alice, external_number="NQ-1031")
    refunded = factories.make_order(customer=bob, external_number="NQ-2040")
    factories.make_order(customer=bob, external_number="HG-77")
    _refund(refunded)

    sign_in(page, agent.username)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    page.wait_for_url("**/staff/orders/")
    expect(page.locator("h1")).to_have_text("Orders")
    expect(page.locator("table.orders tbody tr")).to_have_count(3)
    screenshot(page, "staff-orders")

    page.get_by_label("Search orders").fill("nq-103")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("table.orders tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").first).to_contain_text("NQ-1031")
    expect(rows.first).to_contain_text("Alice Smith")
    expect(rows.first.locator("td.num").nth(3)).to_have_text("0")  # no refunds yet

    page.get_by_label("Search orders").fill("STONE")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(2)
    # The refunded order's count links to the queue with its refunds.
    page.get_by_role("link", name="1 refund on NQ-2040").click()
    expect(page.locator("h1")).to_have_text("Refund queue")
    expect(page.locator("a.refund-link")).to_have_count(1)

    page.goto("/staff/orders/?q=alice")
    page.get_by_role("link", name="Start a refund on NQ-1031").click()
    page.wait_for_url(f"**/staff/orders/{wanted.pk}/refund/")
    expect(page.locator("h1")).to_have_text("New refund for order NQ-1031")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/staff/orders/?q=nq-103")
    expect(page.get_by_role("link", name="Start a refund on NQ-1031")).to_be_visible()


def test_dashboard_figures_open_the_queue_with_matching_filters(page, make_agent):
    agent = make_agent("dash-e2e@example.com")
    hepsi = factories.AccountFactory(name="HepsiGlobal TR", adapter_key="hepsiglobal")
    llzw = factories.AccountFactory(name="LLZW main", adapter_key="llzw")
    now = timezone.now()
    defective = _refund(factories.make_order(account=hepsi), reason="defective")
    damaged = _refund(factories.make_order(account=llzw))
    requested = _refund(factories.make_order(account=llzw), reason="defective")
    for refund, hours in ((defective, 28), (damaged, 3)):
        Refund.objects.filter(pk=refund.pk).update(
            status="ISSUED",
            created_at=now - dt.timedelta(days=2),
            issued_at=now - dt.timedelta(days=2) + dt.timedelta(hours=hours),
        )
    today = timezone.localdate()
    period = {
        "created_after": [(today - dt.timedelta(days=29)).isoformat()],
        "created_before": [today.isoformat()],
    }

    def queue_numbers():
        expect(page.locator("h1")).to_have_text("Refund queue")
        return sorted(page.locator("a.refund-link").all_inner_texts())

    def query():
        return parse_qs(urlsplit(page.url).query)

    sign_in(page, agent.username, next_url="/staff/dashboard/")
    expect(page.locator("#median-time")).to_have_text("16 h")  # median of 28 h and 3 h
    page.wait_for_function("Chart.getChart('chart-reasons') !== undefined")
    screenshot(page, "staff-dashboard-rates")

    # The reasons table: a reason's count opens the queue with that reason and the period.
    page.locator(".reasons-table").get_by_role("link", name="Defective or not working").click()
    assert query() == {"reason": ["defective"], **period}
    assert queue_numbers() == sorted([defective.number, requested.number])

    page.go_back()
    page.locator("#rate-marketplace").get_by_role("link", name="HepsiGlobal").click()
    assert query() == {"status": ["ISSUED"], "marketplace": ["hepsiglobal"], **period}
    assert queue_numbers() == [defective.number]

    page.go_back()
    page.locator("#rate-reason").get_by_role("link", name="Arrived damaged").click()
    assert query() == {"status": ["ISSUED"], "reason": ["damaged"], **period}
    assert queue_numbers() == [damaged.number]

    page.go_back()
    sku = damaged.lines.get().order_line.sku
    page.locator("#rate-sku").get_by_role("link", name=sku).click()
    assert query() == {"status": ["ISSUED"], "sku": [sku], **period}
    assert queue_numbers() == [damaged.number]

    page.go_back()
    page.locator("#kpi-median").click()
    assert query() == {"status": ["ISSUED"], **period}
    assert queue_numbers() == sorted([defective.number, damaged.number])

    # A bar of the reasons chart opens the same queue as its table row.
    page.go_back()
    page.wait_for_function("Chart.getChart('chart-reasons') !== undefined")
    labels = page.evaluate("Chart.getChart('chart-reasons').data.labels")
    assert labels == ["Defective or not working: 2", "Arrived damaged: 1"]
    bar = page.evaluate(
        "(() => { const el = Chart.getChart('chart-reasons').getDatasetMeta(0).data[1];"
        " return {x: (el.x + el.base) / 2, y: el.y}; })()"
    )
    # Chart.js places elements in CSS pixels of the canvas; click() scrolls it into view.
    page.locator("#chart-reasons").click(position=bar)
    page.wait_for_url("**/staff/refunds/?**")
    assert query() == {"reason": ["damaged"], **period}
    assert queue_numbers() == [damaged.number]
