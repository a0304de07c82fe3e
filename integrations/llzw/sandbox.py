"""LLZW shop REST API v2 simulator, written from the documents only (seed 003, the LLZW API
reference's "Authentication" and "Generals" pages, the platform's published source for the
envelope and the error types; integrations/llzw/mapping.py names them) and marketplaces.md.

Mounted under /llzw by the sandbox hub. Demo credentials, accepted without configuration:

    SELLER    username `demo`, password `demo-secret`
    CUSTOMER  each loaded order's customer (its e-mail, or `customer-<order id>` when the order
              has none), password `customer-secret`

`configure({...})` keys: `seller_username`, `seller_password`, `customer_password`,
`session_ttl` (seconds a login session lives, default 1800), `users` (extra accounts:
{"name": {"password": ..., "role": "SELLER" | "CUSTOMER"}}), `clock_offset` (seconds added to
the simulator's clock, default 0: sessions expire, timestamps move, without waiting),
`staff_seconds` (default 5; None: only advance() and the staff paths move refunds): how long the
shop's staff take, on the simulator's clock, to confirm a refund the SELLER account requested
and then to issue it (checked on every request).

Paths (the shop's own; nothing else is answered):
    POST   /login                       form username, password -> cookie JSESSIONID
    GET    /api/v2/refunds              ?page=0&size=20&orderId=&status=&valid=
    POST   /api/v2/refunds              JSON orderId, reason, amount, refundOnly (all required)
    GET    /api/v2/refunds/<id>
    PATCH  /api/v2/refunds/<id>         {"action": "SHIP_INIT", "trackingId", "carrierName"}
                                        (CUSTOMER only; only when refundOnly is false)
    DELETE /api/v2/refunds/<id>         only in PENDING, WAITING, REQUESTED
Simulator controls (not the shop's API: what happens on the shop's side):
    POST   /_sim/customer-refund        a customer opens a refund on the shop (same body as the
                                        POST above, plus optional "username"), no login needed
    POST   /_sim/refunds/<id>/confirm   the shop's staff confirm (REQUESTED -> WAITING, or ->
                                        PROCESSING when refundOnly)
    POST   /_sim/refunds/<id>/receive   ... receive the goods (WAITING with tracking ->
                                        PROCESSING)
    POST   /_sim/refunds/<id>/issue     ... pay out (PROCESSING -> ISSUED, sets issuedAt)
    POST   /_sim/refunds/<id>/deny      ... deny, {"reason"} (REQUESTED or WAITING -> DENIED,
                                        fills responseReason)
    POST   /_sim/expire-sessions        every login session expires now
`advance()` (POST /_control/llzw/advance) is the shop's staff working through everything open:
requested refunds are confirmed, waiting ones with tracking received, processing ones issued.

Envelope: {"responseId": uuid, "timestamp", "success", "data", "error": {"type", "message"}}.
Error types and HTTP statuses (the platform's source): API.INVALID_PARAMETER,
API.OPERATION_UNSUPPORTED, API.REJECTED_BY_ENTITY 400; API.SECURITY.INVALID_CREDENTIAL 401
(login refused, no or expired session); API.SECURITY.ACCESS_DENIED 403; API.ENTITY_NOT_FOUND 404.

Gap fillers (mapping.py ASSUMPTIONS, written here again, not imported): our idempotency key
travels in the refund's `reason` as ``[RD:<key>]``; `ledger(key)` counts the refunds whose
`requestReason` holds that marker. Amounts are JSON numbers kept as Decimal (never float).
Dates use the docs' format "2019-10-1 3:00 PM GMT+0:00". A cancelled refund keeps existing with
`valid` false.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import secrets
import uuid
from decimal import Decimal, InvalidOperation
from http.cookies import CookieError, SimpleCookie
from typing import Any

from integrations.sandbox.server import (
    SandboxRequest,
    SandboxResponse,
    Simulator,
)

STATUSES = ("PROCESSING", "DENIED", "ISSUED", "CANCELLED", "REQUESTED", "WAITING")
CANCELLABLE = ("PENDING", "WAITING", "REQUESTED")
# The platform's source: 400 unless the error type suggests another status.
ERROR_STATUS = {
    "API.INVALID_PARAMETER": 400,
    "API.OPERATION_UNSUPPORTED": 400,
    "API.REJECTED_BY_ENTITY": 400,
    "API.SECURITY.INVALID_CREDENTIAL": 401,
    "API.SECURITY.ACCESS_DENIED": 403,
    "API.ENTITY_NOT_FOUND": 404,
}
STAFF_SECONDS = 5.0
SESSION_COOKIE = "JSESSIONID"
REASON_MAX = 255
TWO_PLACES = Decimal("0.01")
_DEC = re.compile(r'"\\u0000DEC(-?[0-9]+(?:\.[0-9]+)?)\\u0000"')


class ApiError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _format_date(value: dt.datetime | None) -> str | None:
    """The docs' date format, e.g. "2019-10-1 3:00 PM GMT+1:00" (we answer in UTC)."""
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    hour = value.hour % 12 or 12
    half = "PM" if value.hour >= 12 else "AM"
    return f"{value.year}-{value.month}-{value.day} {hour}:{value.minute:02d} {half} GMT+0:00"


def _dumps(data: Any) -> bytes:
    """JSON with Decimal amounts written as exact numbers."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00DEC{value:f}\x00"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mark(v) for v in value]
        return value

    return _DEC.sub(r"\1", json.dumps(mark(data), default=str)).encode()


def _money(value: Any, field: str) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{field}: {value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{field}: must be a non-negative amount")
    return amount


class LlzwSandbox(Simulator):
    key = "llzw"

    def routes(self):
        refund = r"/api/v2/refunds/(?P<refund_id>[^/]+)"
        return [
            ("POST", r"/login", self._api(self.login)),
            ("GET", r"/api/v2/refunds", self._api(self.list_refunds)),
            ("POST", r"/api/v2/refunds", self._api(self.create_refund)),
            ("GET", refund, self._api(self.get_refund)),
            ("PATCH", refund, self._api(self.patch_refund)),
            ("DELETE", refund, self._api(self.delete_refund)),
            ("POST", r"/_sim/customer-refund", self._api(self.sim_customer_refund)),
            (
                "POST",
                r"/_sim/refunds/(?P<refund_id>[^/]+)/(?P<decision>confirm|receive|issue|deny)",
                self._api(self.sim_staff_decision),
            ),
            ("POST", r"/_sim/expire-sessions", self._api(self.sim_expire_sessions)),
        ]

    def reset(self) -> None:
        self.orders: dict[int, dict] = {}
        self.refunds: dict[int, dict] = {}
        self.sessions: dict[str, dict] = {}
        self.next_refund_id = 1

    # --- envelope ---------------------------------------------------------------------------
    def _envelope(self, *, success: bool, data: Any = None, error: dict | None = None) -> dict:
        return {
            "responseId": str(uuid.uuid4()),
            "timestamp": _format_date(self._now()),
            "success": success,
            "data": data,
            "error": error,
        }

    def _ok(self, data: Any, *, headers: dict | None = None) -> SandboxResponse:
        return SandboxResponse(
            status=200,
            body=_dumps(self._envelope(success=True, data=data)),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _error(self, error_type: str, message: str, status: int | None = None) -> SandboxResponse:
        return SandboxResponse(
            status=status or ERROR_STATUS[error_type],
            body=_dumps(
                self._envelope(success=False, error={"type": error_type, "message": message})
            ),
            headers={"Content-Type": "application/json"},
        )

    def _api(self, handler):
        def wrapped(request: SandboxRequest, **groups) -> SandboxResponse:
            try:
                with self.lock:
                    self._staff_due()
                    return handler(request, **groups)
            except ApiError as exc:
                return self._error(exc.error_type, exc.message)

        return wrapped

    def dispatch(self, request: SandboxRequest) -> SandboxResponse:
        response = super().dispatch(request)
        if response.status == 405 and b"Method not allowed" in response.body:
            return self._error(
                "API.OPERATION_UNSUPPORTED",
                f"Request method '{request.method}' is not supported",
                status=405,
            )
        return response

    def not_found(self, request: SandboxRequest) -> SandboxResponse:
        return self._error("API.ENTITY_NOT_FOUND", f"No endpoint {request.method} {request.path}")

    def _now(self) -> dt.datetime:
        offset = float(self.config.get("clock_offset", 0))
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)

    # --- users and sessions -----------------------------------------------------------------
    def _users(self) -> dict[str, dict]:
        users = {
            self.config.get("seller_username", "demo"): {
                "password": self.config.get("seller_password", "demo-secret"),
                "role": "SELLER",
            }
        }
        customer_password = self.config.get("customer_password", "customer-secret")
        for order in self.orders.values():
            users.setdefault(order["customer"], {"password": customer_password, "role": "CUSTOMER"})
        users.update(self.config.get("users") or {})
        return users

    def login(self, request: SandboxRequest) -> SandboxResponse:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise ApiError(
                "API.INVALID_PARAMETER",
                "Login takes a form (application/x-www-form-urlencoded) with username and password",
            )
        form = request.form()
        username, password = form.get("username", ""), form.get("password", "")
        if not username or not password:
            raise ApiError("API.INVALID_PARAMETER", "username and password are required")
        user = self._users().get(username)
        if user is None or not secrets.compare_digest(str(user["password"]), password):
            raise ApiError("API.SECURITY.INVALID_CREDENTIAL", "Bad credentials")
        session_id = secrets.token_hex(16).upper()
        ttl = float(self.config.get("session_ttl", 1800))
        self.sessions[session_id] = {
            "username": username,
            "role": user["role"],
            "expires": self._now() + dt.timedelta(seconds=ttl),
        }
        return self._ok(
            {"username": username, "role": user["role"]},
            headers={"Set-Cookie": f"{SESSION_COOKIE}={session_id}; Path=/; HttpOnly"},
        )

    def _auth(self, request: SandboxRequest) -> dict:
        cookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookie.load(request.headers.get("Cookie") or "")
        morsel = cookie.get(SESSION_COOKIE)
        if morsel is None or not morsel.value:
            raise ApiError(
                "API.SECURITY.INVALID_CREDENTIAL",
                "Full authentication is required to access this resource",
            )
        session = self.sessions.get(morsel.value)
        if session is None:
            raise ApiError("API.SECURITY.INVALID_CREDENTIAL", "Invalid session")
        if session["expires"] <= self._now():
            del self.sessions[morsel.value]
            raise ApiError("API.SECURITY.INVALID_CREDENTIAL", "Session expired")
        return session

    def sim_expire_sessions(self, request: SandboxRequest) -> SandboxResponse:
        count = len(self.sessions)
        self.sessions.clear()
        return SandboxResponse.json({"expired": count})

    # --- orders -----------------------------------------------------------------------------
    def load_orders(self, orders: list[dict]) -> int:
        """Load orders given in Refund Desk's import format (orders/services.py docstring).

        Stored in the shop's shape: {"id": int (the digits of external_number, which must be
        the shop's Integer order id, e.g. "1001"), "customer": username (customer e-mail, else
        "customer-<id>"), "status": PAID | PENDING | FULFILLED | CANCELLED, "currency",
        "total": Decimal (grand_total, else lines + shipping + tip + additional),
        "items": [{"id", "sku", "name", "quantity", "price"}], "createdAt"}."""
        loaded = 0
        for data in orders:
            number = str(data.get("external_number", "")).strip()
            if not number.isdigit():
                raise ValueError(f"LLZW order ids are integers, got external_number {number!r}")
            order_id = int(number)
            lines = data.get("lines") or []
            items, lines_total = [], Decimal("0")
            for i, line in enumerate(lines, start=1):
                quantity = int(line.get("quantity", 1))
                price = _money(line.get("unit_price"), "unit_price")
                lines_total += (
                    quantity * price
                    - _money(line.get("discount"), "discount")
                    + _money(line.get("tax"), "tax")
                )
                items.append(
                    {
                        "id": str(line.get("external_id") or i),
                        "sku": line.get("sku", ""),
                        "name": line.get("name", ""),
                        "quantity": quantity,
                        "price": price,
                    }
                )
            extras = sum(
                (
                    _money(data.get(k), k)
                    for k in ("shipping_total", "tip_total", "additional_total")
                ),
                Decimal("0"),
            )
            total = (
                _money(data["grand_total"], "grand_total")
                if data.get("grand_total") not in (None, "")
                else lines_total + extras
            )
            email = ((data.get("customer") or {}).get("email") or "").strip()
            with self.lock:
                self.orders[order_id] = {
                    "id": order_id,
                    "customer": email or f"customer-{order_id}",
                    "status": str(data.get("status", "paid")).upper(),
                    "currency": data.get("currency", "USD"),
                    "total": total,
                    "items": items,
                    "createdAt": self._now(),
                }
            loaded += 1
        return loaded

    def _order(self, order_id: int, session: dict) -> dict:
        order = self.orders.get(order_id)
        if order is None:
            raise ApiError("API.ENTITY_NOT_FOUND", f"Order {order_id} not found")
        if session["role"] == "CUSTOMER" and order["customer"] != session["username"]:
            raise ApiError("API.SECURITY.ACCESS_DENIED", f"Order {order_id} does not belong to you")
        return order

    def _refundable(self, order: dict) -> Decimal:
        held = sum(
            (
                r["amount"]
                for r in self.refunds.values()
                if r["order"] == order["id"] and r["status"] not in ("DENIED", "CANCELLED")
            ),
            Decimal("0"),
        )
        return order["total"] - held

    # --- refunds ----------------------------------------------------------------------------
    @staticmethod
    def _render(refund: dict) -> dict:
        return {
            "id": refund["id"],
            "order": refund["order"],
            "createdAt": _format_date(refund["createdAt"]),
            "updatedAt": _format_date(refund["updatedAt"]),
            "requester": refund["requester"],
            "requestReason": refund["requestReason"],
            "responseReason": refund["responseReason"],
            "confirmedAt": _format_date(refund["confirmedAt"]),
            "issuedAt": _format_date(refund["issuedAt"]),
            "amount": refund["amount"],
            "status": refund["status"],
            "trackingId": refund["trackingId"],
            "carrierName": refund["carrierName"],
            "refundOnly": refund["refundOnly"],
            "valid": refund["valid"],
        }

    def _refund(self, refund_id: str, session: dict) -> dict:
        if not refund_id.isdigit():
            raise ApiError("API.INVALID_PARAMETER", f"Refund ID must be an integer: {refund_id!r}")
        refund = self.refunds.get(int(refund_id))
        if refund is None:
            raise ApiError("API.ENTITY_NOT_FOUND", f"Refund {refund_id} not found")
        self._order(refund["order"], session)
        return refund

    @staticmethod
    def _json_object(request: SandboxRequest) -> dict:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError("API.INVALID_PARAMETER", "Content-Type must be application/json")
        try:
            body = json.loads(request.body.decode("utf-8") or "null", parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError("API.INVALID_PARAMETER", "Malformed JSON request body") from None
        if not isinstance(body, dict):
            raise ApiError("API.INVALID_PARAMETER", "The request body must be a JSON object")
        return body

    @staticmethod
    def _text(body: dict, name: str) -> str:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ApiError("API.INVALID_PARAMETER", f"{name} is required")
        if len(value) > REASON_MAX:
            raise ApiError("API.INVALID_PARAMETER", f"{name} is longer than {REASON_MAX}")
        return value

    def list_refunds(self, request: SandboxRequest) -> SandboxResponse:
        session = self._auth(request)
        page = self._int_arg(request, "page", 0, minimum=0)
        size = self._int_arg(request, "size", 20, minimum=1)
        status = request.arg("status") or None
        if status is not None and status not in STATUSES:
            raise ApiError("API.INVALID_PARAMETER", f"status must be one of {', '.join(STATUSES)}")
        valid = request.arg("valid") or None
        if valid is not None and valid.lower() not in ("true", "false"):
            raise ApiError("API.INVALID_PARAMETER", "valid must be true or false")
        order_arg = request.arg("orderId") or None
        order_id = None
        if order_arg is not None:
            if not order_arg.isdigit():
                raise ApiError(
                    "API.INVALID_PARAMETER", f"orderId must be an integer: {order_arg!r}"
                )
            order_id = self._order(int(order_arg), session)["id"]
        rows = []
        for refund in sorted(self.refunds.values(), key=lambda r: r["id"]):
            order = self.orders.get(refund["order"])
            if session["role"] == "CUSTOMER" and (
                order is None or order["customer"] != session["username"]
            ):
                continue
            if order_id is not None and refund["order"] != order_id:
                continue
            if status is not None and refund["status"] != status:
                continue
            if valid is not None and refund["valid"] != (valid.lower() == "true"):
                continue
            rows.append(self._render(refund))
        return self._ok(rows[page * size : (page + 1) * size])

    @staticmethod
    def _int_arg(
        request: SandboxRequest,
        name: str,
        default: int,
        *,
        minimum: int,
        maximum: int | None = None,
    ) -> int:
        raw = request.arg(name)
        if raw in (None, ""):
            return default
        if not raw.isdigit() or int(raw) < minimum or (maximum is not None and int(raw) > maximum):
            bound = f" and at most {maximum}" if maximum is not None else ""
            raise ApiError(
                "API.INVALID_PARAMETER", f"{name} must be an integer of at least {minimum}{bound}"
            )
        return int(raw)

    def get_refund(self, request: SandboxRequest, refund_id: str) -> SandboxResponse:
        session = self._auth(request)
        return self._ok(self._render(self._refund(refund_id, session)))

    def create_refund(self, request: SandboxRequest) -> SandboxResponse:
        session = self._auth(request)
        return self._ok(self._render(self._create(self._json_object(request), session)))

    def _create(self, body: dict, session: dict) -> dict:
        order_id = body.get("orderId")
        if not isinstance(order_id, int) or isinstance(order_id, bool):
            raise ApiError("API.INVALID_PARAMETER", "orderId is required and must be an integer")
        reason = self._text(body, "reason")
        amount = body.get("amount")
        if not isinstance(amount, int | Decimal) or isinstance(amount, bool):
            raise ApiError("API.INVALID_PARAMETER", "amount is required and must be a number")
        amount = Decimal(amount)
        if amount <= 0 or amount != amount.quantize(TWO_PLACES):
            raise ApiError(
                "API.INVALID_PARAMETER", "amount must be above zero with at most two decimals"
            )
        refund_only = body.get("refundOnly")
        if not isinstance(refund_only, bool):
            raise ApiError("API.INVALID_PARAMETER", "refundOnly is required and must be a boolean")
        order = self._order(order_id, session)
        if order["status"] not in ("PAID", "FULFILLED"):
            raise ApiError(
                "API.REJECTED_BY_ENTITY", f"Order {order_id} is {order['status'].lower()}, not paid"
            )
        room = self._refundable(order)
        if amount > room:
            raise ApiError(
                "API.REJECTED_BY_ENTITY",
                f"Refund amount {amount} exceeds the refundable {room} of order {order_id}",
            )
        now = self._now()
        refund = {
            "id": self.next_refund_id,
            "order": order_id,
            "createdAt": now,
            "updatedAt": now,
            "requester": session["username"],
            "requestReason": reason,
            "responseReason": None,
            "confirmedAt": None,
            "issuedAt": None,
            "amount": amount.quantize(TWO_PLACES),
            "status": "REQUESTED",
            "trackingId": None,
            "carrierName": None,
            "refundOnly": refund_only,
            "valid": True,
            "byRole": session["role"],  # not rendered: who asked (the staff timer reads it)
        }
        self.refunds[refund["id"]] = refund
        self.next_refund_id += 1
        return refund

    def patch_refund(self, request: SandboxRequest, refund_id: str) -> SandboxResponse:
        """Seed 003, "Provide shipment infomation for a refund": the only PATCH there is."""
        session = self._auth(request)
        body = self._json_object(request)
        action = body.get("action")
        if action != "SHIP_INIT":
            raise ApiError("API.INVALID_PARAMETER", "action is required and should be SHIP_INIT")
        refund = self._refund(refund_id, session)
        if session["role"] != "CUSTOMER":
            raise ApiError("API.SECURITY.ACCESS_DENIED", "SHIP_INIT needs the CUSTOMER role")
        if refund["refundOnly"]:
            raise ApiError(
                "API.OPERATION_UNSUPPORTED",
                "Shipment information is only for a refund whose refundOnly is false",
            )
        tracking, carrier = self._text(body, "trackingId"), self._text(body, "carrierName")
        self._require_status(refund, "SHIP_INIT", ("REQUESTED", "WAITING"))
        refund["trackingId"], refund["carrierName"] = tracking, carrier
        refund["updatedAt"] = self._now()
        return self._ok(self._render(refund))

    @staticmethod
    def _require_status(refund: dict, action: str, allowed: tuple[str, ...]) -> None:
        if refund["status"] not in allowed:
            raise ApiError(
                "API.REJECTED_BY_ENTITY",
                f"Cannot {action} refund {refund['id']} in status {refund['status']}",
            )

    # --- the shop's staff (the shop's side, not its API) --------------------------------------
    def _confirm(self, refund: dict, body: dict) -> None:
        self._require_status(refund, "confirm", ("REQUESTED",))
        refund["status"] = "PROCESSING" if refund["refundOnly"] else "WAITING"
        refund["confirmedAt"] = self._now()

    def _deny(self, refund: dict, body: dict) -> None:
        reason = self._text(body, "reason")
        self._require_status(refund, "deny", ("REQUESTED", "WAITING"))
        refund["status"], refund["responseReason"] = "DENIED", reason

    def _receive(self, refund: dict, body: dict) -> None:
        self._require_status(refund, "receive", ("WAITING",))
        if not refund["trackingId"]:
            raise ApiError(
                "API.REJECTED_BY_ENTITY",
                f"Refund {refund['id']} has no shipment information to receive",
            )
        refund["status"] = "PROCESSING"

    def _issue(self, refund: dict, body: dict) -> None:
        self._require_status(refund, "issue", ("PROCESSING",))
        refund["status"], refund["issuedAt"] = "ISSUED", self._now()

    def sim_staff_decision(
        self, request: SandboxRequest, refund_id: str, decision: str
    ) -> SandboxResponse:
        body = self._json_object(request) if request.body else {}
        if not refund_id.isdigit() or int(refund_id) not in self.refunds:
            raise ApiError("API.ENTITY_NOT_FOUND", f"Refund {refund_id} not found")
        refund = self.refunds[int(refund_id)]
        handler = {
            "confirm": self._confirm,
            "receive": self._receive,
            "issue": self._issue,
            "deny": self._deny,
        }[decision]
        handler(refund, body)
        refund["updatedAt"] = self._now()
        return self._ok(self._render(refund))

    def _staff_due(self) -> None:
        """The staff's pace (`staff_seconds`): a refund the SELLER asked for is confirmed that
        long after it was made, and issued that long after it was confirmed."""
        seconds = self.config.get("staff_seconds", STAFF_SECONDS)
        if seconds is None:
            return
        now = self._now()
        due = dt.timedelta(seconds=float(seconds))
        for refund in self.refunds.values():
            if refund["byRole"] != "SELLER":
                continue
            if refund["status"] == "REQUESTED" and now - refund["createdAt"] >= due:
                self._confirm(refund, {})
                refund["updatedAt"] = now
            if (
                refund["status"] == "PROCESSING"
                and refund["confirmedAt"] is not None
                and now - refund["confirmedAt"] >= due
            ):
                self._issue(refund, {})
                refund["updatedAt"] = now

    def delete_refund(self, request: SandboxRequest, refund_id: str) -> SandboxResponse:
        session = self._auth(request)
        refund = self._refund(refund_id, session)
        self._require_status(refund, "cancel", CANCELLABLE)
        refund["status"], refund["valid"], refund["updatedAt"] = "CANCELLED", False, self._now()
        return self._ok(None)

    def sim_customer_refund(self, request: SandboxRequest) -> SandboxResponse:
        body = self._json_object(request)
        order_id = body.get("orderId")
        order = self.orders.get(order_id) if isinstance(order_id, int) else None
        username = body.get("username") or (order or {}).get("customer", "")
        session = {"username": username, "role": "CUSTOMER"}
        return self._ok(self._render(self._create(body, session)))

    # --- control ----------------------------------------------------------------------------
    def ledger(self, key: str | None) -> dict:
        marker = f"[RD:{key}]" if key else None
        rows = [
            self._render(r)
            for r in sorted(self.refunds.values(), key=lambda r: r["id"])
            if marker is None or marker in (r["requestReason"] or "")
        ]
        return {"count": len(rows), "refunds": rows}

    def advance(self) -> dict:
        """The shop's staff work through everything open, at once: requested refunds are
        confirmed, waiting ones with tracking received, processing ones issued."""
        moved: dict[str, list[int]] = {"confirmed": [], "received": [], "issued": []}
        with self.lock:
            now = self._now()
            for refund in sorted(self.refunds.values(), key=lambda r: r["id"]):
                before = refund["status"]
                if refund["status"] == "REQUESTED":
                    self._confirm(refund, {})
                    moved["confirmed"].append(refund["id"])
                if refund["status"] == "WAITING" and refund["trackingId"]:
                    self._receive(refund, {})
                    moved["received"].append(refund["id"])
                if refund["status"] == "PROCESSING":
                    self._issue(refund, {})
                    moved["issued"].append(refund["id"])
                if refund["status"] != before:
                    refund["updatedAt"] = now
        return moved
