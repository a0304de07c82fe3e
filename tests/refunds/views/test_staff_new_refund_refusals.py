"""The staff new-refund form shows issue 11's refusals next to their field (or above the form)
and writes nothing: an unpaid order (item 3), what the marketplace cannot do (item 8)."""

import pytest
from django.urls import reverse

from refunds.delivery.models import OutboundAction
from refunds.models import Refund, RefundEvent
from tests import factories

pytestmark = pytest.mark.django_db


def _written():
    return (Refund.objects.count(), RefundEvent.objects.count(), OutboundAction.objects.count())


def test_unpaid_order_shows_why_and_writes_nothing(client, agent):
    order = factories.make_order(status="pending")
    order.payments.all().delete()
    client.force_login(agent)

    response = client.post(
        reverse("staff:refund-new", args=[order.pk]),
        {"reason_code": "other", "shipping_amount": "5.00", "create": "1"},
    )

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        f"Only paid orders can be refunded: order {order.external_number} is pending payment"
    ]
    assert _written() == (0, 0, 0)


def test_shipping_on_hepsiglobal_is_refused_next_to_the_field(client, agent):
    order = factories.make_order(account=factories.AccountFactory(adapter_key="hepsiglobal"))
    line = order.lines.get()
    client.force_login(agent)

    response = client.post(
        reverse("staff:refund-new", args=[order.pk]),
        {
            f"qty_{line.pk}": "1",
            "shipping_amount": "5.00",
            "reason_code": "damaged",
            "refund_only": "on",
            "create": "1",
        },
    )

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "shipping_amount": [
            "HepsiGlobal cannot refund shipping: refund it outside HepsiGlobal and leave "
            "shipping at 0"
        ]
    }
    assert _written() == (0, 0, 0)
