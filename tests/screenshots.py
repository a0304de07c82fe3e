"""Screenshots of the main screens for the README (issue 14), made again with `make screenshots`.

Not part of the suite: the name does not match test_*.py, so `pytest` never collects it; the
Makefile target runs it explicitly. It seeds a fresh database the way `make run` does
(`manage.py seed_demo`, without the sandbox), starts the live server, signs in in Debian's
headless Chromium (the fixtures of tests/e2e/conftest.py) and writes
docs/screenshots/<screen>-<width>.png at 1366x768 and 390x844 (what the screen shows, not the
whole page).
"""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Count

from orders.models import Order
from refunds.management.commands.seed_demo import PASSWORD
from refunds.models import Refund
from tests.e2e.conftest import browser, sign_in  # noqa: F401 - browser is a fixture
from tests.fixtures.pipeline import ensure_role_groups

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORTS = ({"width": 1366, "height": 768}, {"width": 390, "height": 844})


@pytest.fixture
def demo(settings):
    ensure_role_groups()
    settings.SANDBOX_URL = "http://127.0.0.1:9"  # nothing listens: the orders stay ours only
    call_command("seed_demo", stdout=StringIO())


def _shoot(page, path: str, name: str, prepare=None) -> None:
    response = page.goto(path)
    assert response.status == 200, path
    page.wait_for_load_state("networkidle")
    if prepare:
        prepare(page)
    width = page.viewport_size["width"]
    OUT.mkdir(parents=True, exist_ok=True)
    # The caret and CSS transitions would make every run's image differ.
    page.screenshot(path=str(OUT / f"{name}-{width}.png"), animations="disabled", caret="hide")


def _one_unit(page) -> None:
    """The new-refund form with one unit chosen, so the live preview shows an amount."""
    field = page.locator("input[name^=qty_]").first
    with page.expect_response(lambda r: "/refund/preview/" in r.url):
        field.fill("1")
    page.wait_for_load_state("networkidle")
    page.locator("main h1").scroll_into_view_if_needed()


def _one_line(page) -> None:
    """The customer's request form with one unit chosen, so the running total shows it."""
    field = page.locator("input[name^=line_]").first
    field.fill("1")
    page.wait_for_load_state("networkidle")
    page.locator("#request-total-amount").scroll_into_view_if_needed()


def test_screenshots(browser, live_server, demo):  # noqa: F811 - the fixture imported above
    detail = (
        Refund.objects.filter(status="ISSUED")
        .annotate(events_count=Count("events"))
        .order_by("-events_count", "pk")
        .first()
    )
    new_order = (
        Order.objects.filter(refunds__isnull=True, payments__isnull=False)
        .annotate(lines_count=Count("lines", distinct=True))
        .filter(lines_count__gte=2)
        .order_by("-placed_at")
        .first()
    )
    alice_refund = (
        Refund.objects.filter(order__customer__user__username="alice@example.com")
        .order_by("-created_at")
        .first()
    )
    staff_screens = [
        ("/staff/refunds/", "queue", None),
        (f"/staff/refunds/{detail.pk}/", "detail", None),
        ("/staff/orders/", "orders", None),
        ("/staff/dashboard/", "dashboard", None),
        (f"/staff/orders/{new_order.pk}/refund/", "new-refund", _one_unit),
        ("/admin/refunds/refund/", "admin-changelist", None),
    ]
    alice_order = (
        Order.objects.filter(customer__user__username="alice@example.com", refunds__isnull=True)
        .order_by("-placed_at")
        .first()
    )
    portal_screens = [
        ("/portal/", "portal", None),
        (f"/portal/refunds/{alice_refund.pk}/", "portal-refund", None),
        (f"/portal/orders/{alice_order.pk}/", "portal-order", None),
        (f"/portal/orders/{alice_order.pk}/refund/", "portal-request", _one_line),
    ]
    for viewport in VIEWPORTS:
        for username, screens in (
            ("manager@example.com", staff_screens),
            ("alice@example.com", portal_screens),
        ):
            context = browser.new_context(viewport=viewport, base_url=live_server.url)
            context.set_default_timeout(15_000)
            page = context.new_page()
            sign_in(page, username, PASSWORD, next_url=screens[0][0])
            for path, name, prepare in screens:
                _shoot(page, path, name, prepare)
            context.close()
    written = sorted(p.name for p in OUT.glob("*.png"))
    expected = sorted(
        f"{name}-{v['width']}.png"
        for v in VIEWPORTS
        for _, name, _ in staff_screens + portal_screens
    )
    assert set(expected) <= set(written), expected
