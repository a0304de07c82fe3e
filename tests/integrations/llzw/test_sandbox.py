"""The LLZW sandbox held to seed 003, the LLZW API reference and the platform's source (see
integrations/llzw/mapping.py) with raw HTTP calls."""

import re
import uuid
from decimal import Decimal

import pytest
import requests

from .support import customer_refund, ledger, login, staff

ENTITY_FIELDS = [
    "id",
    "order",
    "createdAt",
    "updatedAt",
    "requester",
    "requestReason",
    "responseReason",
    "confirmedAt",
    "issuedAt",
    "amount",
    "status",
    "trackingId",
    "carrierName",
    "refundOnly",
    "valid",
]
DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2} (AM|PM) GMT\+0:00$")
BODY = '{"orderId": 1001, "reason": "Broken", "amount": 12.5, "refundOnly": true}'


def post_refund(session, api, body=BODY, content_type="application/json"):
    return session.post(
        f"{api}/api/v2/refunds", data=body, headers={"Content-Type": content_type}, timeout=5
    )


def assert_error(response, status: int, error_type: str, message: str):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"responseId", "timestamp", "success", "data", "error"}
    assert body["success"] is False
    assert body["data"] is None
    assert body["error"] == {"type": error_type, "message": message}


# --- login ------------------------------------------------------------------------------------


def test_login_sets_a_session_cookie_in_the_envelope(api):
    response = requests.post(
        f"{api}/login", data={"username": "demo", "password": "demo-secret"}, timeout=5
    )

    assert response.status_code == 200
    body = response.json()
    assert uuid.UUID(body["responseId"])
    assert DATE.match(body["timestamp"])
    assert body["success"] is True
    assert body["error"] is None
    assert body["data"] == {"username": "demo", "role": "SELLER"}
    assert re.fullmatch(
        r"JSESSIONID=[0-9A-F]{32}; Path=/; HttpOnly", response.headers["Set-Cookie"]
    )


def test_customer_login(api):
    response = requests.post(
        f"{api}/login",
        data={"username": "alice@example.com", "password": "customer-secret"},
        timeout=5,
    )

    assert response.json()["data"] == {"username": "alice@example.com", "role": "CUSTOMER"}


def test_login_with_a_wrong_password(api):
    response = requests.post(
        f"{api}/login", data={"username": "demo", "password": "nope"}, timeout=5
    )

    assert_error(response, 401, "API.SECURITY.INVALID_CREDENTIAL", "Bad credentials")
    assert "Set-Cookie" not in response.headers


def test_login_takes_a_form_not_json(api):
    response = requests.post(
        f"{api}/login", json={"username": "demo", "password": "demo-secret"}, timeout=5
    )

    assert_error(
        response,
        400,
        "API.INVALID_PARAMETER",
        "Login takes a form (application/x-www-form-urlencoded) with username and password",
    )


def test_login_needs_both_fields(api):
    response = requests.post(f"{api}/login", data={"username": "demo"}, timeout=5)

    assert_error(response, 400, "API.INVALID_PARAMETER", "username and password are required")


# --- authentication on the refunds API ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v2/refunds"),
        ("POST", "/api/v2/refunds"),
        ("GET", "/api/v2/refunds/1"),
        ("PATCH", "/api/v2/refunds/1"),
        ("DELETE", "/api/v2/refunds/1"),
    ],
)
def test_every_refund_endpoint_needs_a_session(api, control, method, path):
    response = requests.request(method, f"{api}{path}", timeout=5)

    assert_error(
        response,
        401,
        "API.SECURITY.INVALID_CREDENTIAL",
        "Full authentication is required to access this resource",
    )
    assert ledger(control)["count"] == 0


def test_an_unknown_session_is_refused(api):
    response = requests.get(f"{api}/api/v2/refunds", cookies={"JSESSIONID": "FORGED"}, timeout=5)

    assert_error(response, 401, "API.SECURITY.INVALID_CREDENTIAL", "Invalid session")


def test_an_expired_session_is_refused(api, control):
    requests.put(f"{control}/config", json={"session_ttl": 0}, timeout=5)
    session = login(api)

    response = session.get(f"{api}/api/v2/refunds", timeout=5)

    assert_error(response, 401, "API.SECURITY.INVALID_CREDENTIAL", "Session expired")


# --- create -----------------------------------------------------------------------------------


def test_create_returns_the_refund_entity(api, control):
    session = login(api)

    response = post_refund(session, api)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["error"] is None
    refund = body["data"]
    assert list(refund) == ENTITY_FIELDS
    assert refund["id"] == 1
    assert refund["order"] == 1001
    assert refund["requester"] == "demo"
    assert refund["requestReason"] == "Broken"
    assert response.json(parse_float=Decimal)["data"]["amount"] == Decimal("12.50")
    assert refund["status"] == "REQUESTED"
    assert refund["refundOnly"] is True
    assert refund["valid"] is True
    assert (refund["responseReason"], refund["confirmedAt"], refund["issuedAt"]) == (None,) * 3
    assert (refund["trackingId"], refund["carrierName"]) == (None, None)
    assert DATE.match(refund["createdAt"])
    assert DATE.match(refund["updatedAt"])
    assert b'"amount": 12.50' in response.content
    assert ledger(control)["count"] == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '{"reason": "x", "amount": 1, "refundOnly": true}',
            "orderId is required and must be an integer",
        ),
        (
            '{"orderId": "1001", "reason": "x", "amount": 1, "refundOnly": true}',
            "orderId is required and must be an integer",
        ),
        ('{"orderId": 1001, "amount": 1, "refundOnly": true}', "reason is required"),
        (
            '{"orderId": 1001, "reason": "  ", "amount": 1, "refundOnly": true}',
            "reason is required",
        ),
        (
            '{"orderId": 1001, "reason": "x", "refundOnly": true}',
            "amount is required and must be a number",
        ),
        (
            '{"orderId": 1001, "reason": "x", "amount": "1.00", "refundOnly": true}',
            "amount is required and must be a number",
        ),
        (
            '{"orderId": 1001, "reason": "x", "amount": -1, "refundOnly": true}',
            "amount must be above zero with at most two decimals",
        ),
        (
            '{"orderId": 1001, "reason": "x", "amount": 0, "refundOnly": true}',
            "amount must be above zero with at most two decimals",
        ),
        (
            '{"orderId": 1001, "reason": "x", "amount": 1.001, "refundOnly": true}',
            "amount must be above zero with at most two decimals",
        ),
        (
            '{"orderId": 1001, "reason": "x", "amount": 1}',
            "refundOnly is required and must be a boolean",
        ),
        (
            '{"orderId": 1001, "reason": "x", "amount": 1, "refundOnly": "true"}',
            "refundOnly is required and must be a boolean",
        ),
        ('{"orderId": 1001, "reason": "x"', "Malformed JSON request body"),
        ("[1]", "The request body must be a JSON object"),
    ],
)
def test_create_validates_every_field(api, control, body, message):
    response = post_refund(login(api), api, body)

    assert_error(response, 400, "API.INVALID_PARAMETER", message)
    assert ledger(control)["count"] == 0


def test_create_needs_json(api, control):
    response = post_refund(login(api), api, "orderId=1001", "application/x-www-form-urlencoded")

    assert_error(response, 400, "API.INVALID_PARAMETER", "Content-Type must be application/json")
    assert ledger(control)["count"] == 0


def test_create_reason_longer_than_255(api, control):
    body = '{"orderId": 1001, "reason": "%s", "amount": 1, "refundOnly": true}' % ("x" * 256)

    response = post_refund(login(api), api, body)

    assert_error(response, 400, "API.INVALID_PARAMETER", "reason is longer than 255")


def test_create_for_an_unknown_order(api, control):
    body = '{"orderId": 77, "reason": "x", "amount": 1, "refundOnly": true}'

    response = post_refund(login(api), api, body)

    assert_error(response, 404, "API.ENTITY_NOT_FOUND", "Order 77 not found")
    assert ledger(control)["count"] == 0


def test_customer_cannot_refund_another_customers_order(api, control):
    bob = login(api, "bob@example.com", "customer-secret")

    response = post_refund(bob, api)

    assert_error(response, 403, "API.SECURITY.ACCESS_DENIED", "Order 1001 does not belong to you")
    assert ledger(control)["count"] == 0


def test_create_beyond_the_refundable_amount(api, control):
    session = login(api)
    post_refund(session, api, '{"orderId": 1001, "reason": "a", "amount": 40, "refundOnly": true}')

    response = post_refund(
        session, api, '{"orderId": 1001, "reason": "b", "amount": 5.01, "refundOnly": true}'
    )

    assert_error(
        response,
        400,
        "API.REJECTED_BY_ENTITY",
        "Refund amount 5.01 exceeds the refundable 5.00 of order 1001",
    )
    assert ledger(control)["count"] == 1


def test_create_for_an_unpaid_order(api, control):
    body = '{"orderId": 1003, "reason": "x", "amount": 1, "refundOnly": true}'

    response = post_refund(login(api), api, body)

    assert_error(response, 400, "API.REJECTED_BY_ENTITY", "Order 1003 is pending, not paid")


def test_denied_and_cancelled_refunds_free_the_amount(api, control):
    session = login(api)
    first = post_refund(
        session, api, '{"orderId": 1002, "reason": "a", "amount": 10, "refundOnly": true}'
    ).json()["data"]
    session.delete(f"{api}/api/v2/refunds/{first['id']}", timeout=5)

    again = post_refund(
        session, api, '{"orderId": 1002, "reason": "b", "amount": 10, "refundOnly": true}'
    )

    assert again.status_code == 200
    assert ledger(control)["count"] == 2


# --- read -------------------------------------------------------------------------------------


def test_list_filters_and_pages(api):
    customer_refund(api, amount=1)
    customer_refund(api, amount=2, refundOnly=True)
    customer_refund(api, orderId=1002, amount=3)
    session = login(api)
    session.delete(f"{api}/api/v2/refunds/1", timeout=5)

    def ids(**params):
        response = session.get(f"{api}/api/v2/refunds", params=params, timeout=5)
        assert response.status_code == 200
        return [r["id"] for r in response.json()["data"]]

    assert ids() == [1, 2, 3]
    assert ids(orderId="1001") == [1, 2]
    assert ids(status="CANCELLED") == [1]
    assert ids(status="REQUESTED") == [2, 3]
    assert ids(valid="false") == [1]
    assert ids(valid="true") == [2, 3]
    assert ids(page=0, size=2) == [1, 2]
    assert ids(page=1, size=2) == [3]
    assert ids(page=5, size=2) == []


def test_list_pages_by_twenty_from_page_zero_by_default(api):
    for _ in range(21):
        customer_refund(api, orderId=1002, amount=Decimal("0.01"), reason="x")
    session = login(api)

    first = session.get(f"{api}/api/v2/refunds", timeout=5).json()["data"]
    second = session.get(f"{api}/api/v2/refunds", params={"page": 1}, timeout=5).json()["data"]

    assert [r["id"] for r in first] == list(range(1, 21))
    assert [r["id"] for r in second] == [21]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"status": "PENDING"},
            "status must be one of PROCESSING, DENIED, ISSUED, CANCELLED, REQUESTED, WAITING",
        ),
        ({"valid": "yes"}, "valid must be true or false"),
        ({"page": "-1"}, "page must be an integer of at least 0"),
        ({"size": "0"}, "size must be an integer of at least 1"),
        ({"size": "x"}, "size must be an integer of at least 1"),
        ({"orderId": "abc"}, "orderId must be an integer: 'abc'"),
    ],
)
def test_list_validates_its_parameters(api, params, message):
    response = login(api).get(f"{api}/api/v2/refunds", params=params, timeout=5)

    assert_error(response, 400, "API.INVALID_PARAMETER", message)


def test_list_for_an_unknown_order(api):
    response = login(api).get(f"{api}/api/v2/refunds", params={"orderId": "5"}, timeout=5)

    assert_error(response, 404, "API.ENTITY_NOT_FOUND", "Order 5 not found")


def test_customers_see_only_their_own_refunds(api):
    customer_refund(api)
    customer_refund(api, orderId=1002, amount=3)
    bob = login(api, "bob@example.com", "customer-secret")

    mine = bob.get(f"{api}/api/v2/refunds", timeout=5).json()["data"]
    other = bob.get(f"{api}/api/v2/refunds", params={"orderId": "1001"}, timeout=5)
    single = bob.get(f"{api}/api/v2/refunds/1", timeout=5)

    assert [r["id"] for r in mine] == [2]
    assert_error(other, 403, "API.SECURITY.ACCESS_DENIED", "Order 1001 does not belong to you")
    assert_error(single, 403, "API.SECURITY.ACCESS_DENIED", "Order 1001 does not belong to you")


def test_get_one_refund(api):
    customer_refund(api)

    response = login(api).get(f"{api}/api/v2/refunds/1", timeout=5)

    assert response.status_code == 200
    assert list(response.json()["data"]) == ENTITY_FIELDS
    assert response.json()["data"]["requester"] == "alice@example.com"


def test_get_unknown_and_malformed_ids(api):
    session = login(api)

    assert_error(
        session.get(f"{api}/api/v2/refunds/9", timeout=5),
        404,
        "API.ENTITY_NOT_FOUND",
        "Refund 9 not found",
    )
    assert_error(
        session.get(f"{api}/api/v2/refunds/x", timeout=5),
        400,
        "API.INVALID_PARAMETER",
        "Refund ID must be an integer: 'x'",
    )


# --- PATCH and DELETE -------------------------------------------------------------------------


def patch(session, api, refund_id, body):
    return session.patch(f"{api}/api/v2/refunds/{refund_id}", json=body, timeout=5)


def test_ship_init_by_the_customer(api):
    customer_refund(api, refundOnly=False)
    alice = login(api, "alice@example.com", "customer-secret")

    response = patch(
        alice, api, 1, {"action": "SHIP_INIT", "trackingId": "T1", "carrierName": "SF-Express"}
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["trackingId"], data["carrierName"], data["status"]) == (
        "T1",
        "SF-Express",
        "REQUESTED",
    )


def test_ship_init_needs_the_customer_role(api):
    customer_refund(api, refundOnly=False)

    response = patch(
        login(api), api, 1, {"action": "SHIP_INIT", "trackingId": "T1", "carrierName": "UPS"}
    )

    assert_error(response, 403, "API.SECURITY.ACCESS_DENIED", "SHIP_INIT needs the CUSTOMER role")


def test_ship_init_on_a_refund_only_refund_is_unsupported(api):
    customer_refund(api, refundOnly=True)
    alice = login(api, "alice@example.com", "customer-secret")

    response = patch(
        alice, api, 1, {"action": "SHIP_INIT", "trackingId": "T1", "carrierName": "UPS"}
    )

    assert_error(
        response,
        400,
        "API.OPERATION_UNSUPPORTED",
        "Shipment information is only for a refund whose refundOnly is false",
    )


def test_ship_init_needs_tracking_and_carrier(api):
    customer_refund(api, refundOnly=False)
    alice = login(api, "alice@example.com", "customer-secret")

    response = patch(alice, api, 1, {"action": "SHIP_INIT", "trackingId": "T1"})

    assert_error(response, 400, "API.INVALID_PARAMETER", "carrierName is required")


@pytest.mark.parametrize("action", ["CONFIRM", "RECEIVE", "ISSUE", "DENY", "REFUND", None])
def test_patch_knows_only_ship_init(api, control, action):
    customer_refund(api)
    session = login(api)

    response = patch(session, api, 1, {"action": action} if action else {})

    assert_error(
        response, 400, "API.INVALID_PARAMETER", "action is required and should be SHIP_INIT"
    )
    assert ledger(control)["refunds"][0]["status"] == "REQUESTED"


def sim_post(api, path, **kwargs):
    return requests.post(f"{api}/_sim{path}", timeout=5, **kwargs)


def test_the_shops_staff_lifecycle_with_return(api):
    customer_refund(api, refundOnly=False)
    alice = login(api, "alice@example.com", "customer-secret")

    confirmed = staff(api, 1, "confirm")
    patch(alice, api, 1, {"action": "SHIP_INIT", "trackingId": "T9", "carrierName": "DHL"})
    received = staff(api, 1, "receive")
    issued = staff(api, 1, "issue")

    assert confirmed["status"] == "WAITING"
    assert DATE.match(confirmed["confirmedAt"])
    assert (received["status"], received["trackingId"]) == ("PROCESSING", "T9")
    assert issued["status"] == "ISSUED"
    assert DATE.match(issued["issuedAt"])


def test_the_staff_confirm_a_refund_only_refund_to_processing(api):
    customer_refund(api, refundOnly=True)

    assert staff(api, 1, "confirm")["status"] == "PROCESSING"


def test_staff_decisions_out_of_order_are_rejected_by_the_refund(api):
    customer_refund(api, refundOnly=False)

    issue = sim_post(api, "/refunds/1/issue")
    receive = sim_post(api, "/refunds/1/receive")
    staff(api, 1, "confirm")
    no_tracking = sim_post(api, "/refunds/1/receive")
    unknown = sim_post(api, "/refunds/9/confirm")

    assert_error(issue, 400, "API.REJECTED_BY_ENTITY", "Cannot issue refund 1 in status REQUESTED")
    assert_error(
        receive, 400, "API.REJECTED_BY_ENTITY", "Cannot receive refund 1 in status REQUESTED"
    )
    assert_error(
        no_tracking,
        400,
        "API.REJECTED_BY_ENTITY",
        "Refund 1 has no shipment information to receive",
    )
    assert_error(unknown, 404, "API.ENTITY_NOT_FOUND", "Refund 9 not found")


def test_the_staff_deny_with_a_reason(api):
    customer_refund(api)

    missing = sim_post(api, "/refunds/1/deny", json={})
    denied = staff(api, 1, "deny", reason="Worn")

    assert_error(missing, 400, "API.INVALID_PARAMETER", "reason is required")
    assert (denied["status"], denied["responseReason"]) == ("DENIED", "Worn")


def test_delete_cancels_only_requested_or_waiting_refunds(api, control):
    customer_refund(api, refundOnly=True)
    customer_refund(api, refundOnly=True, amount=1)
    seller = login(api)
    staff(api, 2, "confirm")

    deleted = seller.delete(f"{api}/api/v2/refunds/1", timeout=5)
    processing = seller.delete(f"{api}/api/v2/refunds/2", timeout=5)

    assert deleted.status_code == 200
    assert deleted.json()["success"] is True
    assert deleted.json()["data"] is None
    assert_error(
        processing, 400, "API.REJECTED_BY_ENTITY", "Cannot cancel refund 2 in status PROCESSING"
    )
    assert [r["status"] for r in ledger(control)["refunds"]] == ["CANCELLED", "PROCESSING"]


def test_customer_can_cancel_own_refund(api):
    customer_refund(api)
    alice = login(api, "alice@example.com", "customer-secret")

    response = alice.delete(f"{api}/api/v2/refunds/1", timeout=5)

    assert response.status_code == 200


# --- routing, control -------------------------------------------------------------------------


def test_unknown_path_and_wrong_method(api):
    session = login(api)

    assert_error(
        session.get(f"{api}/api/v2/orders", timeout=5),
        404,
        "API.ENTITY_NOT_FOUND",
        "No endpoint GET /api/v2/orders",
    )
    assert_error(
        session.put(f"{api}/api/v2/refunds/1", json={}, timeout=5),
        405,
        "API.OPERATION_UNSUPPORTED",
        "Request method 'PUT' is not supported",
    )


def test_advance_is_the_staff_working_through_everything_open(api, control):
    customer_refund(api, refundOnly=True)
    customer_refund(api, refundOnly=False, amount=1)
    customer_refund(api, refundOnly=False, amount=2)
    staff(api, 3, "confirm")
    alice = login(api, "alice@example.com", "customer-secret")
    patch(alice, api, 3, {"action": "SHIP_INIT", "trackingId": "T3", "carrierName": "UPS"})

    result = requests.post(f"{control}/advance", timeout=5).json()

    assert result == {"confirmed": [1, 2], "received": [3], "issued": [1, 3]}
    assert [r["status"] for r in ledger(control)["refunds"]] == ["ISSUED", "WAITING", "ISSUED"]


def test_the_staff_pay_what_the_seller_asked_for_at_their_pace(api, control):
    requests.put(f"{control}/config", json={"staff_seconds": 60}, timeout=5)
    seller = login(api)
    post_refund(seller, api)
    customer_refund(api, amount=1)

    requests.put(f"{control}/config", json={"clock_offset": 61}, timeout=5)
    confirmed = [r["status"] for r in ledger(control)["refunds"]]
    seller.get(f"{api}/api/v2/refunds", timeout=5)
    still = [r["status"] for r in ledger(control)["refunds"]]
    requests.put(f"{control}/config", json={"clock_offset": 122}, timeout=5)
    seller.get(f"{api}/api/v2/refunds", timeout=5)
    issued = ledger(control)["refunds"]

    assert confirmed == ["REQUESTED", "REQUESTED"]  # nothing moves between requests
    assert still == ["PROCESSING", "REQUESTED"]  # a customer's refund waits for a person
    assert [r["status"] for r in issued] == ["ISSUED", "REQUESTED"]
    assert DATE.match(issued[0]["issuedAt"])


def test_ledger_counts_by_our_key(api, control):
    customer_refund(api, reason="Broken [RD:k-1]", amount=1)
    customer_refund(api, reason="Broken again [RD:k-1]", amount=1)
    customer_refund(api, reason="Other [RD:k-2]", amount=1)

    assert ledger(control, "k-1")["count"] == 2
    assert ledger(control, "k-2")["count"] == 1
    assert ledger(control, "k-3") == {"count": 0, "refunds": []}
    assert ledger(control)["count"] == 3


def test_orders_need_an_integer_id(control):
    response = requests.post(f"{control}/orders", json=[{"external_number": "LZ-1"}], timeout=5)

    assert response.status_code == 400
    assert response.json() == {"message": "LLZW order ids are integers, got external_number 'LZ-1'"}


def test_order_total_is_computed_from_the_parts_when_absent(sim):
    order = sim.orders[1002]

    assert order["total"] == 10
    assert order["customer"] == "bob@example.com"
    assert order["status"] == "PAID"
    assert order["items"] == [{"id": "L1", "sku": "PEN", "name": "Pen", "quantity": 1, "price": 10}]


def test_configured_users_can_log_in(api, control):
    requests.put(
        f"{control}/config",
        json={"users": {"ops": {"password": "pw", "role": "SELLER"}}},
        timeout=5,
    )

    assert login(api, "ops", "pw").get(f"{api}/api/v2/refunds", timeout=5).status_code == 200
