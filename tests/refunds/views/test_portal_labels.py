"""A customer's lists (home, My refunds, an order's refunds) name each refund's state in the same
words as its page's headline, never the status code."""

import re

import pytest

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_approve, refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def _badges(html: str) -> list[str]:
    return re.findall(r'<span class="badge badge-(\w+)" data-status="\w+">([^<]+)</span>', html)


def test_lists_say_the_headline_not_the_status_code(client, order, customer_user):
    line = order.lines.first()
    requested = refund_request(
        actor=customer_user,
        order=order,
        reason_code="defective",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    client.force_login(customer_user)
    for path in ("/portal/", "/portal/refunds/", f"/portal/orders/{order.pk}/"):
        body = client.get(path).content.decode()
        assert _badges(body) == [("pending", "Requested")], path
        assert ">REQUESTED<" not in body

    refund_approve(actor=factories.manager(), refund=requested)
    body = client.get("/portal/refunds/").content.decode()
    assert _badges(body) == [("action", "Approved — send the goods back")]

    # A delay the staff handle reads as one, not as a frozen status.
    Refund.objects.filter(pk=requested.pk).update(needs_attention=True)
    body = client.get("/portal/refunds/").content.decode()
    assert _badges(body) == [("delay", "We are looking into it")]
