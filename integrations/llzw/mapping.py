"""LLZW shop REST API v2: our refund <-> the shop's refund, and the shop's error types.

What the platform publishes (the pages this package is written from; DOCS.md has the table
documented item -> adapter -> sandbox -> test):
- Seed 003 (/work/shared/seeds/003_*.txt), the shop's "Refunds" reference: the Refund entity
  (id, order, createdAt, updatedAt, requester, requestReason, responseReason, confirmedAt,
  issuedAt, amount, status, trackingId, carrierName, refundOnly, valid) and its example JSON;
  `GET /api/v2/refunds` (page from 0, size default 20, orderId, status, valid; SELLER or
  CUSTOMER; "the requested orderId must belong to you"); `GET /api/v2/refunds/<ID>`;
  `POST /api/v2/refunds` (orderId Integer, reason String, amount Float, refundOnly Boolean, all
  required; SELLER or CUSTOMER); `PATCH /api/v2/refunds/<id>` with action `SHIP_INIT`,
  trackingId and carrierName (CUSTOMER only; only when refundOnly is false); `DELETE
  /api/v2/refunds/<ID>` (SELLER or CUSTOMER; only in PENDING, WAITING, REQUESTED).
  Nothing else: the seller's decisions (confirm, receive, issue, deny) are not in the API. They
  are made by the shop's own staff on the shop; Refund Desk learns them by polling the list.
- The LLZW API reference (github.com/YanzheL/llzw-docs, "Authentication" and "Generals"):
  `POST /login` with the form fields username and password sets the session cookie; every
  answer is the envelope {"responseId", "success", "data"} (its example spells "sucess").
- The platform's published source (github.com/YanzheL/llzw, api-gate message/RestApiResponse
  and message/error/*): the envelope also carries "timestamp" and "error": {"type", "message"};
  error types are "API." + API.INVALID_PARAMETER, API.OPERATION_UNSUPPORTED,
  API.REJECTED_BY_ENTITY, API.ENTITY_ALREADY_EXISTS (HTTP 400, the default status),
  API.ENTITY_NOT_FOUND and API.DEPENDENT_ENTITY_NOT_FOUND (404), API.SECURITY.ACCESS_DENIED
  (403), API.SECURITY.INVALID_CREDENTIAL, API.INTERNAL_SERVER_ERROR (500); a request without a
  session is answered 401 (security/RestAuthenticationEntryPoint).
- The LLZW API reference, "Orders": `GET /api/v1/orders/<ID>` answers id, quantity, createdAt,
  updatedAt, customer_id (the customer's username), address_id, stock_id, trackingId,
  carrierName; "Users": usernames match \\w+[\\w\\d]+. A price only through stock_id ->
  product_id -> the product's price ("Stocks", "Products"), and no currency, payment status or
  e-mail: an order a polled refund names that Refund Desk does not have cannot be mirrored
  (the orders service needs a currency and the customer's e-mail), so the adapter keeps
  the default `read_order` (None) and the poller logs the refund as for an unknown order.
- marketplaces.md § llzw and its "Known corrections" block (PATCH is SHIP_INIT only).

ASSUMPTIONS (what the pages do not say; the simulator follows the same ones):
- Idempotency: the shop has no idempotency key. We write ours into the refund's free-text
  `reason` (read back as `requestReason`) as the marker ``[RD:<key>]``; before creating, the
  adapter lists the order's refunds (`GET /api/v2/refunds?orderId=`) and looks for the marker,
  so a retry finds the refund it already made. That the shop keeps `reason` verbatim (no
  trimming, up to 255 characters) is an assumption: the docs give no length and no rule.
- A refund Refund Desk creates is sent with refundOnly true: Refund Desk creates it only once
  the refund is PROCESSING, i.e. the goods (if any) were already received and checked in Refund
  Desk, and the SELLER account could not enter a shipment anyway (SHIP_INIT is CUSTOMER only).
- `PENDING` is named once (the DELETE rule) but is not in the status enum: we read it as
  REQUESTED.
- The shop's order id is an Integer: in Refund Desk an LLZW order's external number is that id
  written in digits ("1001"). Amounts are JSON numbers ("Float"): they go out as the exact
  decimal text of a Decimal and are read back with `parse_float=Decimal`, never through float.
- Dates look like the example's "2019-10-1 3:00 PM GMT+1:00" (minute precision); ISO-8601 is
  read too.
- An error type we do not know, or a 4xx without an envelope, is permanent; a 5xx or 429
  without a known type is the transport's (transient).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from integrations.base import RefundData, RemoteRefund

# Seed 003, Refund entity `status`: shop status -> Refund Desk status (refunds.states values).
# The shop uses our vocabulary; `PENDING` (named only in the DELETE rule) is an assumption.
STATUSES = ("PROCESSING", "DENIED", "ISSUED", "CANCELLED", "REQUESTED", "WAITING")
# Seed 003, "Cancel a Specific Refund".
CANCELLABLE = ("PENDING", "WAITING", "REQUESTED")
STATUS_MAP: dict[str, str] = {
    "REQUESTED": "REQUESTED",
    "PENDING": "REQUESTED",
    "WAITING": "WAITING",
    "PROCESSING": "PROCESSING",
    "ISSUED": "ISSUED",
    "DENIED": "DENIED",
    "CANCELLED": "CANCELLED",
}

PERMANENT = "permanent"
TRANSIENT = "transient"

# How the transport (integrations.http) words the failures it maps for the shop.
TRANSPORT_MESSAGES = {
    "timeout": "LLZW did not answer in time ({error}).",
    "connection": "Could not reach LLZW ({error}).",
    "request": "LLZW call failed ({error}).",
    "rate_limited": "LLZW is rate limiting Refund Desk; it will be retried.",
    "server_error": "LLZW had a server error (HTTP {status}); it will be retried.",
}

# error.type -> (kind, message for staff). Types and HTTP statuses: the platform's source
# (github.com/YanzheL/llzw api-gate message/error/*, see the top of this module).
ERROR_CODES: dict[str, tuple[str, str]] = {
    "API.SECURITY.ACCESS_DENIED": (
        PERMANENT,
        "LLZW refuses: the shop login has no right to this order or action "
        "(it must be the shop's SELLER account).",
    ),
    "API.SECURITY.INVALID_CREDENTIAL": (
        PERMANENT,
        "LLZW refused the login: check the account's username and password.",
    ),
    "API.SECURITY": (
        PERMANENT,
        "LLZW refused the call for a security reason: check the account's login on the shop.",
    ),
    "API.ENTITY_NOT_FOUND": (
        PERMANENT,
        "LLZW does not know this order or refund: check the order number on the shop.",
    ),
    "API.DEPENDENT_ENTITY_NOT_FOUND": (
        PERMANENT,
        "LLZW does not know something this refund refers to (its order): check the order on "
        "the shop.",
    ),
    "API.ENTITY_ALREADY_EXISTS": (
        PERMANENT,
        "LLZW says this refund already exists: check the order's refunds on the shop.",
    ),
    "API.INVALID_PARAMETER": (
        PERMANENT,
        "LLZW refuses the refund's data (order id, reason, amount or refund-only flag).",
    ),
    "API.OPERATION_UNSUPPORTED": (
        PERMANENT,
        "LLZW does not support this operation on the refund (e.g. return tracking for a "
        "refund-only refund).",
    ),
    "API.REJECTED_BY_ENTITY": (
        PERMANENT,
        "LLZW refuses: the order or refund does not allow it now (more than is left to "
        "refund, the order is not paid, or the refund's status forbids it).",
    ),
    "API.INTERNAL_SERVER_ERROR": (
        TRANSIENT,
        "LLZW had an internal error; it will be retried.",
    ),
}

KEY_MARKER = re.compile(r"\[RD:(?P<key>[^\]\s]+)\]")
REASON_MAX = 255


def key_marker(idempotency_key: str) -> str:
    return f"[RD:{idempotency_key}]"


def idempotency_key_in(reason: str | None) -> str:
    match = KEY_MARKER.search(reason or "")
    return match["key"] if match else ""


def order_id(order_external_number: str) -> int | None:
    """The shop's Integer order id, or None when the external number is not one."""
    text = (order_external_number or "").strip()
    return int(text) if text.isdigit() else None


def create_payload(refund: RefundData) -> dict[str, Any]:
    """POST /api/v2/refunds body: orderId, reason, amount, refundOnly (all required, seed 003).

    LLZW takes one amount (no lines, no shipping split, no payments): the refund's total.
    refundOnly is always true (see ASSUMPTIONS): the return, if any, was handled in Refund
    Desk before the refund was sent, and only the customer could enter a shipment."""
    marker = key_marker(refund.idempotency_key)
    text = (refund.customer_explanation or refund.reason_code or "Refund").strip()
    text = " ".join(text.split())[: REASON_MAX - len(marker) - 1]
    return {
        "orderId": order_id(refund.order_external_number),
        "reason": f"{text} {marker}",
        "amount": refund.total,
        "refundOnly": True,
    }


_DECIMAL_TOKEN = re.compile(r'"\\u0000DEC(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


def dumps(data: Any) -> str:
    """JSON with Decimals written as exact numbers (json.dumps cannot, and float would round)."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00DEC{value:f}\x00"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mark(v) for v in value]
        return value

    return _DECIMAL_TOKEN.sub(r"\1", json.dumps(mark(data)))


def loads(text: str | bytes) -> Any:
    return json.loads(text, parse_float=Decimal, parse_int=int)


_DATE = re.compile(
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2}) (?P<h>\d{1,2}):(?P<mi>\d{2}) (?P<ampm>AM|PM) "
    r"GMT(?P<sign>[+-])(?P<oh>\d{1,2}):(?P<om>\d{2})$"
)


def parse_date(value: Any) -> dt.datetime | None:
    """ "2019-10-1 3:00 PM GMT+1:00" (the docs' format) or ISO-8601; None when absent/unknown."""
    if not value or not isinstance(value, str):
        return None
    match = _DATE.match(value.strip())
    if match:
        hour = int(match["h"]) % 12 + (12 if match["ampm"] == "PM" else 0)
        offset = dt.timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
        tz = dt.timezone(-offset if match["sign"] == "-" else offset)
        try:
            return dt.datetime(
                int(match["y"]),
                int(match["m"]),
                int(match["d"]),
                hour,
                int(match["mi"]),
                tzinfo=tz,
            )
        except ValueError:
            return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def to_amount(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        return Decimal("0")
    return Decimal(str(value))


def remote_refund(entity: dict[str, Any]) -> RemoteRefund:
    reason = entity.get("requestReason") or ""
    return RemoteRefund(
        external_id=str(entity.get("id", "")),
        order_external_number=str(entity.get("order", "")),
        status=STATUS_MAP.get(str(entity.get("status")), "REQUESTED"),
        amount=to_amount(entity.get("amount")),
        reason=KEY_MARKER.sub("", reason).strip(),
        refund_only=bool(entity.get("refundOnly", True)),
        requester=entity.get("requester") or "",
        tracking_id=entity.get("trackingId") or "",
        carrier=entity.get("carrierName") or "",
        response_reason=entity.get("responseReason") or "",
        created_at=parse_date(entity.get("createdAt")),
        updated_at=parse_date(entity.get("updatedAt")),
        idempotency_key=idempotency_key_in(reason),
        raw=dict(entity),
    )
