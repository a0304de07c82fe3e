"""Contract tests: the HepsiGlobal adapter against its sandbox over HTTP."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from integrations.base import (
    Accepted,
    FailedForNow,
    Rejected,
    ResultDelivery,
    WebhookTopic,
)
from integrations.hepsiglobal.client import HepsiGlobalAdapter
from integrations.hepsiglobal.mapping import ERROR_CODES, RESULT_ERROR_CODES
from integrations.http import MarketplaceSession
from tests.fixtures.clock import FakeClock, on_clock

from .conftest import (
    WEBHOOK_BASE,
    account,
    advance,
    body_of,
    ledger,
    parse_call,
    refund_data,
    sandbox_requests,
    set_faults,
)

KEY = "RD1-create-refund-1"


def _result_webhook(adapter, receiver, base_url):
    advance(base_url)
    calls = receiver.wait_for(1)
    assert len(calls) == 1
    call = calls[0]
    assert (call["method"], call["path"]) == (
        "POST",
        f"{WEBHOOK_BASE}/webhooks/refund-create-result",
    )
    return parse_call(adapter, call)


def test_create_refund_happy_path_accepted_then_issued_by_webhook(adapter, base_url, receiver):
    result = adapter.create_refund(
        refund_data(KEY, lines=(("oi1", 2, "40.00"), ("oi2", 1, "9.50")))
    )

    assert isinstance(result, Accepted)
    assert result.external_id == KEY
    assert len(result.external_request_id) == 26
    sent = sandbox_requests(base_url, "/v1/refunds")
    assert len(sent) == 1
    assert sent[0]["headers"]["authorization"].startswith("Bearer ")
    assert json.loads(sent[0]["body"], parse_float=Decimal) == {
        "refund_number": KEY,
        "order_number": "HG-1001",
        "refund_date": "2026-11-02T09:30:00+03:00",
        "items": [
            {
                "order_item_number": "oi1",
                "quantity": 2,
                "reason": "damaged_product",
                "amount": Decimal("40.00"),
                "currency": "USD",
                "customer_explanation": "arrived broken",
            },
            {
                "order_item_number": "oi2",
                "quantity": 1,
                "reason": "damaged_product",
                "amount": Decimal("9.50"),
                "currency": "USD",
                "customer_explanation": "arrived broken",
            },
        ],
    }
    assert '"amount": 40.00' in sent[0]["body"]
    assert ledger(base_url, KEY)["count"] == 1

    message = _result_webhook(adapter, receiver, base_url)
    assert message.topic == WebhookTopic.REFUND_RESULT
    assert message.status == "ISSUED"
    assert message.external_request_id == result.external_request_id
    assert message.idempotency_key == KEY
    assert message.order_external_number == "HG-1001"
    assert message.delivery_key == f"refund-create-result:{result.external_request_id}"


def test_retry_with_same_key_creates_no_second_refund(adapter, base_url):
    refund = refund_data(KEY)
    first = adapter.create_refund(refund)
    second = adapter.create_refund(refund)

    assert isinstance(first, Accepted)
    assert isinstance(second, Accepted)
    assert second.external_request_id == first.external_request_id
    assert ledger(base_url, KEY)["count"] == 1
    assert len(sandbox_requests(base_url, "/v1/refunds")) == 2


def test_dropped_connection_after_recording_then_retry_creates_no_second_refund(adapter, base_url):
    set_faults(base_url, script=[{"fault": "drop", "method": "POST", "path": "/v1/refunds"}])
    refund = refund_data(KEY)

    first = adapter.create_refund(refund)
    assert isinstance(first, FailedForNow)
    assert first.code == "connection"
    assert ledger(base_url, KEY)["count"] == 1

    retry = adapter.create_refund(refund)
    assert isinstance(retry, Accepted)
    book = ledger(base_url, KEY)
    assert book["count"] == 1
    assert book["refunds"][0]["request_id"] == retry.external_request_id


def test_timeout_is_failed_for_now(hub, base_url):
    session = MarketplaceSession(account_name="HepsiGlobal test", timeout=(2, 0.3))
    adapter = HepsiGlobalAdapter(account(base_url), session=session)
    set_faults(base_url, script=[{"fault": "hang", "seconds": 1, "path": "/v1/refunds"}])

    result = adapter.create_refund(refund_data(KEY))

    assert isinstance(result, FailedForNow)
    assert result.code == "timeout"
    assert result.message == "HepsiGlobal did not answer in time; the call will be retried."


def test_any_other_requests_failure_is_failed_for_now_never_an_exception(hub):
    adapter = HepsiGlobalAdapter(account("ftp://127.0.0.1:9"))

    result = adapter.create_refund(refund_data(KEY))

    assert result == FailedForNow(
        message="Calling HepsiGlobal failed (InvalidSchema); the call will be retried.",
        code="request",
        may_have_acted=False,
    )


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_failed_for_now(adapter, base_url, status):
    set_faults(base_url, script=[{"fault": str(status), "path": "/v1/refunds"}])

    result = adapter.create_refund(refund_data(KEY))

    assert isinstance(result, FailedForNow)
    assert result.code == "server_error"
    assert result.retry_after is None
    assert ledger(base_url, KEY)["count"] == 0


def test_429_is_failed_for_now_with_retry_after(adapter, base_url):
    set_faults(base_url, script=[{"fault": "429", "retry_after": 7, "path": "/v1/refunds"}])

    result = adapter.create_refund(refund_data(KEY))

    assert isinstance(result, FailedForNow)
    assert result.retry_after == 7.0
    assert result.code == "rate_limited"
    assert ledger(base_url, KEY)["count"] == 0


@pytest.mark.parametrize(
    ("refund", "code"),
    [
        (refund_data(KEY, order="NOPE-1"), "order_not_found"),
        (refund_data(KEY, lines=(("oi9", 1, "1.00"),)), "order_item_not_found"),
        (refund_data(KEY, currency="EUR"), "currency_mismatch"),
        (refund_data(KEY, lines=(("oi1", 1, "1.005"),)), "validation_error"),
    ],
)
def test_business_and_validation_errors_are_rejected_with_staff_message(
    adapter, base_url, refund, code
):
    result = adapter.create_refund(refund)

    assert isinstance(result, Rejected)
    assert result.code == code
    assert result.message.startswith(ERROR_CODES[code][1])
    assert result.raw["data"]["error_code"] == code
    assert ledger(base_url, KEY)["count"] == 0


def test_validation_error_message_names_the_field(adapter, base_url):
    result = adapter.create_refund(refund_data(KEY, lines=(("oi1", 1, "0.00"),)))

    assert isinstance(result, Rejected)
    assert result.message == (
        "HepsiGlobal refuses the refund: some fields are missing or invalid. "
        "(The request is invalid; items[0].amount: must be a positive number with at most "
        "2 decimals)"
    )


def test_same_refund_number_with_other_content_is_rejected(adapter, base_url):
    assert isinstance(adapter.create_refund(refund_data(KEY)), Accepted)

    result = adapter.create_refund(refund_data(KEY, lines=(("oi2", 1, "9.50"),)))

    assert isinstance(result, Rejected)
    assert result.code == "refund_number_conflict"
    assert result.message.startswith(ERROR_CODES["refund_number_conflict"][1])
    assert ledger(base_url, KEY)["count"] == 1


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ((("oi1", 3, "20.00"),), "quantity_exceeds_refundable"),
        ((("oi2", 1, "9.51"),), "amount_exceeds_refundable"),
    ],
)
def test_refund_beyond_what_is_left_is_denied_by_the_result_webhook(
    adapter, base_url, receiver, lines, code
):
    result = adapter.create_refund(refund_data(KEY, lines=lines))
    assert isinstance(result, Accepted)

    message = _result_webhook(adapter, receiver, base_url)

    assert message.status == "DENIED"
    assert message.message.startswith(RESULT_ERROR_CODES[code])
    assert ledger(base_url, KEY)["refunds"][0]["status"] == "failed"


def test_refund_of_a_line_the_seller_cancelled_is_denied(adapter, sim, base_url, receiver):
    sim.cancel_by_seller(order_number="HG-1001", order_item_number="oi2", cancel_quantity=1)
    advance(base_url)
    receiver.wait_for(1)
    receiver.clear()

    adapter.create_refund(refund_data(KEY, lines=(("oi2", 1, "9.50"),)))
    message = _result_webhook(adapter, receiver, base_url)

    assert message.status == "DENIED"
    assert message.message.startswith(RESULT_ERROR_CODES["order_cancelled"])


def test_second_refund_on_a_fully_refunded_line_is_denied(adapter, base_url, receiver):
    adapter.create_refund(refund_data("RD1-create-refund-1", lines=(("oi2", 1, "9.50"),)))
    first = _result_webhook(adapter, receiver, base_url)
    receiver.clear()
    adapter.create_refund(refund_data("RD2-create-refund-1", lines=(("oi2", 1, "9.50"),)))
    second = _result_webhook(adapter, receiver, base_url)

    assert (first.status, second.status) == ("ISSUED", "DENIED")
    assert second.idempotency_key == "RD2-create-refund-1"


def test_wrong_client_secret_is_rejected_and_nothing_is_created(hub, base_url):
    adapter = HepsiGlobalAdapter(
        account(base_url, credentials={"client_id": "demo", "client_secret": "wrong"})
    )

    result = adapter.create_refund(refund_data(KEY))

    assert isinstance(result, Rejected)
    assert result.code == "invalid_client"
    assert result.message.startswith(ERROR_CODES["invalid_client"][1])
    assert sandbox_requests(base_url, "/v1/refunds") == []
    assert ledger(base_url, KEY)["count"] == 0


def test_token_is_cached_between_calls(adapter, base_url):
    adapter.create_refund(refund_data("RD1-create-refund-1"))
    adapter.create_refund(refund_data("RD2-create-refund-1"))

    assert len(sandbox_requests(base_url, "/v1/auth/token")) == 1
    assert ledger(base_url, None)["count"] == 2


def test_token_is_renewed_before_it_expires(hub, base_url):
    # The sandbox's tokens last an hour (the hub fixture); our clock is moved by hand.
    clock = FakeClock()
    adapter = on_clock(HepsiGlobalAdapter(account(base_url)), clock)
    renew_at = 3600 - HepsiGlobalAdapter.token_renew_margin

    assert isinstance(adapter.create_refund(refund_data("RD1-create-refund-1")), Accepted)
    clock.advance(renew_at - 1)
    assert isinstance(adapter.create_refund(refund_data("RD2-create-refund-1")), Accepted)
    assert len(sandbox_requests(base_url, "/v1/auth/token")) == 1  # not due yet
    clock.advance(2)  # still valid for a while, but within the renewal margin
    assert isinstance(adapter.create_refund(refund_data("RD3-create-refund-1")), Accepted)

    assert len(sandbox_requests(base_url, "/v1/auth/token")) == 2
    assert len(sandbox_requests(base_url, "/v1/refunds")) == 3  # no call was refused and repeated


def test_token_refused_with_401_is_renewed_once_and_the_call_retried(adapter, base_url):
    assert isinstance(adapter.create_refund(refund_data("RD1-create-refund-1")), Accepted)
    requests.post(f"{base_url}/hepsiglobal/_sim/expire-tokens", timeout=5).raise_for_status()

    result = adapter.create_refund(refund_data("RD2-create-refund-1"))

    assert isinstance(result, Accepted)
    assert len(sandbox_requests(base_url, "/v1/auth/token")) == 2
    assert len(sandbox_requests(base_url, "/v1/refunds")) == 3
    assert ledger(base_url, "RD2-create-refund-1")["count"] == 1


def test_401_after_renewal_is_not_retried_again(hub, base_url):
    # Tokens that expire at once: the renewed token is refused too.
    requests.put(
        f"{base_url}/_control/hepsiglobal/config", json={"token_ttl": 0}, timeout=5
    ).raise_for_status()
    adapter = HepsiGlobalAdapter(account(base_url))

    result = adapter.create_refund(refund_data(KEY))

    assert isinstance(result, FailedForNow)
    assert result.code == "token_expired"
    assert len(sandbox_requests(base_url, "/v1/auth/token")) == 2
    assert len(sandbox_requests(base_url, "/v1/refunds")) == 2
    assert ledger(base_url, KEY)["count"] == 0


def test_shipping_is_refused_before_any_call(adapter, base_url):
    result = adapter.create_refund(refund_data(KEY, shipping="5.00"))

    assert isinstance(result, Rejected)
    assert result.code == "shipping_not_refundable"
    assert sandbox_requests(base_url, "/v1/refunds") == []


def test_unknown_reason_code_is_sent_as_other(adapter, base_url):
    adapter.create_refund(refund_data(KEY, reason="something_new"))

    sent = body_of(sandbox_requests(base_url, "/v1/refunds")[0])
    assert sent["items"][0]["reason"] == "other"


def test_cancel_is_refused_for_good(adapter, base_url):
    result = adapter.cancel_refund(refund_data(KEY))

    assert isinstance(result, Rejected)
    assert result.code == "unsupported"
    assert result.message == "HepsiGlobal refunds cannot be cancelled once sent."
    assert sandbox_requests(base_url, "/v1/auth/token") == []


def test_capabilities_and_webhook_endpoints():
    caps = HepsiGlobalAdapter.capabilities
    assert (
        caps.partial_refund_by_line,
        caps.partial_line_quantity,
        caps.partial_amount_refund,
        caps.shipping_refund,
        caps.additional_charges_refund,
        caps.multiple_payments,
        caps.cancel_after_creation,
        caps.return_shipment,
        caps.refund_lookup,
    ) == (True, True, False, False, False, False, False, False, False)
    assert caps.result_delivery == ResultDelivery.WEBHOOK
    assert caps.rate_limit_per_second is None
    assert caps.notes[0] == "HepsiGlobal refunds are final: they cannot be cancelled once sent."
    assert HepsiGlobalAdapter.webhook_endpoints == {
        "refund-create-result": ("POST",),
        "order-cancel": ("PUT",),
    }


def test_token_endpoint_outage_is_failed_for_now_and_nothing_is_sent(adapter, base_url):
    set_faults(base_url, script=[{"fault": "503", "path": "/v1/auth/token"}])

    result = adapter.create_refund(refund_data(KEY))

    assert isinstance(result, FailedForNow)
    assert result.code == "server_error"
    assert sandbox_requests(base_url, "/v1/refunds") == []
    assert isinstance(adapter.create_refund(refund_data(KEY)), Accepted)
    assert ledger(base_url, KEY)["count"] == 1


def test_every_call_carries_a_timeout(hub, base_url):
    seen = []

    class RecordingSession(MarketplaceSession):
        def send(self, request, **kwargs):
            seen.append((request.method, request.url.removeprefix(base_url), kwargs["timeout"]))
            return super().send(request, **kwargs)

    adapter = HepsiGlobalAdapter(
        account(base_url), session=RecordingSession(account_name="t", timeout=(1.5, 4.0))
    )
    adapter.create_refund(refund_data(KEY))

    assert seen == [
        ("POST", "/hepsiglobal/v1/auth/token", (1.5, 4.0)),
        ("POST", "/hepsiglobal/v1/refunds", (1.5, 4.0)),
    ]
