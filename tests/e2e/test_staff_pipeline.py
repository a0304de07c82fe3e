"""An agent approves in the browser and watches the refund reach ISSUED: a real Celery worker
delivers it to the HepsiGlobal sandbox over HTTP, whose webhook confirms it."""

from __future__ import annotations

import pytest

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories
from tests.fixtures.pipeline import wait_until

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def test_agent_approves_in_browser_and_sees_it_issued(
    page, celery_worker, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account("hepsiglobal")
    order = sandbox_order(account)
    other = sandbox_order(account)
    customer = order.customer
    customer.user = factories.UserFactory(username=customer.email)
    customer.save(update_fields=["user"])
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=customer.user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    other_customer = other.customer
    other_customer.user = factories.UserFactory(username=other_customer.email)
    other_customer.save(update_fields=["user"])
    refund_request(
        actor=other_customer.user,
        order=other,
        reason_code="defective",
        refund_only=True,
        lines=[LineChoice(order_line_id=other.lines.first().pk, quantity=1)],
    )

    sign_in(page, pipeline_staff.username)
    page.wait_for_url("**/staff/refunds/")
    # The search box sits above the tabs, outside the filters panel.
    page.fill("form.queue-search input[name=q]", order.external_number)
    page.locator("form.queue-search button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("a.refund-link").all_inner_texts() == [refund.number]

    page.click(f"a.refund-link >> text={refund.number}")
    page.wait_for_load_state()
    assert page.locator("#refund-status").inner_text() == "Requested"
    page.locator("form.action-approve button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".message.success").inner_text() == (
        f"{refund.number} approved: now Processing."
    )

    wait_until(
        lambda: Refund.objects.get(pk=refund.pk).status == "ISSUED",
        timeout=60,
        message="the refund to be ISSUED through the sandbox",
    )
    page.reload()
    assert page.locator("#refund-status").inner_text() == "Issued"
    timeline = page.locator("ol.timeline").inner_text()
    assert "Attempt 1 of create refund" in timeline
    assert "Webhook from hepsiglobal" in timeline
    screenshot(page, "staff-detail-issued")
    assert sandbox.ledger("hepsiglobal")["count"] == 1
