"""Noventiq Checkout Orders API simulator (seeds/002 and marketplaces.md, noventiq).

Demo credentials, accepted without configuration: username `demo`, password `demo-secret`
(override with configure({"username": ..., "password": ...})). Merchant e-mail: any address.

Paths (below /noventiq):
    POST /v1/login_check               {"username", "password"} -> 200 {"token", "refresh_token"}
    GET  /v1/order/{order_id}          the order ("[GET] Get order data"), its products with
                                       their refund data (no refund request object: see below)
    POST /v1/order/{order_id}/refund   {"description"?, "email"} -> bare 200
All but login_check need the header `AuthorizationJWT: Bearer <token>`; 401 codes 1008 missing,
1007 invalid, 1009 expired. Errors are {"errors": [{"error": <int>, "message": "..."}]}.
login_check answers 111 unless its Content-Type is application/json (seed 002: "The errors are
the same for all the APIs"). Refund request checks, in order: 111 Content-type, 110 JSON, 15000
account configuration, 15060 (404) order not found, 15030 not paid, 15040 amount zero, 15050 open
request exists (each stops validation), then 15010 per invalid field (cumulative).
login_check failures answer like the JWT bundle behind it: 400/401 {"code", "message"} (a gap).

Configuration (configure({...})):
    username, password          accepted credentials (default demo / demo-secret)
    token_lifetime              seconds a token lasts (default 86400)
    clock_offset                seconds added to the simulator's clock (expire tokens at once)
    unconfigured_accounts       usernames answered 15000
    not_found_code              15060 (default) or 15020, the code the seed's example shows
    step_seconds                seconds per step sent -> updating -> final when time moves the
                                requests on (default 5; 0: only advance() moves them)
    refuse_orders               order ids whose refund requests are refused
    send_webhooks               send product.returned webhooks on completion (default True)
    webhook_secret              signs them (default "demo-webhook-secret")

Webhooks, written from Noventiq's "Webhook examples" page (docs.noventiq.com/checkout), not from
our adapter: a JSON POST with header `signature`, the SHA-512 hex digest of
`[secret key];[event];[order_id];[create_date];[payment_method];[currency];[customer.email]`,
`payment_method` read from the nested `payment` object and `order_id` a number (the page's
example, secret `secret_key`, gives 1d0e480e...918d; tests/integrations/noventiq/test_sandbox.py
checks it). The refund event is `product.returned`, one delivery per product.

Refund processing ("Product refund", "Refund requests"): Noventiq's staff read the description
and refund whole order items. A description that starts with "Partial refund" refunds the
products it names as "line <product id>]" (the simulator's reading of a person reading it);
anything else refunds every product. Each refunded product gets its refund data,
`refund: {"date", "amount"}` (the field names are our ASSUMPTION: the published page names
"refund data" without the fields we could read), and when every product is refunded the order
turns `deleted` ("Order fully refunded"). A description containing REFUSE, or an order in
refuse_orders, is refused: nothing on the order changes (a refusal shows only in the ESupport
portal). The request's own state (sent -> updating -> completed | refused) is kept here, for
15050 and the ledger, and is not part of GET /v1/order, as on Noventiq.

load_orders(orders) takes OUR import format (orders/services.py) and stores each order in
Noventiq's shape:
    order_id       <- external_number (the id in Noventiq's URLs; a number, as documented,
                      when it is one)
    order_name     <- "Order <external_number>"
    status         <- "paid" for paid/fulfilled, "not paid" for pending, "deleted" for cancelled
                      (a Noventiq status given as is is kept)
    external_id    <- external_id (the merchant's own id; "" when absent)
    create_date, pay_date <- placed_at, paid_at
    currency, amount (grand_total, else the sum of lines and shipping),
    payment {"payment_method"} <- the first payment's method,
    customer {"email", "first_name", "last_name"} <- customer.email, customer.name,
    products[] {"id", "sku", "name", "price", "quantity", "discount_amount", "vat_amount",
    "amount", "refund"} <- lines (external_id, sku, name, unit_price, quantity, discount, tax;
    amount = price x quantity - discount + tax; refund null until refunded)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from decimal import Decimal

from integrations.sandbox.server import (
    InvalidJSON,
    SandboxRequest,
    SandboxResponse,
    Simulator,
)

# Webhooks (Noventiq's documentation, see the module docstring).
SIGNATURE_HEADER = "signature"
REFUND_EVENT = "product.returned"

DEFAULTS = {
    "username": "demo",
    "password": "demo-secret",
    "token_lifetime": 86400,
    "clock_offset": 0,
    "unconfigured_accounts": [],
    "not_found_code": 15060,
    "step_seconds": 5.0,
    "refuse_orders": [],
    "send_webhooks": True,
    "webhook_secret": "demo-webhook-secret",
}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PARTIAL = re.compile(r"^\s*partial refund\b", re.IGNORECASE)
STATUS_FROM_OURS = {
    "paid": "paid",
    "fulfilled": "paid",
    "pending": "not paid",
    "cancelled": "deleted",
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _error(code: int, message: str, status: int = 400) -> SandboxResponse:
    return SandboxResponse.json({"errors": [{"error": code, "message": message}]}, status=status)


def _is_json(request: SandboxRequest) -> bool:
    content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
    return content_type.lower() == "application/json"


def webhook_signature(body: dict, secret: str) -> str:
    """The documented signature: SHA-512 of
    `[secret key];[event];[order_id];[create_date];[payment_method];[currency];[customer.email]`,
    with payment_method from the body's `payment` object."""
    fields = [
        secret,
        body["event"],
        body["order_id"],
        body["create_date"],
        body["payment"]["payment_method"],
        body["currency"],
        body["customer"]["email"],
    ]
    return hashlib.sha512(";".join(str(f) for f in fields).encode()).hexdigest()


def _order_number(order_id: str) -> int | str:
    """Noventiq's order ids are numbers; an order loaded with another number is kept as is."""
    return int(order_id) if order_id.isdigit() else order_id


def _product(line: dict) -> dict:
    """One of our order lines as a Noventiq product (the webhook example's product fields)."""
    price = Decimal(str(line.get("unit_price", "0")))
    quantity = int(line.get("quantity", 0))
    discount = Decimal(str(line.get("discount", "0")))
    tax = Decimal(str(line.get("tax", "0")))
    return {
        "id": str(line.get("external_id", "")),
        "sku": line.get("sku", ""),
        "name": line.get("name", ""),
        "price": str(price),
        "quantity": quantity,
        "discount_amount": str(discount) if discount else "",
        "vat_amount": str(tax),
        "amount": str(price * quantity - discount + tax),
        "refund": None,
    }


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


class NoventiqSandbox(Simulator):
    key = "noventiq"

    def routes(self):
        return [
            ("POST", r"/v1/login_check", self.login_check),
            ("GET", r"/v1/order/(?P<order_id>[^/]+)", self.get_order),
            ("POST", r"/v1/order/(?P<order_id>[^/]+)/refund", self.create_refund),
        ]

    def reset(self) -> None:
        with self.lock:
            self.orders: dict[str, dict] = {}
            self.refunds: list[dict] = []
            self._jwt_key = secrets.token_bytes(32)  # every earlier token becomes invalid

    def cfg(self, name: str):
        return self.config.get(name, DEFAULTS[name])

    def now(self) -> float:
        return time.time() + float(self.cfg("clock_offset"))

    def not_found(self, request: SandboxRequest) -> SandboxResponse:
        return SandboxResponse.empty(404)  # an invalid URL: no error code in the body

    # --- orders ------------------------------------------------------------------------------
    def load_orders(self, orders: list[dict]) -> int:
        with self.lock:
            for data in orders:
                order_id = str(data["external_number"])
                lines = data.get("lines") or []
                amount = data.get("grand_total")
                if amount in (None, ""):
                    amount = sum(
                        (
                            Decimal(str(line.get("unit_price", "0"))) * int(line.get("quantity", 0))
                            - Decimal(str(line.get("discount", "0")))
                            + Decimal(str(line.get("tax", "0")))
                            for line in lines
                        ),
                        Decimal(str(data.get("shipping_total", "0"))),
                    )
                status = str(data.get("status", "paid"))
                payments = data.get("payments") or []
                customer = data.get("customer") or {}
                first, _, last = str(customer.get("name", "")).partition(" ")
                self.orders[order_id] = {
                    "order_id": _order_number(order_id),
                    "order_name": f"Order {order_id}",
                    "status": STATUS_FROM_OURS.get(status, status),
                    "external_id": str(data.get("external_id", "")),
                    "create_date": data.get("placed_at") or _iso(self.now()),
                    "pay_date": data.get("paid_at") or "",
                    "currency": data.get("currency", "USD"),
                    "amount": str(Decimal(str(amount))),
                    "customer": {
                        "email": customer.get("email", ""),
                        "first_name": first,
                        "last_name": last,
                    },
                    "payment": {
                        "payment_method": payments[0].get("method", "card") if payments else "card"
                    },
                    "products": [_product(line) for line in lines],
                }
            return len(orders)

    def ledger(self, key: str | None) -> dict:
        with self.lock:
            found = [dict(r) for r in self.refunds if key is None or key in r["description"]]
        return {"count": len(found), "refunds": found}

    # --- authentication ----------------------------------------------------------------------
    def _issue_token(self, username: str) -> str:
        now = self.now()
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        claims = {
            "username": username,
            "iat": int(now),
            "exp": now + float(self.cfg("token_lifetime")),
            "jti": secrets.token_hex(8),
        }
        payload = _b64(json.dumps(claims).encode())
        signature = _b64(
            hmac.new(self._jwt_key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        return f"{header}.{payload}.{signature}"

    def _authenticate(self, request: SandboxRequest) -> tuple[str, SandboxResponse | None]:
        value = (request.headers.get("AuthorizationJWT") or "").strip()
        if not value:
            return "", _error(1008, "JWT Token not found", 401)
        scheme, _, token = value.partition(" ")
        parts = token.strip().split(".")
        if scheme != "Bearer" or len(parts) != 3:
            return "", _error(1007, "Invalid JWT Token", 401)
        expected = _b64(
            hmac.new(self._jwt_key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        )
        if not hmac.compare_digest(expected, parts[2]):
            return "", _error(1007, "Invalid JWT Token", 401)
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        if float(claims["exp"]) <= self.now():
            return "", _error(1009, "Expired JWT Token", 401)
        return claims["username"], None

    def login_check(self, request: SandboxRequest) -> SandboxResponse:
        if not _is_json(request):
            return _error(111, "Invalid data format (Content-type).")
        try:
            data = request.json()
        except InvalidJSON:
            return SandboxResponse.json({"code": 400, "message": "Invalid JSON."}, status=400)
        if not isinstance(data, dict):
            return SandboxResponse.json({"code": 400, "message": "Invalid JSON."}, status=400)
        for name in ("username", "password"):
            if not isinstance(data.get(name), str):
                return SandboxResponse.json(
                    {"code": 400, "message": f'The key "{name}" must be provided.'}, status=400
                )
        with self.lock:
            if not (
                hmac.compare_digest(data["username"], str(self.cfg("username")))
                and hmac.compare_digest(data["password"], str(self.cfg("password")))
            ):
                return SandboxResponse.json(
                    {"code": 401, "message": "Invalid credentials."}, status=401
                )
            return SandboxResponse.json(
                {
                    "token": self._issue_token(data["username"]),
                    "refresh_token": secrets.token_hex(32),
                }
            )

    # --- asynchronous processing -------------------------------------------------------------
    def _finish(self, refund: dict, now: float) -> None:
        order = self.orders[refund["order_id"]]
        refused = "REFUSE" in refund["description"].upper() or refund["order_id"] in self.cfg(
            "refuse_orders"
        )
        refund["status"] = "refused" if refused else "completed"
        refund["updated_at"] = _iso(now)
        if refused:
            return
        returned = []
        for product in order["products"]:
            if product["id"] in refund["products"] and not product["refund"]:
                product["refund"] = {"date": refund["updated_at"], "amount": product["amount"]}
                returned.append(product)
        if all(p["refund"] for p in order["products"]):
            order["status"] = "deleted"
        if self.cfg("send_webhooks"):
            self._send_returned(order, refund, returned)

    def _send_returned(self, order: dict, refund: dict, returned: list[dict]) -> None:
        secret = str(self.cfg("webhook_secret"))
        for product in returned:
            # The fields of the documented example that this simulator knows.
            payload = {
                "event": REFUND_EVENT,
                "event_date": refund["updated_at"],
                "order_id": order["order_id"],
                "order_name": order["order_name"],
                "status": order["status"],
                "external_id": order["external_id"],
                "create_date": order["create_date"],
                "pay_date": order["pay_date"],
                "currency": order["currency"],
                "customer": dict(order["customer"]),
                "product": {k: v for k, v in product.items() if k != "refund"},
                "payment": dict(order["payment"]),
            }
            self.send_webhook(
                url=self.callback_url("/noventiq/webhooks"),
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: webhook_signature(payload, secret),
                },
                body=json.dumps(payload).encode(),
            )

    def _tick(self) -> None:
        """Let time move the open requests on (sent -> updating -> final)."""
        step = float(self.cfg("step_seconds"))
        if step <= 0:
            return
        now = self.now()
        for refund in self.refunds:
            age = now - refund["created_epoch"]
            if refund["status"] == "sent" and age >= step:
                refund["status"], refund["updated_at"] = "updating", _iso(now)
            if refund["status"] == "updating" and age >= 2 * step:
                self._finish(refund, now)

    def advance(self) -> dict:
        with self.lock:
            now = self.now()
            moved = 0
            for refund in self.refunds:
                if refund["status"] in ("sent", "updating"):
                    self._finish(refund, now)
                    moved += 1
            return {"moved": moved}

    # --- orders API --------------------------------------------------------------------------
    def _open_request(self, order_id: str) -> bool:
        return any(
            r["order_id"] == order_id and r["status"] in ("sent", "updating") for r in self.refunds
        )

    def _order_not_found(self) -> SandboxResponse:
        code = int(self.cfg("not_found_code"))
        message = (
            "Order not found." if code == 15020 else "Order refund is impossible. Order not found."
        )
        return _error(code, message, 404)

    def get_order(self, request: SandboxRequest, order_id: str) -> SandboxResponse:
        with self.lock:
            username, refused = self._authenticate(request)
            if refused:
                return refused
            if username in self.cfg("unconfigured_accounts"):
                return _error(
                    15000,
                    "Unable to identify your configuration for accessing this "
                    "API. Please contact technical support.",
                )
            self._tick()
            order = self.orders.get(order_id)
            if order is None:
                return self._order_not_found()
            return SandboxResponse.json(order)

    def create_refund(self, request: SandboxRequest, order_id: str) -> SandboxResponse:
        with self.lock:
            username, refused = self._authenticate(request)
            if refused:
                return refused
            if not _is_json(request):
                return _error(111, "Invalid data format (Content-type).")
            try:
                data = request.json()
            except InvalidJSON:
                return _error(110, "JSON is not valid.")
            if not isinstance(data, dict):
                return _error(110, "JSON is not valid.")
            if username in self.cfg("unconfigured_accounts"):
                return _error(
                    15000,
                    "Unable to identify your configuration for accessing this "
                    "API. Please contact technical support.",
                )
            self._tick()
            order = self.orders.get(order_id)
            if order is None:
                return self._order_not_found()
            if order["status"] != "paid":
                return _error(
                    15030, 'Order refund is impossible. Order status is not equal to "paid".'
                )
            if Decimal(order["amount"]) <= 0:
                return _error(
                    15040, "Order refund is impossible. Order price amount is equal to zero."
                )
            if self._open_request(order_id):
                return _error(
                    15050, "Order refund is impossible. Order refund request already exists."
                )
            errors = []
            for name in sorted(set(data) - {"description", "email"}):
                errors.append({"error": 15010, "message": f"Invalid field value: {name}"})
            description = data.get("description", "")
            if not isinstance(description, str) or len(description) > 500:
                errors.append({"error": 15010, "message": "Invalid field value: description"})
            email = data.get("email")
            if not isinstance(email, str) or len(email) > 80 or not EMAIL.match(email):
                errors.append({"error": 15010, "message": "Invalid field value: email"})
            if errors:
                return SandboxResponse.json({"errors": errors}, status=400)
            pending = [p for p in order["products"] if not p["refund"]]
            if PARTIAL.match(description):
                pending = [p for p in pending if p["id"] and f"line {p['id']}]" in description]
            amount = sum((Decimal(p["amount"]) for p in pending), Decimal("0"))
            now = self.now()
            self.refunds.append(
                {
                    "id": len(self.refunds) + 1,
                    "order_id": order_id,
                    "description": description,
                    "email": email,
                    "amount": str(amount),
                    "products": [p["id"] for p in pending],
                    "status": "sent",
                    "created_epoch": now,
                    "created_at": _iso(now),
                    "updated_at": _iso(now),
                }
            )
            return SandboxResponse.empty(200)
