"""Our refund <-> HepsiGlobal's shapes, statuses and error codes.

What the platform publishes (HepsiGlobal Marketplace API, https://5fw3cce26o.apidog.io, and
https://developers.hepsiglobal.com for the hosts). DOCS.md maps each item to the adapter, the
sandbox and the test that holds it.
- Create token, POST /v1/auth/token (api-9020670): JSON {"grant_type": "client_credentials",
  "client_id", "client_secret"}, "OAuth 2.0"; the answer's fields are not shown (A3).
- Create Refund, POST /v1/refunds (api-9796992, seed 000): `refund_number`, `order_number`,
  `refund_date` (ISO-8601 with offset), `items[]` of `order_item_number`, `quantity` (whole),
  `reason`, `amount` (a JSON number), `currency`, `customer_explanation`; 200
  {"request_id": "01J8ZCJEWZP8Q8HB5XZVCEWD1P"} (a ULID). "Created refund is final and can not
  be canceled"; asynchronous: "Result of the process will be notified over Create Refund
  Webhook via RequestId".
- Order cancel (canceled by seller), PUT {marketplace}/webhooks/order-cancel (api-9020680, seed
  001): {"cancel_id": 1078354, "order_number", "cancel_quantity": 1, "order_item_number",
  "reason": "out_of_stock"}, answered 200 {}; the text speaks of a `cancel_items` array (A7).
- Cancel order by marketplace, PUT /v1/orders/{order_number}/order_items/{order_item_number}
  (api-9020672): {"reason": "customer_demand"}; 200 {"data": {}, "message": ...}.
- Create Order, POST /v1/orders (api-9020671) and the Order / OrderItem schemas
  (schema-2810582, schema-2810585): `order_number`, `order_date`, `order_amount`, `currency`,
  items of `item_number` (= `order_item_number`), `sku`, `product_name`, `quantity`,
  `unit_product_price`, `total_amount`, `currency`; amounts "are expected to be in USD" (with
  `exchange_rate` and `original_*` fields otherwise).
- Hosts: production https://api.hepsiglobal.com, sandbox https://api-qa.hepsiglobal.com
  (developers.hepsiglobal.com, "Environments"); calls carry a Bearer token.

ASSUMPTIONS (what the pages leave open; the adapter and the sandbox follow them, nowhere else):
- A1 Webhook authentication: none is published. We recognise HepsiGlobal's calls by what can be
  set up at onboarding, per account (options["webhook_auth"]): "path_token" (default: the
  account's webhook secret in the base URL we give it), "basic", "ip_allowlist" (webhooks.py).
  Nothing unauthenticated is accepted; every acceptance is logged, every refusal too (intake).
- A2 Refund create result: its method and payload are not published. We take
  POST {marketplace}/webhooks/refund-create-result {"request_id", "refund_number",
  "order_number", "status": "success" | "failed", "errors": [text]}, answered 200 {}; success
  is ISSUED (the refund is final), failed is DENIED with the errors for the staff (STATUS_MAP).
  Only `request_id` is required ("via RequestId"); the status is read without regard to case.
- A3 Token answer: OAuth 2.0 {"access_token", "token_type": "Bearer", "expires_in"}.
- A4 Error envelope and codes: {"data": {"error_code", "errors"?}, "message"} with HTTP 4xx/5xx
  (the success envelope {"data", "message"} is published; ERROR_CODES are ours).
- A5 Reasons: the page shows `incorrect_order` and `incompatibility_issues`; the rest of
  HEPSIGLOBAL_REASONS is a guess in the same style.
- A6 `refund_number` is unique: the same number with the same content answers the first
  request_id and creates nothing; with another content, 409 refund_number_conflict.
- A7 `cancel_items`: an array of items shaped as the flat example, any missing field taken from
  the body; one event of one order covering every line (webhooks.parse_order_cancel).
- A8 A refund's `currency` is the order's as HepsiGlobal holds it (USD for its orders).
- A9 No refund status or list call is published: after an unknown outcome a person checks on
  HepsiGlobal (capabilities refund_lookup False).
- A10 `customer_explanation` is kept to 500 characters (CUSTOMER_EXPLANATION_MAX), a bound of
  ours; the page gives none.
- A11 `items[].amount` is the money for the item's `quantity` units (our refund line's amount),
  not a unit price: the published example has quantity 1, where both readings agree.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from integrations.base import RefundData

# --- reasons ---------------------------------------------------------------------------------
# Seed 000 shows `incorrect_order` and `incompatibility_issues`; the rest is ASSUMPTION A5.
HEPSIGLOBAL_REASONS = frozenset(
    {
        "incorrect_order",
        "incompatibility_issues",
        "damaged_product",
        "defective_product",
        "not_as_described",
        "changed_mind",
        "late_delivery",
        "not_delivered",
        "out_of_stock",
        "other",
    }
)

# Our refunds.models.ReasonCode value -> HepsiGlobal `reason`.
REASON_MAP = {
    "damaged": "damaged_product",
    "defective": "defective_product",
    "incorrect_order": "incorrect_order",
    "incompatibility_issues": "incompatibility_issues",
    "not_as_described": "not_as_described",
    "changed_mind": "changed_mind",
    "late_delivery": "late_delivery",
    "not_received": "not_delivered",
    "out_of_stock": "out_of_stock",
    "other": "other",
}

CUSTOMER_EXPLANATION_MAX = 500

# --- statuses --------------------------------------------------------------------------------
# refund-create-result webhook `status` (ASSUMPTION A2) -> refunds.states values. A created
# HepsiGlobal refund is final (seed 000), so `success` means the money goes back: ISSUED.
STATUS_MAP = {
    "success": "ISSUED",
    "failed": "DENIED",
}

# --- errors ----------------------------------------------------------------------------------
# ASSUMPTION A4: the envelope {"data": ..., "message": "..."} with HTTP 4xx/5xx; we read the
# code from data.error_code; the sandbox answers with these codes for the inputs named beside
# them.
PERMANENT = "permanent"
TRANSIENT = "transient"

ERROR_CODES: dict[str, tuple[str, str]] = {
    # POST /v1/auth/token
    "unsupported_grant_type": (  # 400: grant_type is not client_credentials
        PERMANENT,
        "HepsiGlobal refuses the token request: grant type must be client_credentials.",
    ),
    "invalid_client": (  # 401: unknown client_id or wrong client_secret
        PERMANENT,
        "HepsiGlobal refuses our client id or secret: check the marketplace account's credentials.",
    ),
    # Any /v1 call
    "missing_token": (  # 401: no Authorization: Bearer header
        PERMANENT,
        "HepsiGlobal refuses the call: no access token was sent.",
    ),
    "invalid_token": (  # 401: a token HepsiGlobal never issued
        PERMANENT,
        "HepsiGlobal refuses our access token even after renewing it: check the account's "
        "credentials.",
    ),
    "token_expired": (  # 401: the token's lifetime is over; the client renews once
        TRANSIENT,
        "HepsiGlobal's access token expired; a new one will be requested.",
    ),
    "invalid_json": (  # 400: the body is not a JSON object
        PERMANENT,
        "HepsiGlobal could not read the request (invalid JSON).",
    ),
    "validation_error": (  # 400: a field is missing or malformed (data.errors lists them)
        PERMANENT,
        "HepsiGlobal refuses the refund: some fields are missing or invalid.",
    ),
    # POST /v1/refunds
    "invalid_reason": (  # 400: items[].reason is not one of HepsiGlobal's reason codes
        PERMANENT,
        "HepsiGlobal does not accept this refund reason.",
    ),
    "order_not_found": (  # 404: order_number unknown to HepsiGlobal
        PERMANENT,
        "HepsiGlobal does not know this order number.",
    ),
    "order_item_not_found": (  # 404: an order_item_number is not a line of the order
        PERMANENT,
        "HepsiGlobal does not know one of the order lines of this refund.",
    ),
    "currency_mismatch": (  # 422: items[].currency differs from the order's currency
        PERMANENT,
        "HepsiGlobal refuses the refund: its currency differs from the order's currency.",
    ),
    "refund_number_conflict": (  # 409: refund_number reused with a different content
        PERMANENT,
        "HepsiGlobal already holds a different refund under this refund number.",
    ),
    "too_many_requests": (  # 429, with Retry-After
        TRANSIENT,
        "HepsiGlobal is rate limiting us; the call will be retried.",
    ),
    "internal_error": (  # 500
        TRANSIENT,
        "HepsiGlobal had an internal error; the call will be retried.",
    ),
    "service_unavailable": (  # 503
        TRANSIENT,
        "HepsiGlobal is unavailable; the call will be retried.",
    ),
}

# Asynchronous failures, reported in the refund-create-result webhook's `errors` (ASSUMPTION A2:
# the webhook carries messages only; the sandbox prefixes each with its code and a colon).
RESULT_ERROR_CODES: dict[str, str] = {
    "quantity_exceeds_refundable": "HepsiGlobal refused the refund: more units than can still "
    "be refunded on an order line.",
    "amount_exceeds_refundable": "HepsiGlobal refused the refund: more money than can still be "
    "refunded on an order line.",
    "order_cancelled": "HepsiGlobal refused the refund: the order line was cancelled.",
}


# How the transport (integrations.http) words the failures it maps for HepsiGlobal.
TRANSPORT_MESSAGES = {
    "rate_limited": "HepsiGlobal answered HTTP {status}; the call will be retried.",
    "server_error": "HepsiGlobal answered HTTP {status}; the call will be retried.",
}


def classify(code: str, status: int) -> tuple[str, str] | None:
    """(permanent|transient, staff message) for an error code, falling back on the HTTP status
    when the answer carries no code we know. None for a 429 or 5xx that carries no business
    code (its own transient codes included: too_many_requests, internal_error...): the
    transport's rate_limited / server_error, with Retry-After."""
    known = ERROR_CODES.get(code)
    transport_status = status == 429 or status >= 500
    if known is not None and not (known[0] == TRANSIENT and transport_status):
        return known
    if transport_status:
        return None
    return PERMANENT, f"HepsiGlobal refused the call (HTTP {status})."


def error_details(body: Any) -> tuple[str, str, Any]:
    """(code, platform message, field errors) from the error envelope."""
    if not isinstance(body, dict):
        return "", "", None
    data = body.get("data")
    code = data.get("error_code", "") if isinstance(data, dict) else ""
    fields = data.get("errors") if isinstance(data, dict) else None
    return str(code or ""), str(body.get("message") or ""), fields


def staff_message(code: str, status: int, body: Any) -> tuple[str, str] | None:
    found = classify(code, status)
    if found is None:
        return None
    kind, message = found
    _, platform_message, fields = error_details(body)
    details = []
    if platform_message:
        details.append(platform_message)
    if isinstance(fields, dict) and fields:
        details.append(", ".join(f"{k}: {v}" for k, v in sorted(fields.items())))
    if details:
        message = f"{message} ({'; '.join(details)})"
    return kind, message


# --- our refund -> their payload -------------------------------------------------------------


class MappingError(ValueError):
    """Our refund cannot be expressed in HepsiGlobal's API (a permanent problem)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.message = message
        self.code = code


def refund_date(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat(timespec="seconds")


def refund_payload(refund: RefundData) -> dict:
    """POST /v1/refunds body (seed 000). `refund_number` is our idempotency key: HepsiGlobal
    treats it as unique, so a retry can never create a second refund."""
    if refund.shipping_amount or refund.additional_amount:
        raise MappingError(
            "HepsiGlobal refunds order items only: shipping and other charges cannot be "
            "refunded through it. Refund them outside HepsiGlobal and remove them here.",
            code="shipping_not_refundable",
        )
    if not refund.lines:
        raise MappingError(
            "HepsiGlobal refunds order items only: this refund has no order lines.",
            code="no_lines",
        )
    reason = REASON_MAP.get(refund.reason_code, "other")
    items = []
    for line in refund.lines:
        if line.quantity < 1:
            raise MappingError(
                f"HepsiGlobal refunds whole units: line {line.order_line_external_id} has no "
                "quantity.",
                code="no_quantity",
            )
        items.append(
            {
                "order_item_number": line.order_line_external_id,
                "quantity": int(line.quantity),
                "reason": reason,
                "amount": Decimal(line.amount),
                "currency": refund.currency,
                "customer_explanation": refund.customer_explanation[:CUSTOMER_EXPLANATION_MAX],
            }
        )
    return {
        "refund_number": refund.idempotency_key,
        "order_number": refund.order_external_number,
        "refund_date": refund_date(refund.requested_at),
        "items": items,
    }


_DECIMAL_MARK = re.compile(r'"\\u0000dec:(-?[0-9]+(?:\.[0-9]+)?)"')


def dumps(payload: Any) -> bytes:
    """JSON with Decimal amounts written as exact JSON numbers (never through float)."""

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            return "\u0000dec:" + format(value, "f")
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    text = json.dumps(payload, default=encode)
    return _DECIMAL_MARK.sub(r"\1", text).encode()
