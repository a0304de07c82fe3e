"""The rate limit an account's adapter declares: a broken adapter fails loudly instead of
quietly delivering without its platform's limit (Shoplazza's 2 per second)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from config.settings import base as base_settings
from integrations.registry import ADAPTERS, BrokenAdapter, Entry
from orders.models import MarketplaceAccount
from refunds.delivery.ratelimit import _redis_url, account_rate_limit


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


def test_the_redis_of_the_request_buckets_is_a_declared_setting(settings):
    assert "MARKETPLACE_RATE_LIMIT_REDIS_URL" in vars(base_settings)
    settings.MARKETPLACE_RATE_LIMIT_REDIS_URL = ""
    settings.CELERY_BROKER_URL = "filesystem://"
    assert _redis_url() == ""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/3"
    assert _redis_url() == "redis://127.0.0.1:6379/3"
    settings.MARKETPLACE_RATE_LIMIT_REDIS_URL = "rediss://limits.example:6380/0"
    assert _redis_url() == "rediss://limits.example:6380/0"
