"""HepsiGlobal's published examples (published.py) against our sandbox and our adapter: the
sandbox takes the published requests and answers the published shapes; the adapter sends the
published shapes."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import requests

from integrations.hepsiglobal import mapping

from .conftest import refund_data, sandbox_requests
from .published import (
    CANCEL_BY_MARKETPLACE_BODY,
    CANCEL_BY_MARKETPLACE_PATH,
    CREATE_REFUND_ANSWER,
    CREATE_REFUND_BODY,
    CREATE_TOKEN_BODY,
)

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def _configure(base_url, **config):
    requests.put(
        f"{base_url}/_control/hepsiglobal/config", json=config, timeout=5
    ).raise_for_status()


def _token(base_url) -> dict:
    response = requests.post(
        f"{base_url}/hepsiglobal/v1/auth/token", json=CREATE_TOKEN_BODY, timeout=5
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _load(base_url, number: str, items: list[tuple[str, int, str]]):
    order = {
        "external_number": number,
        "currency": "USD",
        "placed_at": "2024-09-01T10:00:00+03:00",
        "lines": [
            {"external_id": ext, "sku": ext, "name": ext, "quantity": qty, "unit_price": price}
            for ext, qty, price in items
        ],
    }
    requests.post(
        f"{base_url}/_control/hepsiglobal/orders", json=[order], timeout=5
    ).raise_for_status()


def test_published_token_request_gets_a_token(hub, base_url):
    _configure(base_url, client_id="string", client_secret="string")

    response = requests.post(
        f"{base_url}/hepsiglobal/v1/auth/token", json=CREATE_TOKEN_BODY, timeout=5
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


def test_published_refund_request_answers_the_published_shape(hub, base_url):
    _configure(base_url, client_id="string", client_secret="string")
    _load(base_url, "mp_order123", [("oi1", 1, "2.34"), ("oi2", 1, "1.23")])

    response = requests.post(
        f"{base_url}/hepsiglobal/v1/refunds",
        data=CREATE_REFUND_BODY,
        headers={**_token(base_url), "Content-Type": "application/json"},
        timeout=5,
    )

    assert response.status_code == 200
    assert set(response.json()) == set(CREATE_REFUND_ANSWER)
    assert ULID.match(response.json()["request_id"])
    assert ULID.match(CREATE_REFUND_ANSWER["request_id"])


def test_published_cancel_by_marketplace_answers_the_published_envelope(hub, base_url):
    _configure(base_url, client_id="string", client_secret="string")
    _load(base_url, "123123123123", [("123123123123_750724899922", 2, "12.39")])

    response = requests.put(
        f"{base_url}/hepsiglobal{CANCEL_BY_MARKETPLACE_PATH}",
        json=CANCEL_BY_MARKETPLACE_BODY,
        headers=_token(base_url),
        timeout=5,
    )

    assert response.status_code == 200
    assert set(response.json()) == {"data", "message"}
    assert response.json()["data"] == {}


def test_adapter_sends_the_published_refund_fields(adapter, base_url):
    published = json.loads(CREATE_REFUND_BODY)

    adapter.create_refund(refund_data(lines=(("oi1", 1, "20.00"), ("oi2", 1, "9.50"))))

    sent = json.loads(sandbox_requests(base_url, "/v1/refunds")[0]["body"])
    assert set(sent) == set(published)
    assert [set(item) for item in sent["items"]] == [set(i) for i in published["items"]]
    # Amounts are JSON numbers, quantities integers, the date has its offset, as published.
    assert [type(i["amount"]) for i in sent["items"]] == [
        type(i["amount"]) for i in published["items"]
    ]
    assert [i["quantity"] for i in sent["items"]] == [1, 1]
    assert sent["refund_date"] == "2026-11-02T09:30:00+03:00"
    assert mapping.dumps({"amount": Decimal("2.34")}) == b'{"amount": 2.34}'
