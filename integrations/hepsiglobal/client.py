"""HepsiGlobal adapter: client-credentials token (cached per adapter instance, renewed before it
expires and once on a 401), POST /v1/refunds with our idempotency key as `refund_number`, and
the two webhooks HepsiGlobal sends us (refund-create-result, order-cancel).

Credentials (MarketplaceAccount.credentials): {"client_id": ..., "client_secret": ...}.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import threading
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import requests

from integrations.base import (
    Accepted,
    Capabilities,
    MarketplaceAdapter,
    PermanentError,
    RefundData,
    Result,
    ResultDelivery,
    TransientError,
    WebhookMessage,
)

from . import mapping, webhooks

TOKEN_PATH = "/v1/auth/token"  # noqa: S105 (a path, not a secret)
REFUNDS_PATH = "/v1/refunds"
# Renew this long before the token's announced expiry (at most a tenth of its lifetime).
TOKEN_RENEW_MARGIN_SECONDS = 60.0


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(Decimal(value))
    except ArithmeticError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(seconds, 0.0)


class HepsiGlobalAdapter(MarketplaceAdapter):
    key = "hepsiglobal"
    label = "HepsiGlobal"
    capabilities = Capabilities(
        partial_refund_by_line=True,
        # Seed 000, Create Refund: `items[]` of `order_item_number` and a whole `quantity`, and
        # nothing else is refunded: no amount without units, no shipping, no other charges.
        partial_amount_refund=False,
        shipping_refund=False,
        additional_charges_refund=False,
        multiple_payments=False,
        cancel_after_creation=False,
        return_shipment=False,
        result_delivery=ResultDelivery.WEBHOOK,
        notes=(
            "HepsiGlobal refunds are final: they cannot be cancelled once sent.",
            "HepsiGlobal refunds order items only; shipping and other charges must be refunded "
            "another way.",
            "HepsiGlobal answers at once with a request id; whether the refund went through "
            "arrives later by webhook.",
            "HepsiGlobal pays the customer back itself; it is not told which payment to use.",
        ),
        rate_limit_per_second=None,  # HepsiGlobal publishes no limit
        # Seed 000 publishes no refund status or list call, nor that a repeated refund_number
        # is recognised (marketplaces.md assumes it is): after an unknown outcome a person
        # checks on HepsiGlobal.
        refund_lookup=False,
    )
    webhook_endpoints = webhooks.ENDPOINTS

    def __init__(self, account, session=None):
        super().__init__(account, session)
        self._token = ""
        self._token_renew_at = 0.0
        self._token_lock = threading.Lock()

    # --- authentication ----------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.account.base_url.rstrip('/')}{path}"

    def _token_value(self, *, renew: bool = False) -> str:
        with self._token_lock:
            if renew or not self._token or time.monotonic() >= self._token_renew_at:
                self._fetch_token()
            return self._token

    def _fetch_token(self) -> None:
        credentials = self.account.credentials
        body = {
            "grant_type": "client_credentials",
            "client_id": credentials.get("client_id", ""),
            "client_secret": credentials.get("client_secret", ""),
        }
        response = self._send("POST", TOKEN_PATH, body=mapping.dumps(body), token="")
        if response.status_code != 200:
            self._raise_for(response)
        data = self._json(response)
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token:
            raise TransientError(
                "HepsiGlobal's token answer has no access_token.", code="bad_token"
            )
        try:
            lifetime = float(data.get("expires_in") or 0)
        except (TypeError, ValueError):
            lifetime = 0.0
        margin = min(TOKEN_RENEW_MARGIN_SECONDS, lifetime / 10)
        self._token = token
        # No lifetime announced: keep it until HepsiGlobal answers 401.
        self._token_renew_at = time.monotonic() + (lifetime - margin if lifetime else 10**9)

    # --- HTTP --------------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, body: bytes | None, token: str) -> requests.Response:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self.session.request(method, self._url(path), data=body, headers=headers)
        except requests.Timeout as exc:
            raise TransientError(
                "HepsiGlobal did not answer in time; the call will be retried.", code="timeout"
            ) from exc
        except requests.ConnectionError as exc:
            raise TransientError(
                "Could not reach HepsiGlobal (connection failed); the call will be retried.",
                code="connection_error",
            ) from exc

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return json.loads(response.content or b"null", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            return None

    def _raise_for(self, response: requests.Response) -> None:
        body = self._json(response)
        code, _, _ = mapping.error_details(body)
        status = response.status_code
        kind, message = mapping.staff_message(code, status, body)
        raw = body if isinstance(body, dict) else {"status": status}
        code = code or f"http_{status}"
        if kind == mapping.TRANSIENT:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise TransientError(message, retry_after=retry_after, code=code, raw=raw)
        raise PermanentError(message, code=code, raw=raw)

    def _call(self, method: str, path: str, body: bytes | None) -> Any:
        """One authenticated call: on a 401 renew the token once and retry."""
        response = self._send(method, path, body=body, token=self._token_value())
        if response.status_code == 401:
            response = self._send(method, path, body=body, token=self._token_value(renew=True))
        if response.status_code >= 300:
            self._raise_for(response)
        return self._json(response)

    # --- actions -----------------------------------------------------------------------------
    def _create_refund(self, refund: RefundData) -> Result:
        try:
            payload = mapping.refund_payload(refund)
        except mapping.MappingError as exc:
            raise PermanentError(exc.message, code=exc.code) from None
        data = self._call("POST", REFUNDS_PATH, mapping.dumps(payload))
        request_id = data.get("request_id") if isinstance(data, dict) else None
        if not isinstance(request_id, str) or not request_id:
            raise TransientError(
                "HepsiGlobal accepted the refund without a request id; it will be asked again.",
                code="no_request_id",
                raw=data if isinstance(data, dict) else {},
            )
        return Accepted(
            external_id=refund.idempotency_key,
            external_request_id=request_id,
            message="HepsiGlobal is processing the refund; its result arrives by webhook.",
            raw=data,
        )

    def parse_webhook(
        self,
        *,
        name: str,
        method: str,
        headers: Mapping[str, str],
        body: bytes,
        verified: bool = False,
    ) -> WebhookMessage:
        return webhooks.parse(
            secret=self.account.webhook_secret,
            name=name,
            method=method,
            headers=headers,
            body=body,
            verified=verified,
        )
