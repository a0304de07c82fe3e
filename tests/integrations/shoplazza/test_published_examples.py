"""Shoplazza's own published examples as fixtures: our adapter reads them, our verifier accepts
them and refuses them tampered, and our sandbox answers in the same shapes. Each constant names
its page ([Pn]: the list at the top of integrations/shoplazza/mapping.py)."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests

from integrations.base import (
    Accepted,
    Confirmed,
    PaymentShare,
    Rejected,
    WebhookRejected,
    WebhookTopic,
)
from integrations.shoplazza import mapping
from integrations.shoplazza.webhooks import sign
from tests.integrations.shoplazza.conftest import ORDER_ID, control, make_adapter, refund, token

# [P1] Create Order's Refund Record (seed 004), the "Example" column of the body parameters.
CREATE_REQUEST = {
    "refund": {
        "refund_total": "100.00",
        "refund_shipping_total": "10.00",
        "refund_tip": "5.00",
        "refund_additional_total": "15.00",
        "refund_product_total": "70.00",
        "note": "Customer requested return",
        "refund_line_items": [
            {
                "line_item_id": "li_12345",
                "quantity": 1,
                "refund_item_type": 0,
                "return_inventory": True,
            }
        ],
        "refund_payments": [{"payment_line_id": "pay_12345", "refund_price": "50.00"}],
        "refund_additional_prices": [{"name": "Gift Wrapping", "price": "5.00"}],
    }
}
# [P1] "Successful Response" and "Error Response" examples.
CREATE_ANSWER = {
    "code": "success",
    "message": "Refund processed successfully",
    "data": {"refund_record_id": "ref_123456789", "post_sale_id": "ps_123456789"},
}
ERROR_ANSWER = {"code": "InvalidParameter", "message": "Error message"}
# [P5] Refunds and post-sales, "Issue a refund": the answer's excerpt.
CREATE_ANSWER_2026 = {
    "code": "Success",
    "data": {
        "refund_record_id": "626516830554446103",
        "post_sale_id": "56008987-fb4d-41b9-aefa-9d38478f486c",
    },
}
# [P2] Get Order's Refund Record (2025-06), every example of its "Successful Response".
ORDER_RECORDS = {
    "code": "success",
    "message": "Refund records retrieved",
    "data": {
        "order_financial_status": "refunded",
        "order_status": "fulfilled",
        "records": [
            {
                "id": "ref_123456",
                "refund_price": "100.00",
                "refund_shipping": "10.00",
                "refund_status": "finished",
                "created_at": "2025-01-15T10:30:00Z",
                "refund_line_items": [{"line_item_id": "li_123", "refund_quantity": 1}],
                "payment_details": [{"payment_method": "credit_card", "refund_price": "100.00"}],
            }
        ],
    },
}
# [P6] OAuth Authentication: what the token endpoint returns and the app persists.
TOKEN_FIELDS = {"access_token", "refresh_token", "expires_at"}
# [P8] Webhook properties, "Webhook Headers" examples (the page gives no signature value: it is
# computed with the documented algorithm, base64 HMAC-SHA256 of the raw body, client secret).
WEBHOOK_HEADERS = {
    "X-Shoplazza-Topic": "orders/create",
    "X-Shoplazza-Shop-Domain": "example.shoplazza.com",
    "X-Shoplazza-Api-Version": "2020-01",
    "X-Shoplazza-Deduplication-ID": "d3f1c9b2-5b7e-4c1e-9a51-0d8f2f0c6a11",  # ours: no example
}
# The client secret of the SDK example on https://www.shoplazza.dev/reference/3develop-your-application-service
CLIENT_SECRET = "0LFJcNqVb2Z1nVt9xT72vOo0sTWd6j8wVX60Y5xdzZZ"


def shape(value):
    """The keys of a JSON value, all the way down (lists by their first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return None


class PublishedPlatform(requests.Session):
    """Answers with the published examples: (method, path) -> (status, body)."""

    def __init__(self, answers: dict[tuple[str, str], tuple[int, dict]]):
        super().__init__()
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    def request(self, method, url, **kwargs):
        path = urlsplit(url).path
        self.calls.append((method, path))
        status, body = self.answers[(method, path)]
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url = url
        response.request = requests.Request(method, url, headers=kwargs.get("headers")).prepare()
        return response


def published_adapter(answers: dict):
    grant = {
        "access_token": "B_x-_5aVeXNwI-4AB98s5xLIvgv0fNzGf_MuTpqtIBA",  # [P6]'s Access Token page
        "refresh_token": "r",
        "expires_at": int(time.time()) + 3600,
    }
    platform = PublishedPlatform({("POST", "/admin/oauth/token"): (200, grant), **answers})
    return make_adapter("https://example.myshoplaza.com", session=platform), platform


def test_the_published_order_records_read_as_a_finished_refund():
    path = "/openapi/2026-01/orders/ord_123456789/refund"
    adapter, platform = published_adapter({("GET", path): (200, ORDER_RECORDS)})

    result = adapter.read_refund_status(
        refund(order_external_number="ord_123456789", external_id="ref_123456")
    )

    assert isinstance(result, Confirmed)
    assert result.external_id == "ref_123456"
    assert result.message == "Shoplazza finished the refund."
    assert platform.calls == [("POST", "/admin/oauth/token"), ("GET", path)]


@pytest.mark.parametrize("answer", [CREATE_ANSWER, CREATE_ANSWER_2026])
def test_the_published_create_answers_read_as_accepted(answer):
    order_path = "/openapi/2026-01/orders/ord_123456789/refund"
    adapter, _ = published_adapter(
        {
            ("GET", "/openapi/2026-01/orders/refund_records"): (200, {"data": {"records": []}}),
            ("POST", order_path): (200, answer),
        }
    )

    result = adapter.create_refund(refund(order_external_number="ord_123456789"))

    assert isinstance(result, Accepted)
    assert result.external_id == answer["data"]["refund_record_id"]
    assert result.external_request_id == answer["data"]["post_sale_id"]


def test_the_published_error_reads_as_a_refusal_with_its_message():
    order_path = "/openapi/2026-01/orders/ord_123456789/refund"
    adapter, _ = published_adapter(
        {
            ("GET", "/openapi/2026-01/orders/refund_records"): (200, {"data": {"records": []}}),
            ("POST", order_path): (400, ERROR_ANSWER),
        }
    )

    result = adapter.create_refund(refund(order_external_number="ord_123456789"))

    assert isinstance(result, Rejected)
    assert result.code == "InvalidParameter"
    assert result.message == (
        "Shoplazza refuses the refund as invalid; check the amounts, lines and payments: "
        "Error message"
    )


def test_the_published_token_fields_are_read_and_answered_by_the_sandbox(sim, api):
    now = time.time()

    assert mapping.token_lifetime({"expires_at": int(now) + 3600}, now) == pytest.approx(
        3600, abs=1
    )
    grant = requests.post(
        f"{api}/admin/oauth/token",
        data={
            "client_id": "demo",
            "client_secret": "demo-secret",
            "grant_type": "refresh_token",
            "refresh_token": "demo-refresh-token",
        },
        timeout=5,
    ).json()
    assert set(grant) >= TOKEN_FIELDS


def test_the_sandbox_answers_in_the_published_shapes(sim, api):
    tok = token(api)
    created = requests.post(
        f"{api}/openapi/2026-01/orders/{ORDER_ID}/refund",
        json={"refund": {"refund_total": "5.00", "refund_shipping_total": "5.00"}},
        headers={"Access-Token": tok},
        timeout=5,
    ).json()
    refused = requests.post(
        f"{api}/openapi/2026-01/orders/{ORDER_ID}/refund",
        json={"refund": {}},
        headers={"Access-Token": tok},
        timeout=5,
    ).json()
    listed = requests.get(
        f"{api}/openapi/2026-01/orders/{ORDER_ID}/refund", headers={"Access-Token": tok}, timeout=5
    ).json()

    assert shape(created) == shape(CREATE_ANSWER)
    assert shape(refused) == shape(ERROR_ANSWER)
    # The record's lists are empty for a shipping-only refund: compare them on a full one.
    assert shape({**listed, "data": {**listed["data"], "records": []}}) == shape(
        {**ORDER_RECORDS, "data": {**ORDER_RECORDS["data"], "records": []}}
    )
    assert set(listed["data"]["records"][0]) == set(ORDER_RECORDS["data"]["records"][0])


def test_the_sandbox_takes_the_published_request_with_its_amounts_made_to_add_up(
    sim, api, base_url
):
    # The page's example pays 50.00 of 100.00 and names 5.00 of 15.00 additional charges; the
    # sandbox wants the parts to add up (its own rule, not published), so those two are raised.
    control(
        base_url,
        "POST",
        "orders",
        [
            {
                "external_number": "ord_123456789",
                "status": "paid",
                "currency": "USD",
                "shipping_total": "10.00",
                "tip_total": "5.00",
                "additional_total": "15.00",
                "grand_total": "100.00",
                "lines": [{"external_id": "li_12345", "quantity": 1, "unit_price": "70.00"}],
                "payments": [{"external_id": "pay_12345", "method": "card", "amount": "100.00"}],
            }
        ],
    )
    body = json.loads(json.dumps(CREATE_REQUEST))
    body["refund"]["refund_payments"][0]["refund_price"] = "100.00"
    body["refund"]["refund_additional_prices"][0]["price"] = "15.00"

    answer = requests.post(
        f"{api}/openapi/2025-06/orders/ord_123456789/refund",
        json=body,
        headers={"Access-Token": token(api)},
        timeout=5,
    )

    assert answer.status_code == 200
    assert shape(answer.json()) == shape(CREATE_ANSWER)


def test_our_payload_uses_only_the_published_request_fields():
    ours = mapping.refund_payload(
        refund(
            total=Decimal("50.00"),
            additional_amount=Decimal("5.00"),
            order_tip_total=Decimal("3.00"),
            order_additional_total=Decimal("2.00"),
            payments=(PaymentShare("pay_1", "card", Decimal("50.00")),),
        )
    )["refund"]
    published = CREATE_REQUEST["refund"]

    assert set(ours) <= set(published)
    assert set(ours["refund_line_items"][0]) <= set(published["refund_line_items"][0])
    assert set(ours["refund_payments"][0]) == set(published["refund_payments"][0])
    assert (ours["refund_tip"], ours["refund_additional_total"]) == ("3.00", "2.00")


def _signed(body: bytes) -> dict:
    return {**WEBHOOK_HEADERS, "X-Shoplazza-Hmac-Sha256": sign(CLIENT_SECRET, body)}


def test_a_webhook_signed_as_documented_verifies_and_its_topic_is_ignored():
    body = b'{"id":"633130-SPZ00000020","financial_status":"paid"}'
    adapter = make_adapter(
        "https://example.myshoplaza.com",
        credentials={"client_id": "c", "client_secret": CLIENT_SECRET, "refresh_token": "r"},
    )

    message = adapter.parse_webhook(name="", method="POST", headers=_signed(body), body=body)

    assert message.topic == WebhookTopic.IGNORED
    assert message.delivery_key == WEBHOOK_HEADERS["X-Shoplazza-Deduplication-ID"]
    assert message.message == "Shoplazza topic orders/create"


def test_the_same_webhook_changed_by_one_field_is_refused():
    body = b'{"id":"633130-SPZ00000020","financial_status":"paid"}'
    tampered = body.replace(b"paid", b"refunded")
    adapter = make_adapter(
        "https://example.myshoplaza.com",
        credentials={"client_id": "c", "client_secret": CLIENT_SECRET, "refresh_token": "r"},
    )

    with pytest.raises(WebhookRejected) as caught:
        adapter.parse_webhook(name="", method="POST", headers=_signed(body), body=tampered)

    assert caught.value.status == 401
    assert caught.value.message == "The X-Shoplazza-Hmac-Sha256 signature does not match"
