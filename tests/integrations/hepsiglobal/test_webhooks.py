"""Webhook verification and parsing, fed with what the sandbox really sends."""

from __future__ import annotations

import json

import pytest
import requests

from integrations.base import WebhookRejected, WebhookTopic
from integrations.hepsiglobal.client import HepsiGlobalAdapter
from integrations.hepsiglobal.webhooks import sign

from .conftest import WEBHOOK_SECRET, account, advance, refund_data


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


def _parse(adapter, call, **changes):
    values = {
        "name": call["path"].rsplit("/", 1)[1],
        "method": call["method"],
        "headers": call["headers"],
        "body": call["body"],
        **changes,
    }
    return adapter.parse_webhook(**values)


def test_signed_order_cancel_from_the_sandbox_is_accepted(adapter, base_url, receiver):
    call = _order_cancel_call(base_url, receiver, quantity=2)

    message = _parse(adapter, call)

    cancel_id = json.loads(call["body"])["cancel_id"]
    assert message.topic == WebhookTopic.ORDER_CANCEL
    assert message.delivery_key == f"order-cancel:{cancel_id}"
    assert message.order_external_number == "HG-1001"
    assert message.order_line_external_id == "oi1"
    assert message.quantity == 2
    assert message.reason == "out_of_stock"


def test_signed_refund_result_from_the_sandbox_is_accepted(adapter, base_url, receiver):
    accepted = adapter.create_refund(refund_data("RD7-create-refund-1"))
    advance(base_url)
    call = receiver.wait_for(1)[0]

    message = _parse(adapter, call)

    assert message.topic == WebhookTopic.REFUND_RESULT
    assert message.status == "ISSUED"
    assert message.external_request_id == accepted.external_request_id


def test_bearer_secret_is_accepted_when_the_sandbox_sends_it(adapter, base_url, receiver):
    requests.put(
        f"{base_url}/_control/hepsiglobal/config", json={"webhook_auth": "bearer"}, timeout=5
    ).raise_for_status()
    call = _order_cancel_call(base_url, receiver)

    assert call["headers"]["Authorization"] == f"Bearer {WEBHOOK_SECRET}"
    assert _parse(adapter, call).topic == WebhookTopic.ORDER_CANCEL


def test_duplicate_delivery_has_the_same_delivery_key(adapter, base_url, receiver):
    call = _order_cancel_call(base_url, receiver)

    assert _parse(adapter, call).delivery_key == _parse(adapter, call).delivery_key


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"X-HepsiGlobal-Signature": "sha256=" + "0" * 64},
            "The HepsiGlobal webhook signature does not match.",
        ),
        ({}, "The HepsiGlobal webhook carries no signature or credentials."),
        ({"Authorization": "Bearer wrong"}, "The HepsiGlobal webhook credentials do not match."),
    ],
)
def test_wrong_or_missing_signature_is_rejected(adapter, base_url, receiver, headers, message):
    call = _order_cancel_call(base_url, receiver)
    forged = {"Content-Type": "application/json", **headers}

    with pytest.raises(WebhookRejected) as caught:
        _parse(adapter, call, headers=forged)

    assert caught.value.status == 401
    assert caught.value.message == message


def test_tampered_body_is_rejected(adapter, base_url, receiver):
    call = _order_cancel_call(base_url, receiver)
    tampered = call["body"].replace(b'"cancel_quantity": 1', b'"cancel_quantity": 9')
    assert tampered != call["body"]

    with pytest.raises(WebhookRejected) as caught:
        _parse(adapter, call, body=tampered)

    assert caught.value.status == 401


def test_signature_with_another_secret_is_rejected(base_url, receiver, hub):
    other = HepsiGlobalAdapter(account(base_url, webhook_secret="another-secret"))
    call = _order_cancel_call(base_url, receiver)

    with pytest.raises(WebhookRejected) as caught:
        _parse(other, call)

    assert caught.value.status == 401


def test_no_secret_configured_refuses_everything(base_url, receiver, hub):
    unconfigured = HepsiGlobalAdapter(account(base_url, webhook_secret=""))
    call = _order_cancel_call(base_url, receiver)

    with pytest.raises(WebhookRejected) as caught:
        _parse(unconfigured, call)

    assert caught.value.status == 401
    assert caught.value.message == "No webhook secret is configured for this HepsiGlobal account."


def test_wrong_method_and_unknown_name_are_refused(adapter, base_url, receiver):
    call = _order_cancel_call(base_url, receiver)

    with pytest.raises(WebhookRejected) as wrong_method:
        _parse(adapter, call, method="POST")
    with pytest.raises(WebhookRejected) as unknown:
        _parse(adapter, call, name="order-create")

    assert (wrong_method.value.status, unknown.value.status) == (405, 404)


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
def test_signed_but_unreadable_order_cancel_is_400(adapter, body):
    headers = {"X-HepsiGlobal-Signature": sign(WEBHOOK_SECRET, body)}

    with pytest.raises(WebhookRejected) as caught:
        adapter.parse_webhook(name="order-cancel", method="PUT", headers=headers, body=body)

    assert caught.value.status == 400


def test_failed_refund_result_carries_the_staff_message(adapter):
    body = json.dumps(
        {
            "request_id": "01J8ZCJEWZP8Q8HB5XZVCEWD1P",
            "refund_number": "RD1-create-refund-1",
            "order_number": "HG-1001",
            "status": "failed",
            "errors": ["quantity_exceeds_refundable: 3 units asked", "Payment provider declined"],
        }
    ).encode()
    headers = {"x-hepsiglobal-signature": sign(WEBHOOK_SECRET, body)}

    message = adapter.parse_webhook(
        name="refund-create-result", method="POST", headers=headers, body=body
    )

    assert message.status == "DENIED"
    assert message.message == (
        "HepsiGlobal refused the refund: more units than can still be refunded on an order "
        "line. (3 units asked) HepsiGlobal refused the refund: Payment provider declined"
    )
    assert message.delivery_key == "refund-create-result:01J8ZCJEWZP8Q8HB5XZVCEWD1P"
