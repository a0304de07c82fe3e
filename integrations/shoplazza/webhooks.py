"""Shoplazza webhooks: verify the signature, then parse.

Shoplazza signs each delivery with `X-Shoplazza-Hmac-Sha256`: the base64 HMAC-SHA256 of the raw
body keyed with the app's Client Secret (mapping [P8]: Webhook, "Verify a webhook"; HMAC Signature
Verification, "Webhook delivery"). Other headers [P8]: `X-Shoplazza-Topic`,
`X-Shoplazza-Shop-Domain`, `X-Shoplazza-Api-Version` and `X-Shoplazza-Deduplication-ID` ("unique
ID for webhook event", the same on each of the 19 attempts over two days), our delivery key.

Refund topic: none is published (mapping ASSUMPTIONS A3): `refunds/create` / `refunds/update`
with the refund record [P4] as the body; any other topic is stored and ignored.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

from integrations import jsontext
from integrations.base import WebhookMessage, WebhookRejected, WebhookTopic

from . import mapping

REFUND_TOPICS = frozenset({"refunds/update", "refunds/create"})


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _header(headers: Mapping[str, str], name: str) -> str:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return str(value)
    return ""


def verify(*, secret: str, headers: Mapping[str, str], body: bytes) -> None:
    if not secret:
        raise WebhookRejected(
            "The Shoplazza account has no client secret, which signs its webhooks"
        )
    given = _header(headers, "X-Shoplazza-Hmac-Sha256").strip()
    if not given:
        raise WebhookRejected("The X-Shoplazza-Hmac-Sha256 signature is missing")
    if not hmac.compare_digest(given.encode(), sign(secret, body).encode()):
        raise WebhookRejected("The X-Shoplazza-Hmac-Sha256 signature does not match")


def _when(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def _message(refund_status: str) -> str:
    if refund_status == "failed":
        return "Shoplazza could not pay the refund back (the refund record failed)"
    if refund_status == "finished":
        return "Shoplazza finished the refund."
    return f"Shoplazza refund record is {refund_status}"


def parse_refund_webhook(
    *, secret: str, headers: Mapping[str, str], body: bytes, verified: bool = False
) -> WebhookMessage:
    """Verify, then parse; `verified`: the event was verified when it arrived (its stored
    headers no longer hold the signature): parse only."""
    if not verified:
        verify(secret=secret, headers=headers, body=body)
    delivery_key = _header(headers, "X-Shoplazza-Deduplication-ID").strip()
    if not delivery_key:
        raise WebhookRejected("The X-Shoplazza-Deduplication-ID header is missing", status=400)
    try:
        payload = jsontext.loads(body)
    except jsontext.JSONTooDeep as exc:
        raise WebhookRejected(f"The webhook body is refused: {exc}", status=400) from None
    except ValueError:  # not UTF-8, not JSON
        raise WebhookRejected("The webhook body is not JSON", status=400) from None
    if not isinstance(payload, dict):
        raise WebhookRejected("The webhook body is not a JSON object", status=400)
    payload = jsontext.storable(payload)
    topic = _header(headers, "X-Shoplazza-Topic").strip()
    if topic not in REFUND_TOPICS:
        return WebhookMessage(
            delivery_key=delivery_key,
            topic=WebhookTopic.IGNORED,
            message=f"Shoplazza topic {topic or '(none)'}",
            payload=payload,
        )
    refund_status = mapping.record_status(payload)
    status = mapping.our_status(refund_status)
    key = mapping.key_from_note(payload.get("note"))
    return WebhookMessage(
        delivery_key=delivery_key,
        topic=WebhookTopic.REFUND_RESULT if key else WebhookTopic.REFUND_STATUS,
        order_external_number=str(payload.get("order_id") or ""),
        external_id=str(payload.get("id") or ""),
        idempotency_key=key,
        status=status,
        message=_message(refund_status),
        occurred_at=_when(payload.get("updated_at")),
        payload=payload,
    )
