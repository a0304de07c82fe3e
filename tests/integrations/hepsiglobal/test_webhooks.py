"""Webhook verification and parsing: the published example (seed 001), what the sandbox really
sends, and each way an account may recognise HepsiGlobal's calls (ASSUMPTIONS A1)."""

from __future__ import annotations

import json
import logging

import pytest
import requests

from integrations.base import CancelledLine, WebhookOrigin, WebhookRejected, WebhookTopic
from integrations.hepsiglobal.client import HepsiGlobalAdapter
from integrations.hepsiglobal.webhooks import basic_authorization

from .conftest import (
    WEBHOOK_BASE,
    WEBHOOK_SECRET,
    account,
    advance,
    parse_call,
    refund_data,
)
from .published import ORDER_CANCEL_BODY

TOKEN = WEBHOOK_SECRET
AT_HOME = WebhookOrigin(client_address="203.0.113.7", path_token=TOKEN)


def _adapter(**options):
    return HepsiGlobalAdapter(account("http://127.0.0.1:9", options=options))


def _cancel(adapter, body=ORDER_CANCEL_BODY, *, origin=AT_HOME, headers=None):
    return adapter.parse_webhook(
        name="order-cancel",
        method="PUT",
        headers={"Content-Type": "application/json", **(headers or {})},
        body=body,
        origin=origin,
    )


def _refused(call) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        call()
    return caught.value


def _order_cancel_call(base_url, receiver, quantity=1):
    requests.post(
        f"{base_url}/hepsiglobal/_sim/order-cancel",
        json={
            "order_number": "HG-1001",
            "order_item_number": "oi1",
            "cancel_quantity": quantity,
            "reason": "out_of_stock",
        },
        timeout=5,
    ).raise_for_status()
    advance(base_url)
    calls = receiver.wait_for(1)
    assert len(calls) == 1
    return calls[0]


# --- the published example --------------------------------------------------------------------


def test_published_order_cancel_example_is_read():
    message = _cancel(_adapter())

    assert message.topic == WebhookTopic.ORDER_CANCEL
    assert message.delivery_key == "order-cancel:1078354"
    assert message.order_external_number == "NMSAC3R37F2891PN-IO-1"
    assert message.order_line_external_id == "NMSAC3R37F2891PN-IO-1_HBCV000057B1XL"
    assert message.quantity == 1
    assert message.reason == "out_of_stock"
    assert message.cancelled_lines == (
        CancelledLine("NMSAC3R37F2891PN-IO-1_HBCV000057B1XL", 1, "out_of_stock"),
    )


def test_published_example_without_the_accounts_url_token_is_refused():
    adapter = _adapter()
    bare = WebhookOrigin(client_address="203.0.113.7")
    wrong = WebhookOrigin(client_address="203.0.113.7", path_token="x" * len(TOKEN))

    not_sent_there = (
        "The HepsiGlobal webhook was not sent to the account's secret URL "
        "(/hepsiglobal/<token>/webhooks/...)."
    )

    refusals = [_refused(lambda o=o: _cancel(adapter, origin=o)) for o in (bare, None, wrong)]

    assert [(r.status, r.message) for r in refusals] == [
        (401, not_sent_there),
        (401, not_sent_there),
        (401, "The HepsiGlobal webhook's URL token does not match."),
    ]


def test_published_example_changed_by_one_field_reads_the_change():
    """No signature is published, so a changed body cannot be told from a true one: what the
    account checks is who called (A1); what is read is what was sent."""
    changed = ORDER_CANCEL_BODY.replace(b'"cancel_quantity": 1', b'"cancel_quantity": 2')

    assert _cancel(_adapter(), changed).quantity == 2


# --- cancel_items (seed 001's text) ------------------------------------------------------------


def test_cancel_items_array_is_one_event_covering_every_line():
    body = json.dumps(
        {
            "order_number": "NMSAC3R37F2891PN-IO-1",
            "cancel_items": [
                {
                    "cancel_id": 1078355,
                    "order_item_number": "NMSAC3R37F2891PN-IO-1_B",
                    "cancel_quantity": 2,
                    "reason": "out_of_stock",
                },
                {
                    "cancel_id": 1078354,
                    "order_number": "NMSAC3R37F2891PN-IO-1",
                    "order_item_number": "NMSAC3R37F2891PN-IO-1_A",
                    "cancel_quantity": 1,
                    "reason": "out_of_stock",
                },
            ],
        }
    ).encode()

    message = _cancel(_adapter(), body)

    assert message.delivery_key == "order-cancel:1078354+1078355"
    assert message.order_external_number == "NMSAC3R37F2891PN-IO-1"
    assert message.cancelled_lines == (
        CancelledLine("NMSAC3R37F2891PN-IO-1_B", 2, "out_of_stock"),
        CancelledLine("NMSAC3R37F2891PN-IO-1_A", 1, "out_of_stock"),
    )
    assert (message.order_line_external_id, message.quantity) == ("", 3)
    assert message.message == "The seller cancelled 3 unit(s) on HepsiGlobal (out_of_stock)."


def test_cancel_items_of_one_line_twice_add_up():
    body = json.dumps(
        {
            "cancel_id": 9,
            "order_number": "O-1",
            "cancel_items": [
                {"order_item_number": "L1", "cancel_quantity": 1},
                {"order_item_number": "L1", "cancel_quantity": 2},
            ],
        }
    ).encode()

    message = _cancel(_adapter(), body)

    assert message.cancelled_lines == (CancelledLine("L1", 3, ""),)
    assert (message.delivery_key, message.order_line_external_id, message.quantity) == (
        "order-cancel:9",
        "L1",
        3,
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"cancel_items": []},
            "The HepsiGlobal webhook cancel_items is not a list of cancellations.",
        ),
        (
            {"cancel_items": [1]},
            "The HepsiGlobal webhook cancel_items is not a list of cancellations.",
        ),
        (
            {"cancel_items": [{"cancel_id": 1, "order_number": "O", "cancel_quantity": 1}]},
            "The HepsiGlobal webhook lacks cancel_items[].order_item_number.",
        ),
        (
            {
                "cancel_items": [
                    {
                        "cancel_id": 1,
                        "order_number": "O-1",
                        "order_item_number": "L1",
                        "cancel_quantity": 1,
                    },
                    {
                        "cancel_id": 2,
                        "order_number": "O-2",
                        "order_item_number": "L1",
                        "cancel_quantity": 1,
                    },
                ]
            },
            "The HepsiGlobal webhook cancels lines of several orders in one call.",
        ),
        (
            {
                "cancel_id": 1,
                "order_number": "O-1",
                "cancel_items": [{"order_item_number": "L1", "cancel_quantity": 0}],
            },
            "The HepsiGlobal webhook cancel_items[].cancel_quantity is not a count.",
        ),
    ],
)
def test_unreadable_cancel_items_are_400(payload, message):
    refusal = _refused(lambda: _cancel(_adapter(), json.dumps(payload).encode()))

    assert (refusal.status, refusal.message) == (400, message)


# --- what the sandbox sends ---------------------------------------------------------------------


def test_sandbox_order_cancel_has_the_published_shape_and_is_accepted(adapter, base_url, receiver):
    call = _order_cancel_call(base_url, receiver, quantity=2)

    message = parse_call(adapter, call)

    body = json.loads(call["body"])
    assert set(body) == set(json.loads(ORDER_CANCEL_BODY))
    assert call["path"] == f"{WEBHOOK_BASE}/webhooks/order-cancel"
    assert "Authorization" not in call["headers"]
    assert message.delivery_key == f"order-cancel:{body['cancel_id']}"
    assert (message.order_external_number, message.order_line_external_id) == ("HG-1001", "oi1")
    assert (message.quantity, message.reason) == (2, "out_of_stock")


def test_sandbox_cancel_items_shape_is_accepted(adapter, base_url, receiver):
    requests.put(
        f"{base_url}/_control/hepsiglobal/config",
        json={"order_cancel_shape": "cancel_items"},
        timeout=5,
    ).raise_for_status()
    response = requests.post(
        f"{base_url}/hepsiglobal/_sim/order-cancel",
        json={
            "order_number": "HG-1001",
            "cancel_items": [
                {"order_item_number": "oi1", "cancel_quantity": 1},
                {"order_item_number": "oi2", "cancel_quantity": 1, "reason": "other"},
            ],
        },
        timeout=5,
    )
    advance(base_url)
    call = receiver.wait_for(1)[0]

    message = parse_call(adapter, call)

    sent = json.loads(call["body"])
    assert response.status_code == 200
    assert set(sent) == {"order_number", "cancel_items"}
    assert [set(item) for item in sent["cancel_items"]] == [set(json.loads(ORDER_CANCEL_BODY))] * 2
    assert message.cancelled_lines == (
        CancelledLine("oi1", 1, "out_of_stock"),
        CancelledLine("oi2", 1, "other"),
    )


def test_sandbox_refund_result_is_accepted(adapter, base_url, receiver):
    accepted = adapter.create_refund(refund_data("RD7-create-refund-1"))
    advance(base_url)
    call = receiver.wait_for(1)[0]

    message = parse_call(adapter, call)

    assert call["path"] == f"{WEBHOOK_BASE}/webhooks/refund-create-result"
    assert message.topic == WebhookTopic.REFUND_RESULT
    assert message.status == "ISSUED"
    assert message.external_request_id == accepted.external_request_id


def test_sandbox_basic_auth_is_accepted_by_a_basic_account(base_url, receiver, hub):
    requests.put(
        f"{base_url}/_control/hepsiglobal/config", json={"webhook_auth": "basic"}, timeout=5
    ).raise_for_status()
    basic = HepsiGlobalAdapter(account(base_url, options={"webhook_auth": "basic"}))
    call = _order_cancel_call(base_url, receiver)

    assert call["path"] == "/hepsiglobal/webhooks/order-cancel"
    assert call["headers"]["Authorization"] == basic_authorization("hepsiglobal", TOKEN)
    assert parse_call(basic, call).topic == WebhookTopic.ORDER_CANCEL
    assert _refused(lambda: parse_call(HepsiGlobalAdapter(account(base_url)), call)).status == 401


def test_duplicate_delivery_has_the_same_delivery_key(adapter, base_url, receiver):
    call = _order_cancel_call(base_url, receiver)

    assert parse_call(adapter, call).delivery_key == parse_call(adapter, call).delivery_key


def test_url_token_of_another_account_is_refused(base_url, receiver, hub):
    other = HepsiGlobalAdapter(account(base_url, webhook_secret="another-secret-0123456789"))
    call = _order_cancel_call(base_url, receiver)

    refusal = _refused(lambda: parse_call(other, call))

    assert (refusal.status, refusal.message) == (
        401,
        "The HepsiGlobal webhook's URL token does not match.",
    )


# --- the account's configuration ---------------------------------------------------------------


def test_basic_credentials_are_checked():
    adapter = _adapter(webhook_auth="basic", webhook_username="hg-onboarding")
    good = {"Authorization": basic_authorization("hg-onboarding", TOKEN)}
    other_user = {"Authorization": basic_authorization("hepsiglobal", TOKEN)}
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    assert _cancel(adapter, headers=good, origin=None).delivery_key == "order-cancel:1078354"
    assert [
        _refused(lambda h=h: _cancel(adapter, headers=h, origin=None)).message
        for h in (other_user, bearer, {})
    ] == [
        "The HepsiGlobal webhook's basic credentials do not match.",
        "The HepsiGlobal webhook's basic credentials do not match.",
        "The HepsiGlobal webhook carries no basic credentials.",
    ]


def test_ip_allowlist_accepts_its_networks_only():
    adapter = _adapter(
        webhook_auth="ip_allowlist", webhook_ip_allowlist=["198.51.100.0/24", "2001:db8::1"]
    )
    inside = WebhookOrigin(client_address="198.51.100.20")
    ipv6 = WebhookOrigin(client_address="2001:db8::1")
    outside = WebhookOrigin(client_address="203.0.113.7")

    assert _cancel(adapter, origin=inside).quantity == 1
    assert _cancel(adapter, origin=ipv6).quantity == 1
    assert _refused(lambda: _cancel(adapter, origin=outside)).message == (
        "The HepsiGlobal webhook comes from 203.0.113.7, which is not in the account's allow-list."
    )
    assert _refused(lambda: _cancel(adapter, origin=WebhookOrigin("unknown"))).status == 401


def test_allowlist_with_a_path_token_asks_for_both():
    adapter = _adapter(webhook_ip_allowlist="198.51.100.0/24")
    inside_with_token = WebhookOrigin(client_address="198.51.100.20", path_token=TOKEN)
    outside_with_token = WebhookOrigin(client_address="203.0.113.7", path_token=TOKEN)
    inside_without = WebhookOrigin(client_address="198.51.100.20")

    assert _cancel(adapter, origin=inside_with_token).quantity == 1
    assert _refused(lambda: _cancel(adapter, origin=outside_with_token)).status == 401
    assert _refused(lambda: _cancel(adapter, origin=inside_without)).status == 401


@pytest.mark.parametrize(
    ("secret", "options"),
    [
        ("", {}),  # path_token without a secret
        ("too-short", {}),  # not a usable path token (16 to 200 characters)
        ("has/a/slash-0123456789", {}),  # not a path segment
        ("", {"webhook_auth": "basic"}),
        ("", {"webhook_auth": "ip_allowlist"}),  # an allow-list mode without a list
        (TOKEN, {"webhook_ip_allowlist": ["not-an-address"]}),  # unreadable: nothing passes
        (TOKEN, {"webhook_auth": "hmac"}),  # no such mode
    ],
)
def test_an_account_that_cannot_verify_accepts_nothing(secret, options):
    adapter = HepsiGlobalAdapter(
        account("http://127.0.0.1:9", webhook_secret=secret, options=options)
    )
    everything = WebhookOrigin(client_address="198.51.100.20", path_token=secret or TOKEN)

    assert adapter.webhooks_configured() is False
    assert _refused(lambda: _cancel(adapter, origin=everything)).status == 401


def test_default_mode_is_path_token_and_the_onboarding_url_holds_it():
    adapter = HepsiGlobalAdapter(
        account("http://127.0.0.1:9", callback_base_url="https://desk.example.com/")
    )
    basic = HepsiGlobalAdapter(
        account(
            "http://127.0.0.1:9",
            callback_base_url="https://desk.example.com",
            options={"webhook_auth": "basic"},
        )
    )

    assert adapter.webhooks_configured() is True
    assert adapter.webhook_base_url() == f"https://desk.example.com/hepsiglobal/{TOKEN}"
    assert basic.webhook_base_url() == "https://desk.example.com/hepsiglobal"


def test_each_accepted_call_is_logged_with_how_it_was_recognised(caplog):
    adapter = _adapter(webhook_ip_allowlist=["203.0.113.0/24"])

    with caplog.at_level(logging.INFO, logger="integrations.hepsiglobal.webhooks"):
        _cancel(adapter)

    assert [r.getMessage() for r in caplog.records] == [
        "HepsiGlobal webhook order-cancel order-cancel:1078354 accepted for account "
        "HepsiGlobal test by path_token from 203.0.113.7"
    ]


def test_stored_event_is_parsed_again_without_its_origin():
    adapter = _adapter()

    message = adapter.parse_webhook(
        name="order-cancel", method="PUT", headers={}, body=ORDER_CANCEL_BODY, verified=True
    )

    assert message.delivery_key == "order-cancel:1078354"


# --- names, methods and bodies ------------------------------------------------------------------


def test_wrong_method_and_unknown_name_are_refused():
    adapter = _adapter()
    wrong_method = _refused(
        lambda: adapter.parse_webhook(
            name="order-cancel", method="POST", headers={}, body=b"{}", origin=AT_HOME
        )
    )
    unknown = _refused(
        lambda: adapter.parse_webhook(
            name="order-create", method="PUT", headers={}, body=b"{}", origin=AT_HOME
        )
    )

    assert (wrong_method.status, unknown.status) == (405, 404)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"order_number": "HG-1001", "order_item_number": "oi1", "cancel_quantity": 1}',
        b'{"cancel_id": 5, "order_number": "HG-1001", "order_item_number": "oi1", '
        b'"cancel_quantity": 0}',
    ],
)
def test_recognised_but_unreadable_order_cancel_is_400(body):
    assert _refused(lambda: _cancel(_adapter(), body)).status == 400


def test_failed_refund_result_carries_the_staff_message():
    body = json.dumps(
        {
            "request_id": "01J8ZCJEWZP8Q8HB5XZVCEWD1P",
            "refund_number": "RD1-create-refund-1",
            "order_number": "HG-1001",
            "status": "failed",
            "errors": ["quantity_exceeds_refundable: 3 units asked", "Payment provider declined"],
        }
    ).encode()

    message = _adapter().parse_webhook(
        name="refund-create-result", method="POST", headers={}, body=body, origin=AT_HOME
    )

    assert message.status == "DENIED"
    assert message.message == (
        "HepsiGlobal refused the refund: more units than can still be refunded on an order "
        "line. (3 units asked) HepsiGlobal refused the refund: Payment provider declined"
    )
    assert message.delivery_key == "refund-create-result:01J8ZCJEWZP8Q8HB5XZVCEWD1P"


def test_refund_result_needs_only_the_request_id_it_is_linked_by():
    """Create Refund: the result is notified "via RequestId"; our refund number is optional."""
    body = b'{"request_id": "01J8ZCJEWZP8Q8HB5XZVCEWD1P", "status": "SUCCESS"}'

    message = _adapter().parse_webhook(
        name="refund-create-result", method="POST", headers={}, body=body, origin=AT_HOME
    )

    assert (message.external_request_id, message.idempotency_key, message.status) == (
        "01J8ZCJEWZP8Q8HB5XZVCEWD1P",
        "",
        "ISSUED",
    )


@pytest.mark.parametrize(
    "body",
    [b'{"status": "success"}', b'{"request_id": "01J8ZCJEWZP8Q8HB5XZVCEWD1P", "status": "done"}'],
)
def test_refund_result_without_request_id_or_known_status_is_400(body):
    refusal = _refused(
        lambda: _adapter().parse_webhook(
            name="refund-create-result", method="POST", headers={}, body=body, origin=AT_HOME
        )
    )

    assert refusal.status == 400
