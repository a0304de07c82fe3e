"""Accessibility in a real browser: axe-core (vendored from npm, tests/e2e/axe.py) finds no
serious or critical WCAG 2.1 A/AA violation (contrast, labels, names, landmarks, ARIA) on the
staff queue, refund detail, orders, dashboard, new-refund form (also with errors), the admin's
changelist and change page, the sign-in and password-reset pages, the portal (also a guest's
pages and the printable return slip), at desktop and
phone widths. After a refused submit, focus is on the first error and what was typed is kept."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from refunds.models import Refund
from tests import factories

from .axe import axe_violations, format_violations
from .conftest import sign_in
from .test_staff_browser import _seed_queue

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = ({"width": 1366, "height": 768}, {"width": 390, "height": 844})


def _check(page, paths, found: dict) -> None:
    for viewport in WIDTHS:
        page.set_viewport_size(viewport)
        for path in paths:
            response = page.goto(path)
            assert response.status == 200, path
            page.wait_for_load_state("networkidle")
            violations = axe_violations(page)
            if violations:
                found[f"{path} at {viewport['width']}px"] = format_violations(violations)


def _collect(page, where: str, found: dict) -> None:
    violations = axe_violations(page)
    if violations:
        found[where] = format_violations(violations)


def _report(found: dict) -> None:
    assert not found, "axe-core serious/critical violations:\n\n" + "\n\n".join(
        f"== {where}\n{text}" for where, text in found.items()
    )


def test_staff_pages_have_no_serious_axe_violations(page, make_manager):
    make_manager("manager-a11y@example.com")
    refunds = _seed_queue()
    attention = Refund.objects.get(pk=refunds[11].pk)
    requested = Refund.objects.get(pk=refunds[0].pk)
    sign_in(page, "manager-a11y@example.com", next_url="/staff/refunds/")
    found: dict[str, str] = {}
    _check(
        page,
        [
            "/staff/refunds/",
            "/staff/refunds/?status=ISSUED",
            f"/staff/refunds/{requested.pk}/",
            f"/staff/refunds/{attention.pk}/",
            f"/staff/orders/{requested.order_id}/refund/",
            "/staff/dashboard/",
            reverse("staff:order-list"),
            reverse("staff:order-list") + "?q=ord",
        ],
        found,
    )
    # The new-refund form after a refused submit: errors, aria-invalid, aria-describedby.
    page.set_viewport_size(WIDTHS[0])
    page.goto(f"/staff/orders/{requested.order_id}/refund/")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state("networkidle")
    violations = axe_violations(page)
    if violations:
        found["new refund with errors"] = format_violations(violations)
    _report(found)


def test_admin_pages_have_no_serious_axe_violations(page, make_manager):
    make_manager("manager-a11y@example.com")
    refunds = _seed_queue()
    refund = refunds[0]
    sign_in(page, "manager-a11y@example.com", next_url="/admin/")
    found: dict[str, str] = {}
    _check(
        page,
        [
            "/admin/",
            "/admin/refunds/refund/",
            f"/admin/refunds/refund/{refund.pk}/change/",
            "/admin/orders/order/",
            f"/admin/orders/order/{refund.order_id}/change/",
        ],
        found,
    )
    _report(found)


def test_sign_in_and_portal_pages_have_no_serious_axe_violations(page, roles):
    refunds = _seed_queue()
    refund = refunds[0]
    customer_user = refund.order.customer.user
    found: dict[str, str] = {}
    _check(page, ["/accounts/login/", "/accounts/password_reset/"], found)
    # A refused sign-in: the error message and the invalid fields.
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "nobody@example.com")
    page.fill("input[name=password]", "wrong")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    violations = axe_violations(page)
    if violations:
        found["refused sign-in"] = format_violations(violations)

    # A refused password reset, and the styled 404 (the live server runs with DEBUG off).
    page.goto("/accounts/password_reset/")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    _collect(page, "refused password reset", found)
    assert page.goto("/no-such-page/").status == 404
    _collect(page, "404 page", found)

    sign_in(page, customer_user.username, next_url="/portal/")
    _check(
        page,
        [
            "/portal/",
            "/portal/orders/",
            f"/portal/orders/{refund.order_id}/",
            f"/portal/orders/{refund.order_id}/refund/",
            "/portal/refunds/",
            f"/portal/refunds/{refund.pk}/",
        ],
        found,
    )
    # A refused refund request: errors beside the fields, aria-invalid, aria-describedby.
    page.goto(f"/portal/orders/{refund.order_id}/refund/")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    _collect(page, "refused portal refund request", found)
    _report(found)


# --- after a refused submit: focus on the first error, what was typed kept ---------------------


def _focused(page) -> dict:
    """What has focus, and whether it is the page's first error in document order."""
    return page.evaluate(
        """() => {
          const first = document.querySelector(
            "main [aria-invalid='true'], main [data-error-summary]");
          const el = document.activeElement;
          return {id: el.id, isFirstError: first !== null && el === first,
                  isSummary: el.hasAttribute("data-error-summary")};
        }"""
    )


def test_new_refund_form_focuses_the_first_error_and_keeps_what_was_typed(page, make_manager):
    make_manager("manager-focus@example.com")
    order = factories.make_order(lines=((2, "10.00", "0.00", "0.00"),))
    sign_in(page, "manager-focus@example.com", next_url="/staff/refunds/")
    page.goto(f"/staff/orders/{order.pk}/refund/")
    assert _focused(page)["isFirstError"] is False  # a fresh form has no error to focus
    page.fill("#id_shipping_amount", "2.50")
    page.fill("#id_customer_explanation", "Arrived with a cracked lid")
    page.fill("#id_note", "Customer called twice")
    page.get_by_role("button", name="Request refund").click()  # no reason chosen
    page.wait_for_load_state("load")

    expect(page.locator("#id_reason_code")).to_be_focused()
    assert _focused(page) == {"id": "id_reason_code", "isFirstError": True, "isSummary": False}
    expect(page.locator("#id_reason_code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_shipping_amount")).to_have_value("2.50")
    expect(page.locator("#id_customer_explanation")).to_have_value("Arrived with a cracked lid")
    expect(page.locator("#id_note")).to_have_value("Customer called twice")
    assert Refund.objects.count() == 0


def test_portal_request_focuses_the_first_error_and_keeps_what_was_typed(page, roles):
    customer = factories.CustomerFactory(
        email="carol@example.com", user=factories.UserFactory(username="carol@example.com")
    )
    order = factories.make_order(customer=customer, lines=((2, "10.00", "0.00", "0.00"),))
    line = order.lines.get()
    sign_in(page, "carol@example.com", next_url="/portal/")
    page.goto(f"/portal/orders/{order.pk}/refund/")
    page.fill(f"#id_line_{line.pk}", "1")
    page.fill("#id_customer_explanation", "The box was crushed")
    page.get_by_role("button", name="Request refund").click()  # no reason chosen
    page.wait_for_load_state("load")

    expect(page.locator("#id_reason_code")).to_be_focused()
    assert _focused(page)["isFirstError"] is True
    expect(page.locator(f"#id_line_{line.pk}")).to_have_value("1")
    expect(page.locator("#id_customer_explanation")).to_have_value("The box was crushed")
    assert Refund.objects.count() == 0


def test_refused_sign_in_focuses_the_error_summary(page, roles):
    factories.UserFactory(username="dave@example.com")
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "dave@example.com")
    page.fill("input[name=password]", "not the password")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("load")

    summary = page.locator("main [data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("do not match")
    assert _focused(page) == {"id": "", "isFirstError": True, "isSummary": True}
    expect(page.locator("input[name=username]")).to_have_value("dave@example.com")


def test_guest_and_return_slip_pages_have_no_serious_axe_violations(page, roles):
    """The pages of a customer without an account (find my order, link sent, open my order, a
    refused link) and the printable return slip."""
    from django.core import mail

    from refunds.calculator import LineChoice
    from refunds.services import refund_approve, refund_request

    bob = factories.CustomerFactory(email="bob@example.com", name="Bob")
    order = factories.make_order(customer=bob)
    found: dict = {}
    _check(page, ["/portal/find-order/"], found)
    for viewport in WIDTHS:  # a refused link: 410, with a way on
        page.set_viewport_size(viewport)
        assert page.goto("/portal/guest/not-a-real-token-000000/").status == 410
        _collect(page, f"a refused guest link at {viewport['width']}px", found)
    for viewport in WIDTHS:
        page.set_viewport_size(viewport)
        page.goto("/portal/find-order/")
        page.fill("input[name=order_number]", order.external_number)
        page.fill("input[name=email]", "bob@example.com")
        page.get_by_role("button", name="Send me a sign-in link").click()
        page.wait_for_url("**/portal/find-order/sent/")
        _collect(page, f"find-order/sent at {viewport['width']}px", found)
    link = mail.outbox[-1].body.split("/portal/guest/", 1)[1].split("/", 1)[0]
    page.goto(f"/portal/guest/{link}/")
    _collect(page, "the guest link's page", found)

    user = factories.UserFactory(username="dana@example.com")
    dana = factories.CustomerFactory(email="dana@example.com", name="Dana", user=user)
    dana_order = factories.make_order(customer=dana)
    refund = refund_request(
        actor=user,
        order=dana_order,
        reason_code="defective",
        refund_only=False,
        lines=[LineChoice(order_line_id=dana_order.lines.first().pk, quantity=1)],
    )
    refund_approve(actor=factories.manager(), refund=refund)
    page.context.clear_cookies()
    sign_in(page, "dana@example.com", next_url="/portal/")
    _check(
        page,
        [f"/portal/refunds/{refund.pk}/", f"/portal/refunds/{refund.pk}/return-slip/"],
        found,
    )
    _report(found)
