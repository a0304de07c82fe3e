"""Shoplazza quirks, written once: our refund -> the refund record payload, Shoplazza's refund
statuses -> ours, and the error code table.

Sources: seed 004 ("Create Order's Refund Record", Shoplazza OpenAPI) and the `shoplazza` section
of shared/marketplaces.md. Where no public page shows a detail, it is marked *gap* and the
sandbox follows the same inference.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from integrations.base import RefundData

PERMANENT = "permanent"
TRANSIENT = "transient"

API_VERSIONS = ("2025-06", "2026-01")
DEFAULT_API_VERSION = "2026-01"

# refund_item_type: 2025-06 takes the integers, 2026-01 also the words (seed 004 table
# "refund_item_type Field"; the words per marketplaces.md).
ITEM_TYPE_AUTO, ITEM_TYPE_SHIPPED, ITEM_TYPE_WAITING_SHIP = 0, 1, 2
ITEM_TYPE_WORDS = {
    ITEM_TYPE_AUTO: "auto",
    ITEM_TYPE_SHIPPED: "shipped",
    ITEM_TYPE_WAITING_SHIP: "waiting_ship",
}

# Shoplazza has no idempotency header: our key rides at the end of the refund note, and before
# creating we look for a refund record already carrying it.
KEY_MARKER = re.compile(r"\[RD-(?P<key>[^\[\]]+)\]\s*$")
NOTE_MAX_LENGTH = 255  # gap: the seed gives no limit; we stay short to be safe


def key_marker(idempotency_key: str) -> str:
    return f"[RD-{idempotency_key}]"


def key_from_note(note: str | None) -> str:
    match = KEY_MARKER.search(note or "")
    return match["key"] if match else ""


ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK"})


def money(amount: Decimal, currency: str = "USD") -> str:
    """Shoplazza amounts are decimal strings ("100.00"), in the currency's minor unit."""
    exponent = Decimal("1") if currency.upper() in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return format(amount.quantize(exponent, rounding=ROUND_HALF_UP), "f")


def _item_type(code: int, api_version: str) -> int | str:
    return code if api_version == "2025-06" else ITEM_TYPE_WORDS[code]


def refund_line_items(refund: RefundData, api_version: str) -> list[dict]:
    """One entry per refund type for each of our lines. When we know how many units were shipped,
    say explicitly which units are refunded (unshipped first, like Shoplazza's own automatic
    mode); otherwise let Shoplazza choose (auto). 0/auto is never mixed with 1/2 on one line."""
    items: list[dict] = []
    for line in refund.lines:
        if line.quantity <= 0:
            continue
        base = {"line_item_id": line.order_line_external_id, "return_inventory": line.restock}
        if line.ordered_quantity <= 0:
            items.append(
                {
                    **base,
                    "quantity": line.quantity,
                    "refund_item_type": _item_type(ITEM_TYPE_AUTO, api_version),
                }
            )
            continue
        unshipped = max(line.ordered_quantity - line.fulfilled_quantity, 0)
        waiting = min(line.quantity, unshipped)
        shipped = line.quantity - waiting
        if waiting:
            items.append(
                {
                    **base,
                    "quantity": waiting,
                    "refund_item_type": _item_type(ITEM_TYPE_WAITING_SHIP, api_version),
                }
            )
        if shipped:
            items.append(
                {
                    **base,
                    "quantity": shipped,
                    "refund_item_type": _item_type(ITEM_TYPE_SHIPPED, api_version),
                }
            )
    return items


def refund_note(refund: RefundData) -> str:
    marker = key_marker(refund.idempotency_key)
    text = " ".join(
        part for part in (refund.reason_code, refund.customer_explanation.strip()) if part
    )
    room = NOTE_MAX_LENGTH - len(marker) - 1
    text = text[:room].strip()
    return f"{text} {marker}" if text else marker


def refund_payload(refund: RefundData, api_version: str = DEFAULT_API_VERSION) -> dict:
    """Body of POST /orders/{order_id}/refund (seed 004): {"refund": {...}}."""
    cur = refund.currency
    body: dict = {
        "refund_total": money(refund.total, cur),
        "refund_shipping_total": money(refund.shipping_amount, cur),
        "refund_additional_total": money(refund.additional_amount, cur),
        "note": refund_note(refund),
    }
    # Shoplazza checks that the parts add up to the total; when ours do not (a custom amount),
    # leave the product part to Shoplazza.
    if refund.lines_amount + refund.shipping_amount + refund.additional_amount == refund.total:
        body["refund_product_total"] = money(refund.lines_amount, cur)
    items = refund_line_items(refund, api_version)
    if items:
        body["refund_line_items"] = items
    if refund.payments:
        body["refund_payments"] = [
            {"payment_line_id": p.payment_external_id, "refund_price": money(p.amount, cur)}
            for p in refund.payments
        ]
    if refund.additional_amount > 0:
        body["refund_additional_prices"] = [
            {"name": "Additional charges", "price": money(refund.additional_amount, cur)}
        ]
    return {"refund": body}


# Refund record `refund_status` (marketplaces.md, "Query GET /orders/{order_id}/refund") -> our
# status vocabulary (refunds.states values).
STATUS_MAP = {
    "pending": "PROCESSING",
    "finished": "ISSUED",
    "failed": "DENIED",
}


def our_status(refund_status: str) -> str:
    return STATUS_MAP.get((refund_status or "").lower(), "PROCESSING")


# Error codes. Documentation: seed 004 "Create Order's Refund Record", section "Error Response"
# ({"code": "InvalidParameter", "message"}) and marketplaces.md `shoplazza` (400 validation,
# 403 scope, 500 business rule, 429 over the leaky bucket). The OAuth token endpoint answers the
# OAuth 2 error names (RFC 6749 section 5.2). Codes for 401/403/404/429 and the business-rule 500
# are not spelled out anywhere public (gap): the sandbox uses exactly these.
ERROR_CODES: dict[str, tuple[str, str]] = {
    # OpenAPI, POST/GET /openapi/{version}/orders/{order_id}/refund
    "InvalidParameter": (
        PERMANENT,
        "Shoplazza refuses the refund as invalid; check the amounts, lines and payments",
    ),
    "Unauthorized": (
        PERMANENT,
        "Shoplazza refuses our access token; the app must be re-authorised in the store",
    ),
    "Forbidden": (
        PERMANENT,
        "The Shoplazza app lacks the write_order access scope; grant it in the store admin",
    ),
    "NotFound": (PERMANENT, "Shoplazza does not know this order (or this API version)"),
    "RefundFailed": (
        PERMANENT,
        "Shoplazza refuses the refund under its business rules (e.g. more than is refundable)",
    ),
    "TooManyRequests": (
        TRANSIENT,
        "Shoplazza's rate limit (2 requests per second per store) was exceeded; retrying later",
    ),
    # OAuth, POST /admin/oauth/token
    "invalid_request": (
        PERMANENT,
        "Shoplazza refuses the token request as incomplete; check the account's credentials",
    ),
    "invalid_client": (
        PERMANENT,
        "Shoplazza refuses the app's client id or client secret; check the account's credentials",
    ),
    "invalid_grant": (
        PERMANENT,
        "Shoplazza refuses the refresh token; the app must be re-authorised in the store",
    ),
    "unsupported_grant_type": (
        PERMANENT,
        "Shoplazza does not support this way of getting a token",
    ),
}

# How the transport (integrations.http) words the failures it maps for Shoplazza.
TRANSPORT_MESSAGES = {
    "timeout": "Shoplazza did not answer in time",
    "connection": "The connection to Shoplazza failed",
    "request": "Calling Shoplazza failed ({error}); retrying later",
    "rate_limited": ERROR_CODES["TooManyRequests"][1],
    "server_error": "Shoplazza is failing (HTTP {status}); retrying later",
}

# HTTP statuses whose body carries no known code.
STATUS_CODES = {
    400: "InvalidParameter",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    429: "TooManyRequests",
}


def classify(code: str) -> tuple[str, str] | None:
    return ERROR_CODES.get(code)
