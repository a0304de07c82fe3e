"""Shoplazza OpenAPI adapter: we are an app installed in the store.

Credentials (the account row's `credentials`): `client_id`, `client_secret` and the
`refresh_token` the app received at install; the access token (`Access-Token` header) is fetched
from `POST /admin/oauth/token` (grant `refresh_token`, form-encoded as Shoplazza's SDK sends it,
mapping [P7]), cached per adapter instance until shortly before its `expires_at` ([P6]; or
`expires_in`), and renewed once on a 401. Webhooks are signed with the app's client secret [P8].
Options: `api_version` (`2026-01` or `2025-06`). What each call rests on: mapping.py's header.
"""

from __future__ import annotations

import logging
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

from . import mapping
from .webhooks import parse_refund_webhook

logger = logging.getLogger(__name__)


class ShoplazzaAdapter(MarketplaceAdapter):
    key = "shoplazza"
    label = "Shoplazza"
    # Each from mapping.py's pages: Create Order's Refund Record [P1] takes line items with a
    # quantity, a refund_total that is "the only required field" [P5], refund_shipping_total,
    # refund_tip, refund_additional_total and several refund_payments[]; no page offers a
    # cancel of a refund record or a return shipment; the outcome is read from the refund
    # records [P2] (no refund webhook topic is published, ASSUMPTIONS A3).
    capabilities = Capabilities(
        partial_refund_by_line=True,
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
        # Before creating, the store's refund records list [P3] is searched for our key in
        # `note`; that the note comes back as sent is ASSUMPTIONS A1 in mapping.py.
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
        # Form-encoded, as Shoplazza's own SDK sends it (mapping [P7]).
        data = self._body(
            self._request(
                "POST",
                f"{self.account.base_url.rstrip('/')}/admin/oauth/token",
                data={
                    "client_id": creds["client_id"],
                    "client_secret": creds["client_secret"],
                    "grant_type": "refresh_token",
                    "refresh_token": self._refresh_token,
                },
            )
        )
        token = data.get("access_token")
        if not token:
            raise TransientError("Shoplazza answered the token request without a token")
        if data.get("refresh_token"):
            self._refresh_token = str(data["refresh_token"])
        return Token(str(token), expires_in=mapping.token_lifetime(data, time.time()))

    def _attach_token(self, token: str, request: dict[str, Any]) -> dict[str, Any]:
        return with_headers(request, {"Access-Token": token})

    def _api(self, method: str, path: str, *, json: Any = None, params: Any = None) -> dict:
        """An OpenAPI call with the Access-Token header; on a 401 renew the token once."""
        return self._body(self._authorized(method, self._url(path), json=json, params=params))

    def webhooks_configured(self) -> bool:
        # Shoplazza signs with the app's client secret [P8], not a secret of its own.
        return bool(self.account.credentials.get("client_secret"))

    # HTTP and error classification ------------------------------------------------------------
    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return super()._request(method, url, **with_headers(kwargs, {"Accept": "application/json"}))

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
            errors = body.get("errors")
            if not message and isinstance(errors, list):
                message = "; ".join(str(e) for e in errors if e)
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
    @staticmethod
    def _listed(data: Any) -> tuple[list[dict], dict]:
        info = data.get("data") if isinstance(data, dict) else None
        records = info.get("records") if isinstance(info, dict) else None
        if not isinstance(records, list):
            raise TransientError(
                "Shoplazza listed the refund records in an unknown shape", raw=data
            )
        return [r for r in records if isinstance(r, dict)], info

    def _order_records(self, order_id: str) -> list[dict]:
        """The order's refund records, GET /orders/{order_id}/refund [P2]."""
        return self._listed(self._api("GET", f"/orders/{_path(order_id)}/refund"))[0]

    def _records_with_key(self, refund: RefundData) -> dict | None:
        """The order's record whose note carries our key, from the store's refund records list
        [P3], the one that documents `note` [P4] (ASSUMPTIONS A1, A6)."""
        order_id = refund.order_external_number
        params = {"order_ids": order_id, "page_size": mapping.RECORDS_PAGE_SIZE}
        seen: set[str] = set()
        while True:
            records, info = self._listed(self._api("GET", "/orders/refund_records", params=params))
            for record in records:
                if str(record.get("order_id") or order_id) != order_id:
                    continue
                if mapping.key_from_note(record.get("note")) == refund.idempotency_key:
                    return record
            cursor = str(info.get("cursor") or "")
            if not records or not cursor or cursor in seen:
                return None
            seen.add(cursor)
            params = {**params, "cursor": cursor}

    def _find(self, refund: RefundData) -> dict | None:
        if refund.external_id:
            # The record id from the create answer identifies the refund [P5].
            for record in self._order_records(refund.order_external_number):
                if str(record.get("id")) == refund.external_id:
                    return record
            return None
        return self._records_with_key(refund)

    def _result_for(self, record: dict, *, post_sale_id: str = "") -> Result:
        external_id = str(record.get("id") or "")
        status = mapping.our_status(mapping.record_status(record))
        if status == "ISSUED":
            return Confirmed(
                external_id=external_id,
                external_request_id=post_sale_id,
                message="Shoplazza finished the refund.",
                raw=record,
            )
        if status == "DENIED":
            # A record names no reason for a failure ([P2], [P4]).
            return Rejected(
                code="refund_failed",
                message="Shoplazza could not pay the refund back (the refund record failed)",
                raw=record,
            )
        return Accepted(
            external_id=external_id,
            external_request_id=post_sale_id,
            message="Shoplazza recorded the refund; it is pending.",
            raw=record,
        )

    # Orders ---------------------------------------------------------------------------------
    def read_order(self, order_external_number: str) -> OrderData | None:
        """Get Order Detail, GET /orders/{order_id} (read_order scope) [P10], for an order a
        refund names that Refund Desk does not have. None when Shoplazza does not know it
        (404) or shows an order that cannot be mirrored faithfully (mapping ASSUMPTIONS
        A7-A10: a partially shipped line without its shipped units, no e-mail, a total the
        lines cannot carry); its payments are not mirrored (A8)."""
        if not order_external_number:
            return None
        try:
            body = self._api("GET", f"/orders/{_path(order_external_number)}")
        except PermanentError as exc:
            if exc.code == "NotFound":
                return None
            raise
        order = mapping.order_answer(body)
        if order is None:
            raise TransientError("Shoplazza answered the order in an unknown shape", raw=body)
        data = mapping.order_data(order)
        if data is None:
            logger.warning(
                "%s: Shoplazza order %s cannot be mirrored faithfully (see mapping A7-A10)",
                self.account.name,
                order_external_number,
            )
        return data

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
            secret=str(self.account.credentials.get("client_secret") or ""),
            headers=headers,
            body=body,
            verified=verified,
        )


def _staff_message(code: str, platform_message: str) -> str:
    known = mapping.classify(code)
    text = known[1] if known else f"Shoplazza refuses the request ({code})"
    return f"{text}: {platform_message}" if platform_message else text


def _path(order_id: str) -> str:
    from urllib.parse import quote

    return quote(str(order_id), safe="")
