"""Bob has no account. From the sign-in page he finds his order by number and e-mail: a wrong
number and a wrong e-mail get the same answer as the right ones, and only the right ones send
him a link (read from the locmem outbox: the live server runs in this process). The link opens
his order, he requests a refund on it, and nothing else opens: another customer's order and his
own other order are 404, and the used link, opened again in another browser, is refused."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from refunds.models import Refund
from refunds.views.portal_guest import SENT_MESSAGE
from tests import factories

from .conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _ask(page, number: str, email: str) -> None:
    page.goto("/portal/find-order/")
    page.fill("input[name=order_number]", number)
    page.fill("input[name=email]", email)
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.wait_for_url("**/portal/find-order/sent/")


def test_guest_finds_the_order_by_link_and_reaches_nothing_else(page, browser, live_server):
    bob = factories.CustomerFactory(email="bob@example.com", name="Bob")
    order = factories.make_order(customer=bob, lines=((2, "10.00", "0.00", "0.00"),))
    sibling = factories.make_order(customer=bob)
    stranger_order = factories.make_order(
        customer=factories.CustomerFactory(email="carol@example.com")
    )

    page.goto("/accounts/login/")
    page.get_by_role("link", name="No account? Find your order").click()
    page.wait_for_url("**/portal/find-order/")

    answers = []
    for number, email in [
        ("NO-SUCH-ORDER", "bob@example.com"),
        (order.external_number, "carol@example.com"),
        (stranger_order.external_number, "bob@example.com"),
    ]:
        _ask(page, number, email)
        answers.append(page.get_by_role("status").inner_text())
    assert answers == [SENT_MESSAGE] * 3
    assert mail.outbox == []

    _ask(page, order.external_number, "Bob@Example.com")
    assert page.get_by_role("status").inner_text() == SENT_MESSAGE
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]
    link = re.search(r"https?://\S+/portal/guest/[A-Za-z0-9_-]+/", mail.outbox[0].body).group(0)
    assert link.startswith(live_server.url)
    assert sibling.external_number not in mail.outbox[0].body

    page.goto(link)
    page.get_by_role("button", name="Open my order").click()
    page.wait_for_url(f"**/portal/orders/{order.pk}/")
    assert page.get_by_role("heading", level=1).inner_text() == f"Order {order.external_number}"
    screenshot(page, "portal-guest-order")

    page.get_by_role("link", name="Request a refund").click()
    line = order.lines.get()
    page.select_option("select[name=reason_code]", "damaged")
    page.fill(f"input[name=line_{line.pk}]", "1")
    page.check("input[name=goods][value=keep]")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/portal/refunds/\d+/$"))
    refund = Refund.objects.get()
    assert refund.order_id == order.pk
    assert refund.requester_name == "bob@example.com"
    assert refund.number in page.locator("main").inner_text()

    for url in [f"/portal/orders/{stranger_order.pk}/", f"/portal/orders/{sibling.pk}/"]:
        assert page.goto(url).status == 404, url

    other = browser.new_context(base_url=live_server.url)
    try:
        again = other.new_page()
        response = again.goto(link)
        assert response.status == 410
        assert "This link has expired or was already used: ask for a new one." in (
            again.locator("main").inner_text()
        )
        again.get_by_role("link", name="Ask for a new link").click()
        again.wait_for_url("**/portal/find-order/")
        assert again.goto(f"/portal/orders/{order.pk}/").url.startswith(
            f"{live_server.url}/accounts/login/"
        )
    finally:
        other.close()
