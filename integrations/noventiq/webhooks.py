"""Noventiq's optional webhooks, as Noventiq Checkout's "Webhook examples" page publishes them
(docs.noventiq.com/checkout/webhooks-examples): a JSON POST (content-type application/json) with
a `signature` header, the SHA-512 hex digest of
`[secret key];[event];[order_id];[create_date];[payment_method];[currency];[customer.email]`,
where `payment_method` is the nested `payment.payment_method` and `order_id` a number (written as
JSON writes it: 5555555). The page's example (secret "secret_key", event order.created) gives
1d0e480e...918d; tests/integrations/noventiq/test_webhooks.py verifies it. The refund event is
`product.returned` ("Refund product (including when chargeback)", "Event reference for
webhooks"), one delivery per product.

Noventiq sends no delivery id, so the delivery key is a digest of the raw body: a repeated
delivery of the same body is the same delivery (and is stored once); another product or another
event is another body.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping

from integrations import jsontext
from integrations.base import WebhookMessage, WebhookRejected, WebhookTopic

SIGNATURE_HEADER = "signature"
REFUND_EVENT = "product.returned"


def _text(value) -> str:
    return "" if value is None else str(value)


def signature_base(payload: Mapping) -> list[str]:
    """The template's fields after the secret, read where the page puts them."""
    customer = payload.get("customer")
    email = customer.get("email") if isinstance(customer, Mapping) else None
    payment = payload.get("payment")
    method = payment.get("payment_method") if isinstance(payment, Mapping) else None
    return [
        _text(payload.get("event")),
        _text(payload.get("order_id")),
        _text(payload.get("create_date")),
        _text(method),
        _text(payload.get("currency")),
        _text(email),
    ]


def sign(payload: Mapping, secret: str) -> str:
    text = ";".join([secret, *signature_base(payload)])
    # surrogatepass: a field holding an unpaired surrogate (a `\ud800` escape) is signed, not
    # a crash; the value is made storable after verification.
    return hashlib.sha512(text.encode("utf-8", "surrogatepass")).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def _when(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def verify_and_parse(
    *, secret: str, headers: Mapping[str, str], body: bytes, verified: bool = False
) -> WebhookMessage:
    """Verify, then parse. The signature is over fields of the body, so the body is parsed
    first, with a bounded depth. `verified`: the event was verified when it arrived (its stored
    headers no longer hold the signature): parse only."""
    if not verified:
        if not secret:
            raise WebhookRejected(
                "No Noventiq webhook secret is configured for this account", status=403
            )
        given = _header(headers, SIGNATURE_HEADER).strip().lower()
        if not given:
            raise WebhookRejected("Missing Noventiq signature header")
    try:
        payload = jsontext.loads(body)
    except jsontext.JSONTooDeep as exc:
        raise WebhookRejected(f"The Noventiq webhook body is refused: {exc}", status=400) from None
    except ValueError:  # not UTF-8, not JSON
        raise WebhookRejected("The Noventiq webhook body is not JSON", status=400) from None
    if not isinstance(payload, dict):
        raise WebhookRejected("The Noventiq webhook body is not a JSON object", status=400)
    if not verified and not hmac.compare_digest(given.encode(), sign(payload, secret).encode()):
        raise WebhookRejected("Wrong Noventiq signature")
    payload = jsontext.storable(payload)

    event = str(payload.get("event", ""))
    delivery_key = f"noventiq:{hashlib.sha256(body).hexdigest()}"
    order_id = str(payload.get("order_id", ""))
    if event != REFUND_EVENT:
        return WebhookMessage(
            delivery_key=delivery_key,
            topic=WebhookTopic.IGNORED,
            order_external_number=order_id,
            payload=payload,
        )
    product = payload.get("product") or {}
    if not isinstance(product, Mapping):
        product = {}
    try:
        quantity = int(product.get("quantity") or 0)
    except (TypeError, ValueError):
        quantity = 0
    return WebhookMessage(
        delivery_key=delivery_key,
        topic=WebhookTopic.REFUND_RESULT,
        order_external_number=order_id,
        status="ISSUED",
        message=f"Noventiq reports product {product.get('sku') or product.get('id', '')} returned",
        order_line_external_id=str(product.get("id", "")),
        quantity=quantity,
        occurred_at=_when(payload.get("event_date")),
        payload=payload,
    )
