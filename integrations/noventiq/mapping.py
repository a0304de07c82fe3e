"""Noventiq Checkout: our refund -> the refund request payload, Noventiq's statuses -> ours, and
Noventiq's error codes -> transient or permanent errors with a message staff understand.

Noventiq has no refund lines, amounts or idempotency key in its API: a refund request is a free
text `description` (at most 500 characters) read by a person at Noventiq, plus the merchant's own
e-mail. So the description says "Full refund of ..." or "Partial refund of ...", names our
idempotency key (so a person, and our reconciliation, can tell the requests apart) and lists the
lines for a partial refund.
"""

from __future__ import annotations

from decimal import Decimal

from integrations.base import RefundData

DESCRIPTION_MAX = 500
EMAIL_MAX = 80

# Noventiq order refund_request.status (the simulator's names for the portal's states:
# "Refund request has been sent", "Refund info is being updated", completed, refused)
# -> refunds.states values.
REFUND_REQUEST_STATUS = {
    "sent": "PROCESSING",
    "updating": "PROCESSING",
    "completed": "ISSUED",
    "refused": "DENIED",
}
OPEN_REQUEST_STATUSES = frozenset({"sent", "updating"})

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
    reason. Lines that do not fit are counted, never cut in the middle."""
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
