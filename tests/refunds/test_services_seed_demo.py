"""`manage.py seed_demo`: every status for every marketplace, the demo users, idempotent, and
the orders loaded into the sandbox when it answers."""

from io import StringIO

import pytest
import requests
from django.contrib.auth import authenticate
from django.core import mail
from django.core.management import call_command
from django.test import RequestFactory

from integrations.sandbox.server import serve_in_thread
from orders.models import MarketplaceAccount, Order, OrderLine, ReturnPolicy
from refunds.delivery.models import OutboundAction
from refunds.models import Refund, RefundEvent
from refunds.policy import order_eligibility
from refunds.states import RefundStatus
from tests.fixtures.pipeline import ensure_role_groups

pytestmark = pytest.mark.django_db


def _seed(settings, sandbox_url):
    settings.SANDBOX_URL = sandbox_url
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _counts():
    return (
        MarketplaceAccount.objects.count(),
        Order.objects.count(),
        Refund.objects.count(),
        RefundEvent.objects.count(),
        OutboundAction.objects.count(),
    )


def test_seed_demo_without_sandbox_is_complete_and_idempotent(settings):
    out = _seed(settings, "http://127.0.0.1:9")
    assert "The sandbox at http://127.0.0.1:9 is not reachable" in out
    assert "200 orders (200 new)" in out
    first = _counts()
    assert first[:2] == (4, 200)

    for key in ("hepsiglobal", "noventiq", "llzw", "shoplazza"):
        account = MarketplaceAccount.objects.get(adapter_key=key)
        assert account.base_url == f"http://127.0.0.1:9/{key}"
        assert account.webhook_secret == "demo-webhook-secret"
        refunds = Refund.objects.filter(order__account=account)
        statuses = {(r.status, r.refund_only) for r in refunds}
        for status in RefundStatus:
            assert (status, True) in statuses or status == RefundStatus.WAITING
            assert (status, False) in statuses
        assert refunds.filter(needs_attention=True, status="PROCESSING").count() == 1
        # Every refund was made through the services: its request event exists.
        assert all(r.events.filter(action="request").exists() for r in refunds)
        # The damaged ones a person asked for came with a photo, as the portal takes them.
        damaged = refunds.filter(reason_code="damaged", requested_by__isnull=False)
        assert damaged.exists()
        assert all(r.evidence.count() == 1 for r in damaged)
        for refund in damaged:
            asked, photo = refund.events.order_by("id")[:2]
            assert (asked.action, photo.action) == ("request", "add_evidence")
            assert photo.created_at == asked.created_at == refund.evidence.get().created_at
    assert MarketplaceAccount.objects.get(adapter_key="shoplazza").rate_limit_per_second == 2

    for username, group, is_staff in [
        ("agent@example.com", "Refund agent", True),
        ("manager@example.com", "Refund manager", True),
        ("alice@example.com", "Customer", False),
        ("bob@example.com", "Customer", False),
    ]:
        sign_in = RequestFactory().post("/accounts/login/")  # django-axes needs the request
        user = authenticate(sign_in, username=username, password="refund-desk-demo")
        assert user is not None
        assert user.is_staff is is_staff
        assert list(user.groups.values_list("name", flat=True)) == [group]
    for customer in ("alice@example.com", "bob@example.com"):
        mine = Refund.objects.filter(order__customer__user__username=customer)
        assert Order.objects.filter(customer__user__username=customer).count() >= 8
        assert mine.values("status").distinct().count() >= 4

    out = _seed(settings, "http://127.0.0.1:9")
    assert "200 orders (0 new)" in out
    assert "(0 new)." in out
    assert _counts() == first


@pytest.mark.django_db(transaction=True)
def test_seed_demo_sends_no_mail_and_records_the_finished_deliveries(settings):
    """Committed for real (the e-mails are due on commit): demo history tells nobody, and each
    finished refund's create action is final with one attempt holding the platform's answer;
    PROCESSING ones stay pending for the worker."""
    ensure_role_groups()
    _seed(settings, "http://127.0.0.1:9")

    assert mail.outbox == []
    for key in ("hepsiglobal", "noventiq", "llzw", "shoplazza"):
        actions = OutboundAction.objects.filter(account__adapter_key=key).select_related("refund")
        rows = sorted(
            (
                a.kind,
                a.refund.status,
                a.refund.needs_attention,
                a.state,
                a.attempts,
                a.completed_at is not None,
                list(a.attempt_log.values_list("outcome", "message")),
            )
            for a in actions
        )
        refused = [("rejected", "Refund amount exceeds the captured payment")]
        assert rows == [
            ("create_refund", "ISSUED", False, "succeeded", 1, True, [("confirmed", "")]),
            ("create_refund", "ISSUED", False, "succeeded", 1, True, [("confirmed", "")]),
            ("create_refund", "PROCESSING", False, "pending", 0, False, []),
            ("create_refund", "PROCESSING", False, "pending", 0, False, []),
            ("create_refund", "PROCESSING", True, "failed", 1, True, refused),
        ]


def test_seed_demo_loads_the_orders_into_the_sandbox(settings):
    server, hub, url = serve_in_thread()
    try:
        out = _seed(settings, url)
        for key in ("hepsiglobal", "noventiq", "llzw", "shoplazza"):
            assert f"Sandbox {key}: 50 orders loaded." in out
        assert requests.get(f"{url}/_control/health", timeout=5).json()["ok"] is True
        assert hub.simulators["llzw"].config["webhook_secret"] == "demo-webhook-secret"
    finally:
        server.shutdown()
        hub.stop()
        server.server_close()


def test_seed_demo_history_is_dated_from_each_refund(settings):
    """The demo's refunds are history: their events follow their own request date, not the
    moment of seeding, so waiting times and due-by marks read as they would in a real desk."""
    from django.db.models import F, Min

    _seed(settings, "http://127.0.0.1:9")
    refunds = Refund.objects.annotate(first_event=Min("events__created_at"))
    assert refunds.exists()
    assert not refunds.exclude(first_event=F("created_at")).exists()
    issued = Refund.objects.filter(status=RefundStatus.ISSUED)
    assert issued.exists()
    for refund in issued:
        assert refund.issued_at == refund.events.order_by("-id").first().created_at
        assert refund.issued_at >= refund.created_at


def test_seed_demo_gives_every_account_a_return_policy_and_alice_lines_of_both_kinds(settings):
    """`make run` shows the return policy: each account has one, fulfilled orders carry their
    delivery dates and lines their categories, and Alice has lines she can and cannot return."""
    _seed(settings, "http://127.0.0.1:9")
    policies = {p.account.adapter_key: p for p in ReturnPolicy.objects.select_related("account")}
    assert {key: p.window_days for key, p in policies.items()} == {
        "hepsiglobal": 30,
        "noventiq": 14,
        "llzw": 30,
        "shoplazza": None,
    }
    assert all(p.return_address.startswith("Refund Desk demo returns") for p in policies.values())
    assert not Order.objects.filter(status="fulfilled", fulfilled_at__isnull=True).exists()
    assert Order.objects.filter(delivered_at__isnull=False).count() > 100
    assert not OrderLine.objects.filter(category="").exists()

    codes = set()
    for order in Order.objects.filter(customer__user__username="alice@example.com"):
        codes |= {e.code for e in order_eligibility(order).values()}
    assert codes >= {"", "window_closed", "final_sale_category"}

    _seed(settings, "http://127.0.0.1:9")
    assert ReturnPolicy.objects.count() == 4
