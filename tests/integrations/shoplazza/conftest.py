"""The Shoplazza sandbox over real sockets, and helpers to build the adapter and our refund
snapshot."""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal

import pytest
import requests

from integrations.base import AccountConfig, PaymentShare, RefundData, RefundLineData
from integrations.sandbox.server import serve_in_thread
from integrations.shoplazza.client import ShoplazzaAdapter

ORDER_ID = "SL-1001"
ORDER = {
    "external_number": ORDER_ID,
    "customer": {"email": "alice@example.com", "name": "Alice"},
    "status": "paid",
    "currency": "USD",
    "placed_at": "2026-11-01T10:00:00+00:00",
    "shipping_total": "5.00",
    "grand_total": "75.00",
    "lines": [
        {
            "external_id": "li_1",
            "sku": "MUG",
            "name": "Mug",
            "quantity": 2,
            "unit_price": "20.00",
            "discount": "0.00",
            "tax": "0.00",
            "fulfilled_quantity": 1,
        },
        {
            "external_id": "li_2",
            "sku": "TEE",
            "name": "Tee",
            "quantity": 1,
            "unit_price": "30.00",
            "discount": "0.00",
            "tax": "0.00",
            "fulfilled_quantity": 0,
        },
    ],
    "payments": [
        {"external_id": "pay_1", "method": "card", "amount": "50.00"},
        {"external_id": "pay_2", "method": "gift_card", "amount": "25.00"},
    ],
}
UNPAID_ORDER = {**ORDER, "external_number": "SL-2002", "status": "pending"}


@pytest.fixture(scope="module")
def sandbox():
    server, hub, base_url = serve_in_thread(keys=["shoplazza"])
    yield hub, base_url
    server.shutdown()
    hub.stop()


@pytest.fixture
def sim(sandbox):
    """The simulator, emptied and loaded with the two orders; webhooks go nowhere harmful and
    the rate limit is off unless a test turns it on."""
    hub, base_url = sandbox
    requests.post(f"{base_url}/_control/reset", timeout=5).raise_for_status()
    simulator = hub.simulators["shoplazza"]
    simulator.config.clear()
    control(
        base_url,
        "PUT",
        "config",
        {
            "callback_url": f"{base_url}/_sink",
            "rate_limit_per_second": None,
            "settle_seconds": 3600,
        },
    )
    control(base_url, "POST", "orders", [ORDER, UNPAID_ORDER])
    return simulator


@pytest.fixture
def base_url(sandbox):
    return sandbox[1]


@pytest.fixture
def api(base_url):
    return f"{base_url}/shoplazza"


def control(base_url: str, method: str, path: str, body=None) -> dict:
    response = requests.request(
        method, f"{base_url}/_control/shoplazza/{path}", json=body, timeout=5
    )
    response.raise_for_status()
    return response.json()


def ledger(base_url: str, key: str | None = None) -> int:
    return control(base_url, "GET", f"ledger?key={key}" if key else "ledger")["count"]


def sandbox_requests(base_url: str, *, method: str = "", path: str = "") -> list[dict]:
    return [
        r
        for r in control(base_url, "GET", "requests")
        if (not method or r["method"] == method) and path in r["path"]
    ]


def account(api: str, **changes) -> AccountConfig:
    values = {
        "account_id": 1,
        "adapter_key": "shoplazza",
        "name": "Shoplazza test",
        "base_url": api,
        "credentials": {
            "client_id": "demo",
            "client_secret": "demo-secret",
            "refresh_token": "demo-refresh-token",
        },
        "webhook_secret": "demo-webhook-secret",
        "options": {"api_version": "2026-01"},
    }
    values.update(changes)
    return AccountConfig(**values)


def make_adapter(api: str, session=None, **changes) -> ShoplazzaAdapter:
    return ShoplazzaAdapter(account(api, **changes), session=session)


def refund(key: str = "rd-1-create", **changes) -> RefundData:
    """Both mugs (one shipped, one not, restocked) and the shipping: 45.00 over two payments."""
    values = {
        "refund_id": 1,
        "idempotency_key": key,
        "order_external_number": ORDER_ID,
        "currency": "USD",
        "total": Decimal("45.00"),
        "lines_amount": Decimal("40.00"),
        "shipping_amount": Decimal("5.00"),
        "additional_amount": Decimal("0.00"),
        "reason_code": "damaged",
        "customer_explanation": "Both mugs arrived cracked",
        "refund_only": False,
        "requested_at": dt.datetime(2026, 11, 5, 10, 0, tzinfo=dt.UTC),
        "lines": (
            RefundLineData(
                order_line_external_id="li_1",
                sku="MUG",
                name="Mug",
                quantity=2,
                amount=Decimal("40.00"),
                restock=True,
                fulfilled_quantity=1,
                ordered_quantity=2,
            ),
        ),
        "payments": (
            PaymentShare(payment_external_id="pay_1", method="card", amount=Decimal("30.00")),
            PaymentShare(payment_external_id="pay_2", method="gift_card", amount=Decimal("15.00")),
        ),
        "order_grand_total": Decimal("75.00"),
    }
    values.update(changes)
    return RefundData(**values)


def token(api: str) -> str:
    response = requests.post(
        f"{api}/admin/oauth/token",
        data={
            "client_id": "demo",
            "client_secret": "demo-secret",
            "grant_type": "refresh_token",
            "refresh_token": "demo-refresh-token",
        },
        timeout=5,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def sent_webhooks(base_url: str, count: int) -> list[dict]:
    """Wait (at most 5 s) until the sandbox has sent at least `count` webhooks and has none left
    to send; return every one it sent."""
    deadline = time.monotonic() + 5
    while True:
        state = control(base_url, "GET", "webhooks")
        done = len(state["sent"]) >= count and state["pending"] == 0
        if done or time.monotonic() > deadline:
            return state["sent"]
        time.sleep(0.05)


def body_of(request: dict) -> dict:
    return json.loads(request["body"])
