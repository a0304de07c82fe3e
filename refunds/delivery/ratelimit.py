"""Per-account request rate limit, shared by every worker process.

A sliding-window log kept in the database: the attempt rows the delivery task writes before each
call *are* the log. Under a row lock on the marketplace account, we count the attempts started
in the last window; when the window is full, the caller is told how long to wait. Because the
check and the attempt row are written in one transaction under that lock, two workers can never
both take the last slot. It needs no Redis, so it works on the filesystem broker of `make run`
as well as on Redis in production.

The limit is the account's own `rate_limit_per_second` when set, else the platform's published
one (`Capabilities.rate_limit_per_second`, e.g. Shoplazza 2/s); neither means no limit.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import time
from decimal import Decimal

import redis
from django.conf import settings
from django.utils import timezone

from integrations.base import TransientError
from integrations.http import build_session
from integrations.registry import UnknownAdapter, adapter_class
from orders.models import MarketplaceAccount

from .models import OutboundAttempt


def account_rate_limit(account) -> Decimal | None:
    if account.rate_limit_per_second:
        return Decimal(account.rate_limit_per_second)

    try:
        return adapter_class(account.adapter_key).capabilities.rate_limit_per_second
    except UnknownAdapter:  # a BrokenAdapter fails loudly: never deliver without the limit
        return None


def window(rate: Decimal) -> tuple[float, int]:
    """(window seconds, requests allowed in it): 2/s -> (1, 2); 0.5/s -> (2, 1)."""
    seconds = max(1.0, float(1 / rate))
    return seconds, max(1, math.floor(float(rate) * seconds))


def account_wait_seconds(account) -> float:
    """Seconds to wait before the next call on `account` (0: go now). Call inside a transaction
    that then writes the OutboundAttempt row; it holds the account row lock until commit."""

    rate = account_rate_limit(account)
    if not rate or rate <= 0:
        return 0.0
    # FOR NO KEY UPDATE: limiters still queue on each other, but new outbox rows referencing the
    # account (their foreign-key check takes FOR KEY SHARE) are not held up until commit.
    MarketplaceAccount.objects.select_for_update(no_key=True).filter(pk=account.pk).first()
    now = timezone.now()  # after the lock: the caller's attempt row is stamped after this too
    seconds, allowed = window(rate)
    since = now - dt.timedelta(seconds=seconds)
    recent = list(
        OutboundAttempt.objects.filter(action__account_id=account.pk, started_at__gt=since)
        .order_by("-started_at")
        .values_list("started_at", flat=True)[:allowed]
    )
    if len(recent) < allowed:
        return 0.0
    oldest = recent[-1]
    return max((oldest + dt.timedelta(seconds=seconds) - now).total_seconds(), 0.001)


# --- per request (Redis) ----------------------------------------------------------------------
#
# An attempt may make several HTTP requests (token, look-up, create), so the attempt log above
# is a coarse guard. When Redis is available (production and the tests: the broker), every
# request of a rate-limited account also takes a slot from a GCRA token bucket in Redis, shared
# by all workers: `throttled_session`. Without Redis (the filesystem broker of `make run`) only
# the attempt log applies.

# Generic cell rate algorithm: one key per account holding the "theoretical arrival time".
# Returns "0" when the request may go now, else the seconds to wait. Redis's own clock is used so
# that workers on different hosts agree.
GCRA_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return tostring(wait) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""


def _redis_url() -> str:
    url = settings.MARKETPLACE_RATE_LIMIT_REDIS_URL or str(settings.CELERY_BROKER_URL)
    return url if url.startswith(("redis://", "rediss://")) else ""


@functools.cache
def _redis_client(url: str):
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def request_slot_wait(account_id: int, rate: Decimal) -> float:
    """Take one request slot for the account; return 0 (taken) or the seconds to wait. Without
    Redis, or when Redis does not answer, requests are not held back here."""
    url = _redis_url()
    if not url:
        return 0.0
    seconds, allowed = window(rate)
    interval = seconds / allowed
    try:
        # No burst tolerance: requests are spaced evenly, so no second ever holds more than
        # the published rate (a burst would trip the platform's own leaky bucket).
        wait = _redis_client(url).eval(
            GCRA_SCRIPT, 1, f"refund-desk:rate:{account_id}", interval, 0
        )
    except redis.RedisError:
        return 0.0
    return float(wait)


def throttled_session(config, rate: Decimal | None):
    """A marketplace session (integrations.http) that waits for a request slot before each call;
    a wait longer than `max_wait` gives up with a TransientError (the action is retried)."""
    session = build_session(config)
    if not rate or rate <= 0:
        return session
    send = session.request

    def request(method, url, *args, **kwargs):

        waited = 0.0
        while (wait := request_slot_wait(config.account_id, rate)) > 0:
            if waited + wait > 5:
                raise TransientError(
                    f"{config.name}: over its rate limit of {rate} requests per second",
                    retry_after=wait,
                    code="rate_limited",
                )
            time.sleep(wait)
            waited += wait
        return send(method, url, *args, **kwargs)

    session.request = request
    return session
