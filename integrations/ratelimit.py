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
import math
from decimal import Decimal

from django.utils import timezone


def account_rate_limit(account) -> Decimal | None:
    if account.rate_limit_per_second:
        return Decimal(account.rate_limit_per_second)
    from .registry import adapter_class

    try:
        return adapter_class(account.adapter_key).capabilities.rate_limit_per_second
    except (LookupError, ImportError, AttributeError):
        return None


def window(rate: Decimal) -> tuple[float, int]:
    """(window seconds, requests allowed in it): 2/s -> (1, 2); 0.5/s -> (2, 1)."""
    seconds = max(1.0, float(1 / rate))
    return seconds, max(1, math.floor(float(rate) * seconds))


def account_wait_seconds(account) -> float:
    """Seconds to wait before the next call on `account` (0: go now). Call inside a transaction
    that then writes the OutboundAttempt row; it holds the account row lock until commit."""
    from orders.models import MarketplaceAccount

    from .models import OutboundAttempt

    rate = account_rate_limit(account)
    if not rate or rate <= 0:
        return 0.0
    MarketplaceAccount.objects.select_for_update().filter(pk=account.pk).first()
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
