"""Shoplazza OpenAPI adapter: we are an app installed in the store.

Credentials (the account row's `credentials`): `client_id`, `client_secret` and the
`refresh_token` the app received at install; the access token (`Access-Token` header) is fetched
from `POST /admin/oauth/token` (grant `refresh_token`), cached per adapter instance until shortly
before `expires_in`, and renewed once on a 401. Options: `api_version` (`2026-01` or `2025-06`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

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

from . import mapping
from .webhooks import parse_refund_webhook


class ShoplazzaAdapter(MarketplaceAdapter):
    key = "shoplazza"
    label = "Shoplazza"
    capabilities = Capabilities(
        partial_refund_by_line=True,
        # Seed 004, Create Order's Refund Record: `refund_total` is required and the line items
        # optional; `refund_shipping_total`, `refund_tip` and `refund_additional_total` exist.
        partial_amount_refund=True,
        shipping_refund=True,
        additional_charges_refund=True,
        multiple_payments=True,
        cancel_after_creation=False,
        return_shipment=False,
        result_delivery=ResultDelivery.POLLING,
        notes=(
            "Shoplazza records the refund at once as pending; Refund Desk then reads the "
            "refund records until Shoplazza reports it finished or failed.",
            "A Shoplazza refund cannot be cancelled once it is sent.",
            "Shoplazza is not told about approved returns or return shipments; restocking is "
            "sent with the refund (return inventory).",
            "Shoplazza allows 2 requests per second per store; busy periods delay sending.",
        ),
        rate_limit_per_second=Decimal("2"),
        # GET /orders/{id}/refund (seed 004) lists the records; ours carry the key in `note`.
        refund_lookup=True,
    )
    # Shoplazza posts every topic to one address: /shoplazza/webhooks (marketplaces.md).
    webhook_endpoints = {"": ("POST",)}

    transport_messages = mapping.TRANSPORT_MESSAGES
    # Renew a token 30 s before Shoplazza says it expires, long-lived tokens only (at most a
    # quarter of its lifetime).
    token_renew_margin = 30.0
    token_renew_share = 0.25

    def __init__(self, account, session=None):
        super().__init__(account, session)
        self._refresh_token = str(account.credentials.get("refresh_token", ""))

    # Settings -------------------------------------------------------------------------------
    @property
    def api_version(self) -> str:
        version = str(self.account.options.get("api_version") or mapping.DEFAULT_API_VERSION)
        if version not in mapping.API_VERSIONS:
            raise PermanentError(
                f"Shoplazza API version {version!r} is not supported; use one of "
                f"{', '.join(mapping.API_VERSIONS)}",
                code="configuration",
            )
        return version

    def _url(self, path: str) -> str:
        return f"{self.account.base_url.rstrip('/')}/openapi/{self.api_version}{path}"

    # Authentication -------------------------------------------------------------------------
    def _fetch_token(self) -> Token:
        creds = self.account.credentials
        missing = [k for k in ("client_id", "client_secret") if not creds.get(k)]
        if not self._refresh_token:
            missing.append("refresh_token")
        if missing:
            raise PermanentError(
                f"The Shoplazza account lacks credentials: {', '.join(missing)}",
                code="configuration",
            )
        data = self._send(
            "POST",
            f"{self.account.base_url.rstrip('/')}/admin/oauth/token",
            json={
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
            },
        )
        token = data.get("access_token")
        if not token:
            raise TransientError("Shoplazza answered the token request without a token")
        try:
            expires_in = float(data.get("expires_in") or 0)
        except (TypeError, ValueError):
            expires_in = 0.0
        if data.get("refresh_token"):
            self._refresh_token = str(data["refresh_token"])
        return Token(str(token), expires_in=expires_in)

    def _attach_token(self, token: str, request: dict[str, Any]) -> dict[str, Any]:
        return with_headers(request, {"Access-Token": token})

    def _api(self, method: str, path: str, *, json: Any = None) -> dict:
        """An OpenAPI call with the Access-Token header; on a 401 renew the token once."""
        return self._body(self._authorized(method, self._url(path), json=json))

    # HTTP and error classification ------------------------------------------------------------
    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return super()._request(method, url, **with_headers(kwargs, {"Accept": "application/json"}))

    def _send(self, method: str, url: str, *, json: Any = None) -> dict:
        """A call without the access token (the OAuth token endpoint)."""
        return self._body(self._request(method, url, json=json))

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return None

    def _body(self, response: requests.Response) -> dict:
        body = self._json(response)
        if not isinstance(body, dict):
            raise TransientError(
                "Shoplazza answered with an unreadable body", raw={"text": response.text[:500]}
            )
        return body

    def _classify(self, response: requests.Response) -> MarketplaceError | None:
        """Shoplazza's error codes (mapping.ERROR_CODES). It answers business-rule refusals
        with a 500 and a code: those are its refusals, any other 5xx (and a 429) is the
        transport's."""
        status = response.status_code
        if status < 300 or status == 429:
            return None
        body = self._json(response)
        raw: Mapping = body if isinstance(body, dict) else {"text": response.text[:500]}
        code = ""
        message = ""
        if isinstance(body, dict):
            code = str(body.get("code") or body.get("error") or "")
            message = str(body.get("message") or body.get("error_description") or "")
        known = mapping.classify(code)
        if status == 401 and "Access-Token" in response.request.headers:
            return PermanentError(
                _staff_message("Unauthorized", message), code="Unauthorized", raw=raw
            )
        if status >= 500:
            if known and known[0] == mapping.PERMANENT:
                return PermanentError(_staff_message(code, message), code=code, raw=raw)
            return None
        if not known:
            code = code or mapping.STATUS_CODES.get(status, f"http_{status}")
        return PermanentError(_staff_message(code, message), code=code, raw=raw)

    # Refund records -------------------------------------------------------------------------
    def _records(self, order_id: str) -> list[dict]:
        data = self._api("GET", f"/orders/{_path(order_id)}/refund")
        records = (data.get("data") or {}).get("records") if isinstance(data, dict) else None
        if not isinstance(records, list):
            raise TransientError(
                "Shoplazza listed the refund records in an unknown shape", raw=data
            )
        return [r for r in records if isinstance(r, dict)]

    def _find(self, refund: RefundData) -> dict | None:
        for record in self._records(refund.order_external_number):
            if refund.external_id and str(record.get("id")) == refund.external_id:
                return record
            if mapping.key_from_note(record.get("note")) == refund.idempotency_key:
                return record
        return None

    def _result_for(self, record: dict, *, post_sale_id: str = "") -> Result:
        external_id = str(record.get("id") or "")
        status = mapping.our_status(str(record.get("refund_status") or ""))
        if status == "ISSUED":
            return Confirmed(
                external_id=external_id,
                external_request_id=post_sale_id,
                message="Shoplazza finished the refund.",
                raw=record,
            )
        if status == "DENIED":
            reason = str(record.get("fail_reason") or record.get("message") or "").strip()
            text = "Shoplazza could not pay the refund back"
            return Rejected(
                code="refund_failed", message=f"{text}: {reason}" if reason else text, raw=record
            )
        return Accepted(
            external_id=external_id,
            external_request_id=post_sale_id,
            message="Shoplazza recorded the refund; it is pending.",
            raw=record,
        )

    # Actions --------------------------------------------------------------------------------
    def _create_refund(self, refund: RefundData) -> Result:
        if not refund.idempotency_key:
            raise PermanentError("The refund has no idempotency key", code="configuration")
        existing = self._find(refund)
        if existing is not None:
            return self._result_for(existing)
        payload = mapping.refund_payload(refund, self.api_version)
        data = self._api(
            "POST", f"/orders/{_path(refund.order_external_number)}/refund", json=payload
        )
        if str(data.get("code", "")).lower() != "success":
            raise PermanentError(
                _staff_message(str(data.get("code") or "rejected"), str(data.get("message", ""))),
                code=str(data.get("code") or "rejected"),
                raw=data,
            )
        info = data.get("data") or {}
        return Accepted(
            external_id=str(info.get("refund_record_id") or ""),
            external_request_id=str(info.get("post_sale_id") or ""),
            message="Shoplazza recorded the refund; it is pending.",
            raw=data,
        )

    def _read_refund_status(self, refund: RefundData) -> Result:
        record = self._find(refund)
        if record is None:
            raise PermanentError("Shoplazza has no refund record for this refund", code="not_found")
        return self._result_for(record, post_sale_id=refund.external_request_id)

    def parse_webhook(
        self,
        *,
        name: str,
        method: str,
        headers: Mapping[str, str],
        body: bytes,
        verified: bool = False,
    ) -> WebhookMessage:
        if name not in self.webhook_endpoints:
            raise WebhookRejected(f"Shoplazza sends no webhook named {name!r}", status=404)
        if method.upper() not in self.webhook_endpoints[name]:
            raise WebhookRejected(f"{method} is not allowed here", status=405)
        return parse_refund_webhook(
            secret=self.account.webhook_secret, headers=headers, body=body, verified=verified
        )


def _staff_message(code: str, platform_message: str) -> str:
    known = mapping.classify(code)
    text = known[1] if known else f"Shoplazza refuses the request ({code})"
    return f"{text}: {platform_message}" if platform_message else text


def _path(order_id: str) -> str:
    from urllib.parse import quote

    return quote(str(order_id), safe="")
