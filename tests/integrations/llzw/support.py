"""Helpers for the LLZW contract and sandbox tests (fixtures are in conftest.py)."""

import dataclasses
import datetime as dt
from decimal import Decimal

import requests

from integrations.base import AccountConfig, RefundData
from integrations.llzw.mapping import dumps


def make_account(api: str, **credentials) -> AccountConfig:
    return AccountConfig(
        account_id=7,
        adapter_key="llzw",
        name="LLZW test",
        base_url=api,
        credentials=credentials or {"username": "demo", "password": "demo-secret"},
    )


def refund_data(**changes) -> RefundData:
    data = RefundData(
        refund_id=11,
        idempotency_key="rd-11-create",
        order_external_number="1001",
        currency="USD",
        total=Decimal("12.34"),
        lines_amount=Decimal("12.34"),
        shipping_amount=Decimal("0.00"),
        additional_amount=Decimal("0.00"),
        reason_code="damaged",
        customer_explanation="The mug arrived broken",
        refund_only=True,
        requested_at=dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC),
    )
    return dataclasses.replace(data, **changes)


def login(api: str, username: str = "demo", password: str = "demo-secret") -> requests.Session:  # noqa: S107
    session = requests.Session()
    response = session.post(
        f"{api}/login", data={"username": username, "password": password}, timeout=5
    )
    assert response.status_code == 200, response.text
    return session


def ledger(control: str, key: str | None = None) -> dict:
    params = {"key": key} if key else {}
    return requests.get(f"{control}/ledger", params=params, timeout=5).json()


def customer_refund(api: str, **body) -> dict:
    payload = {"orderId": 1001, "reason": "Too small", "amount": 20, "refundOnly": False, **body}
    response = requests.post(
        f"{api}/_sim/customer-refund",
        data=dumps(payload),  # Decimal amounts as exact JSON numbers
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def set_faults(control: str, **faults) -> None:
    response = requests.put(f"{control}/faults", json=faults, timeout=5)
    assert response.status_code == 200, response.text


def staff(api: str, refund_id, decision: str, **body) -> dict:
    """The shop's staff decide on the shop (the simulator's control path, not the shop's API)."""
    response = requests.post(
        f"{api}/_sim/refunds/{refund_id}/{decision}", json=body or None, timeout=5
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]
