"""Noventiq Checkout (formerly Softline) Orders API client.

Credentials (MarketplaceAccount.credentials): `username`, `password` for POST /v1/login_check.
Options: `merchant_email` (required by Noventiq's refund request: the merchant's address, not the
customer's; also read from credentials `merchant_email` or `email`).

The token goes in the header named literally `AuthorizationJWT: Bearer <token>`. It is cached per
adapter instance until shortly before the `exp` of the JWT (24 hours when it cannot be read), and
on a 401 the adapter logs in again once and retries.

Idempotency: Noventiq takes no key. Before creating, and again when Noventiq answers 15050
("refund request already exists"), the adapter reads the order: a refund request of the same
amount made since our refund was requested is our earlier attempt, and is taken as accepted
instead of being sent twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import requests

from integrations.base import (
    Accepted,
    Capabilities,
    Confirmed,
    MarketplaceAdapter,
    MarketplaceError,
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
# Refund requests whose time is this much before our refund's are not ours (clock skew).
RECONCILE_SKEW = dt.timedelta(minutes=10)


def _jwt_expiry(token: str) -> float | None:
    """The `exp` claim (epoch seconds) of a JWT, read without verifying: only to know when to
    renew."""
    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _parse_time(value) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


class NoventiqAdapter(MarketplaceAdapter):
    key = "noventiq"
    label = "Noventiq Checkout"
    capabilities = Capabilities(
        partial_refund_by_line=True,
        # Seed 002, Create Order Refund Requests: "If you need to make a partial refund, you have
        # to also specify the item to be returned"; marketplaces.md (corrections 2026-12-01):
        # refunds are of whole order items. So no amount without the items it is for.
        partial_amount_refund=False,
        shipping_refund=True,
        additional_charges_refund=True,
        multiple_payments=False,
        cancel_after_creation=False,
        return_shipment=False,
        result_delivery=ResultDelivery.POLLING,
        notes=(
            "Noventiq processes refund requests by hand: Refund Desk sends a description of the "
            "refund and checks the order's refund request until it is completed or refused.",
            "A partial refund is described line by line in the request; Noventiq's staff refund "
            "the amount it names.",
            "Noventiq accepts one open refund request per order: a second refund for the same "
            "order can be sent only after the first one is completed or refused.",
            "Noventiq refund requests cannot be cancelled once sent.",
        ),
        rate_limit_per_second=None,
        # GET /v1/order/{order_id} (seed 002) shows the order's refund state.
        refund_lookup=True,
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
    def _order_path(self, refund: RefundData) -> str:
        return f"/v1/order/{quote(refund.order_external_number, safe='')}"

    def read_order(self, refund: RefundData) -> dict:
        return self._body(self._call("GET", self._order_path(refund)))

    def _earlier_attempt(self, refund: RefundData, order: dict) -> dict | None:
        """The order's refund request when it is this refund's earlier attempt: same amount and
        made since our refund was requested."""
        request = order.get("refund_request")
        if (
            not isinstance(request, dict)
            or request.get("status") not in mapping.REFUND_REQUEST_STATUS
        ):
            return None
        if _decimal(request.get("amount")) != refund.total:
            return None
        updated = _parse_time(request.get("updated_at"))
        requested = refund.requested_at
        if requested.tzinfo is None:
            requested = requested.replace(tzinfo=dt.UTC)
        if updated is not None and updated < requested - RECONCILE_SKEW:
            return None
        return request

    def _already_there(self, request: dict) -> Accepted:
        return Accepted(
            message=(
                "Noventiq already holds this refund request (status "
                f"{request.get('status')}); it was not sent again."
            ),
            raw=request,
        )

    def _create_refund(self, refund: RefundData) -> Result:
        earlier = self._earlier_attempt(refund, self.read_order(refund))
        if earlier is not None:
            return self._already_there(earlier)
        payload = mapping.refund_payload(refund, merchant_email=self._merchant_email())
        try:
            self._call("POST", f"{self._order_path(refund)}/refund", json=payload)
        except PermanentError as exc:
            if exc.code == "15050":
                earlier = self._earlier_attempt(refund, self.read_order(refund))
                if earlier is not None:
                    return self._already_there(earlier)
            raise
        return Accepted(message="Noventiq received the refund request; it is processed by hand.")

    def _read_refund_status(self, refund: RefundData) -> Result:
        order = self.read_order(refund)
        request = order.get("refund_request")
        if not isinstance(request, dict):
            return Accepted(
                message="Noventiq shows no refund request on this order yet.", raw=order
            )
        status = mapping.REFUND_REQUEST_STATUS.get(str(request.get("status")))
        if status == "ISSUED":
            return Confirmed(message="Noventiq completed the refund request.", raw=request)
        if status == "DENIED":
            return Rejected(
                code="refused", message="Noventiq refused the refund request.", raw=request
            )
        return Accepted(message=f"Noventiq refund request is {request.get('status')}.", raw=request)

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
