"""Reads: what is still refundable, the querysets views and the API start from, and the staff
screens' queries (queue, detail, new refund, dashboard)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate

from orders.models import Order, OrderLine, OrderStatus, PaymentLine
from orders.money import MINOR_UNITS, ZERO, quantize, unit_amounts
from refunds.delivery.models import OutboundAction

from .due import overdue_cutoffs
from .models import Refund, RefundEvent, RefundLine
from .pagination import capped_counts, estimated_count, round_estimate
from .states import ACTIVE_STATUSES, RefundStatus

ACTIVE = [s.value for s in ACTIVE_STATUSES]
# An order holds the customer's money only once it is paid: a pending order has not been paid
# yet and a cancelled one was voided before it was (the sandboxes' mappings: Shoplazza "voided",
# Noventiq "deleted").
PAID_STATUSES = (OrderStatus.PAID, OrderStatus.FULFILLED)


@dataclass(frozen=True)
class LineRefundable:
    line: OrderLine
    paid_amount: Decimal
    refunded_amount: Decimal
    refunded_units: int  # units in active refunds (cancellation refunds excluded: see below)
    units: int  # units still refundable
    amount: Decimal  # money still refundable on this line
    # The money for each refundable unit (money.unit_amounts): they add up to `amount`.
    unit_amounts: tuple[Decimal, ...] = ()

    def amount_for(self, units: int) -> Decimal:
        """The money for refunding `units` of the refundable units: the next units' shares, so
        refunding a line in parts adds up to exactly what is refundable."""
        if units >= self.units:
            return self.amount
        return quantize(sum(self.unit_amounts[:units], ZERO), self.line.order.currency)


@dataclass(frozen=True)
class OrderRefundable:
    order: Order
    lines: dict[int, LineRefundable] = field(default_factory=dict)
    shipping: Decimal = ZERO
    additional: Decimal = ZERO
    total: Decimal = ZERO
    refunded_total: Decimal = ZERO
    is_paid: bool = True  # order_is_paid: False, and nothing is refundable


def order_refundable(order: Order, *, exclude_refund_id: int | None = None) -> OrderRefundable:
    """What is still refundable on an order: per line (units and money), shipping, additional
    charges and the order total. Units of a refund that covers a cancellation are counted in the
    line's cancelled quantity, so they are not subtracted twice. Every figure is quantized to the
    currency's minor unit (SQLite hands sums back with 15 significant digits, and a JPY column
    still holds two decimals)."""
    currency = order.currency
    active = Q(refund__status__in=ACTIVE)
    if exclude_refund_id:
        active &= ~Q(refund_id=exclude_refund_id)
    per_line = {
        row["order_line_id"]: row
        for row in RefundLine.objects.filter(active, order_line__order=order)
        .values("order_line_id")
        .annotate(
            amount=Sum("amount"),
            units=Sum("quantity", filter=Q(refund__covers_cancellation=False)),
        )
    }
    sums = _active_refunds(order, exclude_refund_id).aggregate(
        shipping=Sum("shipping_amount"), additional=Sum("additional_amount"), total=Sum("total")
    )
    lines = {}
    for line in order.lines.all():
        row = per_line.get(line.pk, {})
        refunded_amount = quantize(row.get("amount") or ZERO, currency)
        refunded_units = row.get("units") or 0
        paid = quantize(line.paid_amount, currency)
        units = max(line.quantity - line.cancelled_quantity - refunded_units, 0)
        amount = max(paid - refunded_amount, quantize(ZERO, currency))
        lines[line.pk] = LineRefundable(
            line=line,
            paid_amount=paid,
            refunded_amount=refunded_amount,
            refunded_units=refunded_units,
            units=units,
            amount=amount,
            unit_amounts=tuple(
                unit_amounts(
                    line_total=paid,
                    line_quantity=line.quantity,
                    units_left=units,
                    amount_left=amount,
                    currency=currency,
                )
            ),
        )
    refunded_total = quantize(sums["total"] or ZERO, currency)
    refundable = OrderRefundable(
        order=order,
        lines=lines,
        shipping=_left(order.shipping_total, sums["shipping"], currency),
        additional=_left(order.additional_total + order.tip_total, sums["additional"], currency),
        total=_left(order.grand_total, refunded_total, currency),
        refunded_total=refunded_total,
    )
    return refundable if order_is_paid(order) else _nothing_left(refundable)


def order_is_paid(order: Order) -> bool:
    """Whether the order holds money of the customer's: paid (or fulfilled) with at least one
    payment. Nothing on any other order is refundable. Uses the prefetched payments if any."""
    return order.status in PAID_STATUSES and order.payments.exists()


def _nothing_left(refundable: OrderRefundable) -> OrderRefundable:
    """`refundable` with nothing left to refund on any line, shipping or charge (what was
    refunded stays as it is)."""
    none = quantize(ZERO, refundable.order.currency)
    return replace(
        refundable,
        lines={
            pk: replace(info, units=0, amount=none, unit_amounts=())
            for pk, info in refundable.lines.items()
        },
        shipping=none,
        additional=none,
        total=none,
        is_paid=False,
    )


def _left(paid: Decimal, refunded: Decimal | None, currency: str) -> Decimal:
    """What is left of `paid` after `refunded`, never below zero, in the currency's minor unit."""
    return quantize(max(paid - (refunded or ZERO), ZERO), currency)


def order_refundable_total(order: Order, *, exclude_refund_id: int | None = None) -> Decimal:
    """Only the order total still refundable (`order_refundable(...).total`) in one query: what
    an approval re-checks while it holds the order's lock, so that check stays short. The query
    reads whether the order has payments (`order_is_paid`) and its active refunds' sum."""
    if order.status not in PAID_STATUSES:
        return quantize(ZERO, order.currency)
    refunded = (
        _active_refunds(order, exclude_refund_id)
        .order_by()
        .values("order")
        .annotate(total=Sum("total"))
        .values("total")
    )
    row = (
        Order.objects.filter(pk=order.pk)
        .values(
            has_payments=Exists(PaymentLine.objects.filter(order=OuterRef("pk"))),
            refunded=Subquery(refunded),
        )
        .get()
    )
    if not row["has_payments"]:
        return quantize(ZERO, order.currency)
    return _left(order.grand_total, row["refunded"], order.currency)


def _active_refunds(order: Order, exclude_refund_id: int | None) -> QuerySet[Refund]:
    refunds = Refund.objects.filter(order=order, status__in=ACTIVE)
    if exclude_refund_id:
        refunds = refunds.exclude(pk=exclude_refund_id)
    return refunds


def refund_queryset() -> QuerySet[Refund]:
    return Refund.objects.select_related(
        "order", "order__account", "order__customer", "requested_by"
    )


def refunds_for_customer(user) -> QuerySet[Refund]:
    """The refunds a customer may see: their own orders' only. No customer, nothing."""
    if not getattr(user, "is_authenticated", False):
        return Refund.objects.none()
    return refund_queryset().filter(order__customer__user=user)


def orders_for_customer(user) -> QuerySet[Order]:
    if not getattr(user, "is_authenticated", False):
        return Order.objects.none()
    return Order.objects.select_related("account", "customer").filter(customer__user=user)


@dataclass(frozen=True)
class PortalViewer:
    """Who looks at the portal: a signed-in customer (`user`), or a guest whose session a
    one-time link bound to one order (`guest_order_id`) and nothing else."""

    user: object = None
    guest_order_id: int | None = None

    @property
    def is_guest(self) -> bool:
        return self.guest_order_id is not None


def orders_for_viewer(viewer: PortalViewer) -> QuerySet[Order]:
    """A customer's orders, or a guest's one order. No viewer, nothing."""
    if viewer.is_guest:
        return Order.objects.select_related("account", "customer").filter(pk=viewer.guest_order_id)
    return orders_for_customer(viewer.user)


def refunds_for_viewer(viewer: PortalViewer) -> QuerySet[Refund]:
    """A customer's refunds, or the refunds of a guest's one order."""
    if viewer.is_guest:
        return refund_queryset().filter(order_id=viewer.guest_order_id)
    return refunds_for_customer(viewer.user)


# --- staff screens ---------------------------------------------------------------------------


# The queue's default view: what needs a decision (requested, or flagged), oldest first. The
# same rule as the refund page's previous/next (views/staff/detail.py NEEDS_DECISION).
NEEDS_DECISION = Q(status=RefundStatus.REQUESTED) | Q(needs_attention=True)


def status_since() -> Coalesce:
    """When a refund entered its current status: its newest event that moved it into that
    status, else its creation. Events that left the status as it was (an assignment, a retry)
    carry it as their to_status too, so they are not counted. A correlated subquery: no query
    per row."""
    entered = (
        RefundEvent.objects.filter(refund=OuterRef("pk"), to_status=OuterRef("status"))
        .exclude(from_status=F("to_status"))
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    return Coalesce(Subquery(entered), F("created_at"))


def over_approval_limit() -> Q:
    """Refunds above settings.REFUND_APPROVAL_LIMIT as rules._approve compares them: the total
    against the limit quantized to the refund's currency (500.50 is 501 JPY, 500.500 KWD)."""
    limit = settings.REFUND_APPROVAL_LIMIT
    by_decimals: dict[int, list[str]] = {}
    for currency, decimals in MINOR_UNITS.items():
        by_decimals.setdefault(decimals, []).append(currency)
    listed = [c for currencies in by_decimals.values() for c in currencies]
    # Every currency not listed has two decimals (orders.money.minor_unit).
    over = Q(total__gt=quantize(limit, "USD")) & ~Q(currency__in=listed)
    for currencies in by_decimals.values():
        over |= Q(currency__in=currencies, total__gt=quantize(limit, currencies[0]))
    return over


def awaiting_a_manager(user) -> Q:
    """Requested refunds that the person looking, or any agent, cannot approve alone: above the
    approval limit (a refund manager's), or requested by the person looking (maker-checker)."""
    return Q(status=RefundStatus.REQUESTED) & (over_approval_limit() | Q(requested_by=user))


def overdue(now: dt.datetime) -> Q:
    """Refunds past their status's due time at `now`: in the status since before its cutoff,
    which is created before it with no event entering the status at or after it (the same as
    `status_since` < cutoff, events never being older than their refund). Written so that
    PostgreSQL reads the recent events once (a hashed NOT IN, by the created_at index) instead
    of working out every open refund's `status_since`: 1.3 s at 100,000 refunds otherwise."""
    query = Q(pk__in=[])
    for status, cutoff in overdue_cutoffs(now).items():
        entered_since = (
            RefundEvent.objects.filter(to_status=status, created_at__gte=cutoff)
            .exclude(from_status=F("to_status"))
            .values("refund_id")
        )
        query |= Q(status=status, created_at__lt=cutoff) & ~Q(pk__in=entered_since)
    return query


def refund_queue_queryset() -> QuerySet[Refund]:
    """The staff queue's refunds, newest first, each with its number of lines and when it
    entered its status (`status_since`, for its due time)."""
    # A correlated count rather than a GROUP BY keeps the page's count query simple.
    line_count = (
        RefundLine.objects.filter(refund=OuterRef("pk"))
        .order_by()
        .values("refund")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        refund_queryset()
        .annotate(line_count=Coalesce(Subquery(line_count), 0), status_since=status_since())
        .order_by("-created_at", "-id")
    )


class TabCounts(dict):
    """Refunds per tab. `capped` holds the tabs that hold more than `limit` (their value is
    limit + 1, a lower bound); a None value is a tab not counted (a filtered list with more
    than `limit` matches, whose split by status is not read)."""

    def __init__(self, *args, limit: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.limit = limit
        self.capped: set[str] = set()
        self.estimated: set[str] = set()  # the planner's estimate, not a count

    def exact(self, key: str) -> bool:
        return self.get(key) is not None and not ({key} & (self.capped | self.estimated))

    def label(self, key: str) -> str:
        """The count as the queue shows it: "1,234", "10,000+", "about 51,000", or "" when
        not counted."""
        value = self.get(key)
        if value is None:
            return ""
        if key in self.estimated:
            return round_estimate(value)
        if key in self.capped:
            return f"{self.limit:,}+"
        return f"{value:,}"


def _tallies() -> dict:
    tallies = {s.value: Count("pk", filter=Q(status=s.value)) for s in RefundStatus}
    tallies["attention"] = Count("pk", filter=Q(needs_attention=True))
    tallies["drift"] = Count("pk", filter=Q(has_drift=True))
    return tallies


def refund_status_counts(
    queryset: QuerySet[Refund] | None = None,
    *,
    limit: int | None = None,
    searched: bool = False,
    broad: bool = False,
) -> TabCounts:
    """The queue's tab counts: refunds per status, plus those needing attention and those with
    drift, of `queryset` (every refund when None; the queue passes its refunds filtered by
    everything but the status tab). "All" is the sum of the statuses.

    Without a limit (the dashboard), exact, in one query: unfiltered, a UNION of an index-only
    scan of the status index and a scan of each flag's partial index; filtered, one pass over
    the matching refunds with a count per tab, so a search's subquery runs once.

    With a limit (the queue), no count reads more than limit + 1 rows. Each tab is counted on
    its own up to the limit (on the status and flag indexes, under the view and filters), except
    under a search (`searched`), which is not run once per tab: when the planner expects at most
    the limit, one pass counts every tab; beyond, or when the search is broad (refunds.filters:
    expected past the limit, and walked), "All" is the planner's estimate and the tabs are not
    counted."""
    keys = [s.value for s in RefundStatus] + ["attention", "drift"]
    counts = TabCounts(dict.fromkeys(keys, 0), limit=limit)
    if limit is not None and searched and queryset is not None:
        estimate = estimated_count(queryset)  # None off PostgreSQL: counted exactly
        total = 0
        if estimate is None:
            counts.update(queryset.order_by().aggregate(**_tallies()))
        elif estimate <= limit and not broad:
            first = queryset.order_by()[: limit + 1]  # aggregated over as a subquery
            counts.update(first.aggregate(total=Count("pk"), **_tallies()))
            total = counts.pop("total")
        if estimate is not None and (broad or estimate > limit or total > limit):
            counts.update(dict.fromkeys(keys))
            counts["all"] = max(estimate, limit + 1)
            counts.estimated = {"all"}
            return counts
    elif limit is not None:
        refunds = Refund.objects.all() if queryset is None else queryset
        parts = {s.value: refunds.filter(status=s.value) for s in RefundStatus}
        parts["attention"] = refunds.filter(needs_attention=True)
        parts["drift"] = refunds.filter(has_drift=True)
        counts.update(capped_counts({key: (part, limit) for key, part in parts.items()}))
        counts.capped = {key for key in keys if counts[key] > limit}
    elif queryset is not None:
        counts.update(queryset.order_by().aggregate(**_tallies()))
    else:
        refunds = Refund.objects.order_by()
        per_status = (
            refunds.values_list("status")
            .annotate(n=Count("*"))
            .union(
                refunds.filter(needs_attention=True)
                .values_list(Value("attention"))
                .annotate(n=Count("*")),
                refunds.filter(has_drift=True).values_list(Value("drift")).annotate(n=Count("*")),
                all=True,
            )
        )
        counts.update(dict(per_status))
    counts["all"] = sum(counts[s.value] for s in RefundStatus)
    if any(s.value in counts.capped for s in RefundStatus):
        counts["all"] = max(counts["all"], limit + 1)
        counts.capped.add("all")
    return counts


def refund_detail_queryset() -> QuerySet[Refund]:
    """A refund with everything its staff page shows: lines, events, outbox rows and their
    attempts, webhooks, and the order's lines and payments."""
    return (
        refund_queryset()
        .select_related("assigned_to")
        .prefetch_related(
            Prefetch("lines", queryset=RefundLine.objects.select_related("order_line")),
            Prefetch("events", queryset=RefundEvent.objects.select_related("actor")),
            Prefetch(
                "outbound_actions", queryset=OutboundAction.objects.prefetch_related("attempt_log")
            ),
            "webhook_events",
            "evidence",
            "order__lines",
            "order__payments",
        )
    )


def order_for_refund_queryset() -> QuerySet[Order]:
    """Orders with what a new refund needs: account, customer, lines and payments."""
    return Order.objects.select_related("account", "customer").prefetch_related("lines", "payments")


def _created_between(since: dt.date, until: dt.date) -> Q:
    """Refunds created on the days from `since` to `until`, both included: the period every
    dashboard figure reads, and the queue's created_after / created_before filters."""
    return Q(created_at__date__gte=since, created_at__date__lte=until)


def refunds_per_day(since: dt.date, until: dt.date | None = None) -> QuerySet:
    """Refunds created from `since` to `until` (today when None), counted per day and status:
    rows of day, status, n."""
    query = Q(created_at__date__gte=since)
    if until is not None:
        query &= Q(created_at__date__lte=until)
    return (
        Refund.objects.filter(query)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )


def issued_per_marketplace() -> QuerySet:
    """Issued refunds per marketplace and currency: rows of order__account__adapter_key,
    currency, amount (an unquantized sum) and n."""
    return (
        Refund.objects.filter(status=RefundStatus.ISSUED)
        .values("order__account__adapter_key", "currency")
        .annotate(amount=Sum("total"), n=Count("pk"))
        .order_by("order__account__adapter_key", "currency")
    )


def top_reasons(
    limit: int, since: dt.date | None = None, until: dt.date | None = None
) -> list[dict]:
    """The most frequent reason codes (of the refunds created in the period when one is given):
    rows of reason_code and n, most frequent first."""
    refunds = Refund.objects.all()
    if since is not None and until is not None:
        refunds = refunds.filter(_created_between(since, until))
    return list(
        refunds.values("reason_code").annotate(n=Count("pk")).order_by("-n", "reason_code")[:limit]
    )


def issue_durations(since: dt.date, until: dt.date | None = None) -> list[dt.timedelta]:
    """How long each issued refund created from `since` to `until` took from request to issue
    (without `until`: each refund issued since `since`)."""
    refunds = Refund.objects.filter(status=RefundStatus.ISSUED, issued_at__isnull=False)
    if until is None:
        refunds = refunds.filter(issued_at__date__gte=since)
    else:
        refunds = refunds.filter(_created_between(since, until))
    return [
        issued_at - created_at
        for created_at, issued_at in refunds.values_list("created_at", "issued_at")
    ]


def _paid_orders_placed_between(since: dt.date, until: dt.date) -> QuerySet[Order]:
    """Orders placed in the period that hold a payment: what the refund rates divide by."""
    return Order.objects.filter(
        placed_at__date__gte=since,
        placed_at__date__lte=until,
        status__in=PAID_STATUSES,
    ).filter(Exists(PaymentLine.objects.filter(order=OuterRef("pk"))))


def _issued_between(since: dt.date, until: dt.date) -> QuerySet[Refund]:
    return Refund.objects.filter(_created_between(since, until), status=RefundStatus.ISSUED)


def refund_rate_inputs_by_marketplace(since: dt.date, until: dt.date) -> dict:
    """Per marketplace and currency: the paid orders placed in the period (orders, ordered) and
    the refunds created in the period and issued (refunds, refunded). Keys (adapter_key,
    currency); unquantized sums."""
    rows: dict[tuple[str, str], dict] = {}
    for row in (
        _paid_orders_placed_between(since, until)
        .values("account__adapter_key", "currency")
        .annotate(orders=Count("pk"), ordered=Sum("grand_total"))
        .order_by()
    ):
        key = (row["account__adapter_key"], row["currency"])
        rows[key] = {"orders": row["orders"], "ordered": row["ordered"], "refunds": 0}
    for row in (
        _issued_between(since, until)
        .values("order__account__adapter_key", "currency")
        .annotate(refunds=Count("pk"), refunded=Sum("total"))
        .order_by()
    ):
        key = (row["order__account__adapter_key"], row["currency"])
        rows.setdefault(key, {"orders": 0, "ordered": ZERO}).update(
            refunds=row["refunds"], refunded=row["refunded"]
        )
    return rows


def refund_rate_inputs_by_reason(since: dt.date, until: dt.date) -> tuple[dict, dict]:
    """The refunds created in the period and issued, per reason and currency (refunds, refunded),
    and the paid orders placed in the period per currency (orders, ordered): a reason's rate is
    the share of the period's sales refunded for that reason."""
    orders = {
        row["currency"]: {"orders": row["orders"], "ordered": row["ordered"]}
        for row in _paid_orders_placed_between(since, until)
        .values("currency")
        .annotate(orders=Count("pk"), ordered=Sum("grand_total"))
        .order_by()
    }
    reasons = {
        (row["reason_code"], row["currency"]): {
            "refunds": row["refunds"],
            "refunded": row["refunded"],
        }
        for row in _issued_between(since, until)
        .values("reason_code", "currency")
        .annotate(refunds=Count("pk"), refunded=Sum("total"))
        .order_by()
    }
    return reasons, orders


def refund_rate_inputs_by_sku(since: dt.date, until: dt.date, limit: int) -> list[dict]:
    """The `limit` SKUs with the most units in refunds created in the period and issued, per
    currency: refunds (refunds holding the SKU), units and refunded (their lines' amounts), with
    the paid orders placed in the period that hold the SKU: orders, ordered_units and ordered
    (the lines' paid amounts: price x quantity - discount + tax). Unquantized sums."""
    refunded = list(
        RefundLine.objects.filter(refund__in=_issued_between(since, until).values("pk"))
        .values(sku=F("order_line__sku"), currency=F("refund__currency"))
        .annotate(
            refunds=Count("refund", distinct=True), units=Sum("quantity"), refunded=Sum("amount")
        )
        .order_by("-units", "-refunded", "sku")[:limit]
    )
    if not refunded:
        return []
    ordered = {
        (row["sku"], row["order__currency"]): row
        for row in OrderLine.objects.filter(
            order__in=_paid_orders_placed_between(since, until).values("pk"),
            sku__in={r["sku"] for r in refunded},
        )
        .values("sku", "order__currency")
        .annotate(
            orders=Count("order", distinct=True),
            ordered_units=Sum("quantity"),
            ordered=Sum(F("unit_price") * F("quantity") - F("discount") + F("tax")),
        )
        .order_by()
    }
    for row in refunded:
        match = ordered.get((row["sku"], row["currency"]), {})
        row.update(
            orders=match.get("orders", 0),
            ordered_units=match.get("ordered_units", 0),
            ordered=match.get("ordered", ZERO),
        )
    return refunded


# --- staff Orders page -----------------------------------------------------------------------


def _refund_sum(statuses) -> Subquery:
    """The sum of an order's refunds in `statuses`, as a correlated subquery (no GROUP BY over a
    join, so the page stays one query whatever the number of refunds)."""
    return Subquery(
        Refund.objects.filter(order=OuterRef("pk"), status__in=[s.value for s in statuses])
        .order_by()
        .values("order")
        .annotate(s=Sum("total"))
        .values("s")
    )


def staff_orders_queryset() -> QuerySet[Order]:
    """Orders for the staff Orders page, newest placed first, each annotated with what the page
    shows: refunded_total (issued refunds), committed_total (active refunds: what is no longer
    refundable), refund_count (refunds in any status) and has_payments. `order_refundable_left`
    turns these into the refundable amount without another query."""
    refund_count = (
        Refund.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Order.objects.select_related("account", "customer")
        .annotate(
            refunded_total=Coalesce(_refund_sum([RefundStatus.ISSUED]), Value(ZERO)),
            committed_total=Coalesce(_refund_sum(ACTIVE_STATUSES), Value(ZERO)),
            refund_count=Coalesce(Subquery(refund_count), 0),
            has_payments=Exists(PaymentLine.objects.filter(order=OuterRef("pk"))),
        )
        .order_by("-placed_at", "-id")
    )


def order_refundable_left(order: Order) -> Decimal:
    """The order total still refundable for an order from `staff_orders_queryset`: the grand
    total less its active refunds, never below zero; nothing on an unpaid order (the same rule
    as `order_refundable(...).total`)."""
    if order.status not in PAID_STATUSES or not order.has_payments:  # type: ignore[attr-defined]
        return quantize(ZERO, order.currency)
    return _left(order.grand_total, order.committed_total, order.currency)  # type: ignore[attr-defined]
