"""Noventiq webhooks: the published example verifies (and tampered does not), the sandbox signs
its product.returned webhooks the documented way, the adapter verifies them."""

import hashlib
import json
import time
from decimal import Decimal

import pytest
import requests

from integrations.base import WebhookRejected, WebhookTopic
from integrations.noventiq.client import NoventiqAdapter

from . import published
from .conftest import make_account, make_refund


def _parse(adapter, body: bytes, signature: str):
    return adapter.parse_webhook(
        name="",
        method="POST",
        headers={"content-type": "application/json", "signature": signature},
        body=body,
    )


@pytest.fixture
def example_adapter(base_url):
    """An account whose webhook secret is the published example's."""
    return NoventiqAdapter(make_account(base_url, webhook_secret=published.WEBHOOK_EXAMPLE_SECRET))


def test_the_published_example_verifies(example_adapter):
    message = _parse(
        example_adapter, published.WEBHOOK_EXAMPLE_BODY, published.WEBHOOK_EXAMPLE_SIGNATURE
    )
    assert message.topic == WebhookTopic.IGNORED  # order.created: verified, nothing to do
    assert message.order_external_number == "5555555"
    assert message.payload["payment"]["payment_method"] == "CreditCard"


def test_the_published_example_signs_the_string_the_page_shows():
    from integrations.noventiq.webhooks import sign, signature_base

    payload = json.loads(published.WEBHOOK_EXAMPLE_BODY)
    assert ";".join([published.WEBHOOK_EXAMPLE_SECRET, *signature_base(payload)]) == (
        published.WEBHOOK_EXAMPLE_SIGNED_TEXT
    )
    assert sign(payload, published.WEBHOOK_EXAMPLE_SECRET) == published.WEBHOOK_EXAMPLE_SIGNATURE


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("event",), "product.returned"),
        (("order_id",), 5555556),
        (("create_date",), "2021-08-13T09:16:36+03:00"),
        (("payment", "payment_method"), "PayPal"),
        (("currency",), "USD"),
        (("customer", "email"), "someone@gmail.com"),
    ],
)
def test_the_published_example_tampered_by_one_field_is_refused(example_adapter, path, value):
    payload = json.loads(published.WEBHOOK_EXAMPLE_BODY)
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(WebhookRejected) as exc:
        _parse(example_adapter, json.dumps(payload).encode(), published.WEBHOOK_EXAMPLE_SIGNATURE)
    assert (exc.value.status, exc.value.message) == (401, "Wrong Noventiq signature")


def test_a_top_level_payment_method_is_not_the_signed_one(example_adapter):
    """The template's payment_method is the nested payment.payment_method: a body that moves it
    to the top level (what our verifier read before issue 13) no longer verifies."""
    payload = json.loads(published.WEBHOOK_EXAMPLE_BODY)
    payload["payment_method"] = payload.pop("payment")["payment_method"]
    with pytest.raises(WebhookRejected):
        _parse(example_adapter, json.dumps(payload).encode(), published.WEBHOOK_EXAMPLE_SIGNATURE)


def _sent_webhooks(base_url, count):
    """Wait until the sandbox's sender has tried at least `count` webhooks (delivered to a 404
    sink) and has none left to send; return every one it sent."""
    for _ in range(100):
        state = requests.get(f"{base_url}/_control/noventiq/webhooks", timeout=5).json()
        if len(state["sent"]) >= count and state["pending"] == 0:
            return state["sent"]
        time.sleep(0.05)
    raise AssertionError(f"the sandbox sent {len(state['sent'])} webhooks, expected {count}")


@pytest.fixture
def delivered(adapter, sim, base_url):
    """A full refund completed on the sandbox: one product.returned webhook per product."""
    return _deliver(adapter, base_url)


def _deliver(adapter, base_url):
    refund = make_refund(total=Decimal("45.00"))
    adapter.create_refund(refund)
    requests.post(f"{base_url}/_control/noventiq/advance", timeout=5).raise_for_status()
    return _sent_webhooks(base_url, 2)


def test_sandbox_sends_signed_product_returned_per_product(delivered, base_url):
    assert [hook["url"] for hook in delivered] == [f"{base_url}/_sink/noventiq/webhooks"] * 2
    first = json.loads(delivered[0]["body"])
    assert first["event"] == "product.returned"
    assert first["order_id"] == 700101  # a number, as in Noventiq's example
    assert first["payment"] == {"payment_method": "card"}
    assert "payment_method" not in first
    assert set(first) >= set(json.loads(published.WEBHOOK_EXAMPLE_BODY)) - {
        "locale",
        "order_detail_url",
        "document_part",
    }
    assert [json.loads(h["body"])["product"]["id"] for h in delivered] == ["L1", "L2"]
    base = ";".join(
        [
            "demo-webhook-secret",
            "product.returned",
            "700101",
            "2026-11-01T10:00:00+00:00",
            "card",
            "EUR",
            "alice@example.com",
        ]
    )
    assert delivered[0]["headers"]["signature"] == hashlib.sha512(base.encode()).hexdigest()


def test_adapter_accepts_the_sandbox_signed_body(adapter, delivered):
    hook = delivered[0]
    message = adapter.parse_webhook(
        name="", method="POST", headers=hook["headers"], body=hook["body"].encode()
    )
    assert message.topic == WebhookTopic.REFUND_RESULT
    assert message.status == "ISSUED"
    assert message.order_external_number == "700101"
    assert message.order_line_external_id == "L1"
    assert message.quantity == 2
    assert message.delivery_key.startswith("noventiq:")
    again = adapter.parse_webhook(
        name="", method="POST", headers=hook["headers"], body=hook["body"].encode()
    )
    other = adapter.parse_webhook(
        name="",
        method="POST",
        headers=delivered[1]["headers"],
        body=delivered[1]["body"].encode(),
    )
    assert again.delivery_key == message.delivery_key  # a repeated delivery is the same one
    assert other.delivery_key != message.delivery_key


def test_partial_refund_sends_only_the_listed_products(adapter, sim, base_url):
    adapter.create_refund(make_refund())  # line L1 only
    requests.post(f"{base_url}/_control/noventiq/advance", timeout=5).raise_for_status()
    sent = _sent_webhooks(base_url, 1)
    assert [json.loads(h["body"])["product"]["id"] for h in sent] == ["L1"]


def test_wrong_signature_is_rejected(adapter, delivered):
    hook = delivered[0]
    headers = {**hook["headers"], "signature": "0" * 128}
    with pytest.raises(WebhookRejected) as exc:
        adapter.parse_webhook(name="", method="POST", headers=headers, body=hook["body"].encode())
    assert exc.value.status == 401
    assert exc.value.message == "Wrong Noventiq signature"


def test_tampered_body_is_rejected(adapter, delivered):
    hook = delivered[0]
    payload = json.loads(hook["body"])
    payload["order_id"] = "700999"
    with pytest.raises(WebhookRejected) as exc:
        adapter.parse_webhook(
            name="", method="POST", headers=hook["headers"], body=json.dumps(payload).encode()
        )
    assert exc.value.message == "Wrong Noventiq signature"


def test_missing_signature_is_rejected(adapter, delivered):
    headers = {k: v for k, v in delivered[0]["headers"].items() if k.lower() != "signature"}
    with pytest.raises(WebhookRejected) as exc:
        adapter.parse_webhook(
            name="", method="POST", headers=headers, body=delivered[0]["body"].encode()
        )
    assert exc.value.message == "Missing Noventiq signature header"


def test_no_secret_configured_refuses(sim, base_url, delivered):
    adapter = NoventiqAdapter(make_account(base_url, webhook_secret=""))
    with pytest.raises(WebhookRejected) as exc:
        adapter.parse_webhook(
            name="",
            method="POST",
            headers=delivered[0]["headers"],
            body=delivered[0]["body"].encode(),
        )
    assert exc.value.status == 403


def test_another_secret_rejects(sim, base_url, delivered):
    adapter = NoventiqAdapter(make_account(base_url, webhook_secret="other"))
    with pytest.raises(WebhookRejected):
        adapter.parse_webhook(
            name="",
            method="POST",
            headers=delivered[0]["headers"],
            body=delivered[0]["body"].encode(),
        )


def test_unknown_name_method_and_non_json_are_rejected(adapter):
    with pytest.raises(WebhookRejected) as exc:
        adapter.parse_webhook(name="orders", method="POST", headers={}, body=b"{}")
    assert exc.value.status == 404
    with pytest.raises(WebhookRejected) as exc:
        adapter.parse_webhook(name="", method="GET", headers={}, body=b"{}")
    assert exc.value.status == 405
    with pytest.raises(WebhookRejected) as exc:
        adapter.parse_webhook(name="", method="POST", headers={"signature": "ab"}, body=b"not json")
    assert exc.value.status == 400


def test_other_events_are_verified_and_ignored(adapter):
    from integrations.noventiq.webhooks import sign

    payload = {
        "event": "order.paid",
        "order_id": "700101",
        "create_date": "x",
        "payment": {"payment_method": "card"},
        "currency": "EUR",
        "customer": {"email": "a@b.c"},
    }
    body = json.dumps(payload).encode()
    message = adapter.parse_webhook(
        name="",
        method="POST",
        headers={"Signature": sign(payload, "demo-webhook-secret")},
        body=body,
    )
    assert message.topic == WebhookTopic.IGNORED
    assert message.order_external_number == "700101"
