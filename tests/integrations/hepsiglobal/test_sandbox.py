"""The HepsiGlobal sandbox held to seeds 000/001 and marketplaces.md: paths, methods, field names,
envelopes and status codes, with raw HTTP calls."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
import requests

from integrations.hepsiglobal.mapping import ERROR_CODES

from .conftest import WEBHOOK_BASE, advance, ledger

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")

# Seed 000's example, word for word.
SEED_REFUND = {
    "refund_number": "r12345",
    "order_number": "mp_order123",
    "refund_date": "2024-09-04T23:20:21+03:00",
    "items": [
        {
            "order_item_number": "oi1",
            "quantity": 1,
            "reason": "incorrect_order",
            "amount": 2.34,
            "currency": "USD",
            "customer_explanation": "bad product",
        },
        {
            "order_item_number": "oi2",
            "quantity": 1,
            "reason": "incompatibility_issues",
            "amount": 1.23,
            "currency": "USD",
            "customer_explanation": "bad product",
        },
    ],
}
SEED_ORDER = {
    "order_number": "mp_order123",
    "order_date": "2024-09-01T10:00:00+03:00",
    "order_amount": 3.57,
    "currency": "USD",
    "items": [
        {
            "item_number": "oi1",
            "sku": "SKU-1",
            "product_name": "Cable",
            "quantity": 1,
            "unit_product_price": 2.34,
            "total_amount": 2.34,
            "currency": "USD",
        },
        {
            "item_number": "oi2",
            "sku": "SKU-2",
            "product_name": "Plug",
            "quantity": 1,
            "unit_product_price": 1.23,
            "total_amount": 1.23,
            "currency": "USD",
        },
    ],
}


def _url(base_url, path):
    return f"{base_url}/hepsiglobal{path}"


def _token(base_url, **overrides):
    body = {
        "grant_type": "client_credentials",
        "client_id": "demo",
        "client_secret": "demo-secret",
        **overrides,
    }
    return requests.post(_url(base_url, "/v1/auth/token"), json=body, timeout=5)


@pytest.fixture
def auth(hub, base_url):
    token = _token(base_url).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def seed_order(base_url, auth):
    response = requests.post(_url(base_url, "/v1/orders"), json=SEED_ORDER, headers=auth, timeout=5)
    assert (response.status_code, response.json()) == (200, {})


def _assert_error(response, status, code):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"data", "message"}
    assert body["data"]["error_code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    return body


def test_every_error_code_in_the_table_is_produced_by_these_tests():
    # The codes below are each produced by a test in this module from the input that causes it
    # (429/500/503 by the fault injection, which answers without a code, see test_client.py).
    produced = {
        "unsupported_grant_type",
        "invalid_client",
        "missing_token",
        "invalid_token",
        "token_expired",
        "invalid_json",
        "validation_error",
        "invalid_reason",
        "order_not_found",
        "order_item_not_found",
        "currency_mismatch",
        "refund_number_conflict",
    }
    assert set(ERROR_CODES) - produced == {
        "too_many_requests",
        "internal_error",
        "service_unavailable",
    }


# --- POST /v1/auth/token -------------------------------------------------------------------


def test_token_answer_is_oauth2_shaped(hub, base_url):
    response = _token(base_url)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


def test_token_lifetime_and_credentials_are_configurable(hub, base_url):
    requests.put(
        f"{base_url}/_control/hepsiglobal/config",
        json={"client_id": "acme", "client_secret": "s3cret", "token_ttl": 60},
        timeout=5,
    ).raise_for_status()

    assert _token(base_url).status_code == 401
    response = _token(base_url, client_id="acme", client_secret="s3cret")
    assert response.status_code == 200
    assert response.json()["expires_in"] == 60
    requests.put(
        f"{base_url}/_control/hepsiglobal/config",
        json={"client_id": "demo", "client_secret": "demo-secret"},
        timeout=5,
    ).raise_for_status()


def test_token_with_wrong_secret_is_invalid_client(hub, base_url):
    _assert_error(_token(base_url, client_secret="nope"), 401, "invalid_client")


def test_token_with_other_grant_type_is_unsupported(hub, base_url):
    _assert_error(_token(base_url, grant_type="password"), 400, "unsupported_grant_type")


def test_token_without_fields_is_a_validation_error(hub, base_url):
    response = requests.post(_url(base_url, "/v1/auth/token"), json={}, timeout=5)

    body = _assert_error(response, 400, "validation_error")
    assert body["data"]["errors"] == {
        "grant_type": "is required",
        "client_id": "is required",
        "client_secret": "is required",
    }


def test_token_path_only_takes_post(hub, base_url):
    response = requests.get(_url(base_url, "/v1/auth/token"), timeout=5)

    assert response.status_code == 405


# --- authentication on /v1 ------------------------------------------------------------------


def test_refund_without_token_is_missing_token(hub, base_url):
    response = requests.post(_url(base_url, "/v1/refunds"), json=SEED_REFUND, timeout=5)

    _assert_error(response, 401, "missing_token")


def test_refund_with_unknown_token_is_invalid_token(hub, base_url):
    response = requests.post(
        _url(base_url, "/v1/refunds"),
        json=SEED_REFUND,
        headers={"Authorization": "Bearer forged"},
        timeout=5,
    )

    _assert_error(response, 401, "invalid_token")


def test_refund_with_expired_token_is_token_expired(hub, base_url, auth):
    requests.post(_url(base_url, "/_sim/expire-tokens"), timeout=5).raise_for_status()

    response = requests.post(
        _url(base_url, "/v1/refunds"), json=SEED_REFUND, headers=auth, timeout=5
    )

    _assert_error(response, 401, "token_expired")
    assert ledger(base_url, "r12345")["count"] == 0


# --- POST /v1/refunds -----------------------------------------------------------------------


def test_seed_example_refund_answers_a_ulid_request_id(base_url, auth, seed_order):
    response = requests.post(
        _url(base_url, "/v1/refunds"), json=SEED_REFUND, headers=auth, timeout=5
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"request_id"}
    assert ULID.match(body["request_id"])
    book = ledger(base_url, "r12345")
    assert book["count"] == 1
    assert book["refunds"][0]["request_id"] == body["request_id"]


def test_refunds_path_only_takes_post(base_url, auth):
    response = requests.get(_url(base_url, "/v1/refunds"), headers=auth, timeout=5)

    assert response.status_code == 405


def test_unknown_path_is_404(hub, base_url):
    response = requests.post(_url(base_url, "/v1/refund"), json={}, timeout=5)

    assert response.status_code == 404


def test_refund_with_malformed_json_is_invalid_json(base_url, auth):
    response = requests.post(
        _url(base_url, "/v1/refunds"),
        data=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
        timeout=5,
    )

    _assert_error(response, 400, "invalid_json")


def test_refund_with_form_content_type_is_invalid_json(base_url, auth):
    response = requests.post(
        _url(base_url, "/v1/refunds"), data={"refund_number": "r1"}, headers=auth, timeout=5
    )

    _assert_error(response, 400, "invalid_json")


def test_refund_with_bad_fields_lists_each_field(base_url, auth, seed_order):
    bad = {
        "refund_number": "",
        "order_number": "mp_order123",
        "refund_date": "2024-09-04T23:20:21",
        "items": [
            {
                "order_item_number": "oi1",
                "quantity": 0,
                "reason": "incorrect_order",
                "amount": "2.34",
                "currency": "usd",
                "customer_explanation": "x" * 501,
            },
            {
                "order_item_number": "oi1",
                "quantity": 1.5,
                "reason": "incorrect_order",
                "amount": 1.234,
                "currency": "USD",
            },
        ],
    }

    response = requests.post(_url(base_url, "/v1/refunds"), json=bad, headers=auth, timeout=5)

    body = _assert_error(response, 400, "validation_error")
    assert body["data"]["errors"] == {
        "refund_number": "is required (at most 64 characters)",
        "refund_date": "must be an ISO-8601 date and time with an offset",
        "items[0].quantity": "must be a whole number of at least 1",
        "items[0].amount": "must be a positive number with at most 2 decimals",
        "items[0].currency": "must be a 3-letter currency code",
        "items[0].customer_explanation": "must be text of at most 500 characters",
        "items[1].order_item_number": "appears twice",
        "items[1].quantity": "must be a whole number of at least 1",
        "items[1].amount": "must be a positive number with at most 2 decimals",
    }
    assert ledger(base_url, None)["count"] == 0


def test_refund_without_items_is_a_validation_error(base_url, auth, seed_order):
    response = requests.post(
        _url(base_url, "/v1/refunds"), json={**SEED_REFUND, "items": []}, headers=auth, timeout=5
    )

    body = _assert_error(response, 400, "validation_error")
    assert body["data"]["errors"] == {"items": "must be a non-empty list"}


def test_refund_with_unknown_reason_is_invalid_reason(base_url, auth, seed_order):
    items = [{**SEED_REFUND["items"][0], "reason": "because"}]

    response = requests.post(
        _url(base_url, "/v1/refunds"), json={**SEED_REFUND, "items": items}, headers=auth, timeout=5
    )

    _assert_error(response, 400, "invalid_reason")
    assert ledger(base_url, "r12345")["count"] == 0


def test_refund_for_unknown_order_is_order_not_found(base_url, auth):
    response = requests.post(
        _url(base_url, "/v1/refunds"), json=SEED_REFUND, headers=auth, timeout=5
    )

    _assert_error(response, 404, "order_not_found")


def test_refund_for_unknown_item_is_order_item_not_found(base_url, auth, seed_order):
    items = [{**SEED_REFUND["items"][0], "order_item_number": "oi3"}]

    response = requests.post(
        _url(base_url, "/v1/refunds"), json={**SEED_REFUND, "items": items}, headers=auth, timeout=5
    )

    _assert_error(response, 404, "order_item_not_found")


def test_refund_in_other_currency_is_currency_mismatch(base_url, auth, seed_order):
    items = [{**SEED_REFUND["items"][0], "currency": "EUR"}]

    response = requests.post(
        _url(base_url, "/v1/refunds"), json={**SEED_REFUND, "items": items}, headers=auth, timeout=5
    )

    _assert_error(response, 422, "currency_mismatch")


def test_same_refund_number_is_idempotent_and_other_content_conflicts(base_url, auth, seed_order):
    first = requests.post(_url(base_url, "/v1/refunds"), json=SEED_REFUND, headers=auth, timeout=5)
    again = requests.post(_url(base_url, "/v1/refunds"), json=SEED_REFUND, headers=auth, timeout=5)
    other = requests.post(
        _url(base_url, "/v1/refunds"),
        json={**SEED_REFUND, "items": SEED_REFUND["items"][:1]},
        headers=auth,
        timeout=5,
    )

    assert again.status_code == 200
    assert again.json() == first.json()
    _assert_error(other, 409, "refund_number_conflict")
    assert ledger(base_url, "r12345")["count"] == 1


# --- webhooks to Refund Desk ----------------------------------------------------------------


def test_refund_create_result_webhook_fields(base_url, auth, seed_order, receiver):
    request_id = requests.post(
        _url(base_url, "/v1/refunds"), json=SEED_REFUND, headers=auth, timeout=5
    ).json()["request_id"]
    advance(base_url)
    calls = receiver.wait_for(1)

    assert len(calls) == 1
    assert (calls[0]["method"], calls[0]["path"]) == (
        "POST",
        f"{WEBHOOK_BASE}/webhooks/refund-create-result",
    )
    assert json.loads(calls[0]["body"]) == {
        "request_id": request_id,
        "refund_number": "r12345",
        "order_number": "mp_order123",
        "status": "success",
        "errors": [],
    }


def test_webhook_waits_for_the_configured_delay(base_url, auth, seed_order, receiver):
    requests.put(
        f"{base_url}/_control/hepsiglobal/faults", json={"webhook_delay": 60}, timeout=5
    ).raise_for_status()
    requests.post(_url(base_url, "/v1/refunds"), json=SEED_REFUND, headers=auth, timeout=5)

    pending = requests.get(f"{base_url}/_control/hepsiglobal/webhooks", timeout=5).json()
    assert pending == {"sent": [], "pending": 1}
    assert receiver.calls == []
    advance(base_url)
    assert len(receiver.wait_for(1)) == 1


def test_order_cancel_webhook_follows_seed_001(hub, base_url, receiver):
    cancel = {"order_number": "HG-1001", "order_item_number": "oi1", "cancel_quantity": 1}

    first = requests.post(_url(base_url, "/_sim/order-cancel"), json=cancel, timeout=5)
    second = requests.post(_url(base_url, "/_sim/order-cancel"), json=cancel, timeout=5)
    advance(base_url)
    calls = receiver.wait_for(2)

    assert (first.status_code, second.status_code) == (200, 200)
    assert len(calls) == 2
    assert {(c["method"], c["path"]) for c in calls} == {
        ("PUT", f"{WEBHOOK_BASE}/webhooks/order-cancel")
    }
    bodies = sorted((json.loads(c["body"]) for c in calls), key=lambda b: b["cancel_id"])
    assert set(bodies[0]) == {
        "cancel_id",
        "order_number",
        "cancel_quantity",
        "order_item_number",
        "reason",
    }
    assert bodies[0] == {**first.json()}
    assert bodies[1]["cancel_id"] == bodies[0]["cancel_id"] + 1
    assert bodies[0]["reason"] == "out_of_stock"
    assert isinstance(bodies[0]["cancel_id"], int)


def test_order_cancel_beyond_the_units_left_is_refused(hub, base_url, receiver):
    cancel = {"order_number": "HG-1001", "order_item_number": "oi1", "cancel_quantity": 3}

    response = requests.post(_url(base_url, "/_sim/order-cancel"), json=cancel, timeout=5)

    assert response.status_code == 422
    advance(base_url)
    assert receiver.calls == []


# --- orders: load_orders and the marketplace's own order calls -------------------------------


def test_load_orders_keeps_hepsiglobal_shape(sim):
    order = sim.orders["HG-1001"]

    assert order["order_number"] == "HG-1001"
    assert order["order_amount"] == Decimal("54.50")
    assert order["currency"] == "USD"
    assert [
        (
            i["item_number"],
            i["sku"],
            i["product_name"],
            i["quantity"],
            i["unit_product_price"],
            i["total_amount"],
        )
        for i in order["items"]
    ] == [
        ("oi1", "SKU-1", "Mug", 2, Decimal("20.00"), Decimal("40.00")),
        ("oi2", "SKU-2", "Plate", 1, Decimal("10.00"), Decimal("9.50")),
    ]


def test_create_order_validates_fields(base_url, auth):
    bad = {**SEED_ORDER, "order_date": "yesterday", "items": [{"item_number": "oi1"}]}

    response = requests.post(_url(base_url, "/v1/orders"), json=bad, headers=auth, timeout=5)

    body = _assert_error(response, 400, "validation_error")
    assert set(body["data"]["errors"]) == {
        "order_date",
        "items[0].sku",
        "items[0].product_name",
        "items[0].quantity",
        "items[0].unit_product_price",
        "items[0].total_amount",
        "items[0].currency",
    }


def test_cancel_by_marketplace_then_refund_fails_in_the_result(
    base_url, auth, seed_order, receiver
):
    cancel = requests.put(
        _url(base_url, "/v1/orders/mp_order123/order_items/oi1"),
        json={"reason": "customer_demand"},
        headers=auth,
        timeout=5,
    )
    # The published answer's envelope (api-9020672): {"data": {}, "message": ...}.
    assert (cancel.status_code, cancel.json()) == (
        200,
        {"data": {}, "message": "Order item cancelled"},
    )

    requests.post(
        _url(base_url, "/v1/refunds"),
        json={**SEED_REFUND, "items": SEED_REFUND["items"][:1]},
        headers=auth,
        timeout=5,
    )
    advance(base_url)
    result = json.loads(receiver.wait_for(1)[0]["body"])

    assert result["status"] == "failed"
    assert result["errors"] == ["order_cancelled: order item oi1 is cancelled"]


def test_cancel_by_marketplace_of_unknown_item_is_404(base_url, auth, seed_order):
    response = requests.put(
        _url(base_url, "/v1/orders/mp_order123/order_items/oi9"),
        json={"reason": "customer_demand"},
        headers=auth,
        timeout=5,
    )

    _assert_error(response, 404, "order_item_not_found")
