"""The HepsiGlobal sandbox over real sockets, a receiver standing in for Refund Desk's webhook
endpoints, and helpers to build the adapter and our refund snapshot."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from integrations.base import AccountConfig, RefundData, RefundLineData, WebhookOrigin
from integrations.hepsiglobal.client import HepsiGlobalAdapter
from integrations.sandbox.server import serve_in_thread

WEBHOOK_SECRET = "demo-webhook-secret"
# The base URL given to HepsiGlobal at onboarding, with the default "path_token": it calls it
# followed by /webhooks/<name>.
WEBHOOK_BASE = f"/hepsiglobal/{WEBHOOK_SECRET}"

ORDER = {
    "external_number": "HG-1001",
    "customer": {"email": "alice@example.com", "name": "Alice"},
    "status": "paid",
    "currency": "USD",
    "placed_at": "2026-11-01T10:00:00+00:00",
    "shipping_total": "5.00",
    "grand_total": "54.50",
    "lines": [
        {
            "external_id": "oi1",
            "sku": "SKU-1",
            "name": "Mug",
            "quantity": 2,
            "unit_price": "20.00",
            "discount": "0.00",
            "tax": "0.00",
        },
        {
            "external_id": "oi2",
            "sku": "SKU-2",
            "name": "Plate",
            "quantity": 1,
            "unit_price": "10.00",
            "discount": "1.00",
            "tax": "0.50",
        },
    ],
    "payments": [{"external_id": "P1", "method": "card", "amount": "54.50"}],
}


class Receiver:
    """Refund Desk's side of the webhooks: records every call and answers 200 {}."""

    def __init__(self):
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        self.hub = None  # the sandbox sending to it (set by the `hub` fixture)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver.lock:
                    receiver.calls.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers.items()),
                            "body": body,
                        }
                    )
                payload = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = _serve

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def clear(self):
        with self.lock:
            self.calls.clear()

    def wait_for(self, count: int, limit: float = 5.0) -> list[dict]:
        """Wait until at least `count` webhooks arrived and the sandbox (which sends them from
        its own thread) has none left to send; return every call."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            drained = self.hub is None or self.hub.pending_webhooks("hepsiglobal") == 0
            with self.lock:
                if len(self.calls) >= count and drained:
                    return list(self.calls)
            time.sleep(0.02)
        with self.lock:
            return list(self.calls)


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture(scope="module")
def sandbox():
    server, hub, base_url = serve_in_thread(keys=["hepsiglobal"])
    yield hub, base_url
    server.shutdown()
    hub.stop()


@pytest.fixture
def hub(sandbox, receiver):
    hub, base_url = sandbox
    requests.post(f"{base_url}/_control/reset", timeout=5).raise_for_status()
    requests.put(
        f"{base_url}/_control/hepsiglobal/config",
        json={
            "callback_url": receiver.url,
            "token_ttl": 3600,
            "webhook_auth": "path_token",
            "order_cancel_shape": "flat",
            "webhook_username": "hepsiglobal",
            "client_id": "demo",
            "client_secret": "demo-secret",
        },
        timeout=5,
    ).raise_for_status()
    requests.post(f"{base_url}/_control/hepsiglobal/orders", json=[ORDER], timeout=5)
    receiver.clear()
    receiver.hub = hub
    return hub


@pytest.fixture
def base_url(sandbox):
    return sandbox[1]


@pytest.fixture
def sim(hub):
    return hub.simulators["hepsiglobal"]


def account(base_url: str, **overrides) -> AccountConfig:
    values = {
        "account_id": 1,
        "adapter_key": "hepsiglobal",
        "name": "HepsiGlobal test",
        "base_url": f"{base_url}/hepsiglobal",
        "credentials": {"client_id": "demo", "client_secret": "demo-secret"},
        "webhook_secret": WEBHOOK_SECRET,
    }
    values.update(overrides)
    return AccountConfig(**values)


@pytest.fixture
def adapter(hub, base_url):
    return HepsiGlobalAdapter(account(base_url))


def refund_data(
    key: str = "RD1-create-refund-1",
    *,
    lines=(("oi1", 1, "20.00"),),
    order: str = "HG-1001",
    currency: str = "USD",
    shipping: str = "0.00",
    reason: str = "damaged",
    explanation: str = "arrived broken",
) -> RefundData:
    refund_lines = tuple(
        RefundLineData(
            order_line_external_id=ext,
            sku=f"SKU-{ext}",
            name=ext,
            quantity=qty,
            amount=Decimal(amount),
            restock=False,
        )
        for ext, qty, amount in lines
    )
    lines_amount = sum((line.amount for line in refund_lines), Decimal("0"))
    return RefundData(
        refund_id=1,
        idempotency_key=key,
        order_external_number=order,
        currency=currency,
        total=lines_amount + Decimal(shipping),
        lines_amount=lines_amount,
        shipping_amount=Decimal(shipping),
        additional_amount=Decimal("0.00"),
        reason_code=reason,
        customer_explanation=explanation,
        refund_only=True,
        requested_at=dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=3))),
        lines=refund_lines,
    )


def ledger(base_url: str, key: str) -> dict:
    response = requests.get(
        f"{base_url}/_control/hepsiglobal/ledger", params={"key": key}, timeout=5
    )
    return response.json()


def sandbox_requests(base_url: str, path: str) -> list[dict]:
    calls = requests.get(f"{base_url}/_control/hepsiglobal/requests", timeout=5).json()
    return [c for c in calls if c["path"] == path]


def set_faults(base_url: str, **faults) -> None:
    requests.put(
        f"{base_url}/_control/hepsiglobal/faults", json=faults, timeout=5
    ).raise_for_status()


def advance(base_url: str) -> None:
    requests.post(f"{base_url}/_control/hepsiglobal/advance", timeout=5).raise_for_status()


def body_of(call: dict) -> dict:
    return json.loads(call["body"])


def origin_of(call: dict, client_address: str = "127.0.0.1") -> WebhookOrigin:
    """What the intake would hand the adapter for a call the receiver recorded: the token of
    /hepsiglobal/<token>/webhooks/<name>, if any, and the caller's address."""
    parts = call["path"].split("?")[0].strip("/").split("/")
    token = parts[1] if len(parts) == 4 and parts[2] == "webhooks" else ""
    return WebhookOrigin(client_address=client_address, path_token=token)


def parse_call(adapter, call: dict, **changes):
    values = {
        "name": call["path"].rsplit("/", 1)[1],
        "method": call["method"],
        "headers": call["headers"],
        "body": call["body"],
        "origin": origin_of(call),
        **changes,
    }
    return adapter.parse_webhook(**values)
