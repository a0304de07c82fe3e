"""Contract tests: the Shoplazza adapter against the Shoplazza sandbox over HTTP."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from integrations.base import (
    Accepted,
    Confirmed,
    FailedForNow,
    PaymentShare,
    RefundData,
    RefundLineData,
    Rejected,
    ResultDelivery,
)
from integrations.http import MarketplaceSession
from integrations.registry import adapter_class
from integrations.shoplazza.client import ShoplazzaAdapter
from tests.fixtures.clock import FakeClock, on_clock
from tests.integrations.shoplazza.conftest import (
    ORDER,
    ORDER_ID,
    body_of,
    control,
    ledger,
    make_adapter,
    refund,
    sandbox_requests,
)


def test_registry_resolves_the_adapter_and_capabilities():
    assert adapter_class("shoplazza") is ShoplazzaAdapter
    caps = ShoplazzaAdapter.capabilities
    assert caps.result_delivery == ResultDelivery.POLLING
    assert caps.partial_refund_by_line is True
    assert caps.cancel_after_creation is False
    assert caps.rate_limit_per_second == Decimal("2")
    assert ShoplazzaAdapter.webhook_endpoints == {"": ("POST",)}


def test_create_refund_happy_path_sends_the_documented_payload(sim, api, base_url):
    adapter = make_adapter(api)

    result = adapter.create_refund(refund())

    assert isinstance(result, Accepted)
    assert result.external_id.startswith("rf_")
    assert result.external_request_id.startswith("ps_")
    posts = sandbox_requests(base_url, method="POST", path="/refund")
    assert len(posts) == 1
    assert posts[0]["path"] == f"/openapi/2026-01/orders/{ORDER_ID}/refund"
    assert body_of(posts[0]) == {
        "refund": {
            "refund_total": "45.00",
            "refund_product_total": "40.00",
            "refund_shipping_total": "5.00",
            "refund_additional_total": "0.00",
            "note": "damaged Both mugs arrived cracked [RD-rd-1-create]",
            "refund_line_items": [
                {
                    "line_item_id": "li_1",
                    "return_inventory": True,
                    "quantity": 1,
                    "refund_item_type": "waiting_ship",
                },
                {
                    "line_item_id": "li_1",
                    "return_inventory": True,
                    "quantity": 1,
                    "refund_item_type": "shipped",
                },
            ],
            "refund_payments": [
                {"payment_line_id": "pay_1", "refund_price": "30.00"},
                {"payment_line_id": "pay_2", "refund_price": "15.00"},
            ],
        }
    }
    assert ledger(base_url, "rd-1-create") == 1


def test_read_status_moves_from_pending_to_finished(sim, api, base_url):
    adapter = make_adapter(api)
    created = adapter.create_refund(refund())
    data = refund(external_id=created.external_id)

    pending = adapter.read_refund_status(data)
    control(base_url, "POST", "advance")
    finished = adapter.read_refund_status(data)

    assert isinstance(pending, Accepted)
    assert pending.external_id == created.external_id
    assert isinstance(finished, Confirmed)
    assert finished.external_id == created.external_id


def test_failed_refund_on_the_platform_reads_as_rejected(sim, api, base_url):
    control(base_url, "PUT", "config", {"fail_orders": [ORDER_ID]})
    adapter = make_adapter(api)
    created = adapter.create_refund(refund())
    control(base_url, "POST", "advance")

    result = adapter.read_refund_status(refund(external_id=created.external_id))

    assert isinstance(result, Rejected)
    assert result.code == "refund_failed"
    # A refund record names no reason for its failure ([P2], [P4] in mapping.py).
    assert result.message == "Shoplazza could not pay the refund back (the refund record failed)"


def test_version_2025_06_sends_integer_refund_item_types(sim, api, base_url):
    adapter = make_adapter(api, options={"api_version": "2025-06"})

    result = adapter.create_refund(refund())

    assert isinstance(result, Accepted)
    post = sandbox_requests(base_url, method="POST", path="/refund")[0]
    assert post["path"] == f"/openapi/2025-06/orders/{ORDER_ID}/refund"
    assert [i["refund_item_type"] for i in body_of(post)["refund"]["refund_line_items"]] == [2, 1]


def test_unknown_api_version_is_rejected_without_a_call(sim, api, base_url):
    result = make_adapter(api, options={"api_version": "2024-01"}).create_refund(refund())

    assert isinstance(result, Rejected)
    assert result.code == "configuration"
    assert sandbox_requests(base_url) == []


def test_line_without_known_quantities_goes_as_auto(sim, api, base_url):
    line = RefundLineData(
        order_line_external_id="li_2",
        sku="TEE",
        name="Tee",
        quantity=1,
        amount=Decimal("30.00"),
        restock=False,
    )
    data = refund(
        total=Decimal("30.00"),
        lines_amount=Decimal("30.00"),
        shipping_amount=Decimal("0.00"),
        lines=(line,),
        payments=(),
    )

    result = make_adapter(api).create_refund(data)

    assert isinstance(result, Accepted)
    sent = body_of(sandbox_requests(base_url, method="POST", path="/refund")[0])["refund"]
    assert sent["refund_line_items"] == [
        {
            "line_item_id": "li_2",
            "return_inventory": False,
            "quantity": 1,
            "refund_item_type": "auto",
        }
    ]
    assert "refund_payments" not in sent


# --- idempotency -----------------------------------------------------------------------------


def test_retry_with_the_same_key_creates_no_second_refund(sim, api, base_url):
    adapter = make_adapter(api)
    first = adapter.create_refund(refund())

    second = make_adapter(api).create_refund(refund())

    assert isinstance(second, Accepted)
    assert second.external_id == first.external_id
    assert ledger(base_url, "rd-1-create") == 1
    assert len(sandbox_requests(base_url, method="POST", path="/refund")) == 1


def test_dropped_connection_after_the_record_then_retry_creates_nothing_new(sim, api, base_url):
    control(
        base_url,
        "PUT",
        "faults",
        {"script": [{"fault": "drop", "method": "POST", "path": "/refund"}]},
    )
    adapter = make_adapter(api)

    lost = adapter.create_refund(refund())
    assert isinstance(lost, FailedForNow)
    assert lost.code == "connection"
    assert ledger(base_url, "rd-1-create") == 1

    retried = adapter.create_refund(refund())

    assert isinstance(retried, Accepted)
    recorded = control(base_url, "GET", "ledger?key=rd-1-create")["refunds"][0]
    assert retried.external_id == recorded["id"]
    assert ledger(base_url, "rd-1-create") == 1
    assert len(sandbox_requests(base_url, method="POST", path="/refund")) == 1
    # Found by its note in the store's refund records list, the list that documents `note`
    # ([P3], [P4]; ASSUMPTIONS A1), never in the order's list, which does not ([P2]).
    lookups = sandbox_requests(base_url, method="GET", path="/openapi/")
    assert [(r["path"], r["query"]) for r in lookups] == [
        ("/openapi/2026-01/orders/refund_records", {"order_ids": [ORDER_ID], "page_size": ["50"]})
    ] * 2


def test_the_key_lookup_follows_the_records_list_cursor(sim, api, base_url):
    adapter = make_adapter(api)
    # 51 refunds of 0.01 shipping: the last, rd-fill-50, is on the list's second page.
    for n in range(51):
        adapter.create_refund(
            refund(
                f"rd-fill-{n}",
                total=Decimal("0.01"),
                lines_amount=Decimal("0.00"),
                shipping_amount=Decimal("0.01"),
                lines=(),
                payments=(),
            )
        )
    again = adapter.create_refund(
        refund(
            "rd-fill-50",
            total=Decimal("0.01"),
            lines_amount=Decimal("0.00"),
            shipping_amount=Decimal("0.01"),
            lines=(),
            payments=(),
        )
    )

    assert isinstance(again, Accepted)
    assert (
        again.external_id == control(base_url, "GET", "ledger?key=rd-fill-50")["refunds"][0]["id"]
    )
    assert ledger(base_url, "rd-fill-50") == 1
    assert ledger(base_url) == 51
    last = sandbox_requests(base_url, method="GET", path="/refund_records")[-2:]
    assert [r["query"].get("cursor") for r in last] == [None, ["50"]]


def test_a_different_key_makes_a_second_refund(sim, api, base_url):
    adapter = make_adapter(api)
    small = {
        "total": Decimal("5.00"),
        "lines_amount": Decimal("0.00"),
        "shipping_amount": Decimal("5.00"),
        "lines": (),
        "payments": (PaymentShare("pay_1", "card", Decimal("5.00")),),
    }
    adapter.create_refund(refund("rd-1", **small))
    small["shipping_amount"] = Decimal("0.00")
    small["additional_amount"] = Decimal("0.00")
    line = RefundLineData("li_2", "TEE", "Tee", 1, Decimal("30.00"), False, 0, 1)
    second = adapter.create_refund(
        refund(
            "rd-2",
            total=Decimal("30.00"),
            lines_amount=Decimal("30.00"),
            shipping_amount=Decimal("0.00"),
            lines=(line,),
            payments=(),
        )
    )

    assert isinstance(second, Accepted)
    assert ledger(base_url, "rd-1") == 1
    assert ledger(base_url, "rd-2") == 1
    assert ledger(base_url) == 2


# --- authentication --------------------------------------------------------------------------


def test_token_is_cached_between_calls(sim, api, base_url):
    # The sandbox answers expires_at alone [P6]; read as "expires now", every call would fetch a
    # token first and spend half of the 2 requests per second.
    adapter = make_adapter(api)
    adapter.create_refund(refund())
    adapter.read_refund_status(refund())

    assert len(sandbox_requests(base_url, path="/admin/oauth/token")) == 1
    assert len(sandbox_requests(base_url, path="/openapi/")) == 3


def test_token_request_is_form_encoded_as_the_sdk_sends_it(sim, api, base_url):
    # Shoplazza's OAuth SDK [P7]: application/x-www-form-urlencoded, grant refresh_token.
    make_adapter(api).create_refund(refund())

    [grant] = sandbox_requests(base_url, method="POST", path="/admin/oauth/token")
    assert grant["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(grant["body"]) == {
        "client_id": ["demo"],
        "client_secret": ["demo-secret"],
        "grant_type": ["refresh_token"],
        "refresh_token": ["demo-refresh-token"],
    }


def test_expired_token_is_renewed_once_on_401_and_the_call_retried(sim, api, base_url):
    adapter = make_adapter(api)
    adapter.create_refund(refund())
    sim.expire_tokens()

    result = adapter.read_refund_status(refund())

    assert isinstance(result, Accepted)
    assert len(sandbox_requests(base_url, path="/admin/oauth/token")) == 2
    reads = sandbox_requests(base_url, method="GET", path="/refund")
    assert len(reads) == 3  # create's look-up, the refused read, the retried read
    assert reads[1]["headers"]["access-token"] != reads[2]["headers"]["access-token"]


def test_token_past_its_lifetime_is_renewed_before_the_call(sim, api, base_url):
    control(base_url, "PUT", "config", {"token_ttl": 3600})
    clock = FakeClock()  # ours, moved by hand; the sandbox still accepts the old token
    adapter = on_clock(make_adapter(api), clock)
    adapter.create_refund(refund())
    clock.advance(3600)

    result = adapter.read_refund_status(refund())

    assert isinstance(result, Accepted)
    assert len(sandbox_requests(base_url, path="/admin/oauth/token")) == 2
    assert len(sandbox_requests(base_url, method="GET", path="/refund")) == 2


def test_token_refused_even_after_renewal_is_rejected_unauthorized(sim, api, base_url):
    control(base_url, "PUT", "config", {"token_ttl": 0})

    result = make_adapter(api).create_refund(refund())

    assert isinstance(result, Rejected)
    assert result.code == "Unauthorized"
    assert result.message == (
        "Shoplazza refuses our access token; the app must be re-authorised in the store: "
        "Access token has expired"
    )
    assert len(sandbox_requests(base_url, path="/admin/oauth/token")) == 2
    assert ledger(base_url) == 0


def test_wrong_client_secret_is_rejected_invalid_client(sim, api, base_url):
    adapter = make_adapter(
        api,
        credentials={
            "client_id": "demo",
            "client_secret": "wrong",
            "refresh_token": "demo-refresh-token",
        },
    )

    result = adapter.create_refund(refund())

    assert isinstance(result, Rejected)
    assert result.code == "invalid_client"
    assert result.message.startswith("Shoplazza refuses the app's client id or client secret")
    assert ledger(base_url) == 0


def test_revoked_refresh_token_is_rejected_invalid_grant(sim, api, base_url):
    adapter = make_adapter(
        api,
        credentials={
            "client_id": "demo",
            "client_secret": "demo-secret",
            "refresh_token": "revoked",
        },
    )

    result = adapter.create_refund(refund())

    assert isinstance(result, Rejected)
    assert result.code == "invalid_grant"
    assert result.message == (
        "Shoplazza refuses the refresh token; the app must be re-authorised in the store: "
        "The refresh token is invalid or revoked."
    )


def test_missing_credentials_are_rejected_without_a_call(sim, api, base_url):
    result = make_adapter(api, credentials={"client_id": "demo"}).create_refund(refund())

    assert isinstance(result, Rejected)
    assert result.code == "configuration"
    assert result.message == (
        "The Shoplazza account lacks credentials: client_secret, refresh_token"
    )
    assert sandbox_requests(base_url) == []


# --- documented errors -----------------------------------------------------------------------


def test_payments_not_adding_up_is_rejected_invalid_parameter(sim, api, base_url):
    data = refund(payments=(PaymentShare("pay_1", "card", Decimal("10.00")),))

    result = make_adapter(api).create_refund(data)

    assert isinstance(result, Rejected)
    assert result.code == "InvalidParameter"
    assert result.message == (
        "Shoplazza refuses the refund as invalid; check the amounts, lines and payments: "
        "the sum of refund.refund_payments[].refund_price must equal refund.refund_total"
    )
    assert ledger(base_url) == 0


def test_unknown_line_item_is_rejected_invalid_parameter(sim, api, base_url):
    line = RefundLineData("li_9", "X", "X", 1, Decimal("40.00"), False, 0, 1)

    result = make_adapter(api).create_refund(refund(lines=(line,)))

    assert isinstance(result, Rejected)
    assert result.code == "InvalidParameter"
    assert result.message.endswith(
        "refund.refund_line_items[0].line_item_id li_9 is not a line item of the order"
    )
    assert ledger(base_url) == 0


def test_more_than_refundable_is_rejected_refund_failed_not_retried(sim, api, base_url):
    data = refund(
        total=Decimal("80.00"),
        lines_amount=Decimal("75.00"),
        payments=(
            PaymentShare("pay_1", "card", Decimal("50.00")),
            PaymentShare("pay_2", "gift_card", Decimal("30.00")),
        ),
    )

    result = make_adapter(api).create_refund(data)

    assert isinstance(result, Rejected)
    assert result.code == "RefundFailed"
    assert result.message == (
        "Shoplazza refuses the refund under its business rules (e.g. more than is refundable): "
        "The refund total 80.00 exceeds the refundable amount 75.00"
    )
    assert ledger(base_url) == 0


def test_unpaid_order_is_rejected_refund_failed(sim, api, base_url):
    result = make_adapter(api).create_refund(refund(order_external_number="SL-2002"))

    assert isinstance(result, Rejected)
    assert result.code == "RefundFailed"
    assert result.message.endswith("The order is pending; only paid orders can be refunded")
    assert ledger(base_url) == 0


def test_unknown_order_is_rejected_not_found(sim, api, base_url):
    result = make_adapter(api).create_refund(refund(order_external_number="SL-404"))

    assert isinstance(result, Rejected)
    assert result.code == "NotFound"
    assert result.message == (
        "Shoplazza does not know this order (or this API version): Order SL-404 not found"
    )


def test_missing_write_scope_is_rejected_forbidden(sim, api, base_url):
    control(base_url, "PUT", "config", {"scopes": ["read_order"]})

    result = make_adapter(api).create_refund(refund())

    assert isinstance(result, Rejected)
    assert result.code == "Forbidden"
    assert result.message == (
        "The Shoplazza app lacks the write_order access scope; grant it in the store admin: "
        "This action requires the write_order access scope"
    )
    assert ledger(base_url) == 0


def test_rate_limit_429_is_failed_for_now_with_retry_after(sim, api, base_url):
    control(base_url, "PUT", "config", {"rate_limit_per_second": 0.5, "rate_limit_bucket": 1})

    result = make_adapter(api).create_refund(refund())

    assert isinstance(result, FailedForNow)
    assert result.code == "rate_limited"
    assert result.retry_after == 2.0
    assert ledger(base_url) == 0


def test_injected_429_retry_after_is_parsed(sim, api, base_url):
    control(
        base_url,
        "PUT",
        "faults",
        {"script": [{"fault": "429", "method": "POST", "retry_after": 7}]},
    )

    result = make_adapter(api).create_refund(refund())

    assert isinstance(result, FailedForNow)
    assert result.retry_after == 7.0
    assert ledger(base_url) == 0


# --- transient failures ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_server_errors_are_failed_for_now(sim, api, base_url, status):
    control(
        base_url,
        "PUT",
        "faults",
        {"script": [{"fault": status, "method": "POST", "path": "/refund"}]},
    )

    result = make_adapter(api).create_refund(refund())

    assert isinstance(result, FailedForNow)
    assert result.code == "server_error"
    assert result.message == f"Shoplazza is failing (HTTP {status}); retrying later"
    assert ledger(base_url) == 0


def test_any_other_requests_failure_is_failed_for_now_never_an_exception():
    result = make_adapter("ftp://127.0.0.1:9").create_refund(refund())

    assert result == FailedForNow(
        message="Calling Shoplazza failed (InvalidSchema); retrying later",
        code="request",
        may_have_acted=False,
    )


def test_hang_until_read_timeout_is_failed_for_now(sim, api, base_url):
    control(
        base_url, "PUT", "faults", {"script": [{"fault": "hang", "method": "GET", "seconds": 2}]}
    )
    session = MarketplaceSession(account_name="Shoplazza test", timeout=(1.0, 0.3))

    result = make_adapter(api, session=session).create_refund(refund())

    assert isinstance(result, FailedForNow)
    assert result.code == "timeout"
    assert result.message == "Shoplazza did not answer in time"
    assert ledger(base_url) == 0


TIPPED_ORDER = {
    **ORDER,
    "external_number": "SL-3003",
    "tip_total": "3.00",
    "additional_total": "2.00",
    "grand_total": "80.00",
    "payments": [{"external_id": "pay_9", "method": "card", "amount": "80.00"}],
}


def _tipped_refund(key: str, additional: str) -> RefundData:
    return refund(
        key,
        order_external_number="SL-3003",
        total=Decimal("45.00") + Decimal(additional),
        additional_amount=Decimal(additional),
        order_tip_total=Decimal("3.00"),
        order_additional_total=Decimal("2.00"),
        payments=(
            PaymentShare(
                payment_external_id="pay_9",
                method="card",
                amount=Decimal("45.00") + Decimal(additional),
            ),
        ),
    )


def test_a_refund_covering_the_tip_sends_refund_tip(sim, api, base_url):
    # Create Order's Refund Record [P1]: refund.refund_tip, "Tip amount to refund".
    control(base_url, "POST", "orders", [TIPPED_ORDER])

    result = make_adapter(api).create_refund(_tipped_refund("RD12-create-refund-1", "5.00"))

    assert isinstance(result, Accepted)
    sent = body_of(sandbox_requests(base_url, method="POST", path="/refund")[0])["refund"]
    assert sent["refund_total"] == "50.00"
    assert sent["refund_tip"] == "3.00"
    assert sent["refund_additional_total"] == "2.00"
    assert sent["refund_product_total"] == "40.00"
    assert "refund_additional_prices" not in sent  # their names are not ours to guess (A4)
    [booked] = control(base_url, "GET", "ledger?key=RD12-create-refund-1")["refunds"]
    assert (booked["_tip"], booked["_additional"]) == ("3.00", "2.00")


def test_a_refund_of_other_charges_only_sends_no_tip(sim, api, base_url):
    control(base_url, "POST", "orders", [TIPPED_ORDER])

    first = make_adapter(api).create_refund(_tipped_refund("RD12-create-refund-2", "2.00"))
    again = make_adapter(api).create_refund(_tipped_refund("RD12-create-refund-2", "2.00"))

    assert isinstance(first, Accepted)
    assert again.external_id == first.external_id
    sent = body_of(sandbox_requests(base_url, method="POST", path="/refund")[0])["refund"]
    assert "refund_tip" not in sent
    assert sent["refund_additional_total"] == "2.00"
    assert ledger(base_url, "RD12-create-refund-2") == 1
