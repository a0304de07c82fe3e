"""Contract tests: the LLZW adapter against the LLZW sandbox over real HTTP."""

import datetime as dt
from decimal import Decimal

import pytest
import requests

from integrations.base import (
    Accepted,
    Confirmed,
    FailedForNow,
    OutboundKind,
    Rejected,
    ResultDelivery,
)
from integrations.http import MarketplaceSession
from integrations.llzw.client import LlzwAdapter
from integrations.llzw.sandbox import LlzwSandbox
from integrations.registry import adapter_class, sandbox_class

from .support import (
    customer_refund,
    ledger,
    login,
    make_account,
    refund_data,
    set_faults,
    staff,
)

KEY = "rd-11-create"


def shop_refund(api: str, refund_id) -> dict:
    session = login(api)
    return session.get(f"{api}/api/v2/refunds/{refund_id}", timeout=5).json()["data"]


def requests_to(control: str, method: str, path: str) -> int:
    rows = requests.get(f"{control}/requests", timeout=5).json()
    return sum(1 for r in rows if r["method"] == method and r["path"] == path)


# --- registry and capabilities --------------------------------------------------------------


def test_registry_resolves_the_adapter_and_the_sandbox():
    assert adapter_class("llzw") is LlzwAdapter
    assert sandbox_class("llzw") is LlzwSandbox
    assert LlzwAdapter.key == "llzw"
    assert LlzwAdapter.label == "LLZW shop"


def test_capabilities_describe_the_platform():
    caps = LlzwAdapter.capabilities
    assert caps.partial_refund_by_line is False
    assert caps.shipping_refund is True
    assert caps.multiple_payments is False
    assert caps.cancel_after_creation is True
    assert caps.partial_amount_refund is True
    assert caps.refund_lookup is True
    assert caps.return_shipment is True
    assert caps.result_delivery is ResultDelivery.POLLING
    assert caps.rate_limit_per_second is None
    assert len(caps.notes) == 4
    assert all(note.endswith(".") for note in caps.notes)
    assert LlzwAdapter.webhook_endpoints == {}


# --- create: happy path and idempotency -----------------------------------------------------


def test_create_refund_posts_once_and_is_accepted_until_the_shop_decides(adapter, api, control):
    result = adapter.create_refund(refund_data())

    assert result == Accepted(
        external_id="1",
        message="LLZW holds the refund; the shop's staff pay it out, Refund Desk polls.",
        raw=result.raw,
    )
    book = ledger(control, KEY)
    assert book["count"] == 1
    refund = book["refunds"][0]
    assert refund["order"] == 1001
    assert refund["amount"] == "12.34"
    assert refund["status"] == "REQUESTED"
    assert refund["requestReason"] == "The mug arrived broken [RD:rd-11-create]"
    assert refund["refundOnly"] is True
    assert refund["requester"] == "demo"
    assert (refund["confirmedAt"], refund["issuedAt"]) == (None, None)


def test_create_refund_calls_only_documented_endpoints(adapter, control):
    adapter.create_refund(refund_data())

    rows = requests.get(f"{control}/requests", timeout=5).json()
    assert [(r["method"], r["path"]) for r in rows] == [
        ("POST", "/login"),
        ("GET", "/api/v2/refunds"),
        ("POST", "/api/v2/refunds"),
    ]
    assert rows[1]["query"] == {"orderId": ["1001"], "page": ["0"], "size": ["100"]}


def test_create_refund_sends_the_exact_decimal_amount(adapter, control):
    adapter.create_refund(refund_data(total=Decimal("44.99")))

    rows = requests.get(f"{control}/requests", timeout=5).json()
    posts = [r for r in rows if r["method"] == "POST" and r["path"] == "/api/v2/refunds"]
    assert [p["body"] for p in posts] == [
        '{"orderId": 1001, "reason": "The mug arrived broken [RD:rd-11-create]", '
        '"amount": 44.99, "refundOnly": true}'
    ]


def test_a_refund_with_a_return_is_sent_refund_only(adapter, api):
    data = refund_data(refund_only=False, return_tracking_id="1Z999", return_carrier="UPS")

    result = adapter.create_refund(data)

    assert isinstance(result, Accepted)
    refund = shop_refund(api, result.external_id)
    assert (refund["status"], refund["refundOnly"], refund["trackingId"]) == (
        "REQUESTED",
        True,
        None,
    )


def test_the_shops_staff_decide_and_the_status_read_follows(adapter, api):
    adapter.create_refund(refund_data())
    staff(api, 1, "confirm")
    processing = adapter.read_refund_status(refund_data())
    staff(api, 1, "issue")

    issued = adapter.read_refund_status(refund_data())

    assert isinstance(processing, Accepted)
    assert processing.external_id == "1"
    assert processing.raw["status"] == "PROCESSING"
    assert issued == Confirmed(external_id="1", message="LLZW issued the refund.", raw=issued.raw)
    assert issued.raw["issuedAt"] is not None


def test_a_denial_on_the_shop_is_read_as_rejected_with_its_reason(adapter, api):
    adapter.create_refund(refund_data())
    staff(api, 1, "deny", reason="Bought 40 days ago")

    result = adapter.read_refund_status(refund_data())

    assert result == Rejected(
        code="refund_denied",
        message="LLZW refund 1 is denied on the shop: Bought 40 days ago",
        raw=result.raw,
    )


def test_retry_with_the_same_key_creates_no_second_refund(adapter, api, control):
    first = adapter.create_refund(refund_data())
    second = adapter.create_refund(refund_data())
    third = LlzwAdapter(make_account(api)).create_refund(refund_data())

    assert isinstance(first, Accepted)
    assert second.external_id == first.external_id == third.external_id == "1"
    assert ledger(control, KEY)["count"] == 1
    assert requests_to(control, "POST", "/api/v2/refunds") == 1


def test_another_key_makes_another_refund(adapter, control):
    adapter.create_refund(refund_data())
    adapter.create_refund(refund_data(idempotency_key="rd-12-create", total=Decimal("5.00")))

    assert ledger(control, KEY)["count"] == 1
    assert ledger(control, "rd-12-create")["count"] == 1
    assert ledger(control)["count"] == 2


def test_dropped_connection_after_the_refund_was_recorded_is_retried_without_duplicate(
    adapter, control
):
    set_faults(control, script=[{"fault": "drop", "method": "POST", "path": "/api/v2/refunds"}])

    first = adapter.create_refund(refund_data())

    assert isinstance(first, FailedForNow)
    assert first.code == "connection"
    assert ledger(control, KEY)["count"] == 1
    assert ledger(control, KEY)["refunds"][0]["status"] == "REQUESTED"

    second = adapter.create_refund(refund_data())

    assert isinstance(second, Accepted)
    assert second.external_id == "1"
    assert ledger(control, KEY)["count"] == 1
    assert requests_to(control, "POST", "/api/v2/refunds") == 1


def test_a_retry_after_the_shop_issued_answers_confirmed_without_posting(adapter, api, control):
    adapter.create_refund(refund_data())
    staff(api, 1, "confirm")
    staff(api, 1, "issue")

    again = adapter.create_refund(refund_data())

    assert isinstance(again, Confirmed)
    assert again.external_id == "1"
    assert requests_to(control, "POST", "/api/v2/refunds") == 1


def test_read_timeout_is_transient_and_the_retry_makes_one_refund(api, control):
    session = MarketplaceSession(account_name="LLZW test", timeout=(1.0, 0.3))
    adapter = LlzwAdapter(make_account(api), session=session)
    set_faults(
        control,
        script=[{"fault": "hang", "seconds": 1.5, "method": "POST", "path": "/api/v2/refunds"}],
    )

    first = adapter.create_refund(refund_data())

    assert isinstance(first, FailedForNow)
    assert first.code == "timeout"
    assert first.message == "LLZW did not answer in time (ReadTimeout)."
    assert ledger(control, KEY)["count"] == 0

    second = adapter.create_refund(refund_data())

    assert isinstance(second, Accepted)
    assert ledger(control, KEY)["count"] == 1


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_errors_are_transient(adapter, control, status):
    set_faults(control, script=[{"fault": status, "method": "POST", "path": "/api/v2/refunds"}])

    result = adapter.create_refund(refund_data())

    assert result == FailedForNow(
        message=f"LLZW had a server error (HTTP {status}); it will be retried.",
        code="server_error",
        raw={"message": "Injected server error"},
    )
    assert ledger(control, KEY)["count"] == 0


def test_rate_limit_is_transient_with_retry_after(adapter, control):
    set_faults(
        control,
        script=[{"fault": "429", "retry_after": 7, "method": "POST", "path": "/api/v2/refunds"}],
    )

    result = adapter.create_refund(refund_data())

    assert isinstance(result, FailedForNow)
    assert result.retry_after == 7.0
    assert result.code == "rate_limited"
    assert ledger(control, KEY)["count"] == 0


def test_unreachable_shop_is_transient():
    adapter = LlzwAdapter(make_account("http://127.0.0.1:9/llzw"))

    result = adapter.create_refund(refund_data())

    assert isinstance(result, FailedForNow)
    assert result.code == "connection"


# --- authentication ---------------------------------------------------------------------------


def test_the_session_is_cached_per_adapter(adapter, control):
    adapter.create_refund(refund_data())
    adapter.read_refund_status(refund_data(external_id="1"))

    assert requests_to(control, "POST", "/login") == 1


def test_expired_session_is_renewed_once_and_the_call_repeated(adapter, api, control):
    adapter.create_refund(refund_data())
    response = requests.post(f"{api}/_sim/expire-sessions", timeout=5)
    assert response.json() == {"expired": 1}

    result = adapter.read_refund_status(refund_data(external_id="1"))

    assert isinstance(result, Accepted)
    assert result.external_id == "1"
    assert requests_to(control, "POST", "/login") == 2


def test_session_lifetime_from_configuration(adapter, control):
    requests.put(f"{control}/config", json={"session_ttl": 60}, timeout=5)
    adapter.create_refund(refund_data())
    requests.put(f"{control}/config", json={"clock_offset": 61}, timeout=5)  # the shop's clock

    result = adapter.read_refund_status(refund_data(external_id="1"))

    assert isinstance(result, Accepted)
    assert result.external_id == "1"
    assert requests_to(control, "POST", "/login") == 2


def test_wrong_password_is_permanent_with_the_platform_code(api, control):
    adapter = LlzwAdapter(make_account(api, username="demo", password="wrong"))

    result = adapter.create_refund(refund_data())

    assert result == Rejected(
        code="API.SECURITY.INVALID_CREDENTIAL",
        message="LLZW refused the login: check the account's username and password. "
        "LLZW says: Bad credentials",
        raw=result.raw,
    )
    assert result.raw["success"] is False
    assert ledger(control)["count"] == 0


def test_configured_seller_credentials_replace_the_demo_ones(api, control):
    requests.put(
        f"{control}/config", json={"seller_username": "shop", "seller_password": "s3"}, timeout=5
    )

    refused = LlzwAdapter(make_account(api)).create_refund(refund_data())
    accepted = LlzwAdapter(make_account(api, username="shop", password="s3")).create_refund(
        refund_data()
    )

    assert refused.code == "API.SECURITY.INVALID_CREDENTIAL"
    assert isinstance(accepted, Accepted)
    assert ledger(control, KEY)["count"] == 1


def test_missing_credentials_are_permanent(api):
    adapter = LlzwAdapter(make_account(api, username="demo", password=""))

    result = adapter.create_refund(refund_data())

    assert result == Rejected(
        code="missing_credentials",
        message="The LLZW account has no username or password configured.",
    )


# --- every documented error type, through the adapter -----------------------------------------


def test_invalid_parameter_is_permanent(adapter, control):
    result = adapter.create_refund(refund_data(total=Decimal("12.345")))

    assert isinstance(result, Rejected)
    assert result.code == "API.INVALID_PARAMETER"
    assert result.message == (
        "LLZW refuses the refund's data (order id, reason, amount or refund-only flag). "
        "LLZW says: amount must be above zero with at most two decimals"
    )
    assert ledger(control)["count"] == 0


def test_unknown_order_is_entity_not_found(adapter, control):
    result = adapter.create_refund(refund_data(order_external_number="4040"))

    assert isinstance(result, Rejected)
    assert result.code == "API.ENTITY_NOT_FOUND"
    assert result.message == (
        "LLZW does not know this order or refund: check the order number on the shop. "
        "LLZW says: Order 4040 not found"
    )
    assert ledger(control)["count"] == 0


def test_another_customers_order_is_access_denied(api, control):
    adapter = LlzwAdapter(make_account(api, username="bob@example.com", password="customer-secret"))

    result = adapter.create_refund(refund_data())

    assert isinstance(result, Rejected)
    assert result.code == "API.SECURITY.ACCESS_DENIED"
    assert result.message.startswith("LLZW refuses: the shop login has no right to this order")
    assert result.message.endswith("LLZW says: Order 1001 does not belong to you")
    assert ledger(control)["count"] == 0


def test_more_than_refundable_is_rejected_by_entity(adapter, control):
    result = adapter.create_refund(refund_data(total=Decimal("45.01")))

    assert isinstance(result, Rejected)
    assert result.code == "API.REJECTED_BY_ENTITY"
    assert result.message.endswith(
        "LLZW says: Refund amount 45.01 exceeds the refundable 45.00 of order 1001"
    )
    assert ledger(control)["count"] == 0


def test_unpaid_order_is_rejected_by_entity(adapter, control):
    result = adapter.create_refund(refund_data(order_external_number="1003"))

    assert isinstance(result, Rejected)
    assert result.code == "API.REJECTED_BY_ENTITY"
    assert result.message.endswith("LLZW says: Order 1003 is pending, not paid")


def test_cancelling_an_issued_refund_is_rejected(adapter, api, control):
    adapter.create_refund(refund_data())
    staff(api, 1, "confirm")
    staff(api, 1, "issue")

    result = adapter.cancel_refund(refund_data(external_id="1"))

    assert isinstance(result, Rejected)
    assert result.code == "API.REJECTED_BY_ENTITY"
    assert result.message.endswith("LLZW says: Cannot cancel refund 1 in status ISSUED")
    assert ledger(control, KEY)["refunds"][0]["status"] == "ISSUED"


def test_an_order_number_that_is_not_an_llzw_id_is_refused_before_any_call(adapter, control):
    result = adapter.create_refund(refund_data(order_external_number="LZ-1001"))

    assert isinstance(result, Rejected)
    assert result.code == "bad_order"
    assert requests.get(f"{control}/requests", timeout=5).json() == []


def test_zero_amount_is_refused_before_posting(adapter, control):
    result = adapter.create_refund(refund_data(total=Decimal("0.00")))

    assert result == Rejected(code="amount", message="The refund amount must be above zero.")
    assert requests_to(control, "POST", "/api/v2/refunds") == 0


# --- refunds customers opened on the shop -----------------------------------------------------


def test_list_refunds_imports_customer_refunds(adapter, api):
    customer_refund(api, reason="Too small", amount=20, refundOnly=False)
    adapter.create_refund(refund_data(order_external_number="1002", total=Decimal("3.50")))
    staff(api, 2, "confirm")
    staff(api, 2, "issue")

    refunds = adapter.list_refunds()

    assert [
        (
            r.external_id,
            r.order_external_number,
            r.status,
            r.amount,
            r.requester,
            r.idempotency_key,
            r.refund_only,
            r.reason,
        )
        for r in refunds
    ] == [
        ("1", "1001", "REQUESTED", Decimal("20"), "alice@example.com", "", False, "Too small"),
        ("2", "1002", "ISSUED", Decimal("3.50"), "demo", KEY, True, "The mug arrived broken"),
    ]
    assert refunds[0].created_at.tzinfo is not None


def test_list_refunds_since_filters_old_refunds(adapter, api):
    customer_refund(api)

    later = adapter.list_refunds(since=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2))
    earlier = adapter.list_refunds(since=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))

    assert later == []
    assert [r.external_id for r in earlier] == ["1"]


def test_list_refunds_reads_every_page(adapter, api, sim):
    for _ in range(101):
        customer_refund(api, orderId=1002, amount=Decimal("0.01"), reason="x")

    refunds = adapter.list_refunds()

    assert len(refunds) == 101
    assert refunds[-1].external_id == "101"


def test_customer_refund_with_return_is_decided_on_the_shop_and_never_posted(adapter, api, control):
    opened = customer_refund(api, reason="Too small", amount=20, refundOnly=False)
    imported = refund_data(
        external_id=str(opened["id"]),
        total=Decimal("20.00"),
        refund_only=False,
        idempotency_key="rd-30-create",
    )

    approved = adapter.approve_return(imported)
    staff(api, 1, "confirm")
    alice = login(api, "alice@example.com", "customer-secret")
    shipped = alice.patch(
        f"{api}/api/v2/refunds/1",
        json={"action": "SHIP_INIT", "trackingId": "TRK-1", "carrierName": "SF-Express"},
        timeout=5,
    )
    told = adapter.send_return_shipment(imported)
    staff(api, 1, "receive")
    created = adapter.create_refund(imported)
    staff(api, 1, "issue")
    status = adapter.read_refund_status(imported)

    assert approved == Confirmed(
        external_id="1",
        message="LLZW is not told: its API has no seller decision; the shop's staff confirm "
        "the refund on the shop.",
    )
    assert shipped.status_code == 200
    assert told == Confirmed(
        message="LLZW is not told: only the customer enters return tracking on the shop "
        "(SHIP_INIT)."
    )
    assert isinstance(created, Accepted)
    assert created.external_id == "1"
    assert isinstance(status, Confirmed)
    refund = shop_refund(api, 1)
    assert (refund["status"], refund["trackingId"], refund["carrierName"]) == (
        "ISSUED",
        "TRK-1",
        "SF-Express",
    )
    assert ledger(control)["count"] == 1
    assert requests_to(control, "POST", "/api/v2/refunds") == 0
    assert requests_to(control, "PATCH", "/api/v2/refunds/1") == 1  # the customer's SHIP_INIT


def test_approving_sends_nothing(adapter, api, control):
    opened = customer_refund(api)
    imported = refund_data(external_id=str(opened["id"]))

    result = adapter.approve_return(imported)

    assert isinstance(result, Confirmed)
    assert shop_refund(api, 1)["status"] == "REQUESTED"
    assert [r["path"] for r in requests.get(f"{control}/requests", timeout=5).json()] == [
        "/_sim/customer-refund",
        "/login",
        "/api/v2/refunds/1",
    ]


def test_read_status_follows_the_payout(adapter, api, control):
    opened = customer_refund(api, refundOnly=True)
    imported = refund_data(external_id=str(opened["id"]))
    staff(api, 1, "confirm")  # refund-only: the shop's staff move it to PROCESSING

    before = adapter.read_refund_status(imported)
    requests.post(f"{control}/advance", timeout=5)
    after = adapter.read_refund_status(imported)

    assert isinstance(before, Accepted)
    assert before.message == "LLZW has not issued the refund yet."
    assert isinstance(after, Confirmed)
    assert after.external_id == "1"


def test_read_status_finds_our_refund_by_key_without_an_external_id(adapter, api):
    adapter.create_refund(refund_data())
    requests.post(f"{api}/_sim/refunds/1/confirm", timeout=5)

    result = adapter.read_refund_status(refund_data())

    assert isinstance(result, Accepted)
    assert result.external_id == "1"
    assert result.raw["status"] == "PROCESSING"


def test_deny_is_not_told_and_changes_nothing_on_the_shop(adapter, api, control):
    opened = customer_refund(api)
    imported = refund_data(external_id=str(opened["id"]), response_reason="Used item")

    result = adapter.perform(OutboundKind.DENY_REFUND, imported)

    assert result == Confirmed(
        external_id="1",
        message="LLZW is not told: its API has no seller decision; deny the refund on the "
        "shop too, or Refund Desk will show the shop's status as drift.",
    )
    assert [r["path"] for r in requests.get(f"{control}/requests", timeout=5).json()] == [
        "/_sim/customer-refund"
    ]
    refund = shop_refund(api, 1)
    assert (refund["status"], refund["responseReason"]) == ("REQUESTED", None)


def test_create_for_a_refund_the_shop_denied_is_rejected(adapter, api, control):
    opened = customer_refund(api)
    imported = refund_data(external_id=str(opened["id"]))
    staff(api, 1, "deny", reason="Worn")

    result = adapter.create_refund(imported)

    assert result == Rejected(
        code="refund_denied", message="LLZW refund 1 is denied on the shop: Worn", raw=result.raw
    )
    assert requests_to(control, "POST", "/api/v2/refunds") == 0


def test_cancel_a_requested_refund(adapter, api):
    opened = customer_refund(api)
    imported = refund_data(external_id=str(opened["id"]))

    result = adapter.cancel_refund(imported)
    again = adapter.cancel_refund(imported)

    assert result == Confirmed(external_id="1", message="LLZW cancelled the refund.")
    assert again == result
    refund = shop_refund(api, 1)
    assert (refund["status"], refund["valid"]) == ("CANCELLED", False)


def test_cancel_with_nothing_on_the_shop_is_done(adapter, control):
    result = adapter.cancel_refund(refund_data())

    assert result == Confirmed(message="LLZW holds no refund for this; nothing to cancel.")


def test_unknown_external_id_is_entity_not_found(adapter):
    result = adapter.read_refund_status(refund_data(external_id="999"))

    assert isinstance(result, Rejected)
    assert result.code == "API.ENTITY_NOT_FOUND"
    assert result.message.endswith("LLZW says: Refund 999 not found")
