"""The marketplace adapters the workers use, one per worker thread and account configuration."""

from __future__ import annotations

import contextlib
import json
import threading
import time

from django.conf import settings

from integrations.registry import adapter_class

from .payloads import account_config
from .ratelimit import account_rate_limit, throttled_session

# Adapters are kept per worker thread and per account configuration, so that one adapter serves
# many tasks: its token (HepsiGlobal, Noventiq), login cookie (LLZW) and keep-alive connections
# outlive a single call. Per thread, because neither a requests.Session nor the adapters' token
# renewal are shared between threads here. Any change to the account row (credentials, URL,
# rate limit, ...) makes a new key, and an adapter is rebuilt after ADAPTER_MAX_AGE anyway.
ADAPTER_MAX_AGE = 600.0
_adapters = threading.local()


def _adapter_key(account, config, rate) -> tuple:
    return (
        account.pk,
        account.adapter_key,
        config.base_url,
        json.dumps(dict(config.credentials), sort_keys=True, default=str),
        config.webhook_secret,
        json.dumps(dict(config.options), sort_keys=True, default=str),
        config.callback_base_url,
        str(rate),
        settings.MARKETPLACE_CONNECT_TIMEOUT,
        settings.MARKETPLACE_READ_TIMEOUT,
    )


def account_adapter(account):
    """The account's adapter, its session holding each request to the account's rate limit;
    reused by the thread's later tasks for the same account configuration."""
    config = account_config(account)
    rate = account_rate_limit(account)
    cls = adapter_class(account.adapter_key)
    key = (cls, *_adapter_key(account, config, rate))
    cache: dict = getattr(_adapters, "by_account", None)
    if cache is None:
        cache = _adapters.by_account = {}
    now = time.monotonic()
    for pk, (_key, built, old) in list(cache.items()):
        if now - built >= ADAPTER_MAX_AGE and pk != account.pk:  # an account no longer used
            del cache[pk]
            with contextlib.suppress(Exception):
                old.session.close()
    cached = cache.get(account.pk)
    if cached is not None and cached[0] == key and now - cached[1] < ADAPTER_MAX_AGE:
        return cached[2]
    if cached is not None:
        with contextlib.suppress(Exception):
            cached[2].session.close()
    adapter = cls(config, session=throttled_session(config, rate))
    cache[account.pk] = (key, now, adapter)
    return adapter
