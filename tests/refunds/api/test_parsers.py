"""The API's JSON parser: a body nested too deep is a 400 in the error envelope, never a 500."""

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from refunds.models import Refund

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000 + "]" * 1000  # 2 kB of [[[[...]]]]
TOO_DEEP = {
    "error": {
        "code": "parse_error",
        "message": "The JSON is nested more than 64 levels deep; "
        "send the fields as the API describes them.",
    }
}


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_deeply_nested_json_is_400_and_writes_nothing_brackets_in_text_do_not_count(
    order, customer_user
):
    client = client_for(customer_user)
    line = order.lines.first()
    valid = {
        "orderId": order.pk,
        "reason": "damaged",
        "explanation": "[" * 500,
        "refundOnly": True,
        "lines": [{"lineId": line.pk, "quantity": 1}],
    }

    refused = [
        client.post("/api/v2/refunds", data=body, content_type="application/json")
        for body in (DEEP, '{"orderId": 1, "reason": "damaged", "lines": ' + DEEP + "}")
    ]
    assert [(r.status_code, r.json()) for r in refused] == [(400, TOO_DEEP)] * 2
    assert Refund.objects.count() == 0

    created = client.post(
        "/api/v2/refunds", data=json.dumps(valid), content_type="application/json"
    )
    broken = client.post("/api/v2/refunds", data="{", content_type="application/json")

    assert created.status_code == 201, created.content
    assert Refund.objects.get().customer_explanation == "[" * 500
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "parse_error"
    assert Refund.objects.count() == 1
