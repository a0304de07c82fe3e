from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from orders.models import Customer, Order
from refunds.calculator import LineChoice
from refunds.services import refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_order_detail_shows_lines_payments_and_refundable(order, customer_user):
    line = order.lines.first()
    refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    response = client_for(customer_user).get(f"/api/v2/orders/{order.pk}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["number"] == order.external_number
    assert data["adapterKey"] == "llzw"
    assert data["account"] == order.account.name
    assert data["customerEmail"] == "alice@example.com"
    assert data["grandTotal"] == str(order.grand_total)
    assert [
        (x["sku"], x["quantity"], x["refundableQuantity"], x["refundableAmount"])
        for x in data["lines"]
    ] == [
        (f"{order.external_number}-SKU-1", 2, 1, "10.00"),
        (f"{order.external_number}-SKU-2", 3, 3, "29.47"),
        (f"{order.external_number}-SKU-3", 1, 1, "100.00"),
    ]
    assert data["payments"] == [
        {
            "id": order.payments.get().pk,
            "externalId": f"{order.external_number}-P1",
            "method": "card",
            "amount": str(order.grand_total),
        }
    ]
    assert data["refundable"] == {
        "total": str(order.grand_total - Decimal("10.00")),
        "shipping": "5.00",
        "additional": "0.00",
        "refunded": "10.00",
    }


def test_order_list_shows_only_own_orders(order, customer_user):
    factories.make_order()
    response = client_for(customer_user).get("/api/v2/orders")
    assert [o["id"] for o in response.json()["data"]] == [order.pk]


def test_staff_sees_all_orders(order, agent):
    other = factories.make_order()
    response = client_for(agent).get("/api/v2/orders", {"size": 50})
    assert sorted(o["id"] for o in response.json()["data"]) == sorted([order.pk, other.pk])


def _import_body(account):
    return {
        "accountId": account.pk,
        "number": "API-1",
        "customer": {"email": "Carol@Example.com", "name": "Carol"},
        "currency": "usd",
        "placedAt": "2026-11-01T10:00:00+00:00",
        "shippingTotal": "5.00",
        "lines": [
            {"externalId": "L1", "sku": "MUG", "name": "Mug", "quantity": 2, "unitPrice": "20.00"}
        ],
        "payments": [{"externalId": "P1", "method": "card", "amount": "45.00"}],
    }


def test_manager_imports_an_order_idempotently(manager):
    account = factories.AccountFactory()
    client = client_for(manager)
    first = client.post("/api/v2/orders", _import_body(account), format="json")
    assert first.status_code == 201, first.content
    second = client.post("/api/v2/orders", _import_body(account), format="json")
    assert second.status_code == 201
    assert first.json()["data"]["id"] == second.json()["data"]["id"]
    order = Order.objects.get()
    assert (order.grand_total, order.currency, order.customer.email) == (
        Decimal("45.00"),
        "USD",
        "carol@example.com",
    )


def test_import_with_payments_not_adding_up_is_400_and_nothing_written(manager):
    account = factories.AccountFactory()
    body = _import_body(account)
    body["payments"][0]["amount"] = "44.00"
    response = client_for(manager).post("/api/v2/orders", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["field"] == "payments"
    assert Order.objects.count() == 0


def test_agent_and_customer_cannot_import(agent, customer_user):
    account = factories.AccountFactory()
    for user in (agent, customer_user):
        response = client_for(user).post("/api/v2/orders", _import_body(account), format="json")
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert Order.objects.count() == 0


def test_import_giving_an_order_to_another_customer_is_400_and_changes_nothing(manager):
    account = factories.AccountFactory()
    client = client_for(manager)
    assert client.post("/api/v2/orders", _import_body(account), format="json").status_code == 201
    order = Order.objects.get()
    body = _import_body(account)
    body["customer"] = {"email": "mallory@example.com", "name": "Mallory"}
    body["shippingTotal"] = "0.00"
    body["payments"][0]["amount"] = "40.00"

    response = client.post("/api/v2/orders", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": f"customer.email: order API-1 of {account.name} belongs to "
        "carol@example.com; an import cannot give it to mallory@example.com. Correct the "
        "customer's e-mail in the file",
        "field": "customerEmail",
    }
    assert list(Order.objects.values_list("customer__email", "grand_total")) == [
        ("carol@example.com", Decimal("45.00"))
    ]
    assert Customer.objects.filter(email="mallory@example.com").exists() is False
    assert order.payments.get().amount == Decimal("45.00")


def test_a_pending_order_without_payments_shows_nothing_refundable(agent):
    order = factories.make_order(status="pending", lines=((2, "10.00", "0.00", "0.00"),))
    order.payments.all().delete()

    data = client_for(agent).get(f"/api/v2/orders/{order.pk}").json()["data"]

    assert [(x["refundableQuantity"], x["refundableAmount"]) for x in data["lines"]] == [
        (0, "0.00")
    ]
    assert data["refundable"] == {
        "total": "0.00",
        "shipping": "0.00",
        "additional": "0.00",
        "refunded": "0.00",
    }
