"""The Shoplazza sandbox held to Shoplazza's published pages (the [Pn] list in
integrations/shoplazza/mapping.py), seed 004 and marketplaces.md with raw HTTP calls: paths,
methods, field names, envelopes, status codes and every documented error code."""

from __future__ import annotations

import time

import pytest
import requests

from tests.integrations.shoplazza.conftest import ORDER, ORDER_ID, control, ledger, token

VALID = {
    "refund": {
        "refund_total": "45.00",
        "refund_shipping_total": "5.00",
        "refund_product_total": "40.00",
        "note": "Customer requested return [RD-raw-1]",
        "refund_line_items": [
            {
                "line_item_id": "li_1",
                "quantity": 1,
                "refund_item_type": 1,
                "return_inventory": True,
            },
            {
                "line_item_id": "li_1",
                "quantity": 1,
                "refund_item_type": 2,
                "return_inventory": True,
            },
        ],
        "refund_payments": [{"payment_line_id": "pay_1", "refund_price": "45.00"}],
    }
}


def url(api: str, order_id: str = ORDER_ID, version: str = "2026-01") -> str:
    return f"{api}/openapi/{version}/orders/{order_id}/refund"


def post(api: str, body, *, order_id: str = ORDER_ID, version: str = "2026-01", tok=None):
    headers = {"Access-Token": tok or token(api)}
    return requests.post(url(api, order_id, version), json=body, headers=headers, timeout=5)


def with_refund(**changes) -> dict:
    return {"refund": {**VALID["refund"], **changes}}


# --- OAuth token -----------------------------------------------------------------------------


DEMO_GRANT = {
    "client_id": "demo",
    "client_secret": "demo-secret",
    "grant_type": "refresh_token",
    "refresh_token": "demo-refresh-token",
}


def test_token_grant_answers_expires_at_as_the_oauth_page_shows(sim, api):
    # OAuth Authentication [P6]: persist (shop, access_token, refresh_token, expires_at),
    # expires_at the expiry timestamp in seconds; the SDK's token answer [P7].
    before = int(time.time())
    response = requests.post(f"{api}/admin/oauth/token", data=DEMO_GRANT, timeout=5)

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {
        "access_token",
        "token_type",
        "refresh_token",
        "expires_at",
        "scope",
        "created_at",
        "store_id",
        "store_name",
    }
    assert len(data["access_token"]) == 32
    assert data["token_type"] == "Bearer"
    assert before + 3600 <= data["expires_at"] <= int(time.time()) + 3600
    assert data["expires_at"] - data["created_at"] == 3600
    assert data["scope"] == "read_order write_order"
    assert (data["store_id"], data["store_name"]) == ("1339409", "demo")


def test_token_grant_refuses_a_json_body(sim, api):
    # Shoplazza's SDK sends the token request form-encoded [P7]; the sandbox takes nothing else.
    response = requests.post(f"{api}/admin/oauth/token", json=DEMO_GRANT, timeout=5)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": (
            "The token request must be sent as application/x-www-form-urlencoded."
        ),
    }
    assert sim.tokens == {}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"client_id": "demo", "grant_type": "refresh_token"}, 400, "invalid_request"),
        (
            {
                "client_id": "demo",
                "client_secret": "nope",
                "grant_type": "refresh_token",
                "refresh_token": "demo-refresh-token",
            },
            401,
            "invalid_client",
        ),
        (
            {
                "client_id": "other",
                "client_secret": "demo-secret",
                "grant_type": "refresh_token",
                "refresh_token": "demo-refresh-token",
            },
            401,
            "invalid_client",
        ),
        (
            {"client_id": "demo", "client_secret": "demo-secret", "grant_type": "password"},
            400,
            "unsupported_grant_type",
        ),
        (
            {"client_id": "demo", "client_secret": "demo-secret", "grant_type": "refresh_token"},
            400,
            "invalid_request",
        ),
        (
            {
                "client_id": "demo",
                "client_secret": "demo-secret",
                "grant_type": "refresh_token",
                "refresh_token": "stolen",
            },
            400,
            "invalid_grant",
        ),
    ],
)
def test_token_grant_errors(sim, api, body, status, error):
    response = requests.post(f"{api}/admin/oauth/token", data=body, timeout=5)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert sim.tokens == {}


def test_configured_credentials_replace_the_demo_ones(sim, api, base_url):
    control(
        base_url,
        "PUT",
        "config",
        {"client_id": "app-7", "client_secret": "s3cret", "refresh_token": "rt-7"},
    )
    demo = requests.post(
        f"{api}/admin/oauth/token",
        data={
            "client_id": "demo",
            "client_secret": "demo-secret",
            "grant_type": "refresh_token",
            "refresh_token": "demo-refresh-token",
        },
        timeout=5,
    )
    configured = requests.post(
        f"{api}/admin/oauth/token",
        data={
            "client_id": "app-7",
            "client_secret": "s3cret",
            "grant_type": "refresh_token",
            "refresh_token": "rt-7",
        },
        timeout=5,
    )

    assert demo.status_code == 401
    assert configured.status_code == 200


# --- Access-Token ----------------------------------------------------------------------------


def test_missing_access_token_is_401_unauthorized(sim, api, base_url):
    response = requests.get(url(api), timeout=5)

    assert response.status_code == 401
    assert response.json() == {"code": "Unauthorized", "message": "Access-Token header is required"}


def test_wrong_access_token_is_401_unauthorized(sim, api, base_url):
    response = requests.post(url(api), json=VALID, headers={"Access-Token": "bad"}, timeout=5)

    assert response.status_code == 401
    assert response.json() == {"code": "Unauthorized", "message": "Invalid API access token"}
    assert ledger(base_url) == 0


def test_expired_access_token_is_401_unauthorized(sim, api, base_url):
    control(base_url, "PUT", "config", {"token_ttl": 0})

    response = post(api, VALID)

    assert response.status_code == 401
    assert response.json() == {"code": "Unauthorized", "message": "Access token has expired"}
    assert ledger(base_url) == 0


def test_token_without_write_order_scope_is_403_forbidden(sim, api, base_url):
    control(base_url, "PUT", "config", {"scopes": ["read_order"]})
    tok = token(api)

    refused = post(api, VALID, tok=tok)
    listed = requests.get(url(api), headers={"Access-Token": tok}, timeout=5)

    assert refused.status_code == 403
    assert refused.json()["code"] == "Forbidden"
    assert listed.status_code == 200
    assert ledger(base_url) == 0


# --- paths, methods, envelopes ---------------------------------------------------------------


@pytest.mark.parametrize("version", ["2025-06", "2026-01"])
def test_create_refund_record_envelope(sim, api, base_url, version):
    response = post(api, VALID, version=version)

    assert response.status_code == 200
    data = response.json()
    assert data["code"] == "Success"
    assert data["message"] == "Refund processed successfully"
    assert set(data["data"]) == {"refund_record_id", "post_sale_id"}
    assert ledger(base_url, "raw-1") == 1


def test_order_refund_records_answer_exactly_the_documented_fields(sim, api):
    # Get Order's Refund Record [P2]: data.order_financial_status, data.order_status and
    # records of id, refund_price, refund_shipping, refund_status, created_at,
    # refund_line_items[].line_item_id/refund_quantity, payment_details[].payment_method/
    # refund_price. No note.
    created = post(api, VALID).json()["data"]

    response = requests.get(url(api), headers={"Access-Token": token(api)}, timeout=5)

    assert response.status_code == 200
    body = response.json()
    assert (body["code"], body["message"]) == ("Success", "Refund records retrieved")
    assert set(body["data"]) == {"order_financial_status", "order_status", "records"}
    assert body["data"]["order_financial_status"] == "paid"
    assert body["data"]["order_status"] == "partially_fulfilled"
    [record] = body["data"]["records"]
    assert set(record) == {
        "id",
        "refund_price",
        "refund_shipping",
        "refund_status",
        "created_at",
        "refund_line_items",
        "payment_details",
    }
    assert record["id"] == created["refund_record_id"]
    assert (record["refund_price"], record["refund_shipping"]) == ("45.00", "5.00")
    assert record["refund_status"] == "pending"
    assert record["refund_line_items"] == [{"line_item_id": "li_1", "refund_quantity": 2}]
    assert record["payment_details"] == [{"payment_method": "card", "refund_price": "45.00"}]


def test_store_refund_records_are_refund_objects_with_the_note(sim, api, base_url):
    # Get All Refund Record List [P3], records as Refund properties [P4] describes them.
    created = post(api, VALID).json()["data"]
    headers = {"Access-Token": token(api)}
    listing = f"{api}/openapi/2026-01/orders/refund_records"

    pending = requests.get(listing, params={"order_ids": ORDER_ID}, headers=headers, timeout=5)
    control(base_url, "POST", "advance")
    finished = requests.get(listing, params={"order_ids": ORDER_ID}, headers=headers, timeout=5)

    assert pending.status_code == 200
    assert set(pending.json()["data"]) == {"records"}
    [record] = pending.json()["data"]["records"]
    assert set(record) == {
        "id",
        "order_id",
        "note",
        "refund_price",
        "currency",
        "created_at",
        "updated_at",
        "refund_line_items",
        "payment_details",
        "refund_shipping",
        "refund_shipping_tax",
        "refund_method",
        "refund_status",
    }
    assert (record["id"], record["order_id"]) == (created["refund_record_id"], ORDER_ID)
    assert record["note"] == "Customer requested return [RD-raw-1]"
    assert (record["currency"], record["refund_method"]) == ("USD", "general")
    assert record["refund_line_items"] == [
        {"line_item_id": "li_1", "refund_quantity": 2, "delete_quantity": "1"}
    ]
    assert record["payment_details"] == [
        {
            "payment_channel": "card",
            "payment_method": "card",
            "refund_price": "45.00",
            "finished_at": "",
        }
    ]
    [done] = finished.json()["data"]["records"]
    assert done["refund_status"] == "finished"
    assert done["payment_details"][0]["finished_at"].endswith("+00:00")


def test_store_refund_records_filter_and_page(sim, api):
    first = post(
        api,
        with_refund(
            refund_total="5.00",
            refund_product_total="0.00",
            refund_line_items=[],
            refund_payments=[],
            note="[RD-p1]",
        ),
    )
    second = post(
        api,
        with_refund(
            refund_total="5.00",
            refund_product_total="5.00",
            refund_shipping_total="0.00",
            refund_line_items=[],
            refund_payments=[],
            note="[RD-p2]",
        ),
    )
    ids = [first.json()["data"]["refund_record_id"], second.json()["data"]["refund_record_id"]]
    headers = {"Access-Token": token(api)}
    listing = f"{api}/openapi/2026-01/orders/refund_records"

    page1 = requests.get(listing, params={"page_size": 1}, headers=headers, timeout=5).json()
    page2 = requests.get(
        listing,
        params={"page_size": 1, "cursor": page1["data"]["cursor"]},
        headers=headers,
        timeout=5,
    ).json()
    by_id = requests.get(listing, params={"refund_order_ids": ids[1]}, headers=headers, timeout=5)
    other = requests.get(listing, params={"order_ids": "SL-2002"}, headers=headers, timeout=5)
    too_many = requests.get(
        listing,
        params={"order_ids": ",".join(f"o{i}" for i in range(11))},
        headers=headers,
        timeout=5,
    )

    assert [r["id"] for r in page1["data"]["records"]] == ids[:1]
    assert [r["id"] for r in page2["data"]["records"]] == ids[1:]
    assert "cursor" not in page2["data"]
    assert [r["id"] for r in by_id.json()["data"]["records"]] == ids[1:]
    assert other.json()["data"]["records"] == []
    assert too_many.status_code == 400
    assert too_many.json() == {
        "code": "InvalidParameter",
        "message": "order_ids takes at most 10 values",
    }


def test_unknown_version_is_404_not_found(sim, api, base_url):
    response = post(api, VALID, version="2020-01")

    assert response.status_code == 404
    assert response.json() == {"code": "NotFound", "message": "API version 2020-01 does not exist"}
    assert ledger(base_url) == 0


def test_unknown_order_is_404_not_found(sim, api, base_url):
    response = post(api, VALID, order_id="SL-9")

    assert response.status_code == 404
    assert response.json() == {"code": "NotFound", "message": "Order SL-9 not found"}


def test_wrong_method_is_405_and_unknown_path_is_404(sim, api):
    put = requests.put(url(api), json=VALID, timeout=5)
    other = requests.get(f"{api}/openapi/2026-01/orders", timeout=5)

    assert put.status_code == 405
    assert other.status_code == 404
    assert other.json()["code"] == "NotFound"


# --- validation: 400 InvalidParameter --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "refund is required and must be an object"),
        ({"refund": {}}, "refund.refund_total is required"),
        (with_refund(refund_total=45), 'refund.refund_total must be a string such as "10.00"'),
        (with_refund(refund_total="45.001"), "refund.refund_total '45.001' is not a valid amount"),
        (with_refund(refund_total="0.00"), "refund.refund_total must be greater than 0"),
        (with_refund(refund_totl="1.00"), "unknown parameter refund.refund_totl"),
        (with_refund(note=5), "refund.note must be a string"),
        (
            with_refund(refund_line_items=[{"quantity": 1}]),
            "refund.refund_line_items[0].line_item_id is required and must be a string",
        ),
        (
            with_refund(refund_line_items=[{"line_item_id": "li_1", "quantity": 0}]),
            "refund.refund_line_items[0].quantity must be a positive integer",
        ),
        (
            with_refund(refund_line_items=[{"line_item_id": "li_1", "refund_item_type": 3}]),
            "refund.refund_line_items[0].refund_item_type must be 0, 1, 2, auto, shipped or "
            "waiting_ship",
        ),
        (
            with_refund(
                refund_line_items=[
                    {"line_item_id": "li_1", "quantity": 1, "refund_item_type": "auto"},
                    {"line_item_id": "li_1", "quantity": 1, "refund_item_type": "shipped"},
                ]
            ),
            "refund.refund_line_items[1].refund_item_type 0 (auto) cannot be mixed with 1 or 2 for "
            "the same line item",
        ),
        (
            with_refund(
                refund_line_items=[
                    {
                        "line_item_id": "li_1",
                        "quantity": 1,
                        "refund_item_type": 1,
                        "return_inventory": True,
                    },
                    {
                        "line_item_id": "li_1",
                        "quantity": 1,
                        "refund_item_type": 2,
                        "return_inventory": False,
                    },
                ]
            ),
            "refund.refund_line_items[1].return_inventory must be the same for one line item",
        ),
        (
            with_refund(refund_line_items=[{"line_item_id": "li_1", "return_inventory": "yes"}]),
            "refund.refund_line_items[0].return_inventory must be a boolean",
        ),
        (
            with_refund(refund_payments=[{"payment_line_id": "pay_9", "refund_price": "45.00"}]),
            "refund.refund_payments[0].payment_line_id pay_9 is not a payment of the order",
        ),
        (
            with_refund(refund_payments=[{"payment_line_id": "pay_1"}]),
            "refund.refund_payments[0].refund_price is required",
        ),
        (
            with_refund(refund_payments=[{"payment_line_id": "pay_1", "refund_price": "40.00"}]),
            "the sum of refund.refund_payments[].refund_price must equal refund.refund_total",
        ),
        (
            with_refund(refund_additional_prices=[{"price": "1.00"}]),
            "refund.refund_additional_prices[0].name is required and must be a string",
        ),
        (
            with_refund(
                refund_additional_total="2.00",
                refund_product_total="38.00",
                refund_additional_prices=[{"name": "Gift Wrapping", "price": "1.00"}],
            ),
            "the sum of refund.refund_additional_prices[].price must equal "
            "refund.refund_additional_total",
        ),
        (
            with_refund(refund_product_total="30.00"),
            "refund.refund_total must equal the product, shipping, tip and additional totals "
            "added up",
        ),
    ],
)
def test_validation_errors_are_400_invalid_parameter(sim, api, base_url, body, message):
    response = post(api, body)

    assert response.status_code == 400
    assert response.json() == {"code": "InvalidParameter", "message": message}
    assert ledger(base_url) == 0


def test_words_for_refund_item_type_are_refused_by_2025_06(sim, api, base_url):
    body = with_refund(
        refund_line_items=[{"line_item_id": "li_1", "quantity": 1, "refund_item_type": "shipped"}]
    )

    old = post(api, body, version="2025-06")
    new = post(api, body, version="2026-01")

    assert old.status_code == 400
    assert old.json()["message"] == (
        "refund.refund_line_items[0].refund_item_type must be 0, 1 or 2"
    )
    assert new.status_code == 200
    assert ledger(base_url) == 1


def test_invalid_json_is_400_invalid_parameter(sim, api, base_url):
    response = requests.post(
        url(api),
        data=b"{not json",
        timeout=5,
        headers={"Access-Token": token(api), "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json() == {
        "code": "InvalidParameter",
        "message": "The request body is not valid JSON",
    }


# --- business rules: 500 RefundFailed --------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            with_refund(refund_total="76.00", refund_product_total="71.00", refund_payments=[]),
            "The refund total 76.00 exceeds the refundable amount 75.00",
        ),
        (
            with_refund(refund_shipping_total="6.00", refund_product_total="39.00"),
            "The shipping refund 6.00 exceeds the refundable shipping 5.00",
        ),
        (
            with_refund(
                refund_total="60.00",
                refund_product_total="55.00",
                refund_payments=[{"payment_line_id": "pay_2", "refund_price": "60.00"}],
            ),
            "The refund of 60.00 exceeds what payment pay_2 can still refund (25.00)",
        ),
        (
            with_refund(
                refund_line_items=[
                    {"line_item_id": "li_1", "quantity": 2, "refund_item_type": "shipped"}
                ]
            ),
            "Line item li_1: the refund quantity exceeds the refundable quantity (1 waiting to "
            "ship, 1 shipped)",
        ),
        (
            with_refund(refund_line_items=[{"line_item_id": "li_1", "quantity": 3}]),
            "Line item li_1: the refund quantity exceeds the refundable quantity (1 waiting to "
            "ship, 1 shipped)",
        ),
    ],
)
def test_business_rules_are_500_refund_failed(sim, api, base_url, body, message):
    response = post(api, body)

    assert response.status_code == 500
    assert response.json() == {"code": "RefundFailed", "message": message}
    assert ledger(base_url) == 0


def test_unpaid_order_is_500_refund_failed(sim, api, base_url):
    response = post(api, VALID, order_id="SL-2002")

    assert response.status_code == 500
    assert response.json() == {
        "code": "RefundFailed",
        "message": "The order is pending; only paid orders can be refunded",
    }


def test_second_refund_beyond_what_is_left_is_refused(sim, api, base_url):
    assert post(api, VALID).status_code == 200

    again = post(api, with_refund(note="again [RD-raw-2]"))

    assert again.status_code == 500
    assert again.json()["message"] == ("The refund total 45.00 exceeds the refundable amount 30.00")
    assert ledger(base_url) == 1


# --- asynchronous behaviour ------------------------------------------------------------------


def test_advance_finishes_pending_records_and_updates_the_order(sim, api, base_url):
    post(api, VALID)

    moved = control(base_url, "POST", "advance")

    assert moved == {"finished": 1, "failed": 0}
    body = requests.get(url(api), headers={"Access-Token": token(api)}, timeout=5).json()
    assert body["data"]["records"][0]["refund_status"] == "finished"
    assert body["data"]["order_financial_status"] == "partially_refunded"


def test_records_settle_by_themselves_after_settle_seconds(sim, api, base_url):
    control(base_url, "PUT", "config", {"settle_seconds": 0})
    post(api, VALID)

    body = requests.get(url(api), headers={"Access-Token": token(api)}, timeout=5).json()

    assert body["data"]["records"][0]["refund_status"] == "finished"


def test_a_full_refund_makes_the_order_refunded(sim, api, base_url):
    full = {"refund": {"refund_total": ORDER["grand_total"], "note": "all [RD-raw-full]"}}
    assert post(api, full).status_code == 200

    control(base_url, "POST", "advance")

    body = requests.get(url(api), headers={"Access-Token": token(api)}, timeout=5).json()
    assert body["data"]["order_financial_status"] == "refunded"


def test_failed_records_release_what_they_held(sim, api, base_url):
    control(base_url, "PUT", "config", {"fail_orders": [ORDER_ID]})
    post(api, VALID)

    moved = control(base_url, "POST", "advance")
    again = post(api, with_refund(note="again [RD-raw-2]"))

    assert moved == {"finished": 0, "failed": 1}
    assert again.status_code == 200
    records = requests.get(url(api), headers={"Access-Token": token(api)}, timeout=5).json()[
        "data"
    ]["records"]
    assert [r["refund_status"] for r in records] == ["failed", "pending"]


# --- rate limit: 429 -------------------------------------------------------------------------


def test_over_the_leaky_bucket_is_429_with_retry_after(sim, api, base_url):
    control(base_url, "PUT", "config", {"rate_limit_per_second": 2, "rate_limit_bucket": 2})
    headers = {"Access-Token": token(api)}

    answers = [requests.get(url(api), headers=headers, timeout=5) for _ in range(3)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "TooManyRequests"
    assert answers[2].headers["Retry-After"] == "1"


def test_ledger_counts_per_idempotency_key(sim, api, base_url):
    post(
        api,
        with_refund(
            refund_total="5.00",
            refund_shipping_total="5.00",
            refund_product_total="0.00",
            refund_line_items=[],
            refund_payments=[],
            note="[RD-k1]",
        ),
    )
    post(
        api,
        with_refund(
            refund_total="5.00",
            refund_shipping_total="0.00",
            refund_product_total="5.00",
            refund_line_items=[],
            refund_payments=[],
            note="x [RD-k2]",
        ),
    )

    assert ledger(base_url, "k1") == 1
    assert ledger(base_url, "k2") == 1
    assert ledger(base_url, "k3") == 0
    assert ledger(base_url) == 2
