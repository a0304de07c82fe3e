"""The marketplace account's return policy (orders.ReturnPolicy) applied to an order: which of
its lines a customer can return and, when one cannot be, why, in a sentence the customer reads;
and which reasons need an explanation or a photo. Pure but for reading the account's policy and
the order's lines; `today` is a parameter so that tests need no clock.

An account without a policy has no window and no final-sale items; "Other" still needs an
explanation (the policy's default) but no reason needs a photo (see reason_needs_photo). Staff
may override the policy with a note (refund_request); a marketplace's refund is recorded as it
is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import date_format

from orders.models import Order, OrderLine, ReturnPolicy

from .errors import RefundError
from .models import ReasonCode

DEFAULT_REASONS_NEEDING_EXPLANATION = ("other",)
DEFAULT_REASONS_NEEDING_PHOTO = ("damaged",)

# Why a line cannot be returned (LineEligibility.code).
WINDOW_CLOSED = "window_closed"
FINAL_SALE_SKU = "final_sale_sku"
FINAL_SALE_CATEGORY = "final_sale_category"


@dataclass(frozen=True)
class WindowStart:
    """The moment a return window counts from, and what it is in the customer's words."""

    at: dt.datetime
    basis: str  # "delivery", "fulfilment", "payment" or "order"


@dataclass(frozen=True)
class LineEligibility:
    order_line_id: int
    is_returnable: bool
    reason: str = ""  # why not, for the customer; "" when returnable
    code: str = ""  # WINDOW_CLOSED, FINAL_SALE_SKU or FINAL_SALE_CATEGORY
    returnable_until: dt.date | None = None  # the window's last day, when there is a window

    @property
    def note(self) -> str:
        """What the portal says beside the line: the reason, or until when it can be returned."""
        if not self.is_returnable:
            return self.reason
        if self.returnable_until is not None:
            return f"Returnable until {_day(self.returnable_until)}."
        return ""


def policy_for(account) -> ReturnPolicy | None:
    """The account's policy, or None (the reverse one-to-one raises an AttributeError subclass
    when there is none, so getattr's default applies)."""
    return getattr(account, "return_policy", None) if account is not None else None


def _entries(text: str) -> frozenset[str]:
    """The policy's one-per-line list, compared without case and surrounding spaces."""
    return frozenset(
        entry.strip().casefold() for entry in (text or "").splitlines() if entry.strip()
    )


def window_start(order: Order) -> WindowStart:
    """Delivery, else fulfilment. ASSUMPTION: an order the marketplace reported neither date for
    counts from its payment, else from when it was placed. That is the earliest the goods could
    have left, so the window never runs longer than the policy says; a marketplace that reports
    deliveries late makes the window look shorter, and staff can override."""
    if order.delivered_at is not None:
        return WindowStart(order.delivered_at, "delivery")
    if order.fulfilled_at is not None:
        return WindowStart(order.fulfilled_at, "fulfilment")
    if order.paid_at is not None:
        return WindowStart(order.paid_at, "payment")
    return WindowStart(order.placed_at, "order")


def _local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def _day(value: dt.date) -> str:
    return date_format(value, "j M Y")


def returnable_until(order: Order, policy: ReturnPolicy | None) -> dt.date | None:
    """The last day items of the order can be returned (through its end, in the site's time
    zone), or None without a window."""
    if policy is None or policy.window_days is None:
        return None
    return _local_date(window_start(order).at) + dt.timedelta(days=policy.window_days)


def line_eligibility(
    line: OrderLine, *, order: Order, policy: ReturnPolicy | None, today: dt.date | None = None
) -> LineEligibility:
    """Whether the customer can return this line under the policy, and if not, why. A final-sale
    item says so before the window does: it could not have been returned at any time."""
    if policy is not None:
        if line.sku.strip().casefold() in _entries(policy.non_returnable_skus):
            return LineEligibility(
                line.pk, False, "This item cannot be returned (final sale).", FINAL_SALE_SKU
            )
        category = line.category.strip()
        if category and category.casefold() in _entries(policy.non_returnable_categories):
            return LineEligibility(
                line.pk,
                False,
                f"This item cannot be returned: {category} items are final sale.",
                FINAL_SALE_CATEGORY,
            )
    if policy is None or policy.window_days is None:
        return LineEligibility(line.pk, True)
    last_day = _local_date(window_start(order).at) + dt.timedelta(days=policy.window_days)
    today = today or timezone.localdate()
    if today > last_day:
        basis = window_start(order).basis
        after = {
            "delivery": "after delivery",
            "fulfilment": "after it was sent",
            "payment": "after payment",
            "order": "after it was placed",
        }[basis]
        return LineEligibility(
            line.pk,
            False,
            f"Returns for this order closed on {_day(last_day)}, "
            f"{policy.window_days} days {after}.",
            WINDOW_CLOSED,
            returnable_until=last_day,
        )
    return LineEligibility(line.pk, True, returnable_until=last_day)


def order_eligibility(
    order: Order, *, lines: Iterable[OrderLine] | None = None, today: dt.date | None = None
) -> dict[int, LineEligibility]:
    """Every line of the order (or the given ones) by order line id."""
    policy = policy_for(order.account)
    return {
        line.pk: line_eligibility(line, order=order, policy=policy, today=today)
        for line in (order.lines.all() if lines is None else lines)
    }


def breaches(
    eligibility: Mapping[int, LineEligibility], order_line_ids: Iterable[int]
) -> list[LineEligibility]:
    """The given lines that the policy does not let the customer return, in the given order."""
    return [
        eligibility[pk]
        for pk in dict.fromkeys(order_line_ids)
        if pk in eligibility and not eligibility[pk].is_returnable
    ]


def _reasons(value, default: tuple[str, ...]) -> frozenset[str]:
    if not isinstance(value, list | tuple):
        return frozenset(default)
    return frozenset(str(code) for code in value)


def reason_needs_explanation(account, reason_code: str) -> bool:
    policy = policy_for(account)
    codes = (
        frozenset(DEFAULT_REASONS_NEEDING_EXPLANATION)
        if policy is None
        else _reasons(policy.reasons_needing_explanation, DEFAULT_REASONS_NEEDING_EXPLANATION)
    )
    return reason_code in codes


def reason_needs_photo(account, reason_code: str) -> bool:
    """Whether the account's policy asks for a photo with this reason. A new policy asks for one
    with "damaged" (its default); an account without a policy asks for none, so customers of an
    account nobody has configured (and the API, which takes no files) can still ask."""
    policy = policy_for(account)
    if policy is None:
        return False
    return reason_code in _reasons(policy.reasons_needing_photo, DEFAULT_REASONS_NEEDING_PHOTO)


def check_explanation(account, reason_code: str, explanation: str) -> None:
    """Refuse a reason that needs an explanation without one (customer_explanation's error)."""
    if reason_needs_explanation(account, reason_code) and not (explanation or "").strip():
        label = ReasonCode(reason_code).label if reason_code in ReasonCode.values else reason_code
        raise RefundError(
            f"Tell us what happened: the reason “{label}” needs an explanation",
            field="customer_explanation",
            code="explanation_required",
        )
