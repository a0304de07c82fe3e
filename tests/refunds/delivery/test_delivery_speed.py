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

from integrations.sandbox.server import serve_in_thread
from refunds.delivery.adapters import account_adapter
from refunds.delivery.outbox import action_start_attempt
from refunds.delivery.tasks import _apply_result
from tests import factories
from tests.fixtures.pipeline import approve_refund, ensure_role_groups
from tests.integrations.hepsiglobal.conftest import refund_data


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
        assert sql.count("FOR UPDATE") == 1
        assert (
            sql.endswith('FOR UPDATE OF "integrations_outboundaction"')
            or 'FOR UPDATE OF "integrations_outboundaction" SKIP LOCKED' in sql
            # the one-statement claim: `o` is the action; the account is joined unlocked
            or (
                'FROM "integrations_outboundaction" o' in sql
                and "FOR UPDATE OF o SKIP LOCKED" in sql
            )
        )  # ...but only the action row is locked


def test_claiming_a_due_action_is_one_statement(action, settings):
    """A due pending action of an account without a rate limit: the lease, the attempt count
    and the attempt row are written by one statement, which returns the action and its
    account for the call."""
    from refunds.delivery.models import OutboundAttempt, OutboundState

    settings.OUTBOX_LEASE_SECONDS = 180
    with CaptureQueriesContext(connection) as claimed:
        claim = action_start_attempt(action.pk)

    assert len(claimed.captured_queries) == 1
    assert "FOR UPDATE OF o SKIP LOCKED" in claimed.captured_queries[0]["sql"]
    assert claim.attempt == 1
    assert claim.action.payload == action.payload
    assert claim.action.account.credentials == action.account.credentials
    assert claim.action.account.adapter_key == "llzw"
    action.refresh_from_db()
    assert (action.state, action.attempts) == (OutboundState.IN_FLIGHT, 1)
    assert action.claimed_until == claim.action.claimed_until
    attempt = OutboundAttempt.objects.get(action=action)
    assert (attempt.number, attempt.outcome, attempt.finished_at) == (1, "started", None)
    assert attempt.started_at < action.claimed_until
    # Taken: a second claim finds it in flight and changes nothing.
    assert action_start_attempt(action.pk).reason == "in flight on another worker"
    assert OutboundAttempt.objects.filter(action=action).count() == 1


def test_applying_an_answer_reads_no_account_and_finishes_in_one_statement(action):
    from integrations.base import Accepted
    from refunds.delivery.models import OutboundAttempt, OutboundState
    from refunds.models import RefundEvent

    claim = action_start_attempt(action.pk)
    answer = Accepted(external_id="E1", external_request_id="R1", raw={"request_id": "R1"})
    with CaptureQueriesContext(connection) as applied:
        outcome = _apply_result(action.pk, claim.attempt, answer, adapter_key="llzw")

    assert outcome == "accepted"
    lock = _first_lock(applied.captured_queries)
    assert "orders_marketplaceaccount" not in lock
    assert '"payload"' not in lock
    writes = [q["sql"] for q in applied.captured_queries if "integrations_outbound" in q["sql"]]
    assert len(writes) == 2  # the locked read, then one statement for attempt and action
    # One savepoint: the task's own transaction, nested in the test's. The refund service
    # inside it takes none of its own (an error leaves the task's transaction whole).
    savepoints = [q["sql"] for q in applied.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 1
    action.refresh_from_db()
    assert (action.state, action.response, action.claimed_until) == (
        OutboundState.SUCCEEDED,
        {"request_id": "R1"},
        None,
    )
    assert action.completed_at is not None
    attempt = OutboundAttempt.objects.get(action=action)
    assert (attempt.outcome, attempt.response) == ("accepted", {"request_id": "R1"})
    assert attempt.finished_at == action.completed_at
    refund = action.refund
    refund.refresh_from_db()
    assert (refund.external_id, refund.external_request_id) == ("E1", "R1")
    event = RefundEvent.objects.filter(refund=refund).latest("id")
    assert (event.action, event.actor_label) == (
        "marketplace_accepted",
        "system: llzw create_refund",
    )


class HeldLatency:
    """Stands in for the sandbox server's `time` module: sleep() (the injected latency) records
    how long the request was to wait and holds it until release(); the rest is the real clock."""

    def __init__(self):
        self._cv = threading.Condition()
        self.delays: list[float] = []
        self._released = False

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        with self._cv:
            self.delays.append(seconds)
            self._cv.notify_all()
            self._cv.wait_for(lambda: self._released, timeout=10)

    def wait_for_held(self, count: int) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: len(self.delays) >= count, timeout=10)

    def release(self) -> None:
        with self._cv:
            self._released = True
            self._cv.notify_all()


def test_sandbox_latency_delays_each_request_not_the_others(sandbox_url, monkeypatch):
    from integrations.sandbox import server

    held = HeldLatency()
    monkeypatch.setattr(server, "time", held)
    requests.put(
        f"{sandbox_url}/_control/hepsiglobal/faults", json={"latency_ms": 300}, timeout=5
    ).raise_for_status()
    body = {"grant_type": "client_credentials", "client_id": "demo", "client_secret": "demo-secret"}
    codes: list[int] = []

    def call():
        response = requests.post(f"{sandbox_url}/hepsiglobal/v1/auth/token", json=body, timeout=10)
        codes.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        # All eight are in their latency at once (none waits for another to be answered), and
        # none is answered before its latency is over.
        all_held = held.wait_for_held(8)
        answered_early = list(codes)
    finally:
        held.release()
        for t in threads:
            t.join()

    assert all_held, f"only {len(held.delays)} of 8 requests were held at once"
    assert answered_early == []
    assert held.delays == [0.3] * 8
    assert codes == [200] * 8


def test_a_session_reads_the_environment_once_when_it_has_no_proxies(monkeypatch, tmp_path):
    """requests' per-call look at the environment (proxies, .netrc, CA bundle) is done once
    when the session is built; with proxies or a .netrc around, requests keeps looking."""
    import os
    from types import SimpleNamespace

    from integrations.http import build_session

    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    account = SimpleNamespace(name="Env check")

    session = build_session(account)
    assert (session.trust_env, session.verify) == (False, "/etc/ssl/bundle.pem")

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert build_session(account).trust_env is True
    monkeypatch.delenv("HTTPS_PROXY")
    (tmp_path / ".netrc").write_text("machine example.com login a password b\n")
    assert build_session(account).trust_env is True
