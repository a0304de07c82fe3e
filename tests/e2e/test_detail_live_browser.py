"""A refund's page updates itself while a real Celery worker delivers the refund to the
HepsiGlobal sandbox over HTTP: the agent approves, the page says it is waiting for HepsiGlobal's
confirmation (the sandbox holds its webhook, and HepsiGlobal has no status API to poll, so the
refund waits for as long as the test wants), the webhook is released, and the badge, the status
block and the timeline turn to Issued on the same page: no reload (a marker set on the window
object survives), and the page stops asking once the refund is final."""

from __future__ import annotations

import pytest

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_the_page_follows_the_delivery_without_a_reload(
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

    sign_in(page, pipeline_staff.username, next_url=f"/staff/refunds/{refund.pk}/")
    assert page.locator("#live-status").inner_text().startswith("Waiting for a decision")
    assert page.locator("#live-status[hx-get]").count() == 0  # nothing moving: no polling
    page.locator("form.action-approve button[type=submit]").click()
    page.locator(".message.success").wait_for()
    page.evaluate("window.__samePage = 'yes'")

    # The worker sends it; HepsiGlobal accepts and will confirm by webhook, which it holds.
    waiting = page.locator("#live-status", has_text="Waiting for HepsiGlobal to confirm the refund")
    waiting.wait_for(timeout=30_000)
    assert page.locator("#live-status[hx-get]").count() == 1
    assert page.locator("#refund-status").inner_text() == "Processing"
    assert "Attempt 1 of create refund" in page.locator("#refund-timeline").inner_text()
    screenshot(page, "staff-detail-live-waiting")

    assert sandbox.webhooks("hepsiglobal")["pending"] == 1  # the result, held
    sandbox.release("hepsiglobal")

    page.locator("#refund-status", has_text="Issued").wait_for(timeout=30_000)
    status = page.locator("#live-status")
    assert status.inner_text().startswith("Issued: HepsiGlobal confirmed the refund")
    assert page.locator("#live-status[hx-get]").count() == 0  # final: it stopped asking
    assert "Webhook from hepsiglobal" in page.locator("#refund-timeline").inner_text()
    assert page.evaluate("window.__samePage") == "yes"  # never reloaded
    screenshot(page, "staff-detail-live-issued")
    assert Refund.objects.get(pk=refund.pk).status == "ISSUED"
    assert sandbox.ledger("hepsiglobal")["count"] == 1
