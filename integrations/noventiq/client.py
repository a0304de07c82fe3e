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
import email.utils
import json
import threading
import time
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

import requests

from integrations.base import (
    Accepted,
    Capabilities,
    Confirmed,
    MarketplaceAdapter,
    PermanentError,
    RefundData,
    Rejected,
    Result,
    ResultDelivery,
    TransientError,
    WebhookMessage,
)

from . import mapping, webhooks

DEFAULT_TOKEN_LIFETIME = 24 * 3600.0
TOKEN_MARGIN = 30.0  # renew this many seconds before the token expires
# Refund requests whose time is this much before our refund's are not ours (clock skew).
RECONCILE_SKEW = dt.timedelta(minutes=10)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


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

    def __init__(self, account, session=None):
        super().__init__(account, session)
        self._token = ""
        self._token_expires_at = 0.0
        self._token_lock = threading.Lock()

    # --- HTTP and authentication -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.account.base_url.rstrip("/")

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            return self.session.request(method, f"{self.base_url}{path}", **kwargs)
        except requests.Timeout:
            raise TransientError("Noventiq did not answer in time.", code="timeout") from None
        except requests.ConnectionError:
            raise TransientError(
                "Could not reach Noventiq (connection failed).", code="connection"
            ) from None
        except requests.RequestException as exc:
            raise TransientError(
                f"Calling Noventiq failed: {type(exc).__name__}.", code="request"
            ) from None

    @staticmethod
    def _body(response: requests.Response) -> dict:
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {"data": data}

    def _raise_for_transport(self, response: requests.Response) -> None:
        status = response.status_code
        if status == 429:
            raise TransientError(
                "Noventiq asks us to slow down (429).",
                code="429",
                retry_after=_retry_after(response.headers.get("Retry-After")),
                raw=self._body(response),
            )
        if status >= 500:
            raise TransientError(
                f"Noventiq had a server error ({status}); will retry.",
                code=str(status),
                raw=self._body(response),
            )

    def _login(self) -> str:
        credentials = self.account.credentials
        response = self._send(
            "POST",
            "/v1/login_check",
            json={
                "username": credentials.get("username", ""),
                "password": credentials.get("password", ""),
            },
        )
        self._raise_for_transport(response)
        body = self._body(response)
        if response.status_code in (400, 401, 403):
            raise PermanentError(
                "Noventiq refuses the account's username or password "
                f"({body.get('message') or response.status_code}). Check the Noventiq "
                "marketplace account's credentials.",
                code="login",
                raw=body,
            )
        token = body.get("token")
        if response.status_code != 200 or not isinstance(token, str) or not token:
            raise TransientError(
                f"Noventiq's login answered {response.status_code} without a token.",
                code="login",
                raw=body,
            )
        lifetime = float(self.account.options.get("token_lifetime_seconds", DEFAULT_TOKEN_LIFETIME))
        expires_at = _jwt_expiry(token) or (time.time() + lifetime)
        self._token, self._token_expires_at = token, expires_at
        return token

    def _access_token(self, *, renew: bool = False) -> str:
        with self._token_lock:
            if renew or not self._token or time.time() >= self._token_expires_at - TOKEN_MARGIN:
                return self._login()
            return self._token

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        """An authenticated call; on 401 log in again once and retry. Returns a 2xx response
        or raises TransientError / PermanentError."""
        for attempt in range(2):
            token = self._access_token(renew=attempt > 0)
            response = self._send(
                method, path, headers={"AuthorizationJWT": f"Bearer {token}"}, **kwargs
            )
            if response.status_code == 401 and attempt == 0:
                continue
            break
        self._raise_for_transport(response)
        if 200 <= response.status_code < 300:
            return response
        raise self._error(response)

    def _error(self, response: requests.Response) -> PermanentError | TransientError:
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
            if response.status_code == 404:
                return PermanentError(
                    "Noventiq does not know this address or order (404).", code="404", raw=body
                )
            return PermanentError(
                f"Noventiq refused the request ({response.status_code}).",
                code=str(response.status_code),
                raw=body,
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
        from integrations.base import WebhookRejected

        if name not in self.webhook_endpoints:
            raise WebhookRejected(f"Noventiq sends no {name!r} webhook", status=404)
        if method.upper() not in self.webhook_endpoints[name]:
            raise WebhookRejected(f"Noventiq webhooks are POSTed, not {method}", status=405)
        return webhooks.verify_and_parse(
            secret=self.account.webhook_secret, headers=headers, body=body, verified=verified
        )
