"""LLZW shop REST API v2 client (adapter key `llzw`). We log in as the shop's SELLER.

Authentication (LLZW API reference, "Authentication"): form login `POST /login` (username,
password) sets a session cookie (`JSESSIONID`); the cookie is cached per adapter instance and
sent on every call. When the shop answers 401 (session expired or unknown) we log in again once
and repeat the call.

Credentials (MarketplaceAccount.credentials): {"username": ..., "password": ...}.

What the SELLER account may do (seed 003): list, read, create (POST) and cancel (DELETE)
refunds. PATCH is `SHIP_INIT` only, for the CUSTOMER role: the seller's decisions (confirm,
receive the goods, issue the money, deny) are not in the API; the shop's own staff take them on
the shop, and Refund Desk learns them by polling `GET /api/v2/refunds` (refunds.delivery.polling:
statuses through refund_apply_remote_status, our own refunds' results through
refund_apply_marketplace_result).

A refund Refund Desk creates: look the order's refunds up for our idempotency marker (see
mapping.py ASSUMPTIONS), POST one only when none exists, and answer with what the shop holds:
Accepted while its staff have not decided, Confirmed once ISSUED, Rejected when DENIED or
CANCELLED. A refund a customer opened on the shop (RefundData.external_id set) is read by its
id, without the POST. Approving, denying and return tracking are not told to the shop (Confirmed
with a note saying so): there is no call for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
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
    RemoteRefund,
    Result,
    ResultDelivery,
    Token,
    TransientError,
    WebhookMessage,
)

from . import mapping
from .webhooks import parse_webhook

SESSION_COOKIE = "JSESSIONID"
# LLZW API reference, "Authentication": POST http://example.com/login
LOGIN_PATH = "/login"
PAGE_SIZE = 100
MAX_PAGES = 200  # a runaway guard: 20,000 refunds per listing


class LlzwAdapter(MarketplaceAdapter):
    key = "llzw"
    label = "LLZW shop"
    capabilities = Capabilities(
        partial_refund_by_line=False,
        # Seed 003, POST /api/v2/refunds: one `amount` per refund, whatever it is made of.
        partial_amount_refund=True,
        shipping_refund=True,
        additional_charges_refund=True,
        multiple_payments=False,
        # Seed 003, DELETE /api/v2/refunds/<ID>: SELLER or CUSTOMER, while PENDING, WAITING or
        # REQUESTED.
        cancel_after_creation=True,
        # The customer's SHIP_INIT tracking is on the entity (trackingId, carrierName): read by
        # polling; Refund Desk cannot send any (SHIP_INIT is CUSTOMER only).
        return_shipment=True,
        # No webhooks and no seller decisions in seed 003: the list is polled.
        result_delivery=ResultDelivery.POLLING,
        notes=(
            "LLZW takes one amount per refund: lines, shipping and extras are sent as one sum, "
            "and the shop chooses how to pay it back.",
            "The shop's own staff confirm, pay out or deny LLZW refunds on the shop; Refund Desk "
            "follows their decisions by polling, a few minutes late.",
            "On LLZW a refund can be cancelled only while it is requested or waiting for the "
            "return.",
            "Only the customer enters the return's tracking on LLZW; Refund Desk reads it when "
            "it polls.",
        ),
        rate_limit_per_second=None,
        # GET /api/v2/refunds?orderId= (seed 003) finds our refund by the key in its reason.
        refund_lookup=True,
    )
    webhook_endpoints: Mapping[str, tuple[str, ...]] = {}

    transport_messages = mapping.TRANSPORT_MESSAGES

    # --- HTTP -------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.account.base_url.rstrip('/')}{path}"

    def _fetch_token(self) -> Token:
        """Log in; the session cookie is the credential (the shop announces no lifetime: it is
        kept until the shop answers 401)."""
        username = self.account.credentials.get("username", "")
        password = self.account.credentials.get("password", "")
        if not username or not password:
            raise PermanentError(
                "The LLZW account has no username or password configured.",
                code="missing_credentials",
            )
        response = self._request(
            "POST", self._url(LOGIN_PATH), data={"username": username, "password": password}
        )
        session_id = response.cookies.get(SESSION_COOKIE)
        if not session_id:
            raise TransientError(
                "LLZW accepted the login but set no session cookie.",
                code="no_session",
                raw=self._body(response),
            )
        # Keep the session in this adapter only: the shared cookie jar must not send a stale one.
        self.session.cookies.clear()
        return Token(session_id)

    def _attach_token(self, token: str, request: dict[str, Any]) -> dict[str, Any]:
        return {**request, "cookies": {SESSION_COOKIE: token}}

    def _call(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call an authenticated endpoint; returns the envelope's `data`."""
        headers = {"Accept": "application/json"}
        data = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            data = mapping.dumps(payload).encode()
        response = self._authorized(
            method, self._url(path), params=params, data=data, headers=headers
        )
        return self._body(response).get("data")

    @staticmethod
    def _body(response: requests.Response) -> dict:
        try:
            body = mapping.loads(response.content) if response.content else {}
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}

    def _classify(self, response: requests.Response) -> MarketplaceError | None:
        """The shop's error envelope (marketplaces.md, llzw): a 4xx, or a 200 saying
        `success: false`. A 429 or 5xx without a known error type is the transport's."""
        status = response.status_code
        body = self._body(response)
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        error_type = str(error.get("type") or "")
        if status == 429 or (status >= 500 and error_type not in mapping.ERROR_CODES):
            return None
        if status < 400 and body.get("success") is not False:
            return None
        shop_text = str(error.get("message") or body.get("message") or "").strip()
        kind, message = mapping.ERROR_CODES.get(
            error_type, (mapping.PERMANENT, f"LLZW refused the call (HTTP {status}).")
        )
        if shop_text:
            message = f"{message} LLZW says: {shop_text}"
        if kind == mapping.TRANSIENT:
            return TransientError(message, code=error_type or str(status), raw=body)
        return PermanentError(message, code=error_type or str(status), raw=body)

    # --- Reads ------------------------------------------------------------------------------
    def _get_refund(self, external_id: str) -> dict:
        if not str(external_id).isdigit():
            raise PermanentError(f"{external_id!r} is not an LLZW refund id.", code="bad_id")
        return self._call("GET", f"/api/v2/refunds/{external_id}") or {}

    def _list(self, params: Mapping[str, Any]) -> list[dict]:
        found: list[dict] = []
        for page in range(MAX_PAGES):
            rows = (
                self._call(
                    "GET", "/api/v2/refunds", params={**params, "page": page, "size": PAGE_SIZE}
                )
                or []
            )
            found.extend(rows)
            if len(rows) < PAGE_SIZE:
                break
        return found

    def _find_ours(self, refund: RefundData, order_id: int) -> dict | None:
        """The refund this idempotency key already made on the shop, if any."""
        marker = mapping.key_marker(refund.idempotency_key)
        for row in self._list({"orderId": order_id}):
            if marker in (row.get("requestReason") or ""):
                return row
        return None

    def _order_id(self, refund: RefundData) -> int:
        order_id = mapping.order_id(refund.order_external_number)
        if order_id is None:
            raise PermanentError(
                f"Order {refund.order_external_number!r} is not an LLZW order id (LLZW orders "
                "are numbered 1, 2, 3...).",
                code="bad_order",
            )
        return order_id

    def _existing(self, refund: RefundData) -> dict | None:
        if refund.external_id:
            return self._get_refund(refund.external_id)
        return self._find_ours(refund, self._order_id(refund))

    def list_refunds(self, *, since: dt.datetime | None = None) -> list[RemoteRefund]:
        # The shop has no "changed since" filter and dates are to the minute: filter here,
        # from the start of `since`'s minute (a refund seen twice is harmless to the poller).
        floor = since.replace(second=0, microsecond=0) if since else None
        refunds = [mapping.remote_refund(row) for row in self._list({})]
        if floor is None:
            return refunds
        return [
            r
            for r in refunds
            if (r.updated_at or r.created_at) is None or (r.updated_at or r.created_at) >= floor
        ]

    # --- Actions ----------------------------------------------------------------------------
    def _create_refund(self, refund: RefundData) -> Result:
        entity = self._existing(refund)
        if entity is None:
            if refund.total <= 0:
                raise PermanentError("The refund amount must be above zero.", code="amount")
            entity = (
                self._call("POST", "/api/v2/refunds", payload=mapping.create_payload(refund)) or {}
            )
        return self._settled(
            entity, "LLZW holds the refund; the shop's staff pay it out, Refund Desk polls."
        )

    def _approve_return(self, refund: RefundData) -> Result:
        return Confirmed(
            external_id=refund.external_id,
            message="LLZW is not told: its API has no seller decision; the shop's staff confirm "
            "the refund on the shop.",
        )

    def _deny_refund(self, refund: RefundData) -> Result:
        return Confirmed(
            external_id=refund.external_id,
            message="LLZW is not told: its API has no seller decision; deny the refund on the "
            "shop too, or Refund Desk will show the shop's status as drift.",
        )

    def _cancel_refund(self, refund: RefundData) -> Result:
        entity = self._existing(refund)
        if entity is None:
            return Confirmed(message="LLZW holds no refund for this; nothing to cancel.")
        if entity.get("status") != "CANCELLED":
            self._call("DELETE", f"/api/v2/refunds/{entity['id']}")
        return Confirmed(external_id=str(entity["id"]), message="LLZW cancelled the refund.")

    def _send_return_shipment(self, refund: RefundData) -> Result:
        return Confirmed(
            message="LLZW is not told: only the customer enters return tracking on the shop "
            "(SHIP_INIT)."
        )

    def _read_refund_status(self, refund: RefundData) -> Result:
        entity = self._existing(refund)
        if entity is None:
            return Accepted(message="LLZW holds no refund for this yet.")
        return self._settled(entity, "LLZW has not issued the refund yet.")

    def _settled(self, entity: dict, pending_message: str) -> Result:
        status = entity.get("status")
        refund_id = str(entity.get("id", ""))
        if status == "ISSUED":
            return Confirmed(external_id=refund_id, message="LLZW issued the refund.", raw=entity)
        if status in ("DENIED", "CANCELLED"):
            why = entity.get("responseReason") or ""
            return Rejected(
                code=f"refund_{status.lower()}",
                message=f"LLZW refund {refund_id} is {status.lower()} on the shop"
                + (f": {why}" if why else "."),
                raw=entity,
            )
        if status not in mapping.STATUS_MAP:
            return Rejected(
                code="unknown_status",
                message=f"LLZW reports an unknown status {status!r} for refund {refund_id}.",
                raw=entity,
            )
        return Accepted(external_id=refund_id, message=pending_message, raw=entity)

    # --- Webhooks ---------------------------------------------------------------------------
    def parse_webhook(
        self,
        *,
        name: str,
        method: str,
        headers: Mapping[str, str],
        body: bytes,
        verified: bool = False,
    ) -> WebhookMessage:
        return parse_webhook(self.account, name=name, method=method, headers=headers, body=body)
