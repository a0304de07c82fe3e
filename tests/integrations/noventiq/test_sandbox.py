"""The Noventiq sandbox held to seeds/002 and marketplaces.md with raw HTTP calls."""

import json

import pytest
import requests

from . import published

VALID = published.REFUND_REQUEST_EXAMPLE


def _token(base_url, username="demo", password="demo-secret"):  # noqa: S107 (sandbox demo)
    response = requests.post(
        f"{base_url}/noventiq/v1/login_check",
        json={"username": username, "password": password},
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()["token"]


def _auth(base_url):
    return {"AuthorizationJWT": f"Bearer {_token(base_url)}"}


def _refund(base_url, order_id="700101", *, body=VALID, headers=None, data=None):
    headers = {**_auth(base_url), **(headers or {})}
    if data is None:
        return requests.post(
            f"{base_url}/noventiq/v1/order/{order_id}/refund", json=body, headers=headers, timeout=5
        )
    return requests.post(
        f"{base_url}/noventiq/v1/order/{order_id}/refund", data=data, headers=headers, timeout=5
    )


def _errors(response):
    return [(e["error"], e["message"]) for e in response.json()["errors"]]


def test_login_check_returns_token_and_refresh_token(sim, base_url):
    response = requests.post(
        f"{base_url}/noventiq/v1/login_check",
        json={"username": "demo", "password": "demo-secret"},
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "refresh_token"}
    assert body["token"].count(".") == 2


def test_login_check_refuses_wrong_and_missing_credentials(sim, base_url):
    url = f"{base_url}/noventiq/v1/login_check"
    wrong = requests.post(url, json={"username": "demo", "password": "x"}, timeout=5)
    assert wrong.status_code == 401
    assert wrong.json() == {"code": 401, "message": "Invalid credentials."}
    missing = requests.post(url, json={"username": "demo"}, timeout=5)
    assert missing.status_code == 400
    assert missing.json() == {"code": 400, "message": 'The key "password" must be provided.'}


def test_configured_credentials_replace_the_demo_ones(sim, base_url):
    sim.configure({"username": "shop-7", "password": "s3cret"})
    url = f"{base_url}/noventiq/v1/login_check"
    assert (
        requests.post(
            url, json={"username": "demo", "password": "demo-secret"}, timeout=5
        ).status_code
        == 401
    )
    assert _token(base_url, "shop-7", "s3cret")


def test_create_refund_answers_bare_200_and_the_order_shows_no_request(sim, base_url):
    """ "[GET] Get order data": the order, its products and their refund data; no refund
    request object (its state is in the ESupport portal only)."""
    response = _refund(base_url, body=published.REFUND_REQUEST_EXAMPLE)
    assert response.status_code == 200
    assert response.content == b""
    order = requests.get(f"{base_url}/noventiq/v1/order/700101", headers=_auth(base_url), timeout=5)
    assert order.status_code == 200
    body = order.json()
    assert body["order_id"] == 700101  # a number
    assert body["order_name"] == "Order 700101"
    assert body["status"] == "paid"
    assert body["external_id"] == "SHOP-1"
    assert body["create_date"] == "2026-11-01T10:00:00+00:00"
    assert body["pay_date"] == "2026-11-01T10:01:00+00:00"
    assert body["currency"] == "EUR"
    assert body["customer"] == {
        "email": "alice@example.com",
        "first_name": "Alice",
        "last_name": "",
    }
    assert body["payment"] == {"payment_method": "card"}
    assert body["products"][0] == {
        "id": "L1",
        "sku": "SKU-1",
        "name": "Mug",
        "price": "10.00",
        "quantity": 2,
        "discount_amount": "",
        "vat_amount": "0.00",
        "amount": "20.00",
        "refund": None,
    }
    assert "refund_request" not in body
    assert sim.ledger(None)["refunds"][0]["status"] == "sent"
    # "Wrong product" does not say "Partial refund": every item of the order.
    assert sim.ledger(None)["refunds"][0]["products"] == ["L1", "L2"]


def test_request_moves_sent_updating_completed_with_time_and_refunds_the_items(sim, base_url):
    sim.configure({"step_seconds": 60})
    assert _refund(base_url).status_code == 200
    url = f"{base_url}/noventiq/v1/order/700101"

    def order():
        return requests.get(url, headers=_auth(base_url), timeout=5).json()

    assert [p["refund"] for p in order()["products"]] == [None, None]
    sim.configure({"clock_offset": 61})
    assert order()["status"] == "paid"
    assert sim.ledger(None)["refunds"][0]["status"] == "updating"
    sim.configure({"clock_offset": 121})
    body = order()
    assert sim.ledger(None)["refunds"][0]["status"] == "completed"
    assert body["status"] == "deleted"  # "Order fully refunded"
    assert [p["refund"]["amount"] for p in body["products"]] == ["20.00", "20.00"]


def test_partial_request_refunds_the_whole_items_it_names(sim, base_url):
    description = "Partial refund of 10.00 EUR. Items: 1 x Mug [SKU SKU-1, line L1] 10.00."
    _refund(base_url, body={"description": description, "email": "m@x.io"})
    moved = requests.post(f"{base_url}/_control/noventiq/advance", timeout=5).json()
    assert moved == {"moved": 1}
    ledger = requests.get(f"{base_url}/_control/noventiq/ledger", timeout=5).json()
    assert ledger["count"] == 1
    assert ledger["refunds"][0]["status"] == "completed"
    assert ledger["refunds"][0]["amount"] == "20.00"  # "3 of 5 -> all units": both mugs
    products = sim.orders["700101"]["products"]
    assert products[0]["refund"] == {
        "date": ledger["refunds"][0]["updated_at"],
        "amount": "20.00",
    }
    assert products[1]["refund"] is None
    assert sim.orders["700101"]["status"] == "paid"


def test_refund_description_with_refuse_is_refused(sim, base_url):
    _refund(base_url, body={"description": "please REFUSE", "email": "m@x.io"})
    sim.advance()
    assert sim.ledger(None)["refunds"][0]["status"] == "refused"
    assert sim.orders["700101"]["status"] == "paid"
    assert [p["refund"] for p in sim.orders["700101"]["products"]] == [None, None]


@pytest.mark.parametrize(
    ("header", "code", "message"),
    [
        (None, 1008, "JWT Token not found"),
        ("Bearer not-a-token", 1007, "Invalid JWT Token"),
        ("Token abc.def.ghi", 1007, "Invalid JWT Token"),
    ],
)
def test_missing_and_invalid_tokens_are_401(sim, base_url, header, code, message):
    headers = {"AuthorizationJWT": header} if header else {}
    response = requests.get(f"{base_url}/noventiq/v1/order/700101", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"errors": [{"error": code, "message": message}]}


def test_expired_token_is_1009(sim, base_url):
    headers = _auth(base_url)
    sim.configure({"clock_offset": 86401})
    response = requests.post(
        f"{base_url}/noventiq/v1/order/700101/refund", json=VALID, headers=headers, timeout=5
    )
    assert response.status_code == 401
    assert _errors(response) == [(1009, "Expired JWT Token")]


def test_token_lifetime_is_configurable(sim, base_url):
    sim.configure({"token_lifetime": 5})
    headers = _auth(base_url)
    sim.configure({"clock_offset": 6})
    response = requests.get(f"{base_url}/noventiq/v1/order/700101", headers=headers, timeout=5)
    assert response.status_code == 401
    assert _errors(response) == [(1009, "Expired JWT Token")]


def test_a_new_token_does_not_revoke_the_old(sim, base_url):
    first = _auth(base_url)
    _auth(base_url)
    response = requests.get(f"{base_url}/noventiq/v1/order/700101", headers=first, timeout=5)
    assert response.status_code == 200


def test_111_wrong_content_type(sim, base_url):
    response = _refund(base_url, data=json.dumps(VALID), headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert _errors(response) == [(111, "Invalid data format (Content-type).")]
    assert sim.ledger(None)["count"] == 0


def test_login_check_refuses_a_body_that_is_not_application_json(sim, base_url):
    """seed 002: content-type "must be equal to application/json"; "the errors are the same for
    all the APIs"."""
    response = requests.post(
        f"{base_url}/noventiq/v1/login_check",
        data=json.dumps({"username": "demo", "password": "demo-secret"}),
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    assert response.status_code == 400
    assert _errors(response) == [(111, "Invalid data format (Content-type).")]
    assert "token" not in response.json()


def test_110_invalid_json(sim, base_url):
    response = _refund(base_url, data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert _errors(response) == [(110, "JSON is not valid.")]
    response = _refund(base_url, data="[1, 2]", headers={"Content-Type": "application/json"})
    assert _errors(response) == [(110, "JSON is not valid.")]
    assert sim.ledger(None)["count"] == 0


def test_15000_account_configuration(sim, base_url):
    sim.configure({"unconfigured_accounts": ["demo"]})
    response = _refund(base_url)
    assert response.status_code == 400
    assert [c for c, _ in _errors(response)] == [15000]
    assert sim.ledger(None)["count"] == 0


def test_15010_is_cumulative(sim, base_url):
    body = {"description": "x" * 501, "email": "not-an-email", "amount": 5}
    response = _refund(base_url, body=body)
    assert response.status_code == 400
    assert _errors(response) == [
        (15010, "Invalid field value: amount"),
        (15010, "Invalid field value: description"),
        (15010, "Invalid field value: email"),
    ]
    assert sim.ledger(None)["count"] == 0


def test_15010_limits_are_inclusive(sim, base_url):
    email = "a" * 68 + "@example.com"  # exactly 80
    assert len(email) == 80
    response = _refund(base_url, body={"description": "é" * 500, "email": email})
    assert response.status_code == 200
    assert sim.ledger(None)["count"] == 1


def test_15010_email_required_and_description_optional(sim, base_url):
    assert _errors(_refund(base_url, body={"description": "x"})) == [
        (15010, "Invalid field value: email")
    ]
    assert _errors(_refund(base_url, body={"email": None})) == [
        (15010, "Invalid field value: email")
    ]
    assert _refund(base_url, body={"email": "m@x.io"}).status_code == 200


def test_15030_order_not_paid_stops_before_15010(sim, base_url):
    response = _refund(base_url, "700102", body={})
    assert response.status_code == 400
    assert _errors(response) == [
        (15030, 'Order refund is impossible. Order status is not equal to "paid".')
    ]


def test_15040_order_amount_zero(sim, base_url):
    response = _refund(base_url, "700103")
    assert response.status_code == 400
    assert _errors(response) == [
        (15040, "Order refund is impossible. Order price amount is equal to zero.")
    ]


def test_15050_open_request_exists_then_allowed_after_completion(sim, base_url):
    assert _refund(base_url).status_code == 200
    response = _refund(base_url)
    assert response.status_code == 400
    assert _errors(response) == [
        (15050, "Order refund is impossible. Order refund request already exists.")
    ]
    sim.configure({"refuse_orders": ["700101"]})
    sim.advance()
    assert _refund(base_url).status_code == 200
    assert sim.ledger(None)["count"] == 2


def test_15060_order_not_found_is_404(sim, base_url):
    response = _refund(base_url, "424242")
    assert response.status_code == 404
    assert _errors(response) == [(15060, "Order refund is impossible. Order not found.")]
    got = requests.get(f"{base_url}/noventiq/v1/order/424242", headers=_auth(base_url), timeout=5)
    assert got.status_code == 404
    assert [c for c, _ in _errors(got)] == [15060]


def test_15020_variant_of_not_found(sim, base_url):
    sim.configure({"not_found_code": 15020})
    response = _refund(base_url, "424242")
    assert response.status_code == 404
    assert response.json() == {"errors": [{"error": 15020, "message": "Order not found."}]}


def test_unknown_path_is_404_and_wrong_method_is_405(sim, base_url):
    assert requests.get(f"{base_url}/noventiq/v1/orders", timeout=5).status_code == 404
    response = requests.put(
        f"{base_url}/noventiq/v1/order/700101/refund",
        json=VALID,
        headers=_auth(base_url),
        timeout=5,
    )
    assert response.status_code == 405
    assert requests.get(f"{base_url}/noventiq/v1/login_check", timeout=5).status_code == 405


def test_reset_invalidates_tokens(sim, base_url):
    headers = _auth(base_url)
    requests.post(f"{base_url}/_control/reset", timeout=5)
    response = requests.get(f"{base_url}/noventiq/v1/order/700101", headers=headers, timeout=5)
    assert response.status_code == 401
    assert _errors(response) == [(1007, "Invalid JWT Token")]


def test_load_orders_via_control_endpoint(sim, base_url):
    orders = [
        {
            "external_number": "800001",
            "status": "fulfilled",
            "currency": "USD",
            "customer": {"email": "d@example.com"},
            "shipping_total": "2.50",
            "lines": [
                {
                    "external_id": "A",
                    "sku": "S",
                    "name": "N",
                    "quantity": 3,
                    "unit_price": "1.10",
                    "discount": "0.30",
                    "tax": "0.00",
                }
            ],
            "payments": [{"external_id": "P", "method": "paypal", "amount": "5.50"}],
        }
    ]
    loaded = requests.post(f"{base_url}/_control/noventiq/orders", json=orders, timeout=5)
    assert loaded.json() == {"loaded": 1}
    body = requests.get(
        f"{base_url}/noventiq/v1/order/800001", headers=_auth(base_url), timeout=5
    ).json()
    assert body["status"] == "paid"
    assert body["amount"] == "5.50"
    assert body["payment"] == {"payment_method": "paypal"}
    assert "payment_method" not in body
    assert body["products"][0]["amount"] == "3.00"  # 3 x 1.10 - 0.30
    assert "refund_request" not in body


def test_webhook_signature_is_the_documented_one():
    """Noventiq's "Webhook examples" page: the sandbox's signing gives the page's signature for
    the page's body and secret."""
    from integrations.noventiq.sandbox import webhook_signature

    body = json.loads(published.WEBHOOK_EXAMPLE_BODY)
    assert webhook_signature(body, published.WEBHOOK_EXAMPLE_SECRET) == (
        published.WEBHOOK_EXAMPLE_SIGNATURE
    )


def test_error_body_has_the_published_shape(sim, base_url):
    sim.configure({"not_found_code": 15020})
    response = _refund(base_url, "424242")
    assert response.json() == published.ERROR_BODY_EXAMPLE
