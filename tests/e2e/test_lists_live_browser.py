"""The queue and the dashboard follow a delivery without a reload: a real Celery worker sends an
approved refund to the HepsiGlobal sandbox, which holds its result webhook; the queue's badge
says Processing and the dashboard counts it as being delivered; once the webhook is released
both change in place (a marker on the window object proves neither page reloaded)."""

from __future__ import annotations

import pytest

from refunds.calculator import LineChoice
from refunds.services import refund_approve, refund_request
from tests import factories
from tests.fixtures.pipeline import wait_until

from .conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_queue_and_dashboard_follow_a_delivery(
    page, celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account("hepsiglobal")
    order = sandbox_order(account)
    customer = order.customer
    customer.user = factories.UserFactory(username=customer.email)
    customer.save(update_fields=["user"])
    refund = refund_request(
        actor=customer.user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=order.lines.order_by("id").first().pk, quantity=1)],
    )
    sandbox.faults("hepsiglobal", hold_webhooks=True)
    manager = factories.manager(username="manager-live@example.com")
    refund_approve(actor=manager, refund=refund)
    wait_until(
        lambda: sandbox.webhooks("hepsiglobal")["pending"] == 1,
        timeout=30,
        message="HepsiGlobal to take the refund and hold its result",
    )

    sign_in(page, pipeline_staff.username, next_url="/staff/refunds/?status=PROCESSING")
    badge = page.locator(f'[data-live-refund="{refund.pk}"]')
    assert badge.inner_text() == "Processing"
    page.evaluate("window.__samePage = 'queue'")
    dashboard = page.context.new_page()
    dashboard.goto("/staff/dashboard/")
    assert dashboard.locator("#kpi-processing .kpi-value").inner_text() == "1"
    dashboard.evaluate("window.__samePage = 'dashboard'")

    sandbox.release("hepsiglobal")
    page.locator(f'[data-live-refund="{refund.pk}"]', has_text="Issued").wait_for(timeout=30_000)
    assert page.locator("#live-announcer").inner_text() == f"{refund.number} is now Issued."
    assert page.evaluate("window.__samePage") == "queue"
    dashboard.locator("#kpi-processing .kpi-value", has_text="0").wait_for(timeout=30_000)
    assert dashboard.evaluate("window.__samePage") == "dashboard"
