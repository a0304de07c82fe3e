"""Noventiq Checkout (formerly Softline) Orders API client.

Credentials (MarketplaceAccount.credentials): `username`, `password` for POST /v1/login_check.
Options: `merchant_email` (required by Noventiq's refund request: the merchant's address, not the
customer's; also read from credentials `merchant_email` or `email`).

The token goes in the header named literally `AuthorizationJWT: Bearer <token>`. It is cached per
adapter instance until shortly before the `exp` of the JWT (24 hours when it cannot be read), and
on a 401 the adapter logs in again once and retries.

Idempotency: Noventiq takes no key and its API shows no refund request (its state is in the
ESupport portal only; mapping.py, "What the platform publishes"). Before creating, the adapter
reads the order: when the order items the refund covers are already refunded (their refund
data, or the order `deleted`), the refund is done and nothing is sent. When Noventiq answers
15050 ("a refund request already exists", New/Processing), the open request is taken as this
refund's earlier attempt: it is "already there", never sent twice. The outcome is polled the
same way (GET /v1/order/{order_id}): ISSUED once every item the refund covers is refunded.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import quote

import requests

from integrations.base import (
    Accepted,
    Capabilities,
    Confirmed,
    MarketplaceAdapter,
    MarketplaceError,
    OrderData,
    PermanentError,
    RefundData,
    Rejected,
    Result,
    ResultDelivery,
    Token,
    TransientError,
    WebhookMessage,
    WebhookRejected,
    with_headers,
)

from . import mapping, webhooks

DEFAULT_TOKEN_LIFETIME = 24 * 3600.0


def _jwt_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT, read without verifying: only to know when to
    renew."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class NoventiqAdapter(MarketplaceAdapter):
    key = "noventiq"
    label = "Noventiq Checkout"
    capabilities = Capabilities(
        # "Product refund": a refund is of order items; "If you need to make a partial refund,
        # you have to also specify the item to be returned" (Create Order Refund Requests).
        partial_refund_by_line=True,
        # "the price amount of the item returns to the customer in full": no amounts.
        partial_amount_refund=False,
        # "3 out of 5 -> a full refund of all the units of this item": all units or none.
        partial_line_quantity=False,
        # "Product refund": what Noventiq refunds is order items ("the price amount of an
        # order item ... incl. quantity, discount, VAT"); its orders carry no shipping or other
        # charges to refund ("[GET] Get order data").
        shipping_refund=False,
        additional_charges_refund=False,
        multiple_payments=False,
        cancel_after_creation=False,
        return_shipment=False,
        result_delivery=ResultDelivery.POLLING,
        notes=(
            "Noventiq refunds whole order items: every unit of each item the refund names "
            "(3 of 5 units cannot be refunded; Noventiq would refund all 5).",
            "Noventiq's staff process refund requests by hand: Refund Desk sends a description "
            "naming the items and checks the order until those items are refunded.",
            "Noventiq accepts one open refund request per order: a second refund for the same "
            "order can be sent only after the first one is completed or refused.",
            "A refusal by Noventiq shows only in its ESupport portal, not in its API: a refund "
            "that stays in processing for long must be checked there.",
            "Noventiq refund requests cannot be cancelled once sent.",
        ),
        rate_limit_per_second=None,
        # False: the documented API cannot find our refund request. GET /v1/order shows no
        # request (only refunded items), and 15050 says that *a* request is open, not that it
        # is ours, nor does a refused request show. So after an unknown outcome a person checks
        # the ESupport portal; a retry is still safe (refunded items or 15050: nothing sent).
        refund_lookup=False,
    )
    webhook_endpoints = {"": ("POST",)}  # POST /noventiq/webhooks

    transport_messages = mapping.TRANSPORT_MESSAGES
    # Renew 30 s before the token expires (a token living less than that: at every call).
    token_renew_margin = 30.0
    token_renew_share = 1.0

    # --- HTTP and authentication -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.account.base_url.rstrip("/")

    @staticmethod
    def _body(response: requests.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {"data": data}

    def _classify_login(self, response: requests.Response) -> MarketplaceError | None:
        status = response.status_code
        if 200 <= status < 300 or status == 429 or status >= 500:
            return None  # read below, or the transport's
        body = self._body(response)
        if isinstance(body.get("errors"), list):
            return self._classify(response)  # Noventiq's error codes (111: Content-type)
        if status in (400, 401, 403):
            return PermanentError(
                "Noventiq refuses the account's username or password "
                f"({body.get('message') or status}). Check the Noventiq "
                "marketplace account's credentials.",
                code="login",
                raw=body,
            )
        return TransientError(
            f"Noventiq's login answered {status} without a token.", code="login", raw=body
        )

    def _fetch_token(self) -> Token:
        credentials = self.account.credentials
        response = self._request(
            "POST",
            f"{self.base_url}/v1/login_check",
            classify=self._classify_login,
            json={
                "username": credentials.get("username", ""),
                "password": credentials.get("password", ""),
            },
        )
        body = self._body(response)
        token = body.get("token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise TransientError(
                f"Noventiq's login answered {response.status_code} without a token.",
                code="login",
                raw=body,
            )
        expires_at = _jwt_expiry(token)
        if expires_at is not None:
            lifetime = expires_at - time.time()
        else:
            lifetime = float(
                self.account.options.get("token_lifetime_seconds", DEFAULT_TOKEN_LIFETIME)
            )
        return Token(token, expires_in=lifetime)

    def _attach_token(self, token: str, request: dict[str, Any]) -> dict[str, Any]:
        # Noventiq's header is named literally AuthorizationJWT.
        return with_headers(request, {"AuthorizationJWT": f"Bearer {token}"})

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        """An authenticated call (on a 401 log in again once and retry). Returns a 2xx response
        or raises TransientError / PermanentError."""
        return self._authorized(method, f"{self.base_url}{path}", **kwargs)

    def _classify(self, response: requests.Response) -> MarketplaceError | None:
        status = response.status_code
        if 200 <= status < 300 or status == 429:
            return None
        body = self._body(response)
        errors = body.get("errors")
        entries = []
        if isinstance(errors, list):
            for item in errors:
                if isinstance(item, dict):
                    try:
                        entries.append((int(item.get("error")), str(item.get("message") or "")))
                    except (TypeError, ValueError):
                        continue
        if not entries:
            if status >= 500:
                return None  # the transport's server_error
            if status == 404:
                return PermanentError(
                    "Noventiq does not know this address or order (404).", code="404", raw=body
                )
            return PermanentError(
                f"Noventiq refused the request ({status}).", code=str(status), raw=body
            )
        code = entries[0][0]
        same = [message for c, message in entries if c == code]
        if code == 15010:
            message = mapping.staff_message(code, "; ".join(m for m in same if m))
        else:
            message = mapping.staff_message(code, same[0])
        others = [f"{c}: {m}" for c, m in entries if c != code]
        if others:
            message += " Also: " + "; ".join(others)
        if mapping.is_transient(code):
            return TransientError(message, code=str(code), raw=body)
        return PermanentError(message, code=str(code), raw=body)

    # --- Orders and refunds ------------------------------------------------------------------
    def _order_path(self, order_external_number: str) -> str:
        return f"/v1/order/{quote(order_external_number, safe='')}"

    def _order(self, refund: RefundData) -> dict:
        """GET /v1/order/{order_id} ("[GET] Get order data")."""
        return self._body(self._call("GET", self._order_path(refund.order_external_number)))

    def read_order(self, order_external_number: str) -> OrderData | None:
        try:
            body = self._body(self._call("GET", self._order_path(order_external_number)))
        except PermanentError as exc:
            if exc.code in ("15060", "15020", "404"):
                return None
            raise
        return mapping.order_data(body)

    @staticmethod
    def _items(outcome: mapping.Outcome) -> str:
        return ", ".join(outcome.covered) or "none"

    def _create_refund(self, refund: RefundData) -> Result:
        outcome = mapping.refund_outcome(self._order(refund), refund)
        if outcome.issued:
            return Confirmed(
                message=(
                    "Noventiq already refunded the order items of this refund "
                    f"({self._items(outcome)}; order {outcome.status}); nothing was sent again."
                ),
            )
        payload = mapping.refund_payload(refund, merchant_email=self._merchant_email())
        try:
            self._call(
                "POST", f"{self._order_path(refund.order_external_number)}/refund", json=payload
            )
        except PermanentError as exc:
            if exc.code == "15050":
                # "A refund/return request having status New/Processing already exists": the
                # earlier attempt of this refund, which is not sent twice.
                return Accepted(
                    message=(
                        "Noventiq already holds an open refund request for this order (15050); "
                        "taken as this refund's earlier attempt and not sent again."
                    ),
                    raw=exc.raw,
                )
            raise
        return Accepted(message="Noventiq received the refund request; it is processed by hand.")

    def _read_refund_status(self, refund: RefundData) -> Result:
        order = self._order(refund)
        outcome = mapping.refund_outcome(order, refund)
        raw = {"status": order.get("status"), "refunded": list(outcome.refunded)}
        if outcome.issued:
            return Confirmed(
                message=(
                    f"Noventiq refunded the order items {self._items(outcome)} "
                    f"(order {outcome.status})."
                ),
                raw=raw,
            )
        if outcome.terminated:
            return Rejected(
                code="terminated",
                message=(
                    "Noventiq shows the order as Terminated (a technical status, e.g. a deleted "
                    "test order) without refunding it: check the order in the ESupport portal."
                ),
                raw=raw,
            )
        return Accepted(
            message=(
                f"Noventiq has refunded {len(outcome.refunded)} of the {len(outcome.covered)} "
                "order items of this refund so far (its staff process requests by hand; a "
                "refusal shows only in the ESupport portal)."
            ),
            raw=raw,
        )

    def _merchant_email(self) -> str:
        return (
            self.account.options.get("merchant_email")
            or self.account.credentials.get("merchant_email")
            or self.account.credentials.get("email")
            or ""
        )

    def parse_webhook(self, *, name, method, headers, body, verified=False) -> WebhookMessage:
        if name not in self.webhook_endpoints:
            raise WebhookRejected(f"Noventiq sends no {name!r} webhook", status=404)
        if method.upper() not in self.webhook_endpoints[name]:
            raise WebhookRejected(f"Noventiq webhooks are POSTed, not {method}", status=405)
        return webhooks.verify_and_parse(
            secret=self.account.webhook_secret, headers=headers, body=body, verified=verified
        )
