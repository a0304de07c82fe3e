"""Reads: what is still refundable, the querysets views and the API start from, and the staff
screens' queries (queue, detail, new refund, dashboard)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate

from orders.models import Order, OrderLine, OrderStatus, PaymentLine
from orders.money import ZERO, quantize, unit_amounts
from refunds.delivery.models import OutboundAction

from .models import Refund, RefundLine
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


# --- staff screens ---------------------------------------------------------------------------


def refund_queue_queryset() -> QuerySet[Refund]:
    """The staff queue's refunds, newest first, each with its number of lines."""
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
        .annotate(line_count=Coalesce(Subquery(line_count), 0))
        .order_by("-created_at", "-id")
    )


def refund_status_counts() -> dict[str, int]:
    """The queue's tab counts in one query: refunds per status (an index-only scan of the status
    index), plus those needing attention and those with drift (each a scan of a partial index
    holding only the flagged refunds). "All" is the sum of the statuses."""
    per_status = (
        Refund.objects.order_by()
        .values_list("status")
        .annotate(n=Count("*"))
        .union(
            Refund.objects.order_by()
            .filter(needs_attention=True)
            .values_list(Value("attention"))
            .annotate(n=Count("*")),
            Refund.objects.order_by()
            .filter(has_drift=True)
            .values_list(Value("drift"))
            .annotate(n=Count("*")),
            all=True,
        )
    )
    counts = dict.fromkeys([s.value for s in RefundStatus] + ["attention", "drift"], 0)
    counts.update(dict(per_status))
    counts["all"] = sum(counts[s.value] for s in RefundStatus)
    return counts


def refund_detail_queryset() -> QuerySet[Refund]:
    """A refund with everything its staff page shows: lines, events, outbox rows and their
    attempts, webhooks, and the order's lines and payments."""
    return refund_queryset().prefetch_related(
        Prefetch("lines", queryset=RefundLine.objects.select_related("order_line")),
        "events",
        Prefetch(
            "outbound_actions", queryset=OutboundAction.objects.prefetch_related("attempt_log")
        ),
        "webhook_events",
        "order__lines",
        "order__payments",
    )


def order_for_refund_queryset() -> QuerySet[Order]:
    """Orders with what a new refund needs: account, customer, lines and payments."""
    return Order.objects.select_related("account", "customer").prefetch_related("lines", "payments")


def refunds_per_day(since: dt.date) -> QuerySet:
    """Refunds created since `since`, counted per day and status: rows of day, status, n."""
    return (
        Refund.objects.filter(created_at__date__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(n=Count("pk"))
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


def top_reasons(limit: int) -> list[dict]:
    """The most frequent reason codes: rows of reason_code and n, most frequent first."""
    return list(Refund.objects.values("reason_code").annotate(n=Count("pk")).order_by("-n")[:limit])


def issue_durations(since: dt.date) -> list[dt.timedelta]:
    """How long each refund issued since `since` took from request to issue."""
    return [
        issued_at - created_at
        for created_at, issued_at in Refund.objects.filter(
            status=RefundStatus.ISSUED,
            issued_at__isnull=False,
            issued_at__date__gte=since,
        ).values_list("created_at", "issued_at")
    ]
