from decimal import Decimal

import pytest
from django.core import mail
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from refunds.calculator import LineChoice
from refunds.models import Refund, RefundEvent
from refunds.services import refund_approve, refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _request(order, user, qty=1, refund_only=False) -> Refund:
    line = order.lines.first()
    return refund_request(
        actor=user,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=qty)],
    )


def test_create_partial_refund_by_lines_returns_seed_fields(
    order, customer_user, django_capture_on_commit_callbacks
):
    lines = list(order.lines.all())
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(customer_user).post(
            "/api/v2/refunds",
            {
                "orderId": order.pk,
                "reason": "damaged",
                "explanation": "Cracked",
                "refundOnly": False,
                "lines": [
                    {"lineId": lines[0].pk, "quantity": 1},
                    {"lineId": lines[1].pk, "quantity": 2},
                ],
            },
            format="json",
        )
    assert response.status_code == 201, response.content
    data = response.json()["data"]
    refund = Refund.objects.get()
    assert data["id"] == refund.pk
    assert data["order"] == order.pk
    assert data["status"] == "REQUESTED"
    assert data["amount"] == str(refund.total)
    assert data["requester"] == "alice@example.com"
    assert data["requestReason"] == "damaged"
    assert data["explanation"] == "Cracked"
    assert data["responseReason"] is None
    assert data["trackingId"] is None
    assert data["refundOnly"] is False
    assert data["valid"] is True
    assert [(x["orderLineId"], x["quantity"]) for x in data["lines"]] == [
        (lines[0].pk, 1),
        (lines[1].pk, 2),
    ]
    assert refund.source == "portal"
    assert [m.subject for m in mail.outbox] == [f"Refund {refund.number}: Requested"]


def test_create_by_amount_spreads_over_lines(order, customer_user):
    response = client_for(customer_user).post(
        "/api/v2/refunds",
        {
            "orderId": order.pk,
            "reason": "other",
            "explanation": "Half of it was missing",
            "amount": "15.50",
            "refundOnly": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["data"]["amount"] == "15.50"
    assert Refund.objects.get().total == Decimal("15.50")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "damaged", "amount": "1.00", "refundOnly": True}, "orderId"),
        ({"orderId": 1, "reason": "nope", "amount": "1.00", "refundOnly": True}, "reason"),
        ({"orderId": 1, "reason": "damaged", "refundOnly": True}, "amount"),
        ({"orderId": 1, "reason": "damaged", "amount": "NaN", "refundOnly": True}, "amount"),
        ({"orderId": 1, "reason": "damaged", "amount": "1.00"}, "refundOnly"),
    ],
)
def test_create_with_bad_input_is_400_envelope_and_writes_nothing(
    order, customer_user, body, field
):
    body = {**body, "orderId": order.pk} if "orderId" in body else body
    response = client_for(customer_user).post("/api/v2/refunds", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]
    assert Refund.objects.count() == 0


def test_create_over_refundable_amount_is_refused(order, customer_user):
    response = client_for(customer_user).post(
        "/api/v2/refunds",
        {
            "orderId": order.pk,
            "reason": "damaged",
            "amount": str(order.grand_total + 1),
            "refundOnly": True,
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "amount"
    assert "refundable" in response.json()["error"]["message"]
    assert Refund.objects.count() == 0


def test_create_with_lines_and_wrong_amount_is_refused(order, customer_user):
    line = order.lines.first()
    response = client_for(customer_user).post(
        "/api/v2/refunds",
        {
            "orderId": order.pk,
            "reason": "damaged",
            "amount": "1.00",
            "refundOnly": True,
            "lines": [{"lineId": line.pk, "quantity": 1}],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"amount": ["The lines come to 10.00 USD."]}
    assert Refund.objects.count() == 0


def test_list_filters_and_pages_from_zero(order, customer_user):
    first = _request(order, customer_user)
    second = _request(order, customer_user, qty=1)
    client = client_for(customer_user)
    page0 = client.get("/api/v2/refunds", {"page": 0, "size": 1}).json()
    page1 = client.get("/api/v2/refunds", {"page": 1, "size": 1}).json()
    assert [r["id"] for r in page0["data"]] == [second.pk]
    assert [r["id"] for r in page1["data"]] == [first.pk]
    assert page0["meta"] == {"page": 0, "size": 1, "total": 2, "totalIsEstimate": False}
    assert client.get("/api/v2/refunds", {"status": "WAITING"}).json()["data"] == []
    assert len(client.get("/api/v2/refunds", {"orderId": order.pk}).json()["data"]) == 2
    assert client.get("/api/v2/refunds", {"orderId": order.pk + 999}).json()["data"] == []
    bad = client.get("/api/v2/refunds", {"status": "LOST"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"
    assert client.get("/api/v2/refunds", {"size": 0}).status_code == 400


def test_list_filters_by_order_number_email_and_search_within_what_the_user_sees(
    order, customer_user, agent
):
    mine = _request(order, customer_user)
    bob = factories.UserFactory(username="bob@example.com")
    bob_order = factories.make_order(
        customer=factories.CustomerFactory(email="bob@example.com", user=bob)
    )
    bobs = _request(bob_order, bob)
    staff = client_for(agent)

    def ids(client, **params):
        response = client.get("/api/v2/refunds", params)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["data"]]

    assert ids(staff, orderNumber=order.external_number.lower()) == [mine.pk]
    assert ids(staff, customerEmail="BOB@EXAMPLE.COM") == [bobs.pk]
    assert ids(staff, q=bob_order.external_number) == [bobs.pk]
    assert ids(staff, q=f"RD-{mine.pk}") == [mine.pk]
    assert ids(staff, customerEmail="bob@example") == []
    alice = client_for(customer_user)
    assert ids(alice, customerEmail="bob@example.com") == []  # never another customer's
    assert ids(alice, q=bob_order.external_number) == []
    assert ids(alice, q=f"RD-{bobs.pk}") == []
    assert ids(alice, q="alice@example.com") == [mine.pk]
    too_long = staff.get("/api/v2/refunds", {"orderNumber": "x" * 121})
    assert too_long.status_code == 400
    assert too_long.json()["error"]["fields"].keys() == {"orderNumber"}


def test_ship_init_while_waiting(order, customer_user, agent):
    refund = refund_approve(actor=agent, refund=_request(order, customer_user))
    response = client_for(customer_user).patch(
        f"/api/v2/refunds/{refund.pk}",
        {"action": "SHIP_INIT", "trackingId": "1Z999", "carrierName": "UPS"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"]["trackingId"] == "1Z999"
    assert response.json()["data"]["carrierName"] == "UPS"
    refund.refresh_from_db()
    assert (refund.return_tracking_id, refund.return_carrier) == ("1Z999", "UPS")


def test_ship_init_while_requested_is_409_and_nothing_changes(order, customer_user):
    refund = _request(order, customer_user)
    events = RefundEvent.objects.count()
    response = client_for(customer_user).patch(
        f"/api/v2/refunds/{refund.pk}",
        {"action": "SHIP_INIT", "trackingId": "1Z999", "carrierName": "UPS"},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    refund.refresh_from_db()
    assert refund.return_tracking_id == ""
    assert RefundEvent.objects.count() == events


def test_ship_init_without_tracking_is_400(order, customer_user, agent):
    refund = refund_approve(actor=agent, refund=_request(order, customer_user))
    response = client_for(customer_user).patch(
        f"/api/v2/refunds/{refund.pk}",
        {"action": "SHIP_INIT", "carrierName": "UPS"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "trackingId": ["This field is required for this action."]
    }


def test_customer_cancels_with_delete(order, customer_user):
    refund = _request(order, customer_user)
    response = client_for(customer_user).delete(f"/api/v2/refunds/{refund.pk}")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "CANCELLED"
    again = client_for(customer_user).delete(f"/api/v2/refunds/{refund.pk}")
    assert again.status_code == 409


def test_staff_approve_deny_receive_through_patch(order, customer_user, agent):
    client = client_for(agent)
    first = _request(order, customer_user)
    response = client.patch(f"/api/v2/refunds/{first.pk}", {"action": "APPROVE"}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "WAITING"
    assert response.json()["data"]["confirmedAt"] is not None
    response = client.patch(f"/api/v2/refunds/{first.pk}", {"action": "RECEIVE"}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "PROCESSING"
    assert response.json()["data"]["lines"][0]["receivedQuantity"] == 1
    second = _request(order, customer_user)
    response = client.patch(
        f"/api/v2/refunds/{second.pk}",
        {"action": "DENY", "responseReason": "Outside the return window"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["data"]["status"] == "DENIED"
    assert response.json()["data"]["responseReason"] == "Outside the return window"


def test_retry_when_not_failed_is_400(order, customer_user, agent):
    refund = refund_approve(actor=agent, refund=_request(order, customer_user, refund_only=True))
    response = client_for(agent).patch(
        f"/api/v2/refunds/{refund.pk}", {"action": "RETRY"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "refused",
        "message": "Only a refund whose delivery failed can be retried",
    }


def test_maker_checker_is_403_with_code_and_nothing_changes(order, agent):
    refund = refund_request(
        actor=agent, order=order, reason_code="damaged", refund_only=True, amount="5.00"
    )
    events = RefundEvent.objects.count()
    response = client_for(agent).patch(
        f"/api/v2/refunds/{refund.pk}", {"action": "APPROVE"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "maker_checker",
        "message": "You requested this refund, so someone else must approve it",
    }
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"
    assert RefundEvent.objects.count() == events


def test_approval_above_the_limit_is_403_with_code_and_nothing_changes(
    order, customer_user, agent, settings
):
    settings.REFUND_APPROVAL_LIMIT = Decimal("5.00")
    refund = _request(order, customer_user)  # 10.00 USD
    events = RefundEvent.objects.count()
    response = client_for(agent).patch(
        f"/api/v2/refunds/{refund.pk}", {"action": "APPROVE"}, format="json"
    )
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "approval_limit"
    assert "need a refund manager's approval" in error["message"]
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"
    assert RefundEvent.objects.count() == events


def test_nested_field_errors_are_plain_text_with_the_field_path(order, customer_user):
    line = order.lines.first()
    response = client_for(customer_user).post(
        "/api/v2/refunds",
        {
            "orderId": order.pk,
            "reason": "damaged",
            "refundOnly": True,
            "lines": [{"lineId": line.pk, "quantity": 1}, {"lineId": line.pk, "quantity": "x"}, 7],
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": "lines[1].quantity: A valid integer is required.",
        "fields": {
            "lines[1].quantity": ["A valid integer is required."],
            "lines[2]": ["Invalid data. Expected a dictionary, but got int."],
        },
    }
    assert Refund.objects.count() == 0


def test_a_list_field_given_text_names_the_field(order, customer_user):
    response = client_for(customer_user).post(
        "/api/v2/refunds",
        {"orderId": order.pk, "reason": "damaged", "refundOnly": True, "lines": "two"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "lines": ['Expected a list of items but got type "str".']
    }
    assert response.json()["error"]["message"] == (
        'lines: Expected a list of items but got type "str".'
    )


def test_receive_errors_name_the_received_line(order, customer_user, agent):
    refund = refund_approve(actor=agent, refund=_request(order, customer_user))
    response = client_for(agent).patch(
        f"/api/v2/refunds/{refund.pk}",
        {"action": "RECEIVE", "received": [{"lineId": 1, "quantity": -1}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "received[0].quantity": ["Ensure this value is greater than or equal to 0."]
    }
    refund.refresh_from_db()
    assert refund.status == "WAITING"


def test_a_customer_sees_a_role_not_the_staff_member_who_requested(order, customer_user, agent):
    by_staff = refund_request(
        actor=agent, order=order, reason_code="damaged", refund_only=True, amount="5.00"
    )
    by_marketplace = refund_request(
        actor=None,
        order=order,
        reason_code="damaged",
        refund_only=True,
        amount="1.00",
        via="poll",
        external_id="EXT-1",
        requester_name="Shop customer service",
    )
    mine = _request(order, customer_user)
    alice = client_for(customer_user)
    listed = {r["id"]: r["requester"] for r in alice.get("/api/v2/refunds").json()["data"]}
    assert listed == {
        by_staff.pk: "Our support team",
        by_marketplace.pk: "The marketplace",
        mine.pk: "alice@example.com",
    }
    detail = alice.get(f"/api/v2/refunds/{by_staff.pk}").json()["data"]
    assert detail["requester"] == "Our support team"
    assert "agent1@example.com" not in alice.get("/api/v2/refunds").content.decode()
    staff = {
        r["id"]: r["requester"] for r in client_for(agent).get("/api/v2/refunds").json()["data"]
    }
    assert staff == {
        by_staff.pk: "agent1@example.com",
        by_marketplace.pk: "Shop customer service",
        mine.pk: "alice@example.com",
    }


def test_staff_without_view_permission_is_403(order, customer_user):
    clerk = factories.UserFactory(username="clerk@example.com", is_staff=True)
    _request(order, customer_user)
    response = client_for(clerk).get("/api/v2/refunds")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_token_endpoint_gives_the_same_token_twice(customer_user):
    client = APIClient()
    client.force_login(customer_user)
    first = client.post("/api/v2/token").json()["data"]["token"]
    second = client.post("/api/v2/token").json()["data"]["token"]
    assert first == second == Token.objects.get(user=customer_user).key


def test_throttle_is_per_user(settings, order, customer_user):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "2/minute"},
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import UserRateThrottle

    api_settings.reload()
    UserRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        alice = client_for(customer_user)
        bob = client_for(factories.UserFactory(username="bob@example.com"))
        assert [alice.get("/api/v2/refunds").status_code for _ in range(3)] == [200, 200, 429]
        assert alice.get("/api/v2/refunds").json()["error"]["code"] == "throttled"
        assert bob.get("/api/v2/refunds").status_code == 200
    finally:
        cache.clear()
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"user": "100000/minute"},
        }
        api_settings.reload()
        UserRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def _queries_for(client, path) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


@pytest.mark.parametrize("path", ["/api/v2/refunds", "/api/v2/orders"])
def test_lists_run_a_fixed_number_of_queries(customer_user, path):
    customer = factories.CustomerFactory(email="alice@example.com", user=customer_user)
    client = client_for(customer_user)

    def add_order_with_refund():
        order = factories.make_order(customer=customer, lines=((2, "10.00", "0", "0"),) * 2)
        _request(order, customer_user)

    add_order_with_refund()
    one = _queries_for(client, path)
    for _ in range(4):
        add_order_with_refund()
    assert _queries_for(client, path) == one
