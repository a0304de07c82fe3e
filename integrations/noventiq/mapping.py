"""Noventiq Checkout: our refund -> the refund request payload, Noventiq's order -> our refund's
outcome and our OrderData, Noventiq's error codes -> transient or permanent errors with a message
staff understand.

What the platform publishes (Noventiq Checkout docs, docs.noventiq.com/checkout; the same pages
under docs.softline.com; seed /work/shared/seeds/002):
- "[POST] Create Order Refund Requests" (checkout/orders-api-create-refund-request; seed 002):
  POST /v1/order/[order id]/refund, header content-type "application/json", body `description`
  (optional, at most 500 characters, UTF-8; "if you need to make a partial refund, you have to
  also specify the item to be returned") and `email` (required, at most 80 characters, the
  merchant's, not the customer's). Success: bare 200. Preconditions: order status paid, amount
  > 0, no refund request in progress ("Refund request has been sent" / "Refund info is being
  updated"). Error codes: the ERROR_CODES table below (110, 111, 15000, 15030, 15040, 15050 stop
  at the first; 15010 cumulative; 15060 not found, the seed's example shows 15020).
- "[GET] Get order data" (checkout/orders-api-get-order): GET /v1/order/[order id] -> order_id
  (number), order_name, status (`not paid` | `paid` | `deleted`), external_id, create_date
  (YYYY-MM-DDThh:mm:ss+hh:mm), pay_date, currency, customer, payment, product data "including
  (optional) refund data". No refund request object: the request's own status is not in the API.
- "Order statuses" (checkout/order-statuses) and "Payment statuses": `deleted` is also the
  status of a fully refunded order ("if all items of an order are refunded, the order changes
  its status to Deleted; if an order contains any items that have not been refunded, the order
  continues having the Paid status"); `Terminated` is a technical status (e.g. deleted test
  orders).
- "Product refund" (checkout/product-refund, checkout/refund-orders): "A refund is issued for an
  order item - i.e., the price amount of the item returns to the customer in full. If the
  customer wants to return several units of one item (for example, 3 out of 5), we issue a full
  refund of all the units of this item"; "All refund requests are processed manually".
- "Refund requests" (checkout/request-refund): the request's states (has been sent -> info is
  being updated -> completed | refusal to refund) are shown in the ESupport portal.
- "Webhook examples" (checkout/webhooks-examples) and "Event reference for webhooks"
  (checkout/webhooks-events): see webhooks.py (signature template, `product.returned`).
- "Authentication API": POST /v1/login_check, JSON {"username", "password"} -> {"token",
  "refresh_token"}; the token goes in `AuthorizationJWT: Bearer <token>` (401 codes 1007, 1008,
  1009; /work/shared/marketplaces.md, noventiq).

ASSUMPTIONS (ours, not published; the only ones this package makes):
- A1 The field names of GET /v1/order's per-product refund data are not in the text we could
  read: we take the products as the list `products` (the webhook example's `product` objects:
  id, sku, name, price, quantity, discount_amount, vat_amount, amount) and a product's refund
  data as a non-empty object `refund` on it (PRODUCTS_FIELD, PRODUCT_REFUND_FIELD). A product
  with refund data is refunded (whole, per "Product refund").
- A2 Noventiq's staff find the items to refund in our free-text description: it names each order
  item as "[SKU <sku>, line <product id>]" (refund_description).
- A3 GET /v1/order's `payment` object carries `payment_method` as in the webhook example.
- A4 The order amount is the sum of its products' `amount` (mirroring an order: order_data).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from integrations.base import OrderData, OrderLineData, OrderPaymentData, RefundData

DESCRIPTION_MAX = 500
EMAIL_MAX = 80

# GET /v1/order `status` ("[GET] Get order data", "Order statuses"); compared in lower case.
ORDER_NOT_PAID = "not paid"
ORDER_PAID = "paid"
ORDER_DELETED = "deleted"  # also: fully refunded
ORDER_TERMINATED = "terminated"  # technical status ("Terminated")

PRODUCTS_FIELD = "products"  # ASSUMPTION A1
PRODUCT_REFUND_FIELD = "refund"  # ASSUMPTION A1

PERMANENT = "permanent"
TRANSIENT = "transient"

# How the transport (integrations.http) words the failures it maps for Noventiq.
TRANSPORT_MESSAGES = {
    "timeout": "Noventiq did not answer in time.",
    "connection": "Could not reach Noventiq (connection failed).",
    "request": "Calling Noventiq failed: {error}.",
    "rate_limited": "Noventiq asks us to slow down (429).",
    "server_error": "Noventiq had a server error ({status}); will retry.",
}

# Documentation: Noventiq Checkout Orders API, "[POST] Create Order Refund Requests"
# (POST /v1/order/[order id]/refund; seeds/002), "The errors are the same for all the APIs that
# use token authorization", and the Authentication API's 401 codes (marketplaces.md, noventiq).
ERROR_CODES: dict[int, tuple[str, str]] = {
    110: (
        PERMANENT,
        "Noventiq could not read our request (invalid JSON). This is a Refund Desk "
        "fault: report it to the Refund Desk team.",
    ),
    111: (
        PERMANENT,
        "Noventiq refuses the request: the Content-Type is not application/json. "
        "This is a Refund Desk fault: report it to the Refund Desk team.",
    ),
    1007: (
        PERMANENT,
        "Noventiq refuses our access token as invalid. Check the account's "
        "Noventiq username and password.",
    ),
    1008: (
        PERMANENT,
        "Noventiq says the access token is missing. This is a Refund Desk fault: "
        "report it to the Refund Desk team.",
    ),
    1009: (
        TRANSIENT,
        "The Noventiq access token expired; Refund Desk will log in again and retry.",
    ),
    15000: (
        PERMANENT,
        "Noventiq cannot identify this account's API configuration. Contact "
        "Noventiq technical support.",
    ),
    15010: (PERMANENT, "Noventiq refuses a field of the refund request"),
    15020: (
        PERMANENT,
        "Noventiq refuses: the order was not found, or this account may not see "
        "it. Check the order number.",
    ),
    15030: (PERMANENT, "Noventiq refuses: the order is not paid"),
    15040: (PERMANENT, "Noventiq refuses: the order amount is zero"),
    15050: (
        PERMANENT,
        "Noventiq refuses: a refund request for this order is already open. Wait "
        "until Noventiq completes it, then send this refund again.",
    ),
    15060: (
        PERMANENT,
        "Noventiq refuses: the order was not found, or this account may not see "
        "it. Check the order number.",
    ),
}


def staff_message(code: int, platform_message: str) -> str:
    kind_message = ERROR_CODES.get(code)
    if kind_message is None:
        return f"Noventiq refused the request (error {code}): {platform_message}".rstrip(": ")
    message = kind_message[1]
    if code == 15010:
        field_hint = platform_message or "invalid field value"
        message = f"{message}: {field_hint}."
        if "email" in platform_message.lower():
            message += (
                " Set the merchant e-mail (options: merchant_email) on the Noventiq "
                "marketplace account."
            )
    return message


def is_transient(code: int) -> bool:
    return ERROR_CODES.get(code, (PERMANENT, ""))[0] == TRANSIENT


def is_full_refund(refund: RefundData) -> bool:
    return refund.order_grand_total > 0 and refund.total >= refund.order_grand_total


def _money(amount: Decimal, currency: str) -> str:
    return f"{amount} {currency}".strip()


def refund_description(refund: RefundData) -> str:
    """At most 500 characters: the kind and amount, our key, the lines (partial refunds), the
    reason. Noventiq's staff refund the items the text names, so when the lines do not fit in
    full they are named short ("2 x [SKU s, line id]"); lines that still do not fit are
    counted, never cut in the middle."""
    kind = "Full" if is_full_refund(refund) else "Partial"
    head = (
        f"{kind} refund of {_money(refund.total, refund.currency)} "
        f"(Refund Desk ref {refund.idempotency_key})."
    )
    parts: list[str] = []
    if kind == "Partial":
        parts = [
            f"{line.quantity} x {line.name or line.sku} [SKU {line.sku}, line "
            f"{line.order_line_external_id}] {line.amount}"
            for line in refund.lines
        ]
        if refund.shipping_amount:
            parts.append(f"shipping {refund.shipping_amount}")
        if refund.additional_amount:
            parts.append(f"other {refund.additional_amount}")
    text = head
    if parts and len(f"{head} Items: {'; '.join(parts)}.") > DESCRIPTION_MAX:
        short = [
            f"{line.quantity} x [SKU {line.sku}, line {line.order_line_external_id}]"
            for line in refund.lines
        ]
        parts = short + parts[len(short) :]
    if parts:
        shown = len(parts)
        while shown >= 0:
            rest = len(parts) - shown
            items = "; ".join(parts[:shown]) + (f"; and {rest} more line(s)" if rest else "")
            candidate = f"{head} Items: {items.lstrip('; ')}."
            if len(candidate) <= DESCRIPTION_MAX:
                text = candidate
                break
            shown -= 1
    reason = refund.reason_code
    if refund.customer_explanation:
        reason = (
            f"{reason}: {refund.customer_explanation}" if reason else refund.customer_explanation
        )
    if reason:
        room = DESCRIPTION_MAX - len(text) - len(" Reason: ")
        if room > 3:
            reason = " ".join(reason.split())
            if len(reason) > room:
                reason = reason[: room - 1] + "…"
            text = f"{text} Reason: {reason}"
    return text[:DESCRIPTION_MAX]


def refund_payload(refund: RefundData, *, merchant_email: str) -> dict:
    """The body of POST /v1/order/{order_id}/refund. A missing merchant e-mail is left out so
    that Noventiq's own 15010 tells staff what to fix."""
    payload = {"description": refund_description(refund)}
    if merchant_email:
        payload["email"] = merchant_email
    return payload


# --- A refund's outcome, read from the order ("[GET] Get order data") --------------------------


@dataclass(frozen=True)
class Outcome:
    """What the order says of our refund: `issued` when Noventiq refunded every order item the
    refund covers (or the whole order: status deleted), `terminated` when the order has the
    technical status Terminated; otherwise neither (the request is still with Noventiq's staff,
    or was refused: a refusal shows only in the ESupport portal)."""

    issued: bool
    terminated: bool
    status: str
    covered: tuple[str, ...]
    refunded: tuple[str, ...]


def products(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    items = order.get(PRODUCTS_FIELD)
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, Mapping)]


def product_refunded(product: Mapping[str, Any]) -> bool:
    data = product.get(PRODUCT_REFUND_FIELD)
    return isinstance(data, Mapping) and bool(data)


def covered_product_ids(refund: RefundData) -> tuple[str, ...]:
    """The Noventiq products (order items) our refund is for: its lines' order line ids (the
    product `id`); a refund without lines is for the whole order (empty: every product)."""
    return tuple(line.order_line_external_id for line in refund.lines)


def refund_outcome(order: Mapping[str, Any], refund: RefundData) -> Outcome:
    status = str(order.get("status") or "").strip().lower()
    items = {str(p.get("id", "")): p for p in products(order)}
    covered = covered_product_ids(refund) or tuple(items)
    refunded = tuple(pid for pid in covered if pid in items and product_refunded(items[pid]))
    if status == ORDER_DELETED:
        # "Order fully refunded": every item is refunded. (An unpaid order deleted is never one
        # Refund Desk refunds: only paid orders are refundable.)
        return Outcome(True, False, status, covered, covered)
    if status == ORDER_TERMINATED:
        return Outcome(False, True, status, covered, refunded)
    issued = bool(covered) and len(refunded) == len(covered)
    return Outcome(issued, False, status, covered, refunded)


# --- Mirroring an order (MarketplaceAdapter.read_order) ---------------------------------------


def _amount(value: Any) -> Decimal:
    if value in (None, "") or isinstance(value, bool):
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal("0")


def _time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _order_status(status: str, paid: bool) -> str:
    """Noventiq's order status -> orders.models.OrderStatus. A deleted order that was paid was
    fully refunded (it is paid for Refund Desk, its refunds say the rest); unpaid and deleted,
    or Terminated, it was cancelled."""
    if status == ORDER_PAID:
        return "paid"
    if status == ORDER_NOT_PAID:
        return "pending"
    if status == ORDER_DELETED and paid:
        return "paid"
    return "cancelled"


def order_data(order: Mapping[str, Any]) -> OrderData | None:
    """GET /v1/order/{order_id}'s body as our OrderData (None when it is not an order with
    products). A product's `amount` is its total (ASSUMPTION A4): the part above price x
    quantity - discount_amount is its tax (vat_amount)."""
    created = _time(order.get("create_date"))
    customer = order.get("customer")
    customer = customer if isinstance(customer, Mapping) else {}
    email = str(customer.get("email") or "")
    lines: list[OrderLineData] = []
    for product in products(order):
        try:
            quantity = int(product.get("quantity") or 0)
        except (TypeError, ValueError):
            quantity = 0
        price = _amount(product.get("price"))
        discount = _amount(product.get("discount_amount"))
        if product.get("amount") in (None, ""):
            tax = _amount(product.get("vat_amount"))
        else:
            tax = max(_amount(product.get("amount")) - (price * quantity - discount), Decimal("0"))
        lines.append(
            OrderLineData(
                external_id=str(product.get("id", "")),
                sku=str(product.get("sku") or product.get("vendor_code") or product.get("id", "")),
                name=str(product.get("name") or ""),
                quantity=quantity,
                unit_price=price,
                discount=discount,
                tax=tax,
            )
        )
    if created is None or not email or not lines or order.get("order_id") in (None, ""):
        return None
    number = str(order["order_id"])
    status = str(order.get("status") or "").strip().lower()
    paid_at = _time(order.get("pay_date"))
    items_total = sum(
        (li.unit_price * li.quantity - li.discount + li.tax for li in lines), Decimal("0")
    )
    payment = order.get("payment")
    method = payment.get("payment_method") if isinstance(payment, Mapping) else None
    paid = status == ORDER_PAID or (status == ORDER_DELETED and paid_at is not None)
    payments: Sequence[OrderPaymentData] = ()
    if paid and items_total > 0:
        payments = (
            OrderPaymentData(
                external_id=f"{number}-payment",
                method=str(method or "noventiq"),
                amount=items_total,
            ),
        )
    name = " ".join(str(customer.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
    return OrderData(
        external_number=number,
        status=_order_status(status, paid),
        currency=str(order.get("currency") or "").upper(),
        placed_at=created,
        paid_at=paid_at,
        customer_email=email,
        customer_name=name,
        lines=tuple(lines),
        payments=tuple(payments),
    )
