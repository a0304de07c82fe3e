"""What keeps delivery fast without changing what it does: one adapter per worker thread and
account configuration (its token and keep-alive connections outlive a task), no lock on the
account row while an action is claimed or its answer applied, and a sandbox that serves requests
concurrently (its injected latency delays each request, not the others)."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.outbox import action_start_attempt
from integrations.sandbox.server import serve_in_thread
from integrations.tasks import _apply_result, account_adapter
from tests import factories
from tests.fixtures.pipeline import approve_refund, ensure_role_groups

from .hepsiglobal.conftest import refund_data


@pytest.fixture(scope="module")
def hepsi_sandbox():
    server, hub, base_url = serve_in_thread(keys=["hepsiglobal"])
    yield base_url
    server.shutdown()
    hub.stop()


@pytest.fixture
def sandbox_url(hepsi_sandbox):
    requests.post(f"{hepsi_sandbox}/_control/reset", timeout=5).raise_for_status()
    return hepsi_sandbox


def _hepsi_account(base_url, **fields):
    values = {
        "adapter_key": "hepsiglobal",
        "name": "HepsiGlobal speed",
        "base_url": f"{base_url}/hepsiglobal",
        "credentials": {"client_id": "demo", "client_secret": "demo-secret"},
    }
    values.update(fields)
    return factories.AccountFactory(**values)


def _token_requests(base_url):
    calls = requests.get(f"{base_url}/_control/hepsiglobal/requests", timeout=5).json()
    return [c for c in calls if c["path"] == "/v1/auth/token"]


def test_a_thread_reuses_its_adapter_and_token_across_tasks(db, sandbox_url):
    account = _hepsi_account(sandbox_url)
    requests.post(
        f"{sandbox_url}/_control/hepsiglobal/orders",
        json=[
            {
                "external_number": "HG-1001",
                "currency": "USD",
                "placed_at": "2026-11-01T10:00:00+00:00",
                "status": "paid",
                "grand_total": "40.00",
                "lines": [
                    {
                        "external_id": "oi1",
                        "sku": "S",
                        "name": "Mug",
                        "quantity": 2,
                        "unit_price": "20.00",
                    }
                ],
            }
        ],
        timeout=5,
    ).raise_for_status()

    first = account_adapter(account)
    first.create_refund(refund_data("RD1-create-refund-1"))
    second = account_adapter(account)  # the next task of this thread
    second.create_refund(refund_data("RD2-create-refund-1"))

    assert second is first
    assert len(_token_requests(sandbox_url)) == 1


def test_a_changed_account_or_another_thread_gets_its_own_adapter(db, sandbox_url):
    account = _hepsi_account(sandbox_url)
    first = account_adapter(account)

    account.credentials = {"client_id": "demo", "client_secret": "rotated"}
    account.save()
    renewed = account_adapter(account)
    other: list = []
    thread = threading.Thread(target=lambda: other.append(account_adapter(account)))
    thread.start()
    thread.join()

    assert renewed is not first
    assert renewed.account.credentials["client_secret"] == "rotated"
    assert other[0] is not renewed
    assert account_adapter(account) is renewed


@pytest.fixture
def action(db):
    ensure_role_groups()
    agent = factories.agent(username="speed-agent@example.com")
    account = factories.AccountFactory(adapter_key="llzw", name="LLZW speed")
    order = factories.make_order(account=account, lines=[(1, "10.00", "0.00", "0.00")])
    return approve_refund(order, agent).outbound_actions.get()


def _first_lock(queries) -> str:
    return next(q["sql"] for q in queries if "FOR UPDATE" in q["sql"])


def test_claim_and_apply_lock_the_action_row_not_the_account(action):
    from integrations.base import FailedForNow

    with CaptureQueriesContext(connection) as claimed:
        claim = action_start_attempt(action.pk)
    with CaptureQueriesContext(connection) as applied:
        _apply_result(action.pk, claim.attempt, FailedForNow(message="try later"))

    assert claim.attempt == 1
    assert claim.action.account_id == action.account_id  # no second read before the call
    for sql in (_first_lock(claimed.captured_queries), _first_lock(applied.captured_queries)):
        assert "orders_marketplaceaccount" in sql  # read with the action...
        assert sql.endswith('FOR UPDATE OF "integrations_outboundaction"') or (
            'FOR UPDATE OF "integrations_outboundaction" SKIP LOCKED' in sql
        )  # ...but only the action row is locked


def test_sandbox_latency_delays_each_request_not_the_others(sandbox_url):
    requests.put(
        f"{sandbox_url}/_control/hepsiglobal/faults", json={"latency_ms": 300}, timeout=5
    ).raise_for_status()
    body = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}
    codes: list[int] = []

    def call():
        response = requests.post(f"{sandbox_url}/hepsiglobal/v1/auth/token", json=body, timeout=10)
        codes.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started

    assert codes == [200] * 8
    assert 0.3 <= elapsed < 1.2  # 8 x 300 ms one after another would take 2.4 s
