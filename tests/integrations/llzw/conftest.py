import pytest
import requests

from integrations.llzw.client import LlzwAdapter
from integrations.sandbox.server import serve_in_thread

from .support import make_account

ORDERS = [
    {
        "external_number": "1001",
        "customer": {"email": "alice@example.com", "name": "Alice"},
        "status": "paid",
        "currency": "USD",
        "placed_at": "2026-11-01T10:00:00+00:00",
        "shipping_total": "5.00",
        "grand_total": "45.00",
        "lines": [
            {
                "external_id": "L1",
                "sku": "MUG",
                "name": "Mug",
                "quantity": 2,
                "unit_price": "20.00",
                "discount": "0.00",
                "tax": "0.00",
            }
        ],
        "payments": [{"external_id": "P1", "method": "card", "amount": "45.00"}],
    },
    {
        "external_number": "1002",
        "customer": {"email": "bob@example.com", "name": "Bob"},
        "status": "paid",
        "currency": "USD",
        "placed_at": "2026-11-01T11:00:00+00:00",
        "lines": [
            {"external_id": "L1", "sku": "PEN", "name": "Pen", "quantity": 1, "unit_price": "10.00"}
        ],
        "payments": [{"external_id": "P1", "method": "card", "amount": "10.00"}],
    },
    {
        "external_number": "1003",
        "customer": {"email": "carol@example.com"},
        "status": "pending",
        "currency": "USD",
        "grand_total": "30.00",
        "lines": [
            {"external_id": "L1", "sku": "CAP", "name": "Cap", "quantity": 1, "unit_price": "30.00"}
        ],
    },
]


@pytest.fixture(scope="module")
def sandbox():
    server, hub, base_url = serve_in_thread(keys=["llzw"])
    yield hub, base_url
    server.shutdown()
    hub.stop()


@pytest.fixture
def hub(sandbox):
    return sandbox[0]


@pytest.fixture
def sim(sandbox):
    hub, base_url = sandbox
    response = requests.post(f"{base_url}/_control/reset", timeout=5)
    assert response.status_code == 200
    simulator = hub.simulators["llzw"]
    simulator.config.clear()
    # The shop's staff act only when a test says so (staff paths, advance, or a timed test).
    simulator.configure({"staff_seconds": None})
    response = requests.post(f"{base_url}/_control/llzw/orders", json=ORDERS, timeout=5)
    assert response.json() == {"loaded": 3}
    return simulator


@pytest.fixture
def api(sandbox, sim):
    """The shop's base URL (below /llzw)."""
    return f"{sandbox[1]}/llzw"


@pytest.fixture
def control(sandbox, sim):
    return f"{sandbox[1]}/_control/llzw"


@pytest.fixture
def adapter(api):
    return LlzwAdapter(make_account(api))
