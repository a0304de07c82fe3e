"""The rate limit: what an account's adapter declares (a broken adapter fails loudly instead of
quietly delivering without its platform's limit, Shoplazza's 2 per second), and the one limiter
that holds every worker to it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from integrations.registry import ADAPTERS, BrokenAdapter, Entry
from orders.models import MarketplaceAccount
from refunds.delivery import ratelimit
from refunds.delivery.models import RateBucket
from refunds.delivery.ratelimit import account_rate_limit, account_wait_seconds, take_slot
from tests import factories


def test_the_platforms_published_limit_applies():
    assert account_rate_limit(MarketplaceAccount(adapter_key="shoplazza")) == Decimal("2")
    assert account_rate_limit(MarketplaceAccount(adapter_key="llzw")) is None


def test_an_account_of_an_unknown_marketplace_has_no_limit():
    assert account_rate_limit(MarketplaceAccount(adapter_key="retired")) is None


def test_a_broken_adapter_fails_loudly_instead_of_dropping_the_limit(monkeypatch):
    monkeypatch.setitem(
        ADAPTERS,
        "shoplazza",
        Entry("Shoplazza", "integrations.shoplazza.client.Missing", "integrations.x.Sandbox"),
    )

    with pytest.raises(BrokenAdapter):
        account_rate_limit(MarketplaceAccount(adapter_key="shoplazza"))


def test_the_accounts_own_limit_needs_no_adapter():
    account = MarketplaceAccount(adapter_key="retired", rate_limit_per_second=Decimal("0.5"))

    assert account_rate_limit(account) == Decimal("0.5")


# --- the one limiter: GCRA buckets in the database, on a driven clock -------------------------

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock(monkeypatch):
    now = {"t": T0}
    monkeypatch.setattr(ratelimit, "clock", lambda: now["t"])

    def advance(seconds):
        now["t"] += dt.timedelta(seconds=seconds)

    return advance


@pytest.mark.django_db
def test_requests_are_spaced_evenly_without_a_burst(clock):
    account = factories.AccountFactory()
    two = Decimal("2")
    assert take_slot(account.pk, "requests", two) == 0.0
    assert take_slot(account.pk, "requests", two) == pytest.approx(0.5)  # nothing taken
    clock(0.2)
    assert take_slot(account.pk, "requests", two) == pytest.approx(0.3)
    clock(0.3)
    assert take_slot(account.pk, "requests", two) == 0.0
    clock(10)  # idle time is not saved up for a burst later
    assert take_slot(account.pk, "requests", two) == 0.0
    assert take_slot(account.pk, "requests", two) == pytest.approx(0.5)


@pytest.mark.django_db
def test_attempts_may_start_a_window_at_once_then_one_per_interval(clock):
    account = factories.AccountFactory(rate_limit_per_second=Decimal("2"))
    assert [account_wait_seconds(account) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]
    clock(0.5)
    assert account_wait_seconds(account) == 0.0


@pytest.mark.django_db
def test_buckets_are_per_account_and_scope(clock):
    first, second = factories.AccountFactory(), factories.AccountFactory()
    one = Decimal("1")
    assert take_slot(first.pk, "requests", one) == 0.0
    assert take_slot(second.pk, "requests", one) == 0.0
    assert take_slot(first.pk, "attempts", one) == 0.0
    assert take_slot(first.pk, "requests", one) == pytest.approx(1.0)
    assert RateBucket.objects.count() == 3


@pytest.mark.django_db
def test_an_account_without_a_limit_never_waits(clock):
    account = factories.AccountFactory(adapter_key="llzw")
    assert [account_wait_seconds(account) for _ in range(5)] == [0.0] * 5
    assert RateBucket.objects.count() == 0
