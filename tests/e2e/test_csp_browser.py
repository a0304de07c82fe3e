"""The Content-Security-Policy in a real browser: every staff, admin, portal and sign-in page
sends the header, and loading and using the page (htmx preview, the dashboard's charts, the
queue's select-all, the Swagger UI) makes the browser block nothing: no `securitypolicyviolation`
event and no CSP message on the console."""

from __future__ import annotations

import pytest

from refunds.calculator import LineChoice
from refunds.services import refund_approve, refund_request
from tests import factories

from .conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def watched(browser, live_server):
    """A page that records CSP violations (from an init script, which the policy does not
    govern) and console messages about the policy."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.csp_console = []
    page.on(
        "console",
        lambda message: (
            page.csp_console.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()


def _visit(page, path: str) -> None:
    response = page.goto(path)
    assert response.status == 200, path
    assert "script-src 'self'" in response.headers["content-security-policy"], path
    page.wait_for_load_state("networkidle")
    _assert_clean(page, path)


def _assert_clean(page, where: str) -> None:
    assert page.evaluate("window.__cspViolations") == [], where
    assert page.csp_console == [], where


def _data(customer_user):
    customer = factories.CustomerFactory(email=customer_user.username, user=customer_user)
    order = factories.make_order(
        customer=customer, lines=((2, "10.00", "0.00", "0.00"), (1, "25.00", "0", "0"))
    )
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    return order, refund


def test_staff_and_admin_pages_pass_the_policy(watched, make_manager):
    manager = make_manager("manager@example.com")
    alice = factories.UserFactory(username="alice@example.com")
    order, refund = _data(alice)
    refund_approve(actor=manager, refund=refund)
    page = watched

    sign_in(page, "manager@example.com", next_url="/staff/refunds/")
    _assert_clean(page, "sign-in")
    _visit(page, "/staff/refunds/?view=all")  # the approved refund: not in the default view
    page.check("#select-all")  # staff.js, from a file
    assert page.locator(".row-check").first.is_checked()
    _visit(page, f"/staff/refunds/{refund.pk}/")
    _visit(page, "/staff/dashboard/")
    assert page.evaluate("Chart.getChart('chart-per-day') !== undefined")
    assert page.evaluate("Chart.getChart('chart-reasons') !== undefined")
    _visit(page, f"/staff/orders/{order.pk}/refund/")
    with page.expect_response(lambda r: r.url.endswith("/refund/preview/")):
        page.locator("table input[type=number]").first.fill("1")
    page.locator("#preview-total").wait_for()
    _assert_clean(page, "new refund after the htmx preview")
    for path in (
        "/admin/",
        "/admin/refunds/refund/",
        f"/admin/refunds/refund/{refund.pk}/change/",
        "/admin/refunds/outboundaction/",
        "/admin/orders/order/",
        f"/admin/orders/order/{order.pk}/change/",
    ):
        _visit(page, path)
    _visit(page, "/api/docs/")
    page.locator("#swagger-ui .information-container").wait_for()
    _assert_clean(page, "Swagger UI")


def test_portal_and_account_pages_pass_the_policy(watched, roles):
    alice = factories.UserFactory(username="alice@example.com", email="alice@example.com")
    order, refund = _data(alice)
    page = watched

    _visit(page, "/accounts/login/")
    _visit(page, "/accounts/password_reset/")
    sign_in(page, "alice@example.com", next_url="/portal/")
    _assert_clean(page, "sign-in")
    for path in (
        "/portal/",
        "/portal/orders/",
        f"/portal/orders/{order.pk}/",
        f"/portal/orders/{order.pk}/refund/",
        "/portal/refunds/",
        f"/portal/refunds/{refund.pk}/",
    ):
        _visit(page, path)
