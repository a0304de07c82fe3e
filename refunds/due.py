"""When a refund is due to leave its status (settings.REFUND_DUE_HOURS, counted from when it
entered the status) and how the queue says it: "Due in 3 h", "Overdue by 2 h". No ORM here: the
queue's selector annotates when each refund entered its status (`status_since`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from .states import FINAL_STATUSES, RefundStatus

# A refund with less than this share of its status's time left is "due soon".
SOON_SHARE = 0.25


def due_hours(status: str) -> int | None:
    """The hours a refund may stay in `status`; None for final statuses and those with none."""
    if RefundStatus(status) in FINAL_STATUSES:
        return None
    hours = settings.REFUND_DUE_HOURS.get(str(status))
    return int(hours) if hours else None


@dataclass(frozen=True)
class Due:
    at: dt.datetime
    is_overdue: bool
    tone: str  # "overdue", "soon" or "ok": a class beside the text, never the only mark
    text: str  # "Due in 3 h", "Overdue by 2 h"


def span(delta: dt.timedelta) -> str:
    """A duration in whole minutes as a person reads it: "45 min", "3 h", "47 h", "13 d 4 h"."""
    minutes = round(abs(delta.total_seconds()) / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def due_for(status: str, since: dt.datetime | None, now: dt.datetime) -> Due | None:
    """The due time of a refund that entered `status` at `since`, as seen at `now`; None when the
    status has no due time."""
    hours = due_hours(status)
    if hours is None or since is None:
        return None
    window = dt.timedelta(hours=hours)
    at = since + window
    left = at - now
    if left <= dt.timedelta(0):
        return Due(at=at, is_overdue=True, tone="overdue", text=f"Overdue by {span(left)}")
    tone = "soon" if left <= window * SOON_SHARE else "ok"
    return Due(at=at, is_overdue=False, tone=tone, text=f"Due in {span(left)}")


def overdue_cutoffs(now: dt.datetime) -> dict[str, dt.datetime]:
    """Per status with a due time: a refund that entered it before this moment is overdue."""
    cutoffs = {}
    for status in RefundStatus:
        hours = due_hours(status)
        if hours is not None:
            cutoffs[status.value] = now - dt.timedelta(hours=hours)
    return cutoffs
