"""Shoplazza OpenAPI adapter: we are an app installed in the store.

Credentials (the account row's `credentials`): `client_id`, `client_secret` and the
`refresh_token` the app received at install; the access token (`Access-Token` header) is fetched
from `POST /admin/oauth/token` (grant `refresh_token`), cached per adapter instance until shortly
before `expires_in`, and renewed once on a 401. Options: `api_version` (`2026-01` or `2025-06`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

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
    WebhookRejected,
)

from . import mapping
from .webhooks import parse_refund_webhook

# Renew a token this many seconds before Shoplazza says it expires (long-lived tokens only).
RENEW_MARGIN_SECONDS = 30.0


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

    def __init__(self, account, session=None):
        super().__init__(account, session)
        self._token = ""
        self._token_expires_at = 0.0  # time.monotonic() seconds
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
    def _access_token(self, *, renew: bool = False) -> str:
        if self._token and not renew and time.monotonic() < self._token_expires_at:
            return self._token
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
        token = data.get("access_token") if isinstance(data, dict) else None
        if not token:
            raise TransientError("Shoplazza answered the token request without a token")
        try:
            expires_in = float(data.get("expires_in") or 0)
        except (TypeError, ValueError):
            expires_in = 0.0
        margin = RENEW_MARGIN_SECONDS if expires_in > 4 * RENEW_MARGIN_SECONDS else 0.0
        self._token = str(token)
        self._token_expires_at = time.monotonic() + max(expires_in - margin, 0.0)
        if data.get("refresh_token"):
            self._refresh_token = str(data["refresh_token"])
        return self._token

    def _api(self, method: str, path: str, *, json: Any = None) -> dict:
        """An OpenAPI call with the Access-Token header; on a 401 renew the token once."""
        url = self._url(path)
        token = self._access_token()
        try:
            return self._send(method, url, json=json, token=token)
        except _Unauthorized:
            token = self._access_token(renew=True)
            try:
                return self._send(method, url, json=json, token=token)
            except _Unauthorized as exc:
                raise PermanentError(exc.message, code=exc.code, raw=exc.raw) from None

    # HTTP and error classification ------------------------------------------------------------
    def _send(self, method: str, url: str, *, json: Any = None, token: str = "") -> dict:
        headers = {"Accept": "application/json"}
        if token:
            headers["Access-Token"] = token
        try:
            response = self.session.request(method, url, json=json, headers=headers)
        except requests.Timeout:
            raise TransientError("Shoplazza did not answer in time", code="timeout") from None
        except requests.ConnectionError:
            raise TransientError(
                "The connection to Shoplazza failed", code="connection_error"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        raw: Mapping = body if isinstance(body, dict) else {"text": response.text[:500]}
        status = response.status_code
        if status < 300:
            if not isinstance(body, dict):
                raise TransientError("Shoplazza answered with an unreadable body", raw=raw)
            return body
        code = ""
        message = ""
        if isinstance(body, dict):
            code = str(body.get("code") or body.get("error") or "")
            message = str(body.get("message") or body.get("error_description") or "")
        if status == 429:
            raise TransientError(
                mapping.ERROR_CODES["TooManyRequests"][1],
                retry_after=_retry_after(response.headers.get("Retry-After")),
                code="TooManyRequests",
                raw=raw,
            )
        known = mapping.classify(code)
        if status == 401 and token:
            raise _Unauthorized(
                _staff_message("Unauthorized", message), code="Unauthorized", raw=raw
            )
        if status >= 500:
            # Shoplazza answers business-rule refusals with 500 and a code; anything else is an
            # outage.
            if known and known[0] == mapping.PERMANENT:
                raise PermanentError(_staff_message(code, message), code=code, raw=raw)
            raise TransientError(
                f"Shoplazza is failing (HTTP {status}); retrying later", code=str(status), raw=raw
            )
        if not known:
            code = code or mapping.STATUS_CODES.get(status, f"http_{status}")
        raise PermanentError(_staff_message(code, message), code=code, raw=raw)

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


class _Unauthorized(PermanentError):
    """A 401 on an OpenAPI call: renew the token once before giving up."""


def _staff_message(code: str, platform_message: str) -> str:
    known = mapping.classify(code)
    text = known[1] if known else f"Shoplazza refuses the request ({code})"
    return f"{text}: {platform_message}" if platform_message else text


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return seconds


def _path(order_id: str) -> str:
    from urllib.parse import quote

    return quote(str(order_id), safe="")
