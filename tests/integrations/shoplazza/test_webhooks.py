"""Shoplazza webhooks: the sandbox's signed deliveries verify and parse; anything else is
refused with WebhookRejected."""

from __future__ import annotations

import json

import pytest

from integrations.base import WebhookRejected, WebhookTopic
from integrations.shoplazza.webhooks import sign
from tests.integrations.shoplazza.conftest import (
    ORDER_ID,
    control,
    make_adapter,
    refund,
    sent_webhooks,
)

# Shoplazza signs webhooks with the app's Client Secret (mapping [P8]); the demo app's.
DEMO_SECRET = "demo-secret"


def _delivered(base_url: str, api: str) -> tuple[dict, str]:
    """Create a refund, finish it in the sandbox and return the webhook it sent."""
    created = make_adapter(api).create_refund(refund())
    control(base_url, "POST", "advance")
    [hook] = sent_webhooks(base_url, 1)
    return hook, created.external_id


def test_sandbox_webhook_is_sent_to_our_endpoint_with_shoplazza_headers(sim, api, base_url):
    hook, _ = _delivered(base_url, api)

    assert hook["method"] == "POST"
    assert hook["url"] == f"{base_url}/_sink/shoplazza/webhooks"
    assert hook["headers"]["X-Shoplazza-Topic"] == "refunds/update"
    assert hook["headers"]["X-Shoplazza-Shop-Domain"] == "demo.myshoplaza.com"
    assert hook["headers"]["X-Shoplazza-Api-Version"] == "2026-01"
    assert len(hook["headers"]["X-Shoplazza-Deduplication-ID"]) == 36
    assert hook["headers"]["X-Shoplazza-Hmac-Sha256"] == sign(DEMO_SECRET, hook["body"].encode())


def test_signed_sandbox_webhook_verifies_and_parses(sim, api, base_url):
    hook, external_id = _delivered(base_url, api)

    message = make_adapter(api).parse_webhook(
        name="", method="POST", headers=hook["headers"], body=hook["body"].encode()
    )

    assert message.delivery_key == hook["headers"]["X-Shoplazza-Deduplication-ID"]
    assert message.topic == WebhookTopic.REFUND_RESULT
    assert message.order_external_number == ORDER_ID
    assert message.external_id == external_id
    assert message.idempotency_key == "rd-1-create"
    assert message.status == "ISSUED"
    assert message.occurred_at is not None


def test_failed_refund_webhook_parses_as_denied(sim, api, base_url):
    control(base_url, "PUT", "config", {"fail_orders": [ORDER_ID]})
    hook, _ = _delivered(base_url, api)

    message = make_adapter(api).parse_webhook(
        name="", method="POST", headers=hook["headers"], body=hook["body"].encode()
    )

    assert message.status == "DENIED"
    assert message.message == "Shoplazza could not pay the refund back (the refund record failed)"
    assert message.payload["refund_status"] == "failed"


def test_the_app_client_secret_signs_the_deliveries_not_a_webhook_secret(sim, api, base_url):
    created = make_adapter(api).create_refund(refund())
    control(base_url, "PUT", "config", {"client_secret": "rotated"})
    control(base_url, "POST", "advance")
    [hook] = sent_webhooks(base_url, 1)
    headers, body = hook["headers"], hook["body"].encode()
    rotated = {"client_id": "demo", "client_secret": "rotated", "refresh_token": "x"}

    with pytest.raises(WebhookRejected):
        make_adapter(api, webhook_secret="rotated").parse_webhook(
            name="", method="POST", headers=headers, body=body
        )
    message = make_adapter(api, credentials=rotated, webhook_secret="").parse_webhook(
        name="", method="POST", headers=headers, body=body
    )
    assert (message.status, message.external_id) == ("ISSUED", created.external_id)
    assert make_adapter(api, credentials=rotated, webhook_secret="").webhooks_configured()


def _headers(body: bytes, secret: str = DEMO_SECRET, **changes) -> dict:
    headers = {
        "X-Shoplazza-Topic": "refunds/update",
        "X-Shoplazza-Hmac-Sha256": sign(secret, body),
        "X-Shoplazza-Shop-Domain": "demo.myshoplaza.com",
        "X-Shoplazza-Api-Version": "2026-01",
        "X-Shoplazza-Deduplication-ID": "dedup-1",
    }
    headers.update(changes)
    return {k: v for k, v in headers.items() if v is not None}


BODY = json.dumps(
    {"id": "rf_1", "order_id": "SL-1", "refund_status": "finished", "note": "x [RD-k1]"}
).encode()


def test_wrong_signature_is_rejected(api):
    adapter = make_adapter(api)

    with pytest.raises(WebhookRejected) as caught:
        adapter.parse_webhook(
            name="", method="POST", headers=_headers(BODY, secret="someone-else"), body=BODY
        )

    assert caught.value.status == 401
    assert caught.value.message == "The X-Shoplazza-Hmac-Sha256 signature does not match"


def test_tampered_body_is_rejected(api):
    tampered = BODY.replace(b"finished", b"failed")

    with pytest.raises(WebhookRejected) as caught:
        make_adapter(api).parse_webhook(
            name="", method="POST", headers=_headers(BODY), body=tampered
        )

    assert caught.value.message == "The X-Shoplazza-Hmac-Sha256 signature does not match"


def test_missing_signature_is_rejected(api):
    with pytest.raises(WebhookRejected) as caught:
        make_adapter(api).parse_webhook(
            name="",
            method="POST",
            headers=_headers(BODY, **{"X-Shoplazza-Hmac-Sha256": None}),
            body=BODY,
        )

    assert caught.value.status == 401
    assert caught.value.message == "The X-Shoplazza-Hmac-Sha256 signature is missing"


def test_no_client_secret_refuses_everything(api):
    no_secret = {"client_id": "demo", "refresh_token": "x"}
    adapter = make_adapter(api, credentials=no_secret)

    with pytest.raises(WebhookRejected) as caught:
        adapter.parse_webhook(name="", method="POST", headers=_headers(BODY, secret=""), body=BODY)

    assert caught.value.status == 401
    assert caught.value.message == (
        "The Shoplazza account has no client secret, which signs its webhooks"
    )
    assert adapter.webhooks_configured() is False


def test_missing_deduplication_id_is_rejected(api):
    with pytest.raises(WebhookRejected) as caught:
        make_adapter(api).parse_webhook(
            name="",
            method="POST",
            headers=_headers(BODY, **{"X-Shoplazza-Deduplication-ID": None}),
            body=BODY,
        )

    assert caught.value.status == 400


def test_unknown_name_and_method_are_rejected(api):
    adapter = make_adapter(api)

    with pytest.raises(WebhookRejected) as unknown:
        adapter.parse_webhook(name="refunds", method="POST", headers=_headers(BODY), body=BODY)
    with pytest.raises(WebhookRejected) as wrong_method:
        adapter.parse_webhook(name="", method="GET", headers=_headers(BODY), body=BODY)

    assert unknown.value.status == 404
    assert wrong_method.value.status == 405


def test_signed_non_json_body_is_rejected(api):
    body = b"not json"

    with pytest.raises(WebhookRejected) as caught:
        make_adapter(api).parse_webhook(name="", method="POST", headers=_headers(body), body=body)

    assert caught.value.status == 400


def test_other_topics_are_verified_then_ignored(api):
    body = b'{"id": "o1"}'

    message = make_adapter(api).parse_webhook(
        name="",
        method="POST",
        headers=_headers(body, **{"X-Shoplazza-Topic": "orders/create"}),
        body=body,
    )

    assert message.topic == WebhookTopic.IGNORED
    assert message.delivery_key == "dedup-1"


def test_header_names_are_matched_without_regard_to_case(api):
    headers = {k.lower(): v for k, v in _headers(BODY).items()}

    message = make_adapter(api).parse_webhook(name="", method="POST", headers=headers, body=BODY)

    assert message.external_id == "rf_1"
    assert message.idempotency_key == "k1"
    assert message.topic == WebhookTopic.REFUND_RESULT
