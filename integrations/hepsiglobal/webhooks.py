"""HepsiGlobal's calls into our "Webhooks Integration API": verification, then parsing.

How HepsiGlobal authenticates these calls is not public (gap, marketplaces.md): we require the
marketplace account's shared webhook secret, sent either as `Authorization: Bearer <secret>` or
as `X-HepsiGlobal-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed with the secret>`.
Anything else is refused with 401, and nothing is accepted when no secret is configured.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from integrations import jsontext
from integrations.base import WebhookMessage, WebhookRejected, WebhookTopic

from .mapping import RESULT_ERROR_CODES, STATUS_MAP

SIGNATURE_HEADER = "X-HepsiGlobal-Signature"

REFUND_CREATE_RESULT = "refund-create-result"
ORDER_CANCEL = "order-cancel"
ENDPOINTS = {REFUND_CREATE_RESULT: ("POST",), ORDER_CANCEL: ("PUT",)}


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value or ""
    return ""


def verify(*, secret: str, headers: Mapping[str, str], body: bytes) -> None:
    if not secret:
        raise WebhookRejected("No webhook secret is configured for this HepsiGlobal account.")
    signature = _header(headers, SIGNATURE_HEADER)
    if signature:
        if hmac.compare_digest(signature.encode(), sign(secret, body).encode()):
            return
        raise WebhookRejected("The HepsiGlobal webhook signature does not match.")
    authorization = _header(headers, "Authorization")
    if authorization:
        if hmac.compare_digest(authorization.encode(), f"Bearer {secret}".encode()):
            return
        raise WebhookRejected("The HepsiGlobal webhook credentials do not match.")
    raise WebhookRejected("The HepsiGlobal webhook carries no signature or credentials.")


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = jsontext.loads(body)
    except jsontext.JSONTooDeep as exc:
        raise WebhookRejected(
            f"The HepsiGlobal webhook body is refused: {exc}.", status=400
        ) from None
    except ValueError:  # not UTF-8, not JSON
        raise WebhookRejected("The HepsiGlobal webhook body is not JSON.", status=400) from None
    if not isinstance(data, dict):
        raise WebhookRejected("The HepsiGlobal webhook body is not a JSON object.", status=400)
    return jsontext.storable(data)


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise WebhookRejected(f"The HepsiGlobal webhook lacks {key}.", status=400)
    return str(value)


def _result_message(errors: list) -> str:
    messages = []
    for error in errors:
        text = str(error)
        code, _, rest = text.partition(":")
        if code in RESULT_ERROR_CODES:
            messages.append(f"{RESULT_ERROR_CODES[code]} ({rest.strip()})")
        else:
            messages.append(f"HepsiGlobal refused the refund: {text}")
    return " ".join(messages)


def parse_refund_create_result(data: dict) -> WebhookMessage:
    request_id = _text(data, "request_id")
    refund_number = _text(data, "refund_number")
    status = data.get("status")
    if status not in STATUS_MAP:
        raise WebhookRejected(
            "The HepsiGlobal webhook status is not success or failed.", status=400
        )
    errors = data.get("errors") or []
    if not isinstance(errors, list):
        raise WebhookRejected("The HepsiGlobal webhook errors are not a list.", status=400)
    return WebhookMessage(
        delivery_key=f"refund-create-result:{request_id}",
        topic=WebhookTopic.REFUND_RESULT,
        order_external_number=str(data.get("order_number") or ""),
        external_id=refund_number,
        external_request_id=request_id,
        idempotency_key=refund_number,
        status=STATUS_MAP[status],
        message=_result_message(errors)
        if status == "failed"
        else "HepsiGlobal created the refund.",
        payload=data,
    )


def parse_order_cancel(data: dict) -> WebhookMessage:
    cancel_id = _text(data, "cancel_id")
    quantity = data.get("cancel_quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise WebhookRejected("The HepsiGlobal webhook cancel_quantity is not a count.", status=400)
    reason = str(data.get("reason") or "")
    return WebhookMessage(
        delivery_key=f"order-cancel:{cancel_id}",
        topic=WebhookTopic.ORDER_CANCEL,
        order_external_number=_text(data, "order_number"),
        order_line_external_id=_text(data, "order_item_number"),
        quantity=quantity,
        reason=reason,
        message=(
            f"The seller cancelled {quantity} unit(s) on HepsiGlobal ({reason or 'no reason'})."
        ),
        payload=data,
    )


def parse(
    *,
    secret: str,
    name: str,
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    verified: bool = False,
) -> WebhookMessage:
    """Verify, then parse; `verified`: the event was verified when it arrived (its stored
    headers no longer hold the credentials): parse only."""
    if name not in ENDPOINTS:
        raise WebhookRejected(f"No HepsiGlobal webhook is called {name!r}.", status=404)
    if method.upper() not in ENDPOINTS[name]:
        raise WebhookRejected(
            f"HepsiGlobal's {name} webhook is not sent with {method}.", status=405
        )
    if not verified:
        verify(secret=secret, headers=headers, body=body)
    data = _object(body)
    if name == REFUND_CREATE_RESULT:
        return parse_refund_create_result(data)
    return parse_order_cancel(data)
