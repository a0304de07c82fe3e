"""Shoplazza quirks, written once: our refund -> the refund record payload, Shoplazza's refund
records -> our statuses, the token answer, and the error code table.

What the platform publishes (the pages this package is written from; [Pn] below and in the code)
-------------------------------------------------------------------------------------------------
[P1] Create Order's Refund Record: seed 004; https://www.shoplazza.dev/api/202506/order-refund-record-create
     and https://www.shoplazza.dev/api/202601/order-refund-record-create.
     POST /openapi/{version}/orders/{order_id}/refund, body {"refund": {...}}: refund_total (string,
     required), refund_shipping_total, refund_tip, refund_additional_total, refund_product_total,
     note; refund_line_items[] of line_item_id (required), quantity (int32), refund_item_type
     (0 auto | 1 shipped | 2 waiting to ship; 0 never mixed with 1/2 on one line item),
     return_inventory (the same for one line item); refund_payments[] of payment_line_id and
     refund_price (both required); refund_additional_prices[] of name and price (both required).
     Success {"code": "success", "message", "data": {"refund_record_id", "post_sale_id"}};
     error {"code": "InvalidParameter", "message"}.
[P2] Get Order's Refund Record: https://www.shoplazza.dev/v2025.06/reference/order-refund-record-list-v2025-06
     GET /openapi/{version}/orders/{order_id}/refund -> data.order_financial_status,
     data.order_status, data.records[] of id, refund_price, refund_shipping, refund_status,
     created_at, refund_line_items[] (line_item_id, refund_quantity), payment_details[]
     (payment_method, refund_price). It does not list `note`.
[P3] Get All Refund Record List: https://www.shoplazza.dev/v2025.06/reference/refund-record-list-v2025-06
     (2022-01: https://shoplazza.dev/reference/refund-record-list). GET
     /openapi/{version}/orders/refund_records, filters order_ids (at most 10), refund_order_ids,
     refund_statuses, page_size (default 10), cursor -> data.records[] of refund objects [P4].
[P4] Refund properties: https://www.shoplazza.dev/reference/refund-properties. id, order_id, note
     ("a note regarding the refund, provided by the merchant or system"), refund_price, currency,
     created_at, updated_at, refund_line_items[] (line_item_id, refund_quantity, delete_quantity,
     ...), payment_details[] (payment_channel, payment_method, refund_price, finished_at: RFC 3339,
     "" while not finished), refund_shipping, refund_shipping_tax, refund_method, and
     refund_status (pending | failed | finished) marked @Deprecated.
[P5] Refunds and post-sales: https://www.shoplazza.dev/docs/app/use-cases/orders-and-fulfillment/refunds-and-post-sales
     refund_record_id "identifies the refund itself and can be looked up later in the refund
     records list"; the answer's code is spelled "Success".
[P6] OAuth Authentication: https://www.shoplazza.dev/docs/app/building-blocks/authentication/oauth-flow
     persist (shop, access_token, refresh_token, expires_at); expires_at is the access token's
     expiry timestamp in seconds; API calls carry `Access-Token: <access_token>`.
[P7] Shoplazza's OAuth SDK, github.com/Shoplazza/oauth-sdk-go (shoplazza/shoplazza.go,
     internal/token.go): POST https://{shop}/admin/oauth/token, form-encoded
     (application/x-www-form-urlencoded) client_id, client_secret, grant_type=refresh_token,
     refresh_token; the JSON answer holds access_token, token_type, refresh_token, expires_at
     (and, read by the SDK when present, expires_in, scope, created_at, store_id, store_name).
[P8] Webhook: https://www.shoplazza.dev/reference/webhook-copy, Webhook properties:
     https://www.shoplazza.dev/reference/webhook-properties, HMAC Signature Verification:
     https://www.shoplazza.dev/docs/app/building-blocks/authentication/signature-verification.
     Headers X-Shoplazza-Topic (e.g. orders/create), X-Shoplazza-Hmac-Sha256 (base64
     HMAC-SHA256 of the raw body keyed with the app's Client Secret), X-Shoplazza-Shop-Domain,
     X-Shoplazza-Api-Version, X-Shoplazza-Deduplication-ID; 19 attempts over up to two days.
[P9] shared/marketplaces.md `shoplazza` (its Known corrections first): versions 2025-06 and
     2026-01 (refund_item_type also auto/shipped/waiting_ship), 2 requests per second per app and
     store (leaky bucket, 429), 400 validation, 403 scope, 500 business rule.
[P10] Get Order Detail (v2025.06): https://www.shoplazza.dev/v2025.06/reference/order-get-v2025-06
     GET /openapi/{version}/orders/{order_id} (read_order scope) -> {"code": "success", "message",
     "data": {"order": {...}}}: id, created_at, updated_at ("Creation time", "Update time"),
     note, number, total_price, sub_total, currency, financial_status (example "paid"), status,
     cancelled_at, cancel_reason, payment_method, fulfillment_status, placed_at ("Payment
     time"), tags, code_discount_total, total_discount, total_tax, total_shipping, line_items[],
     payment_line (one object), shipping_line, billing_address, ...
[P11] Get Order Details (2022-01): https://www.shoplazza.dev/reference/order-details-3 and
     Order Properties https://www.shoplazza.dev/reference/order-5: the same order fields, "customer
     details" among them, plus total_tip_received, additional_total ("Total amount of additional
     charges"), line_item_discount_total, product_tax_included.
[P12] Line item (Fulfillment Properties): https://www.shoplazza.dev/v2022.01/reference/fulfillment_properties
     and https://shoplazza.dev/reference/fulfillment-1 (its example): id, product_id, variant_id,
     variant_title, product_title, quantity, fulfillment_status (waiting, shipped, finished,
     partially_shipped, partially_finished, returning, returned), sku, price ("Line item's
     price"), total ("Line items' total price"), refund_quantity, shipping_quantity.
[P13] The order status values, from Shoplazza's own CLI (github.com/Shoplazza/shoplazza-cli,
     skills/shoplazza-orders/SKILL.md "Status enums", from `schema orders.list`): status opened
     (pending payment) | placed (in progress) | finished | cancelled; financial_status waiting |
     paying | authorized | partially_paid | paid | cancelled | failed | refunding | refund_failed
     | refunded | partially_refunded; fulfillment_status initialled | waiting | partially_shipped
     | shipped | partially_finished | finished | cancelled | returning | partially_returned |
     returned. Create Order's shipping_address (email required): the page stored at
     https://shoplazza.dev/reference/order-count-3.

ASSUMPTIONS (what no public page shows; every guess of this package is here and only here)
-------------------------------------------------------------------------------------------------
A1 Idempotency: Shoplazza has no idempotency key. Our key rides at the end of `refund.note` [P1],
   and we assume the store-wide refund records list [P3] answers that note unchanged as
   `records[].note` [P4]: that is how a refund whose create answer was lost is found again. The
   order's own list [P2] does not document `note`, so we never read `note` from it; once the
   create answer arrived we know the record id and look it up by id [P5].
A2 `refund_status` is deprecated [P4] and no successor is named: we read it while Shoplazza sends
   it; without it a record counts as finished when every payment_details[].finished_at is set
   [P4], else as pending (a failure is then only seen while refund_status is sent).
A3 No refund webhook topic is published [P8 lists products/..., orders/...]: a delivery with topic
   refunds/create or refunds/update is read as a refund record [P4] (plus order_id); any other
   topic is stored and ignored. Results come by polling [P2] either way.
A4 Our refund's additional amount holds the order's tip and its other additional charges
   together: the part beyond the order's other charges is sent as `refund_tip` [P1]; no
   `refund_additional_prices[]` is sent (we do not know the charges' names; the field is optional).
A5 Error codes other than InvalidParameter (Unauthorized, Forbidden, NotFound, RefundFailed,
   TooManyRequests) and the token endpoint's OAuth 2 error names (RFC 6749 section 5.2).
A6 `note` is kept to 255 characters; the records list [P3] is read 50 a page, following
   data.cursor while it is given.
A7 Mirroring an order [P10]: its line_items[] are read with the Line item fields of [P12] (the
   order pages list line_items without their fields in the copies we have). A line's units
   shipped are its `shipping_quantity` when it is a number from 0 to the quantity, else 0 for
   a waiting line and every unit for a shipped / finished / returning / returned one; a
   partially shipped line without it cannot be mirrored (read_order answers None). A line
   without a `sku` is named by its variant_id. price x quantity above `total` is the line's
   discount, below it its tax.
A8 No payment of a mirrored order is mirrored: [P10] gives one `payment_line` object and no page
   we have gives the payment_line_id that refund_payments[] takes [P1], so a refund of such an
   order goes without refund_payments[] (optional; refund_total is the only required field
   [P5]) and Shoplazza chooses the payment.
A9 The customer of a mirrored order: `customer.email` / first_name / last_name ([P11] says the
   order carries customer details; the names inside are not in the copies we have), else the
   shipping_address's email / first_name / last_name (Create Order [P13]). Without an e-mail
   the order is not mirrored. Our placed_at is `placed_at` [P10], else `created_at`.
A10 What total_price [P10] holds beyond the lines, total_shipping, total_tip_received and
   additional_total [P11] (order-level tax, discount codes) is spread over the lines by their
   amounts (largest remainder: as tax when it adds, as discount when it takes away), so the
   mirrored order adds up to Shoplazza's total; an order where that cannot be (a discount larger
   than a line) is not mirrored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from integrations.base import OrderData, OrderLineData, RefundData

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
# creating we look for a refund record already carrying it (ASSUMPTIONS A1).
KEY_MARKER = re.compile(r"\[RD-(?P<key>[^\[\]]+)\]\s*$")
NOTE_MAX_LENGTH = 255  # A6: [P1] gives no limit; we stay short to be safe
RECORDS_PAGE_SIZE = 50  # A6; [P3] page_size, default 10


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


def tip_amount(refund: RefundData) -> Decimal:
    """The tip's part of our additional amount (ASSUMPTIONS A4): what goes beyond the order's
    other additional charges, at most the order's tip."""
    beyond = refund.additional_amount - refund.order_additional_total
    return min(max(beyond, Decimal("0")), max(refund.order_tip_total, Decimal("0")))


def refund_payload(refund: RefundData, api_version: str = DEFAULT_API_VERSION) -> dict:
    """Body of POST /orders/{order_id}/refund [P1]: {"refund": {...}}."""
    cur = refund.currency
    tip = tip_amount(refund)
    body: dict = {
        "refund_total": money(refund.total, cur),
        "refund_shipping_total": money(refund.shipping_amount, cur),
        "refund_additional_total": money(refund.additional_amount - tip, cur),
        "note": refund_note(refund),
    }
    if tip > 0:
        body["refund_tip"] = money(tip, cur)
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
    return {"refund": body}


# Refund record `refund_status` ([P2], [P4]: pending | failed | finished, deprecated) -> our
# status vocabulary (refunds.states values).
STATUS_MAP = {
    "pending": "PROCESSING",
    "finished": "ISSUED",
    "failed": "DENIED",
}


def our_status(refund_status: str) -> str:
    return STATUS_MAP.get((refund_status or "").lower(), "PROCESSING")


def record_status(record: Mapping[str, Any]) -> str:
    """Shoplazza's word for a refund record's state (ASSUMPTIONS A2): its deprecated
    `refund_status` while it is sent, else finished once every payment detail has its
    `finished_at` [P4]."""
    status = str(record.get("refund_status") or "").lower()
    if status in STATUS_MAP:
        return status
    details = record.get("payment_details")
    if (
        isinstance(details, list)
        and details
        and all(isinstance(d, dict) and d.get("finished_at") for d in details)
    ):
        return "finished"
    return "pending"


def token_lifetime(answer: Mapping[str, Any], now: float) -> float | None:
    """Seconds from `now` (Unix time) the access token is valid: `expires_at` (a Unix timestamp
    in seconds, [P6], [P7]), else `expires_in` (seconds, read by the SDK too); None when the
    answer names neither (the token is then kept until Shoplazza answers 401)."""
    for name, base in (("expires_at", now), ("expires_in", 0.0)):
        value = answer.get(name)
        if value in (None, "") or isinstance(value, bool):
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            continue
        if seconds > 0:
            return seconds - base
    return None


# Error codes. [P1] "Error Response" ({"code": "InvalidParameter", "message"}) and [P9] (400
# validation, 403 scope, 500 business rule, 429 over the leaky bucket). The token endpoint's
# OAuth 2 error names and the codes for 401/403/404/429 and the business-rule 500 are not
# published (ASSUMPTIONS A5): the sandbox uses exactly these.
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


# --- Mirroring an order (MarketplaceAdapter.read_order): Get Order Detail [P10] ---------------

# financial_status [P13] -> orders.models.OrderStatus. Paid for Refund Desk while any of the
# payment stays with the shop (refunds show the rest, as refund records).
FINANCIAL_PENDING = frozenset({"waiting", "paying", "authorized", "partially_paid"})
FINANCIAL_PAID = frozenset({"paid", "refunding", "refund_failed", "partially_refunded", "refunded"})
FINANCIAL_CANCELLED = frozenset({"cancelled", "failed"})
# fulfillment_status [P13] of an order whose every unit went out ("fulfilled": [P10]'s example).
ORDER_FULFILLED = frozenset({"shipped", "finished", "fulfilled"})
# A line's fulfillment_status [P12]: none of its units shipped / every unit shipped (A7).
LINE_WAITING = frozenset({"", "initialled", "waiting", "cancelled"})
LINE_SHIPPED = frozenset({"shipped", "finished", "returning", "returned", "fulfilled"})


def _word(value: Any) -> str:
    return str(value or "").strip().lower()


def _decimal(value: Any) -> Decimal | None:
    if value in (None, "") or isinstance(value, bool):
        return Decimal("0") if value in (None, "") else None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _exponent(currency: str) -> Decimal:
    return Decimal("1") if currency.upper() in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")


def order_status(order: Mapping[str, Any]) -> str | None:
    """Shoplazza's status / financial_status / fulfillment_status [P13] -> our order status
    (pending, paid, fulfilled, cancelled); None for a financial status no page names."""
    financial = _word(order.get("financial_status"))
    if _word(order.get("status")) == "cancelled" or financial in FINANCIAL_CANCELLED:
        return "cancelled"
    if financial in FINANCIAL_PENDING:
        return "pending"
    if financial in FINANCIAL_PAID:
        if _word(order.get("fulfillment_status")) in ORDER_FULFILLED:
            return "fulfilled"
        return "paid"
    return None


def _shipped_units(item: Mapping[str, Any], quantity: int) -> int | None:
    """Units of a line item that went out (ASSUMPTIONS A7); None when not known."""
    shipped = item.get("shipping_quantity")
    if isinstance(shipped, int) and not isinstance(shipped, bool) and 0 <= shipped <= quantity:
        return shipped
    status = _word(item.get("fulfillment_status"))
    if status in LINE_WAITING:
        return 0
    if status in LINE_SHIPPED:
        return quantity
    return None


def _line(item: Any, currency: str) -> OrderLineData | None:
    """One line item [P12] (A7); None when it cannot be read faithfully."""
    if not isinstance(item, Mapping) or item.get("id") in (None, ""):
        return None
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        return None
    price = _decimal(item.get("price"))
    total = _decimal(item.get("total")) if item.get("total") not in (None, "") else None
    if price is None or price < 0 or (item.get("total") not in (None, "") and total is None):
        return None
    shipped = _shipped_units(item, quantity)
    if shipped is None:
        return None
    exponent = _exponent(currency)
    gross = (price * quantity).quantize(exponent, rounding=ROUND_HALF_UP)
    total = gross if total is None else total.quantize(exponent, rounding=ROUND_HALF_UP)
    title = str(item.get("product_title") or "").strip()
    variant = str(item.get("variant_title") or "").strip()
    name = f"{title} - {variant}" if title and variant else title or variant
    sku = str(item.get("sku") or "").strip() or str(item.get("variant_id") or "").strip()
    if not name or not sku:
        return None
    return OrderLineData(
        external_id=str(item["id"]),
        sku=sku,
        name=name,
        quantity=quantity,
        unit_price=price,
        discount=max(gross - total, Decimal("0")),
        tax=max(total - gross, Decimal("0")),
        fulfilled_quantity=shipped,
    )


def _spread(amount: Decimal, weights: list[Decimal], exponent: Decimal) -> list[Decimal]:
    """`amount` (>= 0) over `weights` by largest remainder, in steps of `exponent`."""
    whole = sum(weights, Decimal("0"))
    if not weights:
        return []
    if whole <= 0:
        weights, whole = [Decimal("1")] * len(weights), Decimal(len(weights))
    raw = [amount * w / whole for w in weights]
    parts = [r.quantize(exponent, rounding=ROUND_DOWN) for r in raw]
    left = int((amount - sum(parts, Decimal("0"))) / exponent)
    order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
    for i in order[:left]:
        parts[i] += exponent
    return parts


def order_answer(body: Any) -> Mapping[str, Any] | None:
    """The order of Get Order Detail's answer, `data.order` [P10]."""
    data = body.get("data") if isinstance(body, Mapping) else None
    order = data.get("order") if isinstance(data, Mapping) else None
    return order if isinstance(order, Mapping) else None


def order_data(order: Mapping[str, Any]) -> OrderData | None:
    """Get Order Detail's order [P10] as our OrderData; None for an order that cannot be
    mirrored faithfully (ASSUMPTIONS A7-A10 say what is read and when it is given up)."""
    currency = str(order.get("currency") or "").strip().upper()
    status = order_status(order)
    if order.get("id") in (None, "") or len(currency) != 3 or status is None:
        return None
    items = order.get("line_items")
    if not isinstance(items, list) or not items:
        return None
    lines = [_line(item, currency) for item in items]
    if any(line is None for line in lines):
        return None
    customer = order.get("customer")
    address = order.get("shipping_address")
    person = next(
        (
            p
            for p in (customer, address)
            if isinstance(p, Mapping) and "@" in str(p.get("email") or "")
        ),
        None,
    )
    placed_at = _time(order.get("placed_at")) or _time(order.get("created_at"))
    if person is None or placed_at is None:
        return None
    amounts = [
        _decimal(order.get(name))
        for name in ("total_price", "total_shipping", "total_tip_received", "additional_total")
    ]
    if any(a is None or a < 0 for a in amounts):
        return None
    exponent = _exponent(currency)
    total, shipping, tip, additional = (
        a.quantize(exponent, rounding=ROUND_HALF_UP) for a in amounts
    )
    nets = [li.unit_price * li.quantity - li.discount + li.tax for li in lines]
    gap = total - shipping - tip - additional - sum(nets, Decimal("0"))
    if gap:
        # A10: order-level tax (gap > 0) or discount (gap < 0), spread over the lines.
        parts = _spread(abs(gap), nets, exponent)
        changed = []
        for line, net, part in zip(lines, nets, parts, strict=True):
            if gap > 0:
                changed.append(OrderLineData(**{**line.__dict__, "tax": line.tax + part}))
            elif part > net:
                return None
            else:
                changed.append(OrderLineData(**{**line.__dict__, "discount": line.discount + part}))
        lines = changed
    name = " ".join(
        str(person.get(k) or "").strip() for k in ("first_name", "last_name") if person.get(k)
    )
    return OrderData(
        external_number=str(order["id"]),
        status=status,
        currency=currency,
        placed_at=placed_at,
        paid_at=_time(order.get("placed_at")) if status in ("paid", "fulfilled") else None,
        customer_email=str(person["email"]).strip(),
        customer_name=name,
        lines=tuple(lines),
        shipping_total=shipping,
        tip_total=tip,
        additional_total=additional,
    )
