"""The return policy and the clear request form in a real browser (headless Chromium): an item
outside the window has no quantity and its reason is shown, and a forged quantity is refused with
it; a staff member overrides the policy with a note that the refund's history tells; the running
total follows the quantities and is the created refund's total; at 390x844 the form does not
scroll sideways; axe-core finds nothing serious or critical on the order page and the form."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Customer, ReturnPolicy
from refunds.models import Refund, RefundEvent
from tests import factories

from .axe import axe_violations, format_violations
from .conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LINES = ((2, "10.00", "0.00", "0.00"), (3, "9.99", "1.00", "0.50"), (1, "100.00", "0", "0"))


@pytest.fixture
def alice(roles):
    user = factories.UserFactory(username="alice@example.com")
    return Customer.objects.create(email="alice@example.com", name="Alice", user=user)


def _order(customer, *, delivered_days_ago: int, window_days: int = 30, final_sale: bool = True):
    order = factories.make_order(customer=customer, lines=LINES)
    order.delivered_at = timezone.now() - dt.timedelta(days=delivered_days_ago)
    order.save()
    ReturnPolicy.objects.create(
        account=order.account,
        window_days=window_days,
        non_returnable_skus=order.lines.order_by("id").last().sku if final_sale else "",
        return_address="Returns\n1 Dock Road",
    )
    return order


def _closed_reason(order, days: int = 30) -> str:
    day = timezone.localtime(order.delivered_at).date() + dt.timedelta(days=days)
    return f"Returns for this order closed on {day.day} {day:%b %Y}, {days} days after delivery."


def test_an_item_outside_the_window_is_refused_with_the_reason(page, alice):
    order = _order(alice, delivered_days_ago=45, final_sale=False)
    first = order.lines.order_by("id").first()
    reason = _closed_reason(order)
    sign_in(page, "alice@example.com", next_url=f"/portal/orders/{order.pk}/")
    page.wait_for_url(f"**/portal/orders/{order.pk}/")
    expect(page.locator(f"#order-line-{first.pk} .policy-no")).to_have_text(reason)
    assert page.get_by_role("link", name="Request a refund").count() == 0

    # The form itself, reached by its address: no quantity to enter, the reason instead.
    page.goto(f"/portal/orders/{order.pk}/refund/")
    assert page.locator(f"input[name=line_{first.pk}]").count() == 0
    expect(page.locator(f"#line-{first.pk}-reason")).to_have_text(reason)

    # A quantity forged into the page is refused with the reason, and nothing is written.
    page.evaluate(
        """(name) => {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = name; input.value = "1";
            document.querySelector("#refund-request-form").appendChild(input);
        }""",
        f"line_{first.pk}",
    )
    page.select_option("select[name=reason_code]", "defective")
    page.locator("#refund-request-form button[type=submit]", has_text="Request refund").click()
    page.wait_for_load_state()
    expect(page.locator(".errors")).to_contain_text(f"{first.name} ({first.sku}): {reason}")
    assert (Refund.objects.count(), RefundEvent.objects.count()) == (0, 0)


def test_the_running_total_follows_the_quantities_and_is_the_refunds_total(page, alice):
    order = _order(alice, delivered_days_ago=3)
    first, second, final = order.lines.order_by("id")
    sign_in(page, "alice@example.com", next_url=f"/portal/orders/{order.pk}/refund/")
    page.wait_for_url(f"**/portal/orders/{order.pk}/refund/")
    total = page.locator("#request-total")
    expect(total).to_contain_text("Choose items and how many to see your refund.")
    expect(total).to_contain_text("Shipping: 5.00 USD paid, not refunded by this request.")
    expect(page.locator(f"#id_line_{first.pk}_helptext")).to_contain_text("10.00 USD each")
    assert page.locator(f"input[name=line_{final.pk}]").count() == 0

    page.fill(f"input[name=line_{first.pk}]", "1")
    expect(page.locator("#request-total-amount")).to_have_text("10.00 USD")
    page.fill(f"input[name=line_{second.pk}]", "3")  # typed: keyup, 300 ms later
    expect(page.locator("#request-total-amount")).to_have_text("39.47 USD")
    page.fill(f"input[name=line_{first.pk}]", "2")
    expect(page.locator("#request-total-amount")).to_have_text("49.47 USD")
    expect(total).to_contain_text(f"{second.name} × 3")
    expect(page.locator("#request-shipping")).to_have_text(
        "5.00 USD paid, not refunded by this request"
    )
    shown = page.locator("#request-total-amount").inner_text()

    page.select_option("select[name=reason_code]", "defective")
    page.check("input[name=goods][value=keep]")
    page.locator("#refund-request-form button[type=submit]", has_text="Request refund").click()
    page.wait_for_url(re.compile(r"/portal/refunds/\d+/$"))
    refund = Refund.objects.get(order=order)
    assert shown == f"{refund.total} USD"
    assert refund.total == Decimal("49.47")
    expect(page.locator("#refund-breakdown-total")).to_have_text("49.47 USD")
    expect(page.locator("#refund-breakdown tbody tr")).to_have_count(2)
    expect(page.locator("#refund-breakdown tbody tr").nth(1)).to_contain_text("3 × 9.99 USD")


def test_the_request_form_fits_a_phone(browser, live_server, alice):
    order = _order(alice, delivered_days_ago=3)
    first = order.lines.order_by("id").first()
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        base_url=live_server.url,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, "alice@example.com", next_url=f"/portal/orders/{order.pk}/refund/")
        page.wait_for_url(f"**/portal/orders/{order.pk}/refund/")
        page.fill(f"input[name=line_{first.pk}]", "2")
        expect(page.locator("#request-total-amount")).to_have_text("20.00 USD")
        widths = page.evaluate(
            "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
        )
        assert widths[0] <= widths[1], widths
        box = page.locator(f"input[name=line_{first.pk}]").bounding_box()
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        assert box["height"] >= 40  # a touch target
        submit = page.get_by_role("button", name="Request refund").bounding_box()
        assert submit["x"] + submit["width"] <= 390
    finally:
        context.close()


def test_the_order_page_fits_a_phone_one_card_per_line(browser, live_server, alice):
    order = _order(alice, delivered_days_ago=3)
    first = order.lines.order_by("id").first()
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, base_url=live_server.url
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, "alice@example.com", next_url=f"/portal/orders/{order.pk}/")
        page.wait_for_url(f"**/portal/orders/{order.pk}/")
        table = page.locator(".table-wrap")
        widths = table.evaluate("el => [el.scrollWidth, el.clientWidth]")
        assert widths[0] <= widths[1], widths  # nothing to scroll sideways
        widths = page.evaluate(
            "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
        )
        assert widths[0] <= widths[1], widths
        # Each cell says which column it is: the price row of the first line reads as one.
        price = page.locator(f"#order-line-{first.pk} td[data-label=Price]")
        label = price.evaluate("el => getComputedStyle(el, '::before').content")
        assert label == '"Price"'
        assert price.bounding_box()["x"] + price.bounding_box()["width"] <= 390
    finally:
        context.close()


def test_order_page_and_request_form_have_no_serious_axe_violations(page, alice):
    order = _order(alice, delivered_days_ago=3)
    closed = _order(alice, delivered_days_ago=60)
    first = order.lines.order_by("id").first()
    sign_in(page, "alice@example.com", next_url="/portal/")
    found = {}
    for viewport in ({"width": 1366, "height": 768}, {"width": 390, "height": 844}):
        page.set_viewport_size(viewport)
        for path in (
            f"/portal/orders/{order.pk}/",
            f"/portal/orders/{closed.pk}/",
            f"/portal/orders/{order.pk}/refund/",
        ):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            violations = axe_violations(page)
            if violations:
                found[f"{path} at {viewport['width']}"] = format_violations(violations)
    # With a total shown and with errors.
    page.goto(f"/portal/orders/{order.pk}/refund/")
    page.fill(f"input[name=line_{first.pk}]", "1")
    expect(page.locator("#request-total-amount")).to_have_text("10.00 USD")
    page.select_option("select[name=reason_code]", "other")
    page.locator("#refund-request-form button[type=submit]", has_text="Request refund").click()
    page.wait_for_load_state()
    expect(page.locator("#id_customer_explanation_error")).to_contain_text("needs an explanation")
    violations = axe_violations(page)
    if violations:
        found["request form with errors"] = format_violations(violations)
    assert not found, "\n\n".join(f"== {k}\n{v}" for k, v in found.items())


def test_staff_override_the_policy_with_a_note_the_history_tells(page, make_agent, alice):
    make_agent("agent-policy@example.com")
    order = _order(alice, delivered_days_ago=45)
    first = order.lines.order_by("id").first()
    sign_in(page, "agent-policy@example.com", next_url=f"/staff/orders/{order.pk}/refund/")
    page.wait_for_url(f"**/staff/orders/{order.pk}/refund/")
    expect(page.locator(f"#policy-{first.pk}")).to_have_text(_closed_reason(order))
    page.fill(f"input[name=qty_{first.pk}]", "1")
    page.select_option("select[name=reason_code]", "defective")
    page.get_by_role("button", name="Request refund").click()
    page.wait_for_load_state()
    expect(page.locator("#id_policy_override_note_error")).to_contain_text(
        "To refund it anyway, say why you override the return policy"
    )
    assert Refund.objects.count() == 0

    page.fill("textarea[name=policy_override_note]", "Parcel was held at customs for 3 weeks")
    page.get_by_role("button", name="Request refund").click()
    page.wait_for_url(re.compile(r"/staff/refunds/\d+/$"))
    refund = Refund.objects.get(order=order)
    event = refund.events.get(action="request")
    assert event.changes["policy_override"]["note"] == "Parcel was held at customs for 3 weeks"
    expect(page.locator("body")).to_contain_text(
        "overriding the return policy: “Parcel was held at customs for 3 weeks”"
    )
