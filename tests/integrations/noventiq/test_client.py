"""Contract tests: NoventiqAdapter against the Noventiq sandbox over HTTP."""

import json
from decimal import Decimal

import requests

from integrations.base import Accepted, Confirmed, FailedForNow, Rejected, ResultDelivery, Token
from integrations.http import MarketplaceSession
from integrations.noventiq import mapping
from integrations.noventiq.client import NoventiqAdapter
from integrations.registry import adapter_class

from .conftest import make_account, make_refund


def _logins(sim) -> int:
    return sum(1 for r in sim.requests if r["path"] == "/v1/login_check")


def _refund_posts(sim) -> int:
    return sum(1 for r in sim.requests if r["method"] == "POST" and r["path"].endswith("/refund"))


def test_registry_resolves_the_adapter():
    assert adapter_class("noventiq") is NoventiqAdapter
    caps = NoventiqAdapter.capabilities
    assert caps.result_delivery == ResultDelivery.POLLING
    assert caps.cancel_after_creation is False
    assert caps.multiple_payments is False
    assert caps.partial_refund_by_line is True
    # "Product refund": whole order items, all their units ("3 out of 5"), never an amount.
    assert caps.partial_amount_refund is False
    assert caps.partial_line_quantity is False
    # GET /v1/order shows no refund request: ours cannot be looked up (a person checks).
    assert caps.refund_lookup is False
    assert NoventiqAdapter.webhook_endpoints == {"": ("POST",)}


def test_happy_path_partial_refund_sent_then_its_items_refunded(adapter, sim):
    refund = make_refund()
    result = adapter.create_refund(refund)
    assert isinstance(result, Accepted)
    ledger = sim.ledger(refund.idempotency_key)
    assert ledger["count"] == 1
    stored = ledger["refunds"][0]
    assert stored["order_id"] == "700101"
    assert stored["email"] == "refunds@merchant.example"
    assert stored["amount"] == "20.00"
    assert stored["products"] == ["L1"]
    assert stored["description"].startswith(
        "Partial refund of 20.00 EUR (Refund Desk ref rd-refund-1-create). "
        "Items: 2 x Mug [SKU SKU-1, line L1] 20.00."
    )
    status = adapter.read_refund_status(refund)
    assert isinstance(status, Accepted)
    assert status.raw == {"status": "paid", "refunded": []}
    assert status.message.startswith("Noventiq has refunded 0 of the 1 order items")
    assert sim.advance() == {"moved": 1}
    status = adapter.read_refund_status(refund)
    assert isinstance(status, Confirmed)
    assert status.raw == {"status": "paid", "refunded": ["L1"]}
    assert status.message == "Noventiq refunded the order items L1 (order paid)."
    assert sim.orders["700101"]["status"] == "paid"


def test_full_refund_turns_the_order_deleted(adapter, sim):
    refund = make_refund(
        total=Decimal("45.00"), lines_amount=Decimal("40.00"), shipping_amount=Decimal("5.00")
    )
    assert isinstance(adapter.create_refund(refund), Accepted)
    stored = sim.ledger(refund.idempotency_key)["refunds"][0]
    assert stored["description"].startswith("Full refund of 45.00 EUR")
    assert stored["products"] == ["L1", "L2"]
    sim.advance()
    result = adapter.read_refund_status(refund)
    assert isinstance(result, Confirmed)
    assert result.raw["status"] == "deleted"
    assert sim.orders["700101"]["status"] == "deleted"


def test_deleted_order_is_issued_for_every_item(adapter, sim):
    """ "Order statuses": deleted also means fully refunded, whatever the products show."""
    sim.orders["700101"]["status"] = "deleted"
    result = adapter.read_refund_status(make_refund())
    assert isinstance(result, Confirmed)
    assert result.raw == {"status": "deleted", "refunded": ["L1"]}


def test_terminated_order_needs_a_person(adapter, sim):
    sim.orders["700101"]["status"] = "Terminated"
    result = adapter.read_refund_status(make_refund())
    assert isinstance(result, Rejected)
    assert result.code == "terminated"
    assert result.message.startswith("Noventiq shows the order as Terminated")


def test_refused_request_shows_nothing_in_the_api_and_stays_accepted(adapter, sim):
    """A refusal is shown in the ESupport portal only ("Refund requests"): the order is as it
    was, so the refund stays with Noventiq (processing) instead of being read as refused."""
    sim.configure({"refuse_orders": ["700101"]})
    refund = make_refund()
    assert isinstance(adapter.create_refund(refund), Accepted)
    sim.advance()
    result = adapter.read_refund_status(refund)
    assert isinstance(result, Accepted)
    assert result.raw == {"status": "paid", "refunded": []}
    assert "refusal shows only in the ESupport portal" in result.message


def test_read_order_maps_the_documented_order(adapter, sim):
    data = adapter.read_order("700101")
    assert data.external_number == "700101"
    assert (data.status, data.currency) == ("paid", "EUR")
    assert data.placed_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert data.paid_at.isoformat() == "2026-11-01T10:01:00+00:00"
    assert (data.customer_email, data.customer_name) == ("alice@example.com", "Alice")
    assert [(li.external_id, li.sku, li.quantity, li.unit_price, li.tax) for li in data.lines] == [
        ("L1", "SKU-1", 2, Decimal("10.00"), Decimal("0.00")),
        ("L2", "SKU-2", 1, Decimal("20.00"), Decimal("0.00")),
    ]
    assert [(p.external_id, p.method, p.amount) for p in data.payments] == [
        ("700101-payment", "card", Decimal("40.00"))
    ]


def test_read_order_of_an_unknown_order_is_none(adapter, sim):
    assert adapter.read_order("999999") is None
    sim.configure({"not_found_code": 15020})
    assert adapter.read_order("999999") is None


def test_token_is_cached_between_calls(adapter, sim):
    adapter.create_refund(make_refund())
    adapter.read_refund_status(make_refund())
    assert _logins(sim) == 1


def test_expired_token_on_the_platform_is_renewed_once_and_the_call_retried(adapter, sim):
    adapter.read_refund_status(make_refund())
    sim.configure({"clock_offset": 2 * 86400})  # the cached token is now expired there
    result = adapter.create_refund(make_refund())
    assert isinstance(result, Accepted)
    assert _logins(sim) == 2
    expired = [r for r in sim.requests if r["path"] == "/v1/order/700101"]
    assert len(expired) >= 2
    assert sim.ledger("rd-refund-1-create")["count"] == 1


def test_token_near_its_expiry_is_renewed_before_the_call(adapter, sim):
    sim.configure({"token_lifetime": 10})  # inside the adapter's 30 s margin
    adapter.read_refund_status(make_refund())
    adapter.read_refund_status(make_refund())
    assert _logins(sim) == 2
    statuses = [r for r in sim.requests if r["path"] == "/v1/order/700101"]
    assert len(statuses) == 2  # never refused: renewed before it expired


def test_wrong_credentials_are_rejected_with_a_staff_message(sim, base_url):
    account = make_account(base_url, credentials={"username": "demo", "password": "nope"})
    adapter = NoventiqAdapter(account)
    result = adapter.create_refund(make_refund())
    assert isinstance(result, Rejected)
    assert result.code == "login"
    assert "username or password" in result.message
    assert sim.ledger(None)["count"] == 0


def test_retry_with_the_same_key_creates_no_second_refund(adapter, sim):
    refund = make_refund()
    assert isinstance(adapter.create_refund(refund), Accepted)
    again = adapter.create_refund(refund)
    assert isinstance(again, Accepted)
    assert again.message == (
        "Noventiq already holds an open refund request for this order (15050); taken as this "
        "refund's earlier attempt and not sent again."
    )
    assert again.raw["errors"][0]["error"] == 15050
    assert sim.ledger(refund.idempotency_key)["count"] == 1
    assert _refund_posts(sim) == 2  # the second one answered 15050


def test_retry_after_completion_creates_no_second_refund(adapter, sim):
    refund = make_refund()
    adapter.create_refund(refund)
    sim.advance()
    again = adapter.create_refund(refund)
    assert isinstance(again, Confirmed)
    assert again.message == (
        "Noventiq already refunded the order items of this refund (L1; order paid); nothing "
        "was sent again."
    )
    assert sim.ledger(refund.idempotency_key)["count"] == 1
    assert _refund_posts(sim) == 1


def test_dropped_connection_after_recording_then_retry_creates_no_second_refund(adapter, sim):
    sim.faults.script = [{"fault": "drop", "method": "POST", "path": "/refund"}]
    refund = make_refund()
    first = adapter.create_refund(refund)
    assert isinstance(first, FailedForNow)
    assert first.code == "connection"
    assert sim.ledger(refund.idempotency_key)["count"] == 1
    second = adapter.create_refund(refund)
    assert isinstance(second, Accepted)
    assert second.message.startswith("Noventiq already holds an open refund request")
    assert sim.ledger(refund.idempotency_key)["count"] == 1


def test_timeout_is_failed_for_now(sim, base_url):
    sim.faults.script = [{"fault": "hang", "seconds": 1.5}]
    session = MarketplaceSession(account_name="Noventiq test", timeout=(1, 0.3))
    adapter = NoventiqAdapter(make_account(base_url), session=session)
    result = adapter.create_refund(make_refund())
    assert isinstance(result, FailedForNow)
    assert result.code == "timeout"
    assert result.message == "Noventiq did not answer in time."


def test_server_errors_are_failed_for_now(adapter, sim):
    for status in (500, 502, 503):
        sim.faults.script = [{"fault": str(status), "method": "POST", "path": "/refund"}]
        result = adapter.create_refund(make_refund())
        assert isinstance(result, FailedForNow)
        assert result.code == "server_error"
    assert sim.ledger(None)["count"] == 0


def test_429_carries_retry_after(adapter, sim):
    sim.faults.script = [{"fault": "429", "retry_after": 7, "path": "/refund"}]
    result = adapter.create_refund(make_refund())
    assert isinstance(result, FailedForNow)
    assert result.code == "rate_limited"
    assert result.retry_after == 7.0
    assert sim.ledger(None)["count"] == 0


def test_15030_order_not_paid(adapter, sim):
    result = adapter.create_refund(make_refund(order_external_number="700102"))
    assert isinstance(result, Rejected)
    assert result.code == "15030"
    assert result.message == "Noventiq refuses: the order is not paid"
    assert sim.ledger(None)["count"] == 0


def test_15040_order_amount_zero(adapter, sim):
    result = adapter.create_refund(make_refund(order_external_number="700103"))
    assert isinstance(result, Rejected)
    assert result.code == "15040"
    assert result.message == "Noventiq refuses: the order amount is zero"
    assert sim.ledger(None)["count"] == 0


def test_15050_any_open_request_is_taken_as_already_there(adapter, sim):
    """Noventiq says only that *a* request is open (seed 002, 15050): it is never sent twice,
    even when it is another refund's (Capabilities.notes: one open request per order)."""
    assert isinstance(adapter.create_refund(make_refund()), Accepted)
    other = make_refund(idempotency_key="rd-refund-2-create", total=Decimal("20.00"))
    result = adapter.create_refund(other)
    assert isinstance(result, Accepted)
    assert result.message.startswith("Noventiq already holds an open refund request")
    assert sim.ledger("rd-refund-2-create")["count"] == 0
    assert sim.ledger(None)["count"] == 1


def test_15060_order_not_found(adapter, sim):
    result = adapter.create_refund(make_refund(order_external_number="999999"))
    assert isinstance(result, Rejected)
    assert result.code == "15060"
    assert "order was not found" in result.message


def test_15020_order_not_found_variant(adapter, sim):
    sim.configure({"not_found_code": 15020})
    result = adapter.create_refund(make_refund(order_external_number="999999"))
    assert isinstance(result, Rejected)
    assert result.code == "15020"
    assert "order was not found" in result.message


def test_15010_missing_merchant_email(sim, base_url):
    adapter = NoventiqAdapter(make_account(base_url, options={}))
    result = adapter.create_refund(make_refund())
    assert isinstance(result, Rejected)
    assert result.code == "15010"
    assert result.message == (
        "Noventiq refuses a field of the refund request: Invalid field value: email. Set the "
        "merchant e-mail (options: merchant_email) on the Noventiq marketplace account."
    )
    assert sim.ledger(None)["count"] == 0


def test_15010_email_too_long(sim, base_url):
    email = "a" * 70 + "@example.com"
    adapter = NoventiqAdapter(make_account(base_url, options={"merchant_email": email}))
    result = adapter.create_refund(make_refund())
    assert isinstance(result, Rejected)
    assert result.code == "15010"
    assert sim.ledger(None)["count"] == 0


def test_15000_account_configuration(adapter, sim):
    sim.configure({"unconfigured_accounts": ["demo"]})
    result = adapter.create_refund(make_refund())
    assert isinstance(result, Rejected)
    assert result.code == "15000"
    assert result.message == (
        "Noventiq cannot identify this account's API configuration. Contact Noventiq technical "
        "support."
    )


def test_invalid_cached_token_is_renewed_once(adapter, sim):
    # A forged token is cached; the adapter renews once, and the renewed one works.
    adapter.tokens.put(Token("a.b.c", expires_in=3600))
    assert isinstance(adapter.read_refund_status(make_refund()), Accepted)
    assert _logins(sim) == 1
    statuses = [
        r["headers"].get("authorizationjwt")
        for r in sim.requests
        if r["path"] == "/v1/order/700101"
    ]
    assert statuses[0] == "Bearer a.b.c"


def test_long_partial_description_fits_500_characters(adapter, sim):
    from integrations.base import RefundLineData

    lines = tuple(
        RefundLineData(
            order_line_external_id=f"L{i}",
            sku=f"SKU-{i}",
            name="Very long name " * 3,
            quantity=1,
            amount=Decimal("1.00"),
            restock=False,
        )
        for i in range(30)
    )
    refund = make_refund(lines=lines, total=Decimal("30.00"), customer_explanation="x" * 600)
    assert isinstance(adapter.create_refund(refund), Accepted)
    stored = sim.ledger(refund.idempotency_key)["refunds"][0]
    assert len(stored["description"]) <= 500
    assert "more line(s)" in stored["description"]


def test_every_request_carries_the_jwt_header_and_json(adapter, sim, base_url):
    adapter.create_refund(make_refund())
    post = next(r for r in sim.requests if r["path"] == "/v1/order/700101/refund")
    assert post["headers"]["content-type"] == "application/json"
    assert post["headers"]["authorizationjwt"].startswith("Bearer ")
    assert set(requests.models.complexjson.loads(post["body"])) == {"description", "email"}


def test_login_sends_json_and_a_111_answer_is_read_as_noventiq_s_code(adapter, sim):
    adapter.read_refund_status(make_refund())
    login = next(r for r in sim.requests if r["path"] == "/v1/login_check")
    assert login["headers"]["content-type"] == "application/json"
    # What the sandbox answers a login that is not JSON (test_sandbox): Noventiq's 111.
    answer = requests.Response()
    answer.status_code = 400
    answer._content = json.dumps(
        {"errors": [{"error": 111, "message": "Invalid data format (Content-type)."}]}
    ).encode()
    error = adapter._classify_login(answer)
    assert (type(error).__name__, error.code) == ("PermanentError", "111")
    assert error.message == mapping.ERROR_CODES[111][1]


def test_token_refused_again_after_renewal_is_failed_for_now_1009(adapter, sim):
    sim.configure({"token_lifetime": -1})  # every token is born expired
    result = adapter.create_refund(make_refund())
    assert isinstance(result, FailedForNow)
    assert result.code == "1009"
    assert result.message == (
        "The Noventiq access token expired; Refund Desk will log in again and retry."
    )
    assert _logins(sim) == 2  # the first login, then one renewal: never a loop
    assert sim.ledger(None)["count"] == 0
