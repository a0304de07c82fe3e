"""Issue 17's webhook lean path: the marketplaces' webhook URLs skip the middleware a browser
needs (refunds/delivery/lean.py), and a process keeps the enabled accounts it verifies with for
WEBHOOK_ACCOUNTS_TTL_SECONDS (refunds/delivery/intake.py)."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from integrations.hepsiglobal.webhooks import basic_authorization
from refunds.delivery import intake
from refunds.delivery.models import WebhookEvent
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "whsec-lean-path-0000000001"
RESULT_URL = "/hepsiglobal/webhooks/refund-create-result"


@pytest.fixture
def account():
    intake._accounts_read.clear()
    yield factories.AccountFactory(
        adapter_key="hepsiglobal",
        name="HG lean",
        base_url="http://127.0.0.1:9/hepsiglobal",
        webhook_secret=SECRET,
        options={"webhook_auth": "basic"},
    )
    intake._accounts_read.clear()


def _result(n: int) -> bytes:
    return json.dumps(
        {
            "request_id": f"01J{n:023d}",
            "refund_number": "RD1-create-refund-1",
            "order_number": "1",
            "status": "success",
            "errors": [],
        }
    ).encode()


def _send(client, n: int, secret: str = SECRET):
    return client.post(
        RESULT_URL,
        data=_result(n),
        content_type="application/json",
        headers={"Authorization": basic_authorization("hepsiglobal", secret)},
    )


def test_a_webhook_skips_the_browser_middleware_and_keeps_its_request_id(client, account):
    response = _send(client, 1)
    assert response.status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert response.headers["X-Request-ID"]
    # What the chain after the lean path adds to every page is not on a webhook's answer.
    for header in ("Content-Security-Policy", "X-Frame-Options", "Vary"):
        assert header not in response.headers
    assert "sessionid" not in response.cookies
    assert "csrftoken" not in response.cookies
    page = client.get("/accounts/login/")
    assert "Content-Security-Policy" in page.headers
    assert "X-Frame-Options" in page.headers


def test_every_webhook_url_the_resolver_knows_is_taken_by_the_lean_path(client, account):
    urls = [
        reverse("marketplace-webhook", kwargs={"key": "hepsiglobal", "name": "order-cancel"}),
        reverse(
            "marketplace-webhook-token",
            kwargs={"key": "hepsiglobal", "token": SECRET, "name": "order-cancel"},
        ),
        reverse("marketplace-webhook", kwargs={"key": "nosuchplatform", "name": "x"}),
    ]
    for url in urls:
        response = client.put(url, data=b"{}", content_type="application/json")
        assert response.status_code in (400, 401, 404), url
        assert "X-Frame-Options" not in response.headers, url
    # Not a webhook URL, though it says "webhooks": the full chain and the resolver's 404.
    response = client.get("/staff/webhooks-help/")
    assert response.status_code in (302, 404)
    assert "X-Frame-Options" in response.headers


def test_an_error_in_the_view_is_still_a_500_answer_with_its_request_id(account, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(intake, "_store", broken)
    response = _send(Client(raise_request_exception=False), 2)
    assert response.status_code == 500
    assert response.headers["X-Request-ID"]
    assert WebhookEvent.objects.count() == 0


def test_accounts_are_read_once_a_ttl(account, settings, django_assert_num_queries):
    settings.WEBHOOK_ACCOUNTS_TTL_SECONDS = 2
    now = [100.0]

    def clock():
        return now[0]

    with django_assert_num_queries(1):
        assert [a.pk for a in intake._enabled_accounts("hepsiglobal", clock=clock)] == [account.pk]
    account.is_enabled = False
    account.save(update_fields=["is_enabled"])
    now[0] = 101.9  # within the TTL: what was read is used, no query
    with django_assert_num_queries(0):
        assert [a.pk for a in intake._enabled_accounts("hepsiglobal", clock=clock)] == [account.pk]
    now[0] = 102.0  # the TTL is over: read again, and the disabled account is gone
    with django_assert_num_queries(1):
        assert intake._enabled_accounts("hepsiglobal", clock=clock) == []


def test_with_a_ttl_a_burst_reads_the_accounts_once(client, account, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.WEBHOOK_ACCOUNTS_TTL_SECONDS = 60
    with CaptureQueriesContext(connection) as first:
        assert _send(client, 10).status_code == 200
    with CaptureQueriesContext(connection) as later:
        for n in range(11, 15):
            assert _send(client, n).status_code == 200
    assert WebhookEvent.objects.count() == 5
    reads = [q for q in first.captured_queries if "orders_marketplaceaccount" in q["sql"]]
    assert len(reads) == 1
    assert not [q for q in later.captured_queries if "orders_marketplaceaccount" in q["sql"]]
    assert len(later.captured_queries) == 4  # one INSERT per delivery, nothing else


def test_without_a_ttl_a_new_secret_counts_at_once(client, account, settings):
    settings.WEBHOOK_ACCOUNTS_TTL_SECONDS = 0
    assert _send(client, 20).status_code == 200
    account.webhook_secret = "whsec-lean-path-rotated-0002"
    account.save(update_fields=["webhook_secret"])
    assert _send(client, 21).status_code == 401
    assert _send(client, 22, secret="whsec-lean-path-rotated-0002").status_code == 200
