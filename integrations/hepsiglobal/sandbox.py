"""HepsiGlobal simulator, written from seeds 000/001 and ../shared/marketplaces.md#hepsiglobal
(not from our adapter), mounted by the sandbox hub under /hepsiglobal.

Demo credentials, accepted without any configuration:
    client_id "demo", client_secret "demo-secret"        (configure {"client_id", "client_secret"})
    webhook secret "demo-webhook-secret"                  (configure {"webhook_secret"})
    token lifetime 3600 s                                  (configure {"token_ttl": seconds})
    webhook authentication "path_token"                    (configure {"webhook_auth": "basic" or
                                                            "none"}, {"webhook_username"})
    order-cancel shape "flat" (the published example)     (configure {"order_cancel_shape":
                                                            "cancel_items"})

The platform's API (the MP, i.e. Refund Desk, calls these):
    POST /v1/auth/token          {"grant_type": "client_credentials", "client_id", "client_secret"}
                                 -> 200 {"access_token", "token_type": "Bearer", "expires_in"}
    POST /v1/orders              Create Order (order_number, order_date, order_amount, currency,
                                 items[] of item_number, sku, product_name, quantity,
                                 unit_product_price, total_amount, currency) -> 200 {}
    PUT  /v1/orders/{order_number}/order_items/{order_item_number}  {"reason": "customer_demand"}
                                 Cancel order by marketplace -> 200 {}
    POST /v1/refunds             Create Refund (seed 000) -> 200 {"request_id": "<26-char ULID>"};
                                 the result follows by webhook after faults.webhook_delay.
Every /v1 call except the token one needs `Authorization: Bearer <access_token>`.
Errors use the envelope {"data": {"error_code", "errors"?}, "message"} (not published: the
success envelope {"data": {}, "message"} of Cancel order by marketplace is) with our own codes.

Gaps filled here (the adapter follows the same inferences):
- `refund_number` is unique: the same refund_number with the same content answers 200 with the
  first request_id and creates nothing (a safe retry); with a different content, 409
  refund_number_conflict.
- A refund is checked for its shape at once (400/404/409/422); units and money still refundable
  are checked when it is processed, and a refusal comes back in the webhook's `errors`.

Webhooks to the marketplace: HepsiGlobal publishes no signature, so none is sent. It calls the
base URL set up at onboarding followed by /webhooks/<name>: with webhook_auth "path_token"
{callback}/hepsiglobal/<webhook secret>, with "basic" {callback}/hepsiglobal and an
`Authorization: Basic` header (webhook_username, webhook secret), with "none" {callback}/
hepsiglobal and nothing else.
    POST {base}/webhooks/refund-create-result   (not published: its method and payload are
         {"request_id", "refund_number", "order_number", "status": "success"|"failed", "errors"})
    PUT  {base}/webhooks/order-cancel            (seed 001)
         {"cancel_id", "order_number", "cancel_quantity", "order_item_number", "reason"}, or
         with order_cancel_shape "cancel_items": {"order_number", "cancel_items": [such items]}
The seller's cancellation is triggered with POST /hepsiglobal/_sim/order-cancel
{"order_number", "order_item_number", "cancel_quantity", "reason"?} or {"order_number",
"cancel_items": [{"order_item_number", "cancel_quantity", "reason"?}]} (simulator control).
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import itertools
import json
import re
import secrets
import time
from decimal import Decimal
from typing import Any

from integrations.sandbox.server import SandboxRequest, SandboxResponse, Simulator

DEFAULTS = {
    "client_id": "demo",
    "client_secret": "demo-secret",
    "webhook_secret": "demo-webhook-secret",
    "token_ttl": 3600,
    "webhook_auth": "path_token",
    "webhook_username": "hepsiglobal",
    "order_cancel_shape": "flat",
}

# Refund reasons HepsiGlobal accepts (seed 000 shows the first two; the rest is a guess).
REASONS = frozenset(
    {
        "incorrect_order",
        "incompatibility_issues",
        "damaged_product",
        "defective_product",
        "not_as_described",
        "changed_mind",
        "late_delivery",
        "not_delivered",
        "out_of_stock",
        "other",
    }
)
# Cancel order by marketplace: the page shows "customer_demand"; the other two are a guess.
CANCEL_REASONS = frozenset({"customer_demand", "out_of_stock", "other"})
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CURRENCY = re.compile(r"^[A-Z]{3}$")


def ulid() -> str:
    """A 26-character ULID: 48-bit millisecond time + 80 random bits, Crockford base32."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def error(status: int, code: str, message: str, errors: dict | None = None) -> SandboxResponse:
    data: dict[str, Any] = {"error_code": code}
    if errors:
        data["errors"] = errors
    return SandboxResponse.json({"data": data, "message": message}, status=status)


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


class HepsiGlobalSandbox(Simulator):
    key = "hepsiglobal"

    def routes(self):
        return [
            ("POST", r"/v1/auth/token", self.create_token),
            ("POST", r"/v1/orders", self.create_order),
            (
                "PUT",
                r"/v1/orders/(?P<order_number>[^/]+)/order_items/(?P<order_item_number>[^/]+)",
                self.cancel_order_item,
            ),
            ("POST", r"/v1/refunds", self.create_refund),
            ("POST", r"/_sim/order-cancel", self.sim_order_cancel),
            ("POST", r"/_sim/expire-tokens", self.sim_expire_tokens),
        ]

    def reset(self) -> None:
        with self.lock:
            self.orders: dict[str, dict] = {}
            # Every refund record, in creation order (a list, so the ledger would see a duplicate).
            self.refunds: list[dict] = []
            self._refund_by_number: dict[str, dict] = {}  # the first refund of each number
            self.tokens: dict[str, float] = {}  # access token -> expiry (monotonic)
            self._cancel_ids = itertools.count(1078354)

    def setting(self, name: str) -> Any:
        return self.config.get(name, DEFAULTS[name])

    # --- orders ------------------------------------------------------------------------------
    def load_orders(self, orders: list[dict]) -> int:
        """Load orders given in OUR import format (orders/services.py docstring: external_number,
        currency, placed_at, grand_total, lines[] of external_id, sku, name, quantity,
        unit_price, discount, tax, cancelled_quantity, ...) and keep them in HepsiGlobal's own
        Create Order shape:

            {"order_number": external_number, "order_date": placed_at,
             "order_amount": grand_total, "currency": currency,
             "items": [{"item_number": line external_id, "sku", "product_name": line name,
                        "quantity", "unit_product_price": unit_price,
                        "total_amount": quantity * unit_price - discount + tax,
                        "currency": currency}]}

        plus the simulator's bookkeeping per item (cancelled and refunded units and money)."""
        count = 0
        for order in orders:
            currency = order.get("currency", "USD")
            items = []
            for line in order.get("lines", []):
                quantity = int(line["quantity"])
                unit = _money(line.get("unit_price", "0"))
                total = (
                    unit * quantity
                    - _money(line.get("discount", "0"))
                    + _money(line.get("tax", "0"))
                )
                items.append(
                    {
                        "item_number": str(line["external_id"]),
                        "sku": line.get("sku", ""),
                        "product_name": line.get("name", line.get("sku", "")),
                        "quantity": quantity,
                        "unit_product_price": unit,
                        "total_amount": total,
                        "currency": currency,
                        "cancelled_quantity": int(line.get("cancelled_quantity") or 0),
                    }
                )
            lines_total = sum((i["total_amount"] for i in items), Decimal("0"))
            self._store_order(
                {
                    "order_number": str(order["external_number"]),
                    "order_date": order.get("placed_at", ""),
                    "order_amount": _money(order.get("grand_total", lines_total)),
                    "currency": currency,
                    "items": items,
                }
            )
            count += 1
        return count

    def _store_order(self, order: dict) -> None:
        for item in order["items"]:
            item.setdefault("cancelled_quantity", 0)
            item["refunded_quantity"] = 0
            item["refunded_amount"] = Decimal("0")
        with self.lock:
            self.orders[order["order_number"]] = order

    # --- authentication ----------------------------------------------------------------------
    def _authorized(self, request: SandboxRequest) -> SandboxResponse | None:
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Bearer ") or not header[7:].strip():
            return error(
                401, "missing_token", "Authorization header with a Bearer token is required"
            )
        token = header[7:].strip()
        with self.lock:
            expires = self.tokens.get(token)
        if expires is None:
            return error(401, "invalid_token", "Access token is invalid")
        if time.monotonic() >= expires:
            return error(401, "token_expired", "Access token has expired")
        return None

    def create_token(self, request: SandboxRequest) -> SandboxResponse:
        body = self._body(request)
        if isinstance(body, SandboxResponse):
            return body
        problems = {
            name: "is required"
            for name in ("grant_type", "client_id", "client_secret")
            if not isinstance(body.get(name), str) or not body.get(name)
        }
        if problems:
            return error(400, "validation_error", "The request is invalid", problems)
        if body["grant_type"] != "client_credentials":
            return error(400, "unsupported_grant_type", "grant_type must be client_credentials")
        if not (
            hmac.compare_digest(body["client_id"], str(self.setting("client_id")))
            and hmac.compare_digest(body["client_secret"], str(self.setting("client_secret")))
        ):
            return error(401, "invalid_client", "Client authentication failed")
        ttl = float(self.setting("token_ttl"))
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = time.monotonic() + ttl
        return SandboxResponse.json(
            {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
        )

    def sim_expire_tokens(self, request: SandboxRequest) -> SandboxResponse:
        """Simulator control: every issued token expires now (tests of the 401 renewal)."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0
            return SandboxResponse.json({"expired": len(self.tokens)})

    # --- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _body(request: SandboxRequest) -> dict | SandboxResponse:
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/json":
            return error(400, "invalid_json", "Content-Type must be application/json")
        try:
            body = json.loads(request.body.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return error(400, "invalid_json", f"Malformed JSON: {exc}")
        if not isinstance(body, dict):
            return error(400, "invalid_json", "The body must be a JSON object")
        return body

    @staticmethod
    def _string(value: Any, max_length: int = 100) -> bool:
        return isinstance(value, str) and 0 < len(value) <= max_length

    @staticmethod
    def _amount(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return False
        amount = Decimal(value)
        return amount.is_finite() and amount > 0 and amount.as_tuple().exponent >= -2

    @staticmethod
    def _count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    @staticmethod
    def _iso_with_offset(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return False
        return parsed.tzinfo is not None

    # --- Create Order / Cancel order by marketplace ------------------------------------------
    def create_order(self, request: SandboxRequest) -> SandboxResponse:
        denied = self._authorized(request)
        if denied:
            return denied
        body = self._body(request)
        if isinstance(body, SandboxResponse):
            return body
        problems: dict[str, str] = {}
        if not self._string(body.get("order_number")):
            problems["order_number"] = "is required"
        if not self._iso_with_offset(body.get("order_date")):
            problems["order_date"] = "must be an ISO-8601 date and time with an offset"
        if not self._amount(body.get("order_amount")):
            problems["order_amount"] = "must be a positive number with at most 2 decimals"
        if not (isinstance(body.get("currency"), str) and CURRENCY.match(body["currency"])):
            problems["currency"] = "must be a 3-letter currency code"
        items = body.get("items")
        if not isinstance(items, list) or not items:
            problems["items"] = "must be a non-empty list"
            items = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                problems[f"items[{i}]"] = "must be an object"
                continue
            for name in ("item_number", "sku", "product_name"):
                if not self._string(item.get(name), 255):
                    problems[f"items[{i}].{name}"] = "is required"
            if not self._count(item.get("quantity")):
                problems[f"items[{i}].quantity"] = "must be a whole number of at least 1"
            for name in ("unit_product_price", "total_amount"):
                if not self._amount(item.get(name)):
                    problems[f"items[{i}].{name}"] = "must be a positive number"
            if item.get("currency") != body.get("currency"):
                problems[f"items[{i}].currency"] = "must be the order's currency"
        if problems:
            return error(400, "validation_error", "The request is invalid", problems)
        self._store_order(
            {
                "order_number": body["order_number"],
                "order_date": body["order_date"],
                "order_amount": Decimal(body["order_amount"]),
                "currency": body["currency"],
                "items": [
                    {
                        "item_number": item["item_number"],
                        "sku": item["sku"],
                        "product_name": item["product_name"],
                        "quantity": item["quantity"],
                        "unit_product_price": Decimal(item["unit_product_price"]),
                        "total_amount": Decimal(item["total_amount"]),
                        "currency": item["currency"],
                    }
                    for item in items
                ],
            }
        )
        return SandboxResponse.json({})

    def _item(self, order_number: str, item_number: str) -> tuple[dict | None, dict | None]:
        order = self.orders.get(order_number)
        if order is None:
            return None, None
        for item in order["items"]:
            if item["item_number"] == item_number:
                return order, item
        return order, None

    def cancel_order_item(self, request, order_number: str, order_item_number: str):
        denied = self._authorized(request)
        if denied:
            return denied
        body = self._body(request)
        if isinstance(body, SandboxResponse):
            return body
        if body.get("reason") not in CANCEL_REASONS:
            return error(
                400,
                "validation_error",
                "The request is invalid",
                {"reason": f"must be one of {', '.join(sorted(CANCEL_REASONS))}"},
            )
        with self.lock:
            order, item = self._item(order_number, order_item_number)
            if order is None:
                return error(404, "order_not_found", f"Order {order_number} not found")
            if item is None:
                return error(
                    404,
                    "order_item_not_found",
                    f"Order item {order_item_number} not found in order {order_number}",
                )
            item["cancelled_quantity"] = item["quantity"] - item["refunded_quantity"]
        # The published answer: {"data": {}, "message": ...} (its message text is not shown).
        return SandboxResponse.json({"data": {}, "message": "Order item cancelled"})

    # --- Create Refund -----------------------------------------------------------------------
    def _refund_problems(self, body: dict) -> tuple[dict[str, str], bool]:
        problems: dict[str, str] = {}
        bad_reason = False
        if not self._string(body.get("refund_number"), 64):
            problems["refund_number"] = "is required (at most 64 characters)"
        if not self._string(body.get("order_number")):
            problems["order_number"] = "is required"
        if not self._iso_with_offset(body.get("refund_date")):
            problems["refund_date"] = "must be an ISO-8601 date and time with an offset"
        items = body.get("items")
        if not isinstance(items, list) or not items:
            problems["items"] = "must be a non-empty list"
            return problems, bad_reason
        seen = set()
        for i, item in enumerate(items):
            where = f"items[{i}]"
            if not isinstance(item, dict):
                problems[where] = "must be an object"
                continue
            number = item.get("order_item_number")
            if not self._string(number):
                problems[f"{where}.order_item_number"] = "is required"
            elif number in seen:
                problems[f"{where}.order_item_number"] = "appears twice"
            else:
                seen.add(number)
            if not self._count(item.get("quantity")):
                problems[f"{where}.quantity"] = "must be a whole number of at least 1"
            if not self._amount(item.get("amount")):
                problems[f"{where}.amount"] = "must be a positive number with at most 2 decimals"
            currency = item.get("currency")
            if not (isinstance(currency, str) and CURRENCY.match(currency)):
                problems[f"{where}.currency"] = "must be a 3-letter currency code"
            explanation = item.get("customer_explanation", "")
            if not isinstance(explanation, str) or len(explanation) > 500:
                problems[f"{where}.customer_explanation"] = "must be text of at most 500 characters"
            reason = item.get("reason")
            if not self._string(reason):
                problems[f"{where}.reason"] = "is required"
            elif reason not in REASONS:
                bad_reason = True
        return problems, bad_reason

    def create_refund(self, request: SandboxRequest) -> SandboxResponse:
        denied = self._authorized(request)
        if denied:
            return denied
        body = self._body(request)
        if isinstance(body, SandboxResponse):
            return body
        problems, bad_reason = self._refund_problems(body)
        if problems:
            return error(400, "validation_error", "The request is invalid", problems)
        if bad_reason:
            return error(
                400, "invalid_reason", f"reason must be one of {', '.join(sorted(REASONS))}"
            )
        with self.lock:
            existing = self._refund_by_number.get(body["refund_number"])
            if existing is not None:
                if existing["request"] == body:
                    return SandboxResponse.json({"request_id": existing["request_id"]})
                return error(
                    409,
                    "refund_number_conflict",
                    f"Refund {body['refund_number']} already exists with other content",
                )
            order = self.orders.get(body["order_number"])
            if order is None:
                return error(404, "order_not_found", f"Order {body['order_number']} not found")
            for item in body["items"]:
                _, line = self._item(order["order_number"], item["order_item_number"])
                if line is None:
                    return error(
                        404,
                        "order_item_not_found",
                        f"Order item {item['order_item_number']} not found in order "
                        f"{order['order_number']}",
                    )
                if item["currency"] != order["currency"]:
                    return error(
                        422,
                        "currency_mismatch",
                        f"Currency {item['currency']} differs from the order's {order['currency']}",
                    )
            refund = {
                "request_id": ulid(),
                "refund_number": body["refund_number"],
                "order_number": body["order_number"],
                "status": "processing",
                "errors": [],
                "request": body,
                "created_at": dt.datetime.now(dt.UTC).isoformat(),
            }
            self.refunds.append(refund)
            self._refund_by_number.setdefault(refund["refund_number"], refund)
            self._process(refund)
        return SandboxResponse.json({"request_id": refund["request_id"]})

    def _process(self, refund: dict) -> None:
        """Decide the refund against what is still refundable, then send the result webhook
        after faults.webhook_delay (advance() sends it at once)."""
        order = self.orders[refund["order_number"]]
        errors = []
        for item in refund["request"]["items"]:
            _, line = self._item(order["order_number"], item["order_item_number"])
            units_left = line["quantity"] - line["cancelled_quantity"] - line["refunded_quantity"]
            money_left = line["total_amount"] - line["refunded_amount"]
            if line["cancelled_quantity"] >= line["quantity"]:
                errors.append(f"order_cancelled: order item {line['item_number']} is cancelled")
            elif item["quantity"] > units_left:
                errors.append(
                    f"quantity_exceeds_refundable: {item['quantity']} units asked for order item "
                    f"{line['item_number']}, {units_left} can still be refunded"
                )
            elif Decimal(item["amount"]) > money_left:
                errors.append(
                    f"amount_exceeds_refundable: {item['amount']} asked for order item "
                    f"{line['item_number']}, {money_left} can still be refunded"
                )
        if not errors:
            for item in refund["request"]["items"]:
                _, line = self._item(order["order_number"], item["order_item_number"])
                line["refunded_quantity"] += item["quantity"]
                line["refunded_amount"] += Decimal(item["amount"])
        refund["status"] = "failed" if errors else "success"
        refund["errors"] = errors
        self._webhook(
            "POST",
            "refund-create-result",
            {
                "request_id": refund["request_id"],
                "refund_number": refund["refund_number"],
                "order_number": refund["order_number"],
                "status": refund["status"],
                "errors": errors,
            },
        )

    # --- webhooks to the marketplace -------------------------------------------------------
    def webhook_target(self, name: str) -> tuple[str, dict[str, str]]:
        """Where a webhook goes and its headers: the onboarding base URL + /webhooks/<name>."""
        secret = str(self.setting("webhook_secret"))
        mode = self.setting("webhook_auth")
        headers = {"Content-Type": "application/json"}
        base = "/hepsiglobal"
        if mode == "path_token":
            base = f"/hepsiglobal/{secret}"
        elif mode == "basic":
            pair = f"{self.setting('webhook_username')}:{secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return self.callback_url(f"{base}/webhooks/{name}"), headers

    def _webhook(self, method: str, name: str, payload: dict) -> None:
        body = json.dumps(payload, default=str).encode()
        url, headers = self.webhook_target(name)
        self.send_webhook(url=url, method=method, headers=headers, body=body)

    def cancel_by_seller(
        self,
        *,
        order_number: str,
        order_item_number: str = "",
        cancel_quantity: int = 0,
        reason: str = "out_of_stock",
        cancel_items: list[dict] | None = None,
    ) -> dict:
        """The seller cancels units of paid order lines: record them and send the order-cancel
        webhook (seed 001), each cancellation with a fresh cancel_id; flat for one line (the
        published example) unless order_cancel_shape is "cancel_items"."""
        wanted = cancel_items or [
            {
                "order_item_number": order_item_number,
                "cancel_quantity": cancel_quantity,
                "reason": reason,
            }
        ]
        with self.lock:
            checked = []
            for entry in wanted:
                number = str(entry.get("order_item_number", ""))
                quantity = entry.get("cancel_quantity")
                order, item = self._item(order_number, number)
                if order is None or item is None:
                    raise LookupError(f"Unknown order item {order_number}/{number}")
                left = item["quantity"] - item["cancelled_quantity"] - item["refunded_quantity"]
                if not self._count(quantity) or quantity > left:
                    raise ValueError(f"cancel_quantity must be between 1 and {left}")
                checked.append((item, number, quantity, str(entry.get("reason") or reason)))
            items = []
            for item, number, quantity, why in checked:
                item["cancelled_quantity"] += quantity
                items.append(
                    {
                        "cancel_id": next(self._cancel_ids),
                        "order_number": order_number,
                        "cancel_quantity": quantity,
                        "order_item_number": number,
                        "reason": why,
                    }
                )
            if len(items) == 1 and self.setting("order_cancel_shape") != "cancel_items":
                payload = items[0]
            else:
                payload = {"order_number": order_number, "cancel_items": items}
        self._webhook("PUT", "order-cancel", payload)
        return payload

    def sim_order_cancel(self, request: SandboxRequest) -> SandboxResponse:
        body = self._body(request)
        if isinstance(body, SandboxResponse):
            return body
        cancel_items = body.get("cancel_items")
        if cancel_items is not None and not (
            isinstance(cancel_items, list)
            and cancel_items
            and all(isinstance(i, dict) for i in cancel_items)
        ):
            return error(
                400,
                "validation_error",
                "The request is invalid",
                {"cancel_items": "must be a non-empty list of objects"},
            )
        quantity = body.get("cancel_quantity")
        if cancel_items is None and not self._count(quantity):
            return error(
                400,
                "validation_error",
                "The request is invalid",
                {"cancel_quantity": "must be a whole number of at least 1"},
            )
        try:
            payload = self.cancel_by_seller(
                order_number=str(body.get("order_number", "")),
                order_item_number=str(body.get("order_item_number", "")),
                cancel_quantity=quantity or 0,
                reason=str(body.get("reason") or "out_of_stock"),
                cancel_items=cancel_items,
            )
        except LookupError as exc:
            return error(404, "order_item_not_found", str(exc))
        except ValueError as exc:
            return error(422, "validation_error", str(exc))
        return SandboxResponse.json(payload)

    # --- ledger / advance --------------------------------------------------------------------
    def ledger(self, key: str | None) -> dict:
        with self.lock:
            refunds = [r for r in self.refunds if key is None or r["refund_number"] == key]
            return {
                "count": len(refunds),
                "refunds": [
                    {k: v for k, v in r.items() if k != "request"}
                    | {"items": r["request"]["items"]}
                    for r in refunds
                ],
            }

    def advance(self) -> dict:
        """Results are decided when a refund is created; the hub flushes the queued webhooks
        right after this call, so they go out now."""
        return {"pending_webhooks": self.hub.pending_webhooks(self.key)}
