"""API refusals name money in the currency's decimals ("189.68 USD", not "189.680")."""

import pytest

from refunds.models import Refund
from tests import factories

pytestmark = pytest.mark.django_db


def test_an_over_refund_names_the_amounts_in_the_currency_decimals(client, order, customer_user):
    client.force_login(customer_user)
    response = client.post(
        "/api/v2/refunds",
        {"orderId": order.pk, "reason": "other", "amount": "189.68", "refundOnly": True},
        content_type="application/json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == (
        f"Order {order.external_number}: 149.47 USD refundable, 189.68 USD requested"
    )
    assert error["field"] == "amount"
    assert Refund.objects.count() == 0


def test_a_jpy_over_refund_has_no_decimals(client, customer_user):
    customer = factories.CustomerFactory(email="jpy@example.com", user=customer_user)
    order = factories.make_order(
        customer=customer, currency="JPY", lines=((3, "500", "0", "0"),), shipping="0"
    )
    client.force_login(customer_user)
    response = client.post(
        "/api/v2/refunds",
        {"orderId": order.pk, "reason": "other", "amount": "1501", "refundOnly": True},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        f"Order {order.external_number}: 1500 JPY refundable, 1501 JPY requested"
    )
    assert Refund.objects.count() == 0
