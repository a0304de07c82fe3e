"""A simulator of the Shoplazza OpenAPI, written from Shoplazza's published pages (the [Pn] list in
integrations/shoplazza/mapping.py's header names them; this module imports nothing from that
package), seed 004 and marketplaces.md; mounted by the sandbox hub under /shoplazza.

Demo credentials, accepted without configuration (override with `configure({...})`):
    client_id "demo", client_secret "demo-secret", refresh_token "demo-refresh-token";
    webhooks are signed with the client secret, as Shoplazza signs them [P8].

Endpoints (relative to the shop host, https://{shop}.myshoplaza.com):
    POST /admin/oauth/token                          OAuth 2 token (grant_type refresh_token), the
                                                     body form-encoded only, as Shoplazza's SDK
                                                     sends it [P7] (any other content type: 400
                                                     invalid_request); answers access_token,
                                                     token_type, refresh_token, expires_at (Unix
                                                     seconds [P6]), scope, created_at, store_id,
                                                     store_name; errors are the OAuth names
                                                     invalid_request / invalid_client /
                                                     invalid_grant / unsupported_grant_type
    POST /openapi/{version}/orders/{order_id}/refund create a refund record [P1]
    GET  /openapi/{version}/orders/{order_id}/refund the order's refund records, exactly the
                                                     fields [P2] lists (no `note`)
    GET  /openapi/{version}/orders/refund_records    the store's refund records [P3] as refund
                                                     objects [P4] (with `note`); order_ids,
                                                     refund_order_ids, refund_statuses, page_size,
                                                     cursor
    GET  /openapi/{version}/orders/{order_id}        Get Order Detail [P10] (read_order scope):
                                                     {"code": "success", "message", "data":
                                                     {"order": {...}}} with the published order
                                                     fields, line items as [P12] lists them,
                                                     status values of [P13]; unknown: 404 NotFound
Versions 2025-06 (refund_item_type 0/1/2) and 2026-01 (also auto/shipped/waiting_ship).

Header `Access-Token: <token>`; missing, unknown or expired tokens get 401 {"code": "Unauthorized"};
a token without the write_order scope gets 403 {"code": "Forbidden"} on POST. Validation errors:
400 {"code": "InvalidParameter", "message"}; unknown order or version: 404 {"code": "NotFound"};
business rules (order not paid, more than is refundable): 500 {"code": "RefundFailed"}; over the
rate limit: 429 {"code": "TooManyRequests"} with Retry-After seconds (codes other than
InvalidParameter are not published). Success: 200 {"code": "Success", "message", "data": {...}}.

Asynchronous behaviour: a record starts `pending`; `advance()`, or `settle_seconds` after it was
made (checked on every request), moves it to `finished` (its payment details get `finished_at`)
or `failed` for orders listed in `fail_orders`, and a signed `refunds/update` webhook (no refund
topic is published: the simulator's choice) carrying the refund object goes to
/shoplazza/webhooks. `data.order_status` (published example "fulfilled") is the simulator's own
reading of the order: cancelled, fulfilled, partially_fulfilled or unfulfilled.

The simulator's own rules, which no page states: the refund_payments[] prices add up to
refund_total, the refund_additional_prices[] prices to refund_additional_total, and the parts
(product, shipping, tip, additional) to refund_total when refund_product_total is given; no
more than is left of the order, its shipping, tip, additional charges or a payment is refunded.

Configuration keys (all optional): client_id, client_secret, refresh_token, token_ttl (seconds,
3600), scopes (["read_order", "write_order"]), rate_limit_per_second (2; None turns the limit
off), rate_limit_bucket (10 requests: the leaky bucket's size), settle_seconds (5), fail_orders
([]), shop_domain ("demo.myshoplaza.com"), store_id ("1339409"), send_webhooks (True).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import math
import re
import secrets
import time
import uuid
from decimal import Decimal, InvalidOperation

from integrations.sandbox.server import SandboxRequest, SandboxResponse, Simulator

VERSIONS = ("2025-06", "2026-01")
ITEM_TYPE_WORDS = {"auto": 0, "shipped": 1, "waiting_ship": 2}
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "CLP", "ISK"})
REFUND_FIELDS = frozenset(
    {
        "refund_total",
        "refund_shipping_total",
        "refund_tip",
        "refund_additional_total",
        "refund_product_total",
        "note",
        "refund_line_items",
        "refund_payments",
        "refund_additional_prices",
    }
)
LINE_FIELDS = frozenset({"line_item_id", "quantity", "refund_item_type", "return_inventory"})
PAYMENT_FIELDS = frozenset({"payment_line_id", "refund_price"})
ADDITIONAL_FIELDS = frozenset({"name", "price"})
KEY_MARKER = re.compile(r"\[RD-(?P<key>[^\[\]]+)\]\s*$")
DEFAULTS = {
    "client_id": "demo",
    "client_secret": "demo-secret",
    "refresh_token": "demo-refresh-token",
    "token_ttl": 3600,
    "scopes": ["read_order", "write_order"],
    "rate_limit_per_second": 2,
    "rate_limit_bucket": 10,
    "settle_seconds": 5,
    "fail_orders": [],
    "shop_domain": "demo.myshoplaza.com",
    "store_id": "1339409",
    "send_webhooks": True,
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _error(status: int, code: str, message: str, headers: dict | None = None) -> SandboxResponse:
    return SandboxResponse.json({"code": code, "message": message}, status=status, headers=headers)


def webhook_signature(secret: str, body: bytes) -> str:
    """`X-Shoplazza-Hmac-Sha256` [P8]: the base64 HMAC-SHA256 of the raw body, keyed with the
    app's Client Secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class _Invalid(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Refused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ShoplazzaSandbox(Simulator):
    key = "shoplazza"

    def routes(self):
        refund = r"/openapi/(?P<version>[^/]+)/orders/(?P<order_id>[^/]+)/refund"
        return [
            ("POST", r"/admin/oauth/token", self.token),
            ("GET", r"/openapi/(?P<version>[^/]+)/orders/refund_records", self.refund_records),
            ("POST", refund, self.create_refund),
            ("GET", refund, self.list_refunds),
            ("GET", r"/openapi/(?P<version>[^/]+)/orders/(?P<order_id>[^/]+)", self.order_detail),
        ]

    def reset(self) -> None:
        self.orders: dict[str, dict] = {}
        self.records: list[dict] = []
        self.tokens: dict[str, dict] = {}  # token -> {"expires_at", "scopes", "client_id"}
        self.buckets: dict[str, tuple[float, float]] = {}  # client_id -> (level, at)
        self._seq = 0

    def setting(self, name: str):
        return self.config.get(name, DEFAULTS[name])

    def not_found(self, request: SandboxRequest) -> SandboxResponse:
        return _error(404, "NotFound", f"No route for {request.method} {request.path}")

    def dispatch(self, request: SandboxRequest) -> SandboxResponse:
        with self.lock:
            self._settle_due()
            return super().dispatch(request)

    # Orders ---------------------------------------------------------------------------------
    def load_orders(self, orders: list[dict]) -> int:
        """Take orders in OUR import format (orders/services.py: external_number, currency,
        status, lines[external_id, sku, name, quantity, unit_price, discount, tax,
        fulfilled_quantity], payments[external_id, method, amount], shipping_total, tip_total,
        additional_total, grand_total) and keep them in Shoplazza's shape:

            {"id": external_number, "number": external_number, "currency",
             "financial_status": "pending" | "paid" | "partially_refunded" | "refunded" | "voided",
             "total_price", "total_shipping", "total_tip", "total_additional",
             "line_items": [{"id": external_id, "sku", "product_title", "quantity",
                             "fulfilled_quantity", "price", "total"}],
             "payment_lines": [{"id": external_id, "payment_method", "amount"}]}

        plus the simulator's own refund bookkeeping (refunded amounts and units per type)."""
        with self.lock:
            for source in orders:
                order_id = str(source["external_number"])
                currency = str(source.get("currency") or "USD").upper()
                lines = []
                for line in source.get("lines") or []:
                    quantity = int(line.get("quantity", 1))
                    unit = Decimal(str(line.get("unit_price", "0")))
                    total = (
                        unit * quantity
                        - Decimal(str(line.get("discount", "0")))
                        + Decimal(str(line.get("tax", "0")))
                    )
                    lines.append(
                        {
                            "id": str(line["external_id"]),
                            "sku": str(line.get("sku", "")),
                            "product_title": str(line.get("name", "")),
                            "quantity": quantity,
                            "fulfilled_quantity": int(line.get("fulfilled_quantity", 0)),
                            "price": str(unit),
                            "total": str(total),
                            "refunded_shipped": 0,
                            "refunded_waiting": 0,
                        }
                    )
                shipping = Decimal(str(source.get("shipping_total", "0")))
                tip = Decimal(str(source.get("tip_total", "0")))
                additional = Decimal(str(source.get("additional_total", "0")))
                grand = source.get("grand_total")
                total = (
                    Decimal(str(grand))
                    if grand not in (None, "")
                    else sum((Decimal(ln["total"]) for ln in lines), Decimal("0"))
                    + shipping
                    + tip
                    + additional
                )
                payments = [
                    {
                        "id": str(p["external_id"]),
                        "payment_method": str(p.get("method", "card")),
                        "amount": str(Decimal(str(p["amount"]))),
                        "refunded": "0",
                    }
                    for p in source.get("payments") or []
                ]
                status = str(source.get("status") or "paid").lower()
                financial = {"pending": "pending", "cancelled": "voided"}.get(status, "paid")
                customer = source.get("customer") or {}
                first, _, last = str(customer.get("name") or "").strip().partition(" ")
                placed = str(source.get("placed_at") or _now())
                self.orders[order_id] = {
                    "id": order_id,
                    "number": order_id,
                    "currency": currency,
                    "financial_status": financial,
                    "customer": {
                        "email": str(customer.get("email") or ""),
                        "first_name": first,
                        "last_name": last.strip(),
                    },
                    "created_at": placed,
                    "placed_at": str(source.get("paid_at") or placed)
                    if financial != "pending"
                    else "",
                    "total_price": str(total),
                    "total_shipping": str(shipping),
                    "total_tip": str(tip),
                    "total_additional": str(additional),
                    "line_items": lines,
                    "payment_lines": payments,
                    "refunded_total": "0",
                    "refunded_shipping": "0",
                    "refunded_tip": "0",
                    "refunded_additional": "0",
                }
            return len(orders)

    # Ledger / time --------------------------------------------------------------------------
    def ledger(self, key: str | None) -> dict:
        with self.lock:
            found = [r for r in self.records if key is None or _key_from_note(r.get("note")) == key]
            return {"count": len(found), "refunds": [dict(r) for r in found]}

    def advance(self) -> dict:
        with self.lock:
            return self._settle(r for r in self.records if r["refund_status"] == "pending")

    def _settle_due(self) -> None:
        limit = float(self.setting("settle_seconds"))
        now = time.time()
        self._settle(
            r
            for r in self.records
            if r["refund_status"] == "pending" and now - r["_made_at"] >= limit
        )

    def _settle(self, records) -> dict:
        done = {"finished": 0, "failed": 0}
        fail_orders = {str(o) for o in self.setting("fail_orders")}
        for record in list(records):
            order = self.orders[record["order_id"]]
            if record["order_id"] in fail_orders:
                record["refund_status"] = "failed"
                self._release(order, record)
                done["failed"] += 1
            else:
                record["refund_status"] = "finished"
                record["_finished_at"] = _now()
                done["finished"] += 1
            record["updated_at"] = _now()
            self._update_financial_status(order)
            self._send_refund_webhook(record)
        return done

    def _update_financial_status(self, order: dict) -> None:
        if order["financial_status"] not in ("paid", "partially_refunded", "refunded"):
            return
        finished = sum(
            (
                Decimal(r["refund_price"])
                for r in self.records
                if r["order_id"] == order["id"] and r["refund_status"] == "finished"
            ),
            Decimal("0"),
        )
        if finished <= 0:
            order["financial_status"] = "paid"
        elif finished >= Decimal(order["total_price"]):
            order["financial_status"] = "refunded"
        else:
            order["financial_status"] = "partially_refunded"

    def _release(self, order: dict, record: dict) -> None:
        """A failed refund gives back what it held."""
        for name, field in (
            ("refunded_total", "refund_price"),
            ("refunded_shipping", "refund_shipping"),
            ("refunded_tip", "_tip"),
            ("refunded_additional", "_additional"),
        ):
            order[name] = str(Decimal(order[name]) - Decimal(record[field]))
        lines = {ln["id"]: ln for ln in order["line_items"]}
        for taken in record["_taken"]:
            line = lines[taken["line_item_id"]]
            line["refunded_waiting"] -= taken["waiting"]
            line["refunded_shipped"] -= taken["shipped"]
        payments = {p["id"]: p for p in order["payment_lines"]}
        for pay_id, price in record["_payments"]:
            payment = payments[pay_id]
            payment["refunded"] = str(Decimal(payment["refunded"]) - Decimal(price))

    def _send_refund_webhook(self, record: dict) -> None:
        if not self.setting("send_webhooks"):
            return
        body = json.dumps(self._refund_object(record), sort_keys=True).encode()
        self.send_webhook(
            url=self.callback_url("/shoplazza/webhooks"),
            headers={
                "Content-Type": "application/json",
                "X-Shoplazza-Topic": "refunds/update",
                "X-Shoplazza-Hmac-Sha256": webhook_signature(
                    str(self.setting("client_secret")), body
                ),
                "X-Shoplazza-Shop-Domain": str(self.setting("shop_domain")),
                "X-Shoplazza-Api-Version": VERSIONS[-1],
                "X-Shoplazza-Deduplication-ID": str(uuid.uuid4()),
            },
            body=body,
        )

    # OAuth ----------------------------------------------------------------------------------
    def token(self, request: SandboxRequest) -> SandboxResponse:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _oauth_error(
                400,
                "invalid_request",
                "The token request must be sent as application/x-www-form-urlencoded.",
            )
        data = request.form()
        missing = [k for k in ("client_id", "client_secret", "grant_type") if not data.get(k)]
        if missing:
            return _oauth_error(400, "invalid_request", f"Missing {', '.join(missing)}.")
        if not (
            secrets.compare_digest(str(data["client_id"]), str(self.setting("client_id")))
            and secrets.compare_digest(
                str(data["client_secret"]), str(self.setting("client_secret"))
            )
        ):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        if data["grant_type"] != "refresh_token":
            return _oauth_error(
                400, "unsupported_grant_type", "The authorization grant type is not supported."
            )
        if not data.get("refresh_token"):
            return _oauth_error(400, "invalid_request", "Missing refresh_token.")
        if not secrets.compare_digest(
            str(data["refresh_token"]), str(self.setting("refresh_token"))
        ):
            return _oauth_error(400, "invalid_grant", "The refresh token is invalid or revoked.")
        ttl = int(self.setting("token_ttl"))
        token = secrets.token_hex(16)
        scopes = list(self.setting("scopes"))
        now = int(time.time())
        with self.lock:
            self.tokens[token] = {
                "expires_at": now + ttl,
                "scopes": scopes,
                "client_id": str(data["client_id"]),
            }
        # The answer names expires_at, a Unix timestamp in seconds [P6], [P7]; no expires_in.
        return SandboxResponse.json(
            {
                "access_token": token,
                "token_type": "Bearer",
                "refresh_token": str(self.setting("refresh_token")),
                "expires_at": now + ttl,
                "scope": " ".join(scopes),
                "created_at": now,
                "store_id": str(self.setting("store_id")),
                "store_name": str(self.setting("shop_domain")).split(".")[0],
            }
        )

    def expire_tokens(self) -> None:
        """Make every issued token expired (tests)."""
        with self.lock:
            for info in self.tokens.values():
                info["expires_at"] = 0

    def _authorise(self, request: SandboxRequest, version: str, scope: str):
        """None when the call may go on, else the refusal."""
        token = request.headers.get("Access-Token")
        if not token:
            return _error(401, "Unauthorized", "Access-Token header is required")
        info = self.tokens.get(token)
        if info is None:
            return _error(401, "Unauthorized", "Invalid API access token")
        if info["expires_at"] <= time.time():
            return _error(401, "Unauthorized", "Access token has expired")
        if version not in VERSIONS:
            return _error(404, "NotFound", f"API version {version} does not exist")
        if scope not in info["scopes"] and not (
            scope == "read_order" and "write_order" in info["scopes"]
        ):
            return _error(403, "Forbidden", f"This action requires the {scope} access scope")
        return self._rate_limit(info["client_id"])

    def _rate_limit(self, client_id: str):
        rate = self.setting("rate_limit_per_second")
        if not rate:
            return None
        rate = float(rate)
        size = float(self.setting("rate_limit_bucket"))
        now = time.monotonic()
        level, at = self.buckets.get(client_id, (0.0, now))
        level = max(level - (now - at) * rate, 0.0)
        if level + 1 > size:
            self.buckets[client_id] = (level, now)
            wait = max(math.ceil((level + 1 - size) / rate), 1)
            return _error(
                429,
                "TooManyRequests",
                "Exceeded 2 calls per second for api client. Reduce request rates "
                "to resume uninterrupted service.",
                headers={"Retry-After": str(wait)},
            )
        self.buckets[client_id] = (level + 1, now)
        return None

    # Get Order Detail [P10] -----------------------------------------------------------------
    def order_detail(self, request: SandboxRequest, version: str, order_id: str):
        refused = self._authorise(request, version, "read_order")
        if refused:
            return refused
        order = self.orders.get(order_id)
        if order is None:
            return _error(404, "NotFound", f"Order {order_id} not found")
        return SandboxResponse.json(
            {
                "code": "success",
                "message": "Order retrieved successfully",
                "data": {"order": _order_detail(order)},
            }
        )

    # Refund records -------------------------------------------------------------------------
    def list_refunds(self, request: SandboxRequest, version: str, order_id: str):
        refused = self._authorise(request, version, "read_order")
        if refused:
            return refused
        order = self.orders.get(order_id)
        if order is None:
            return _error(404, "NotFound", f"Order {order_id} not found")
        records = [_order_record(r) for r in self.records if r["order_id"] == order_id]
        return SandboxResponse.json(
            {
                "code": "Success",
                "message": "Refund records retrieved",
                "data": {
                    "order_financial_status": order["financial_status"],
                    "order_status": _order_status(order),
                    "records": records,
                },
            }
        )

    def refund_records(self, request: SandboxRequest, version: str):
        """GET /orders/refund_records [P3]: filters are comma-separated or repeated values."""
        refused = self._authorise(request, version, "read_order")
        if refused:
            return refused

        def values(name: str, limit: int | None = None) -> set[str]:
            found = {
                v.strip()
                for raw in request.query.get(name, [])
                for v in raw.split(",")
                if v.strip()
            }
            if limit is not None and len(found) > limit:
                raise _Invalid(f"{name} takes at most {limit} values")
            return found

        try:
            order_ids = values("order_ids", 10)
            record_ids = values("refund_order_ids", 20)
            statuses = values("refund_statuses")
            if statuses - {"pending", "finished", "failed"}:
                raise _Invalid("refund_statuses takes pending, finished or failed")
            size = request.arg("page_size", "10") or "10"
            if not size.isdigit() or not 1 <= int(size) <= 100:
                raise _Invalid("page_size must be a whole number from 1 to 100")
            cursor = request.arg("cursor", "0") or "0"
            if not cursor.isdigit():
                raise _Invalid("cursor is not one this list gave")
        except _Invalid as exc:
            return _error(400, "InvalidParameter", exc.message)
        found = [
            r
            for r in self.records
            if (not order_ids or r["order_id"] in order_ids)
            and (not record_ids or r["id"] in record_ids)
            and (not statuses or r["refund_status"] in statuses)
        ]
        start, stop = int(cursor), int(cursor) + int(size)
        data: dict = {"records": [self._refund_object(r) for r in found[start:stop]]}
        if stop < len(found):
            data["cursor"] = str(stop)
        return SandboxResponse.json(
            {"code": "Success", "message": "Refund records retrieved", "data": data}
        )

    def _refund_object(self, record: dict) -> dict:
        """A refund record as Refund properties [P4] describes it."""
        payments = {p["id"]: p for p in self.orders[record["order_id"]]["payment_lines"]}
        return {
            "id": record["id"],
            "order_id": record["order_id"],
            "note": record["note"],
            "refund_price": record["refund_price"],
            "currency": record["currency"],
            "created_at": record["created_at"],
            "updated_at": record["updated_at"],
            "refund_line_items": [
                {
                    "line_item_id": item["line_item_id"],
                    "refund_quantity": item["waiting"] + item["shipped"],
                    "delete_quantity": str(item["waiting"]),
                }
                for item in record["_taken"]
            ],
            "payment_details": [
                {
                    "payment_channel": payments[pay_id]["payment_method"],
                    "payment_method": payments[pay_id]["payment_method"],
                    "refund_price": price,
                    "finished_at": record.get("_finished_at", ""),
                }
                for pay_id, price in record["_payments"]
            ],
            "refund_shipping": record["refund_shipping"],
            "refund_shipping_tax": "0.00",
            "refund_method": "general",
            "refund_status": record["refund_status"],
        }

    def create_refund(self, request: SandboxRequest, version: str, order_id: str):
        refused = self._authorise(request, version, "write_order")
        if refused:
            return refused
        order = self.orders.get(order_id)
        if order is None:
            return _error(404, "NotFound", f"Order {order_id} not found")
        try:
            body = request.json()
        except Exception:
            return _error(400, "InvalidParameter", "The request body is not valid JSON")
        try:
            refund = self._validate(body, order, version)
        except _Invalid as exc:
            return _error(400, "InvalidParameter", exc.message)
        try:
            record = self._record(order, refund)
        except _Refused as exc:
            return _error(500, "RefundFailed", exc.message)
        return SandboxResponse.json(
            {
                "code": "Success",
                "message": "Refund processed successfully",
                "data": {"refund_record_id": record["id"], "post_sale_id": record["_post_sale_id"]},
            }
        )

    def _validate(self, body, order: dict, version: str) -> dict:
        if not isinstance(body, dict) or not isinstance(body.get("refund"), dict):
            raise _Invalid("refund is required and must be an object")
        if set(body) - {"refund"}:
            raise _Invalid(f"unknown parameter {sorted(set(body) - {'refund'})[0]}")
        data = body["refund"]
        unknown = set(data) - REFUND_FIELDS
        if unknown:
            raise _Invalid(f"unknown parameter refund.{sorted(unknown)[0]}")
        places = 0 if order["currency"] in ZERO_DECIMAL_CURRENCIES else 2
        if "refund_total" not in data:
            raise _Invalid("refund.refund_total is required")
        amounts = {"refund_total": _amount(data["refund_total"], "refund.refund_total", places)}
        if amounts["refund_total"] <= 0:
            raise _Invalid("refund.refund_total must be greater than 0")
        for name in (
            "refund_shipping_total",
            "refund_tip",
            "refund_additional_total",
            "refund_product_total",
        ):
            if name in data:
                amounts[name] = _amount(data[name], f"refund.{name}", places)
        note = data.get("note", "")
        if not isinstance(note, str):
            raise _Invalid("refund.note must be a string")
        if len(note) > 255:
            raise _Invalid("refund.note must be at most 255 characters")

        line_items = {ln["id"]: ln for ln in order["line_items"]}
        wanted: dict[str, dict] = {}
        for i, item in enumerate(_objects(data, "refund_line_items")):
            where = f"refund.refund_line_items[{i}]"
            unknown = set(item) - LINE_FIELDS
            if unknown:
                raise _Invalid(f"unknown parameter {where}.{sorted(unknown)[0]}")
            line_id = item.get("line_item_id")
            if not isinstance(line_id, str) or not line_id:
                raise _Invalid(f"{where}.line_item_id is required and must be a string")
            if line_id not in line_items:
                raise _Invalid(f"{where}.line_item_id {line_id} is not a line item of the order")
            quantity = item.get("quantity", line_items[line_id]["quantity"])
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                raise _Invalid(f"{where}.quantity must be a positive integer")
            kind = _item_type(item.get("refund_item_type", 0), version, where)
            restock = item.get("return_inventory", False)
            if not isinstance(restock, bool):
                raise _Invalid(f"{where}.return_inventory must be a boolean")
            entry = wanted.setdefault(line_id, {"types": {}, "restock": restock})
            if entry["restock"] != restock:
                raise _Invalid(f"{where}.return_inventory must be the same for one line item")
            entry["types"][kind] = entry["types"].get(kind, 0) + quantity
            if 0 in entry["types"] and len(entry["types"]) > 1:
                raise _Invalid(
                    f"{where}.refund_item_type 0 (auto) cannot be mixed with 1 or 2 "
                    "for the same line item"
                )

        payment_lines = {p["id"]: p for p in order["payment_lines"]}
        payments = []
        for i, item in enumerate(_objects(data, "refund_payments")):
            where = f"refund.refund_payments[{i}]"
            unknown = set(item) - PAYMENT_FIELDS
            if unknown:
                raise _Invalid(f"unknown parameter {where}.{sorted(unknown)[0]}")
            pay_id = item.get("payment_line_id")
            if not isinstance(pay_id, str) or not pay_id:
                raise _Invalid(f"{where}.payment_line_id is required and must be a string")
            if pay_id not in payment_lines:
                raise _Invalid(f"{where}.payment_line_id {pay_id} is not a payment of the order")
            if "refund_price" not in item:
                raise _Invalid(f"{where}.refund_price is required")
            payments.append(
                (pay_id, _amount(item["refund_price"], f"{where}.refund_price", places))
            )
        if payments and sum((p for _, p in payments), Decimal("0")) != amounts["refund_total"]:
            raise _Invalid(
                "the sum of refund.refund_payments[].refund_price must equal refund.refund_total"
            )

        additional = []
        for i, item in enumerate(_objects(data, "refund_additional_prices")):
            where = f"refund.refund_additional_prices[{i}]"
            unknown = set(item) - ADDITIONAL_FIELDS
            if unknown:
                raise _Invalid(f"unknown parameter {where}.{sorted(unknown)[0]}")
            if not isinstance(item.get("name"), str) or not item["name"].strip():
                raise _Invalid(f"{where}.name is required and must be a string")
            if "price" not in item:
                raise _Invalid(f"{where}.price is required")
            additional.append(
                {
                    "name": item["name"],
                    "price": str(_amount(item["price"], f"{where}.price", places)),
                }
            )
        if (
            additional
            and "refund_additional_total" in amounts
            and sum((Decimal(a["price"]) for a in additional), Decimal("0"))
            != amounts["refund_additional_total"]
        ):
            raise _Invalid(
                "the sum of refund.refund_additional_prices[].price must equal "
                "refund.refund_additional_total"
            )
        if "refund_product_total" in amounts:
            parts = sum(
                (
                    amounts.get(n, Decimal("0"))
                    for n in (
                        "refund_product_total",
                        "refund_shipping_total",
                        "refund_tip",
                        "refund_additional_total",
                    )
                ),
                Decimal("0"),
            )
            if parts != amounts["refund_total"]:
                raise _Invalid(
                    "refund.refund_total must equal the product, shipping, tip and "
                    "additional totals added up"
                )
        return {
            "amounts": amounts,
            "note": note,
            "lines": wanted,
            "payments": payments,
            "additional": additional,
        }

    def _record(self, order: dict, refund: dict) -> dict:
        """Apply the business rules (500 RefundFailed), then keep the record."""
        if order["financial_status"] not in ("paid", "partially_refunded"):
            raise _Refused(
                f"The order is {order['financial_status']}; only paid orders can be refunded"
            )
        amounts = refund["amounts"]
        total = amounts["refund_total"]
        left = Decimal(order["total_price"]) - Decimal(order["refunded_total"])
        if total > left:
            raise _Refused(f"The refund total {total} exceeds the refundable amount {left}")
        shipping = amounts.get("refund_shipping_total", Decimal("0"))
        shipping_left = Decimal(order["total_shipping"]) - Decimal(order["refunded_shipping"])
        if shipping > shipping_left:
            raise _Refused(
                f"The shipping refund {shipping} exceeds the refundable shipping {shipping_left}"
            )
        tip = amounts.get("refund_tip", Decimal("0"))
        tip_left = Decimal(order["total_tip"]) - Decimal(order["refunded_tip"])
        if tip > tip_left:
            raise _Refused(f"The tip refund {tip} exceeds the refundable tip {tip_left}")
        additional = amounts.get("refund_additional_total", Decimal("0"))
        additional_left = Decimal(order["total_additional"]) - Decimal(order["refunded_additional"])
        if additional > additional_left:
            raise _Refused(
                f"The additional charges refund {additional} exceeds the refundable additional "
                f"charges {additional_left}"
            )
        payment_lines = {p["id"]: p for p in order["payment_lines"]}
        for pay_id, price in refund["payments"]:
            payment = payment_lines[pay_id]
            pay_left = Decimal(payment["amount"]) - Decimal(payment["refunded"])
            if price > pay_left:
                raise _Refused(
                    f"The refund of {price} exceeds what payment {pay_id} can still "
                    f"refund ({pay_left})"
                )
        lines = {ln["id"]: ln for ln in order["line_items"]}
        taken = []
        for line_id, wanted in refund["lines"].items():
            line = lines[line_id]
            waiting_left = line["quantity"] - line["fulfilled_quantity"] - line["refunded_waiting"]
            shipped_left = line["fulfilled_quantity"] - line["refunded_shipped"]
            types = wanted["types"]
            if 0 in types:
                waiting = min(types[0], waiting_left)
                shipped = types[0] - waiting
            else:
                waiting, shipped = types.get(2, 0), types.get(1, 0)
            if waiting > waiting_left or shipped > shipped_left:
                raise _Refused(
                    f"Line item {line_id}: the refund quantity exceeds the refundable quantity "
                    f"({waiting_left} waiting to ship, {shipped_left} shipped)"
                )
            taken.append({"line_item_id": line_id, "waiting": waiting, "shipped": shipped})

        # Everything checked: book it.
        self._seq += 1
        order["refunded_total"] = str(Decimal(order["refunded_total"]) + total)
        order["refunded_shipping"] = str(Decimal(order["refunded_shipping"]) + shipping)
        order["refunded_tip"] = str(Decimal(order["refunded_tip"]) + tip)
        order["refunded_additional"] = str(Decimal(order["refunded_additional"]) + additional)
        for pay_id, price in refund["payments"]:
            payment = payment_lines[pay_id]
            payment["refunded"] = str(Decimal(payment["refunded"]) + price)
        line_items = []
        for item in taken:
            line = lines[item["line_item_id"]]
            line["refunded_waiting"] += item["waiting"]
            line["refunded_shipped"] += item["shipped"]
            restock = refund["lines"][item["line_item_id"]]["restock"]
            for kind, quantity in ((2, item["waiting"]), (1, item["shipped"])):
                if quantity:
                    line_items.append(
                        {
                            "line_item_id": item["line_item_id"],
                            "quantity": quantity,
                            "refund_item_type": kind,
                            "return_inventory": restock,
                        }
                    )
        now = _now()
        record = {
            "id": f"rf_{self._seq:06d}{secrets.token_hex(3)}",
            "order_id": order["id"],
            "refund_price": str(total),
            "refund_shipping": str(shipping),
            "refund_status": "pending",
            "note": refund["note"],
            "currency": order["currency"],
            "created_at": now,
            "updated_at": now,
            # The ledger's view of what was booked (not part of any answer).
            "refund_line_items": line_items,
            "_post_sale_id": f"ps_{self._seq:06d}{secrets.token_hex(3)}",
            "_tip": str(tip),
            "_additional": str(additional),
            "_product": str(amounts.get("refund_product_total", "")),
            "_payments": [(p, str(v)) for p, v in refund["payments"]],
            "_payment_methods": [
                (payment_lines[p]["payment_method"], str(v)) for p, v in refund["payments"]
            ],
            "_additional_prices": refund["additional"],
            "_made_at": time.time(),
            "_taken": taken,
        }
        self.records.append(record)
        return record


def _order_record(record: dict) -> dict:
    """A record as Get Order's Refund Record lists it: the fields [P2] names, no more."""
    return {
        "id": record["id"],
        "refund_price": record["refund_price"],
        "refund_shipping": record["refund_shipping"],
        "refund_status": record["refund_status"],
        "created_at": record["created_at"],
        "refund_line_items": [
            {"line_item_id": t["line_item_id"], "refund_quantity": t["waiting"] + t["shipped"]}
            for t in record["_taken"]
        ],
        "payment_details": [
            {"payment_method": method, "refund_price": price}
            for method, price in record["_payment_methods"]
        ],
    }


def _money(amount, currency: str) -> str:
    """An amount as Shoplazza writes it, a decimal string ("9.99") [P11]."""
    places = Decimal("1") if currency in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return format(Decimal(str(amount)).quantize(places), "f")


def _line_shipping(line: dict) -> str:
    """A line item's fulfillment_status, one of the values [P12] lists."""
    if line["fulfilled_quantity"] <= 0:
        return "waiting"
    return "shipped" if line["fulfilled_quantity"] >= line["quantity"] else "partially_shipped"


def _order_detail(order: dict) -> dict:
    """The order as Get Order Detail answers it [P10], its line items with the fields of [P12],
    the customer object (its field names: the adapter's assumption A9, the simulator's too),
    the status words of [P13]: status opened | placed | cancelled, fulfillment_status waiting |
    partially_shipped | shipped. No payment line id is published: payment_line carries the
    method and the paid total only (order_payment_line's fields)."""
    lines = order["line_items"]
    shipped = {_line_shipping(ln) for ln in lines}
    if shipped == {"shipped"}:
        fulfillment = "shipped"
    elif shipped == {"waiting"}:
        fulfillment = "waiting"
    else:
        fulfillment = "partially_shipped"
    financial = order["financial_status"]
    status = {"voided": "cancelled", "pending": "opened"}.get(financial, "placed")
    payments = order["payment_lines"]
    sub_total = sum((Decimal(ln["total"]) for ln in lines), Decimal("0"))
    return {
        "id": order["id"],
        "number": order["number"],
        "created_at": order["created_at"],
        "updated_at": order["created_at"],
        "note": "",
        "currency": order["currency"],
        "total_price": order["total_price"],
        "sub_total": _money(sub_total, order["currency"]),
        "total_discount": "0.00",
        "total_tax": "0.00",
        "total_shipping": order["total_shipping"],
        "total_tip_received": _money(order["total_tip"], order["currency"]),
        "additional_total": _money(order["total_additional"], order["currency"]),
        # The words of [P13]: the simulator's own "pending" / "voided" are waiting / cancelled.
        "financial_status": {"voided": "cancelled", "pending": "waiting"}.get(financial, financial),
        "status": status,
        "fulfillment_status": fulfillment,
        "cancelled_at": order["created_at"] if financial == "voided" else "",
        "cancel_reason": "",
        "payment_method": payments[0]["payment_method"] if payments else "",
        "placed_at": order["placed_at"],
        "customer": dict(order["customer"]),
        "line_items": [
            {
                "id": ln["id"],
                "product_id": f"prod-{ln['id']}",
                "variant_id": f"var-{ln['id']}",
                "product_title": ln["product_title"],
                "variant_title": "",
                "sku": ln["sku"],
                "quantity": ln["quantity"],
                "price": ln["price"],
                "total": ln["total"],
                "fulfillment_status": _line_shipping(ln),
                "refund_quantity": ln["refunded_shipped"] + ln["refunded_waiting"],
                "shipping_quantity": ln["fulfilled_quantity"],
            }
            for ln in lines
        ],
        "payment_line": {
            "method": payments[0]["payment_method"],
            "paid_total": str(sum((Decimal(p["amount"]) for p in payments), Decimal("0"))),
        }
        if payments
        else {},
    }


def _order_status(order: dict) -> str:
    """`data.order_status` [P2] (published example "fulfilled"); the values are ours."""
    if order["financial_status"] == "voided":
        return "cancelled"
    ordered = sum(ln["quantity"] for ln in order["line_items"])
    fulfilled = sum(ln["fulfilled_quantity"] for ln in order["line_items"])
    if ordered and fulfilled >= ordered:
        return "fulfilled"
    return "partially_fulfilled" if fulfilled else "unfulfilled"


def _key_from_note(note) -> str:
    match = KEY_MARKER.search(note or "") if isinstance(note, str) else None
    return match["key"] if match else ""


def _oauth_error(status: int, error: str, description: str) -> SandboxResponse:
    return SandboxResponse.json({"error": error, "error_description": description}, status=status)


def _amount(value, where: str, places: int) -> Decimal:
    """Amounts are decimal strings ("100.00"); numbers are refused."""
    if not isinstance(value, str):
        raise _Invalid(f'{where} must be a string such as "10.00"')
    pattern = r"\d+" if places == 0 else rf"\d+(\.\d{{1,{places}}})?"
    if not re.fullmatch(pattern, value.strip()):
        raise _Invalid(f"{where} {value!r} is not a valid amount")
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        raise _Invalid(f"{where} {value!r} is not a valid amount") from None


def _objects(data: dict, name: str) -> list[dict]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _Invalid(f"refund.{name} must be an array of objects")
    return value


def _item_type(value, version: str, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value
    if version != "2025-06" and isinstance(value, str) and value in ITEM_TYPE_WORDS:
        return ITEM_TYPE_WORDS[value]
    allowed = "0, 1 or 2" if version == "2025-06" else "0, 1, 2, auto, shipped or waiting_ship"
    raise _Invalid(f"{where}.refund_item_type must be {allowed}")
