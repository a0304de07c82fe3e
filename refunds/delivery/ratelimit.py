"""Per-account rate limit, shared by every worker process: one limiter, in the database.

The generic cell rate algorithm (GCRA): a bucket row per account and scope holds the time at which
the next call may go ("theoretical arrival time"). Taking a slot locks the row, moves that time
on by one interval (1 / rate) and says go, or says how long to wait. The check and the move are
one short transaction under the row lock, so two workers can never take the same slot; it needs
no Redis, so it holds on the filesystem broker of `make run`, on Redis and on RabbitMQ alike.

Two buckets per account, the same algorithm:
- "attempts" (the outbox claim, `account_wait_seconds`): a delivery attempt starts only when the
  account has room, with a burst of one window (2/s: two attempts at once, then one every 0.5 s);
  an attempt that must wait goes back to the queue without being counted.
- "requests" (every HTTP request of a rate-limited account, `throttled_session`): spaced evenly,
  no burst, so no second ever holds more than the published rate (a burst would trip the
  platform's own leaky bucket). An attempt makes several (token, look-up, create).

The limit is the account's own `rate_limit_per_second` when set, else the platform's published
one (`Capabilities.rate_limit_per_second`, e.g. Shoplazza 2/s); neither means no limit.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from integrations.base import TransientError
from integrations.http import build_session
from integrations.registry import UnknownAdapter, adapter_class

from .models import RateBucket

# The longest a request waits for its slot before the attempt gives up (and is retried later).
MAX_REQUEST_WAIT = 5.0
# The limiter's clock (a test drives its own).
clock = timezone.now


def account_rate_limit(account) -> Decimal | None:
    if account.rate_limit_per_second:
        return Decimal(account.rate_limit_per_second)
    try:
        return adapter_class(account.adapter_key).capabilities.rate_limit_per_second
    except UnknownAdapter:  # a BrokenAdapter fails loudly: never deliver without the limit
        return None


def window(rate: Decimal) -> tuple[float, int]:
    """(window seconds, calls allowed in it): 2/s -> (1, 2); 0.5/s -> (2, 1)."""
    seconds = max(1.0, float(1 / rate))
    return seconds, max(1, math.floor(float(rate) * seconds))


def take_slot(account_id: int, scope: str, rate: Decimal, *, burst: int = 1) -> float:
    """Take one slot of the account's `scope` bucket: 0.0 (taken, go now) or the seconds to wait
    (nothing taken). `burst` calls may go at once before they are spaced by 1 / rate."""
    interval = dt.timedelta(seconds=1 / float(rate))
    tolerance = interval * (burst - 1)
    with transaction.atomic():
        bucket = (
            RateBucket.objects.select_for_update()
            .filter(account_id=account_id, scope=scope)
            .first()
        )
        if bucket is None:  # the account's first call: make its bucket (once, whoever races)
            RateBucket.objects.bulk_create(
                [RateBucket(account_id=account_id, scope=scope)], ignore_conflicts=True
            )
            bucket = RateBucket.objects.select_for_update().get(account_id=account_id, scope=scope)
        now = clock()  # after the lock: the slot is stamped after whoever held it
        arrival = max(bucket.next_at or now, now)
        wait = (arrival - tolerance - now).total_seconds()
        if wait > 0:
            return wait
        bucket.next_at = arrival + interval
        bucket.save(update_fields=["next_at"])
    return 0.0


def account_wait_seconds(account) -> float:
    """Seconds before a delivery attempt on `account` may start (0: start now, its slot taken)."""
    rate = account_rate_limit(account)
    if not rate or rate <= 0:
        return 0.0
    _, allowed = window(rate)
    return take_slot(account.pk, RateBucket.Scope.ATTEMPTS, rate, burst=allowed)


def throttled_session(config, rate: Decimal | None):
    """A marketplace session (integrations.http) that takes a request slot before each call; a
    wait longer than MAX_REQUEST_WAIT gives up with a TransientError (nothing was sent: the
    action is retried)."""
    session = build_session(config)
    if not rate or rate <= 0:
        return session
    send = session.request

    def request(method, url, *args, **kwargs):
        waited = 0.0
        while (wait := take_slot(config.account_id, RateBucket.Scope.REQUESTS, rate)) > 0:
            if waited + wait > MAX_REQUEST_WAIT:
                raise TransientError(
                    f"{config.name}: over its rate limit of {rate} requests per second",
                    retry_after=wait,
                    code="rate_limited",
                    may_have_acted=False,
                )
            time.sleep(wait)
            waited += wait
        return send(method, url, *args, **kwargs)

    session.request = request
    return session
