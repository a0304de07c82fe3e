"""HepsiGlobal adapter: client-credentials token (cached per adapter instance, renewed before it
expires and once on a 401), POST /v1/refunds with our idempotency key as `refund_number`, and
the two webhooks HepsiGlobal sends us (refund-create-result, order-cancel).

Credentials (MarketplaceAccount.credentials): {"client_id": ..., "client_secret": ...}; how its
webhooks are recognised: MarketplaceAccount.options["webhook_auth"] (webhooks.py). What the
platform publishes, and what we assume: mapping.py; the table: DOCS.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import requests

from integrations.base import (
    Accepted,
    Capabilities,
    MarketplaceAdapter,
    MarketplaceError,
    PermanentError,
    RefundData,
    Result,
    ResultDelivery,
    Token,
    TransientError,
    WebhookMessage,
    WebhookOrigin,
    with_headers,
)

from . import mapping, webhooks

TOKEN_PATH = "/v1/auth/token"  # noqa: S105 (a path, not a secret)
REFUNDS_PATH = "/v1/refunds"


class HepsiGlobalAdapter(MarketplaceAdapter):
    key = "hepsiglobal"
    label = "HepsiGlobal"
    capabilities = Capabilities(
        partial_refund_by_line=True,
        # Seed 000, Create Refund: `items[]` of `order_item_number` and a whole `quantity`, and
        # nothing else is refunded: no amount without units, no shipping, no other charges.
        # Some units of an item may be refunded (quantity 1 of 2).
        partial_line_quantity=True,
        partial_amount_refund=False,
        shipping_refund=False,
        additional_charges_refund=False,
        multiple_payments=False,
        # "Created refund is final and can not be canceled" (Create Refund).
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
    # HepsiGlobal signs nothing (mapping.py ASSUMPTIONS A1): we check the URL and the address.
    webhook_uses_origin = True

    transport_messages = mapping.TRANSPORT_MESSAGES
    # Renew the token a minute before its announced expiry, at most a tenth of its lifetime.
    token_renew_margin = 60.0
    token_renew_share = 0.1

    def _url(self, path: str) -> str:
        return f"{self.account.base_url.rstrip('/')}{path}"

    # --- authentication ----------------------------------------------------------------------
    def _fetch_token(self) -> Token:
        credentials = self.account.credentials
        body = {
            "grant_type": "client_credentials",
            "client_id": credentials.get("client_id", ""),
            "client_secret": credentials.get("client_secret", ""),
        }
        response = self._request(
            "POST",
            self._url(TOKEN_PATH),
            data=mapping.dumps(body),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise self._error(response) or PermanentError(
                f"HepsiGlobal refused the call (HTTP {response.status_code}).",
                code=f"http_{response.status_code}",
            )
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
        # No lifetime announced: keep it until HepsiGlobal answers 401.
        return Token(token, expires_in=lifetime or None)

    def _attach_token(self, token: str, request: dict[str, Any]) -> dict[str, Any]:
        return with_headers(request, {"Authorization": f"Bearer {token}"})

    # --- HTTP --------------------------------------------------------------------------------
    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return json.loads(response.content or b"null", parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            return None

    def _classify(self, response: requests.Response) -> MarketplaceError | None:
        if response.status_code < 300:
            return None
        return self._error(response)

    def _error(self, response: requests.Response) -> MarketplaceError | None:
        """HepsiGlobal's error envelope, read by its mapping; None for a 429 or 5xx carrying no
        code of its own (the transport's rate_limited / server_error)."""
        body = self._json(response)
        code, _, _ = mapping.error_details(body)
        status = response.status_code
        found = mapping.staff_message(code, status, body)
        if found is None:
            return None
        kind, message = found
        raw = body if isinstance(body, dict) else {"status": status}
        code = code or f"http_{status}"
        if kind == mapping.TRANSIENT:
            return TransientError(message, code=code, raw=raw)
        return PermanentError(message, code=code, raw=raw)

    def _call(self, method: str, path: str, body: bytes | None) -> Any:
        """One authenticated call (the token renewed once on a 401); the answer's JSON."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = self._authorized(method, self._url(path), data=body, headers=headers)
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

    def webhooks_configured(self) -> bool:
        return webhooks.configured(self.account)

    def webhook_base_url(self) -> str:
        """The base URL to give HepsiGlobal at onboarding: it calls it followed by
        /webhooks/<name> (seed 001). With "path_token" it holds the account's secret."""
        base = f"{self.account.callback_base_url.rstrip('/')}/{self.key}"
        if webhooks.auth_mode(self.account) == webhooks.PATH_TOKEN:
            return f"{base}/{self.account.webhook_secret}"
        return base

    def parse_webhook(
        self,
        *,
        name: str,
        method: str,
        headers: Mapping[str, str],
        body: bytes,
        verified: bool = False,
        origin: WebhookOrigin | None = None,
    ) -> WebhookMessage:
        return webhooks.parse(
            account=self.account,
            name=name,
            method=method,
            headers=headers,
            body=body,
            verified=verified,
            origin=origin,
        )
