"""After approval, in a real browser (headless Chromium): the customer's refund page gives the
account's return address and instructions (its return policy), the printable slip carries the
refund number as text and as a QR code of exactly that number, and the slip is only there while
goods are to be sent back."""

from __future__ import annotations

import re

import pytest
import segno
from playwright.sync_api import expect

from orders.models import Customer, ReturnPolicy
from refunds.calculator import LineChoice
from refunds.services import refund_approve, refund_request
from tests import factories

from .conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _svg_paths(svg: str) -> list[str]:
    return re.findall(r'<path[^>]* d="([^"]+)"', svg)


def test_return_instructions_address_and_slip_after_approval(page, roles):
    user = factories.UserFactory(username="alice@example.com")
    alice = Customer.objects.create(email="alice@example.com", name="Alice", user=user)
    order = factories.make_order(customer=alice)
    ReturnPolicy.objects.create(
        account=order.account,
        return_address="Refund Desk Returns\n1 Dock Road\nRotterdam",
        return_instructions="Use the original box. Drop it at any PostNL point.",
    )
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=user,
        order=order,
        reason_code="defective",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    sign_in(page, "alice@example.com", next_url=f"/portal/refunds/{refund.pk}/")
    page.wait_for_url(f"**/portal/refunds/{refund.pk}/")
    # Not yet approved: nothing to send back, and no slip.
    assert page.locator("#return-slip-link").count() == 0
    assert page.request.get(f"/portal/refunds/{refund.pk}/return-slip/").status == 404

    refund_approve(actor=factories.manager(), refund=refund)
    page.reload()
    expect(page.locator("#return-address")).to_have_text(
        re.compile(r"Refund Desk Returns\s*1 Dock Road\s*Rotterdam")
    )
    expect(page.locator("#return-instructions")).to_have_text(
        "Use the original box. Drop it at any PostNL point."
    )

    assert page.request.get(f"/portal/refunds/{refund.pk}/return-slip/").status == 200
    page.click("#return-slip-link")
    page.wait_for_url(f"**/portal/refunds/{refund.pk}/return-slip/")
    expect(page.locator(".slip-number")).to_have_text(refund.number)
    expect(page.locator("#return-address")).to_contain_text("1 Dock Road")
    rows = page.locator(".return-slip tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(line.sku)
    svg = page.locator(".slip-code svg").evaluate("el => el.outerHTML")
    assert f"QR code of {refund.number}" in svg
    # The code is the refund number's: the same modules segno draws for that text.
    expected = segno.make(refund.number, error="m").svg_inline(omitsize=True)
    assert _svg_paths(svg) == _svg_paths(expected)
    assert _svg_paths(svg)  # and it drew something
