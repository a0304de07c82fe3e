import datetime as dt
from decimal import Decimal

import pytest
import requests

from integrations.base import AccountConfig, RefundData, RefundLineData
from integrations.http import MarketplaceSession
from integrations.noventiq.client import NoventiqAdapter
from integrations.sandbox.server import serve_in_thread

ORDERS = [
    {
        "external_number": "700101",
        "external_id": "SHOP-1",
        "customer": {"email": "alice@example.com", "name": "Alice"},
        "status": "paid",
        "currency": "EUR",
        "placed_at": "2026-11-01T10:00:00+00:00",
        "paid_at": "2026-11-01T10:01:00+00:00",
        "shipping_total": "5.00",
        "grand_total": "45.00",
        "lines": [
            {
                "external_id": "L1",
                "sku": "SKU-1",
                "name": "Mug",
                "quantity": 2,
                "unit_price": "10.00",
                "discount": "0.00",
                "tax": "0.00",
            },
            {
                "external_id": "L2",
                "sku": "SKU-2",
                "name": "Plate",
                "quantity": 1,
                "unit_price": "20.00",
                "discount": "0.00",
                "tax": "0.00",
            },
        ],
        "payments": [{"external_id": "P1", "method": "card", "amount": "45.00"}],
    },
    {
        "external_number": "700102",
        "status": "pending",
        "currency": "EUR",
        "grand_total": "30.00",
        "customer": {"email": "bob@example.com"},
        "lines": [],
        "payments": [],
    },
    {
        "external_number": "700103",
        "status": "paid",
        "currency": "EUR",
        "grand_total": "0.00",
        "customer": {"email": "carol@example.com"},
        "lines": [],
        "payments": [],
    },
]


@pytest.fixture(scope="module")
def sandbox():
    server, hub, base_url = serve_in_thread(keys=["noventiq"])
    yield hub, base_url
    server.shutdown()
    hub.stop()


@pytest.fixture
def sim(sandbox):
    """The simulator, reset and loaded with ORDERS; time does not move requests on by itself."""
    hub, base_url = sandbox
    requests.post(f"{base_url}/_control/reset", timeout=5).raise_for_status()
    sim = hub.simulators["noventiq"]
    sim.config.clear()
    sim.configure({"step_seconds": 0, "callback_url": f"{base_url}/_sink"})
    sim.load_orders(ORDERS)
    return sim


@pytest.fixture
def base_url(sandbox):
    return sandbox[1]


def make_account(base_url, **overrides) -> AccountConfig:
    values = {
        "account_id": 1,
        "adapter_key": "noventiq",
        "name": "Noventiq test",
        "base_url": f"{base_url}/noventiq",
        "credentials": {"username": "demo", "password": "demo-secret"},
        "webhook_secret": "demo-webhook-secret",
        "options": {"merchant_email": "refunds@merchant.example"},
    }
    values.update(overrides)
    return AccountConfig(**values)


@pytest.fixture
def adapter(sim, base_url):
    session = MarketplaceSession(account_name="Noventiq test", timeout=(2, 5))
    return NoventiqAdapter(make_account(base_url), session=session)


def make_refund(**overrides) -> RefundData:
    values = {
        "refund_id": 1,
        "idempotency_key": "rd-refund-1-create",
        "order_external_number": "700101",
        "currency": "EUR",
        "total": Decimal("20.00"),
        "lines_amount": Decimal("20.00"),
        "shipping_amount": Decimal("0.00"),
        "additional_amount": Decimal("0.00"),
        "reason_code": "damaged",
        "customer_explanation": "The mug arrived broken.",
        "refund_only": True,
        "requested_at": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
        "lines": (
            RefundLineData(
                order_line_external_id="L1",
                sku="SKU-1",
                name="Mug",
                quantity=2,  # Noventiq refunds an item with all its units
                amount=Decimal("20.00"),
                restock=False,
                ordered_quantity=2,
            ),
        ),
        "order_grand_total": Decimal("45.00"),
    }
    values.update(overrides)
    return RefundData(**values)
