"""A refund as its customer reads it: one headline with what happens next, and the steps of a
return ("Requested", "Approved — send the goods back", "Parcel on its way", "Parcel received",
"Refund issued") with their dates and amounts. Used by the customer's e-mails and the portal.

The customer never sees our internal words: a refund that is stuck with the marketplace, whose
outcome is unknown or whose record differs from the marketplace's is handled by the staff, and
the customer reads "We are looking into it" instead of a frozen status. Query-free: it reads the
refund and the events it is given (prefetched by the caller).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from orders.money import format_money

from .models import Refund, RefundEvent
from .states import FINAL_STATUSES, RefundStatus

LOOKING_INTO_IT = "We are looking into it"


@dataclass(frozen=True)
class Headline:
    label: str
    next_step: str
    tone: str  # "pending", "action" (the customer has something to do), "ok", "closed", "delay"


@dataclass(frozen=True)
class Step:
    label: str
    when: dt.datetime | None
    detail: str = ""
    state: str = "next"  # "done", "current" or "next"


def is_delayed(refund: Refund) -> bool:
    """Staff are handling a problem the customer need not act on."""
    if RefundStatus(refund.status) in FINAL_STATUSES:
        return False
    return bool(refund.needs_attention or refund.outcome_unknown or refund.has_drift)


def _received(events: Iterable[RefundEvent]) -> RefundEvent | None:
    return next((e for e in events if e.action == "receive"), None)


def headline(refund: Refund, events: Iterable[RefundEvent] = ()) -> Headline:
    events = list(events)
    amount = format_money(refund.total, refund.currency)
    status = RefundStatus(refund.status)
    if is_delayed(refund):
        return Headline(
            LOOKING_INTO_IT,
            "There is a delay on the marketplace's side. Our team is handling it: you do not "
            "need to do anything, and we will write to you when it moves on.",
            "delay",
        )
    if status == RefundStatus.REQUESTED:
        return Headline(
            "Requested", "We received your request and will review it shortly.", "pending"
        )
    if status == RefundStatus.WAITING:
        if refund.return_tracking_id:
            return Headline(
                "Parcel on its way",
                "We will refund you once the parcel arrives and has been checked.",
                "pending",
            )
        return Headline(
            "Approved — send the goods back",
            "Pack the items, post them, and enter the carrier and tracking number here.",
            "action",
        )
    if status == RefundStatus.PROCESSING:
        if _received(events) is not None:
            return Headline(
                "Parcel received", f"Your refund of {amount} is being paid out.", "pending"
            )
        return Headline(
            "Approved — refund on its way", f"Your refund of {amount} is being paid out.", "pending"
        )
    if status == RefundStatus.ISSUED:
        return Headline(
            "Refund issued", f"{amount} was refunded to your original payment method.", "ok"
        )
    if status == RefundStatus.DENIED:
        reason = f" Reason: {refund.response_reason}" if refund.response_reason else ""
        return Headline("Denied", f"Your refund request was denied.{reason}", "closed")
    return Headline("Cancelled", "This refund request was cancelled.", "closed")


def steps(refund: Refund, events: Iterable[RefundEvent]) -> list[Step]:
    """The return's steps, done ones with their dates, the current one marked, the rest ahead.
    A denied or cancelled refund ends at that step."""
    events = list(events)
    amount = format_money(refund.total, refund.currency)
    status = RefundStatus(refund.status)

    def at(action: str) -> dt.datetime | None:
        return next((e.created_at for e in events if e.action == action), None)

    approved = at("approve")
    shipped = at("ship")
    received = _received(events)
    plan: list[tuple[str, dt.datetime | None, str, bool]] = [
        ("Requested", refund.created_at, amount, True)
    ]
    if status == RefundStatus.DENIED:
        plan.append(("Denied", at("deny"), refund.response_reason, True))
    elif status == RefundStatus.CANCELLED:
        plan.append(("Cancelled", at("cancel"), "", True))
    else:
        if refund.refund_only:
            plan.append(("Approved", approved, "", approved is not None))
        else:
            plan.append(("Approved — send the goods back", approved, "", approved is not None))
            tracking = (
                f"{refund.return_carrier} {refund.return_tracking_id}".strip()
                if refund.return_tracking_id
                else ""
            )
            plan.append(("Parcel on its way", shipped, tracking, bool(refund.return_tracking_id)))
            plan.append(
                (
                    "Parcel received",
                    received.created_at if received else None,
                    "",
                    received is not None,
                )
            )
        plan.append(("Refund issued", refund.issued_at, amount, status == RefundStatus.ISSUED))
    result: list[Step] = []
    current_marked = status in FINAL_STATUSES
    for label, when, detail, done in plan:
        if done:
            result.append(Step(label, when, detail, "done"))
        elif not current_marked:
            result.append(Step(label, None, detail, "current"))
            current_marked = True
        else:
            result.append(Step(label, None, detail, "next"))
    if is_delayed(refund):
        # The step the refund is stuck before reads as being handled, not as frozen.
        result = [
            Step(s.label, s.when, LOOKING_INTO_IT, s.state) if s.state == "current" else s
            for s in result
        ]
    return result
