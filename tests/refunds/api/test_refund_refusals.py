"""POST/PATCH /api/v2/refunds refusals from issue 11: unpaid orders (item 3) and what the order's
marketplace cannot do (item 8). Each is a 4xx with the reason and writes nothing."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.models import PaymentLine
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.models import Refund, RefundEvent
from refunds.services import refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _written():
    return (Refund.objects.count(), RefundEvent.objects.count(), OutboundAction.objects.count())


def test_staff_refund_on_a_pending_order_is_400_and_writes_nothing(agent):
    order = factories.make_order(status="pending")
    order.payments.all().delete()
    line = order.lines.get()
    client = client_for(agent)

    for body in (
        {"amount": "5.00"},
        {"lines": [{"lineId": line.pk, "quantity": 1}]},
    ):
        response = client.post(
            "/api/v2/refunds",
            {"orderId": order.pk, "reason": "other", "refundOnly": True, **body},
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "not_paid",
            "message": f"Only paid orders can be refunded: order {order.external_number} "
            "is pending payment",
            "field": "order",
        }
    assert _written() == (0, 0, 0)


def test_staff_approval_on_an_order_no_longer_paid_is_400_and_changes_nothing(
    order, customer_user, agent
):
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=order.lines.order_by("id").first().pk, quantity=1)],
    )
    PaymentLine.objects.filter(order=order).delete()
    before = list(Refund.objects.values())

    response = client_for(agent).patch(
        f"/api/v2/refunds/{refund.pk}", {"action": "APPROVE"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "not_paid",
        "message": f"Only paid orders can be refunded: order {order.external_number} "
        "has no payments",
        "field": "order",
    }
    assert list(Refund.objects.values()) == before
    assert _written() == (1, 1, 0)


@pytest.mark.parametrize(
    ("adapter_key", "label"),
    [("hepsiglobal", "HepsiGlobal"), ("noventiq", "Noventiq Checkout")],
)
def test_amount_only_refund_where_the_platform_refunds_whole_units_is_400(
    adapter_key, label, customer_user
):
    customer = factories.CustomerFactory(email="alice@example.com", user=customer_user)
    order = factories.make_order(
        customer=customer, account=factories.AccountFactory(adapter_key=adapter_key)
    )

    response = client_for(customer_user).post(
        "/api/v2/refunds",
        {"orderId": order.pk, "reason": "damaged", "refundOnly": True, "amount": "5.00"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "unsupported",
        "message": f"{label} refunds whole units of order items only, not an amount: choose "
        "the items and how many units to refund",
        "field": "amount",
    }
    assert _written() == (0, 0, 0)
