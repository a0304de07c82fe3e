"""The dashboard over a chosen period (from / to, default the last 30 days): refunds per day and
status, the median time to issue, the reasons with their numbers, and the refund rate by
marketplace, reason and SKU; plus the refunds that need a person now.

Every figure of the period counts the refunds *created* in it, so each one links to the queue
with the same filters (created_after / created_before, and status, reason, marketplace or SKU)
and the queue lists exactly the refunds behind the figure. A refund rate is the period's issued
refunds over the paid orders placed in the period, by amount (refunded / ordered) and by count
(refunds / orders), per currency: amounts in different currencies are never added up."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from integrations.registry import ADAPTERS
from orders.money import ZERO, format_amount, quantize

from ...models import ReasonCode
from ...selectors import (
    issue_durations,
    refund_queryset,
    refund_rate_inputs_by_marketplace,
    refund_rate_inputs_by_reason,
    refund_rate_inputs_by_sku,
    refund_status_counts,
    refunds_per_day,
    top_reasons,
)
from ...states import RefundStatus
from ._common import StaffPermissionMixin

DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_SKUS = 10


class PeriodForm(forms.Form):
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                raise ValidationError("The start of the period must not be after its end.")
            if (end - start).days + 1 > MAX_DAYS:
                raise ValidationError(f"Choose a period of at most {MAX_DAYS} days.")
        return data


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    return today - dt.timedelta(days=DEFAULT_DAYS - 1), today


def _median(durations: list[dt.timedelta]) -> dt.timedelta | None:
    if not durations:
        return None
    return dt.timedelta(seconds=statistics.median(d.total_seconds() for d in durations))


def _median_hours(median: dt.timedelta | None) -> Decimal | None:
    if median is None:
        return None
    return (Decimal(str(median.total_seconds())) / 3600).quantize(Decimal("0.1"))


def days_and_hours(duration: dt.timedelta) -> str:
    """A duration as a person says it: "1 d 4 h", "5 h", "2 d"; under an hour in minutes
    ("35 min"). Rounded to the nearest hour (minute below an hour)."""
    minutes = int(
        (Decimal(str(duration.total_seconds())) / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )
    if minutes < 60:
        return f"{minutes} min"
    hours = int((Decimal(minutes) / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    days, hours = divmod(hours, 24)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours else [])
    return " ".join(parts)


def percent(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    """part / whole in per cent with one decimal (Decimal); None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _marketplace_label(key: str) -> str:
    return ADAPTERS[key].label if key in ADAPTERS else key


class DashboardView(StaffPermissionMixin, TemplateView):
    template_name = "staff/dashboard.html"

    def _period(self) -> tuple[PeriodForm, dt.date, dt.date]:
        start, end = default_period(timezone.localdate())
        if "date_from" in self.request.GET or "date_to" in self.request.GET:
            form = PeriodForm(self.request.GET)
            if form.is_valid():
                return form, form.cleaned_data["date_from"], form.cleaned_data["date_to"]
            return form, start, end
        return PeriodForm(initial={"date_from": start, "date_to": end}), start, end

    def _live_figures(self, since: dt.date, until: dt.date, issued_url: str) -> dict:
        """The figures at the top, which `DashboardLiveView` sends again every few seconds."""
        durations = issue_durations(since, until)
        median = _median(durations)
        return {
            "since": since,
            "until": until,
            "median": median,
            "median_display": days_and_hours(median) if median is not None else None,
            "median_hours": _median_hours(median),
            "issued_sample": len(durations),
            "issued_url": issued_url,
            "counts": refund_status_counts(),
            "live_url": f"{reverse('staff:dashboard-live')}?{self.request.GET.urlencode()}",
        }

    def get_context_data(self, **kwargs):
        form, since, until = self._period()
        period = {"created_after": since.isoformat(), "created_before": until.isoformat()}
        queue = reverse("staff:refund-queue")

        def queue_url(**filters: str) -> str:
            return f"{queue}?{urlencode({**filters, **period})}"

        issued_url = queue_url(status=RefundStatus.ISSUED.value)
        span = (until - since).days + 1
        days = [since + dt.timedelta(days=i) for i in range(span)]
        by_status: dict[str, dict] = defaultdict(dict)
        for row in refunds_per_day(since, until):
            by_status[row["status"]][row["day"]] = row["n"]
        per_day_chart = {
            "queue": queue,
            "labels": [d.isoformat() for d in days],
            "datasets": [
                {
                    "label": s.label,
                    "status": s.value,
                    "data": [by_status[s.value].get(d, 0) for d in days],
                }
                for s in RefundStatus
            ],
        }
        labels = dict(ReasonCode.choices)
        reasons = [
            {
                "code": r["reason_code"],
                "reason": labels.get(r["reason_code"], r["reason_code"]),
                "count": r["n"],
                "url": queue_url(reason=r["reason_code"]),
            }
            for r in top_reasons(len(labels), since, until)
        ]
        by_marketplace = []
        for (key, currency), row in sorted(refund_rate_inputs_by_marketplace(since, until).items()):
            refunded = quantize(row.get("refunded") or ZERO, currency)
            ordered = quantize(row["ordered"] or ZERO, currency)
            by_marketplace.append(
                {
                    "key": key,
                    "marketplace": _marketplace_label(key),
                    "currency": currency,
                    "orders": row["orders"],
                    "ordered": ordered,
                    "refunds": row["refunds"],
                    "refunded": refunded,
                    "amount_rate": percent(refunded, ordered),
                    "count_rate": percent(row["refunds"], row["orders"]),
                    "url": queue_url(status=RefundStatus.ISSUED.value, marketplace=key),
                }
            )
        reason_rows, orders_per_currency = refund_rate_inputs_by_reason(since, until)
        by_reason = []
        for (code, currency), row in sorted(
            reason_rows.items(), key=lambda item: (-item[1]["refunds"], item[0])
        ):
            base = orders_per_currency.get(currency, {"orders": 0, "ordered": ZERO})
            refunded = quantize(row["refunded"], currency)
            ordered = quantize(base["ordered"], currency)
            by_reason.append(
                {
                    "reason": labels.get(code, code),
                    "currency": currency,
                    "refunds": row["refunds"],
                    "refunded": refunded,
                    "orders": base["orders"],
                    "ordered": ordered,
                    "amount_rate": percent(refunded, ordered),
                    "count_rate": percent(row["refunds"], base["orders"]),
                    "url": queue_url(status=RefundStatus.ISSUED.value, reason=code),
                }
            )
        by_sku = []
        for row in refund_rate_inputs_by_sku(since, until, TOP_SKUS):
            currency = row["currency"]
            refunded = quantize(row["refunded"], currency)
            ordered = quantize(row["ordered"], currency)
            by_sku.append(
                {
                    "sku": row["sku"],
                    "currency": currency,
                    "refunds": row["refunds"],
                    "units": row["units"],
                    "refunded": refunded,
                    "orders": row["orders"],
                    "ordered_units": row["ordered_units"],
                    "ordered": ordered,
                    "amount_rate": percent(refunded, ordered),
                    "unit_rate": percent(row["units"], row["ordered_units"]),
                    "url": queue_url(status=RefundStatus.ISSUED.value, sku=row["sku"]),
                }
            )
        per_marketplace = [
            {
                "marketplace": r["marketplace"],
                "currency": r["currency"],
                "amount": r["refunded"],
                "count": r["refunds"],
                "url": r["url"],
            }
            for r in by_marketplace
            if r["refunds"]
        ]
        context = super().get_context_data(**kwargs)
        context.update(
            self._live_figures(since, until, issued_url),
            period_form=form,
            since=since,
            until=until,
            span=span,
            per_day_chart=per_day_chart,
            per_marketplace=per_marketplace,
            marketplace_chart={
                "labels": [f"{r['marketplace']} ({r['currency']})" for r in per_marketplace],
                "data": [format_amount(r["amount"], r["currency"]) for r in per_marketplace],
                "urls": [r["url"] for r in per_marketplace],
            },
            reasons=reasons,
            reasons_total=sum(r["count"] for r in reasons),
            reasons_url=queue_url(),
            reasons_chart={
                "labels": [f"{r['reason']}: {r['count']}" for r in reasons],
                "data": [r["count"] for r in reasons],
                "urls": [r["url"] for r in reasons],
            },
            by_marketplace=by_marketplace,
            by_reason=by_reason,
            by_sku=by_sku,
            attention=list(refund_queryset().filter(needs_attention=True)[:10]),
            drift=list(refund_queryset().filter(has_drift=True)[:10]),
        )
        return context


class DashboardLiveView(DashboardView):
    """The figures at the top of the dashboard for the same period, polled by htmx every 5 s, so
    refunds being delivered, issued or flagged show without a reload."""

    template_name = "staff/_dashboard_kpis.html"

    def get_context_data(self, **kwargs):
        _, since, until = self._period()
        period = {"created_after": since.isoformat(), "created_before": until.isoformat()}
        issued_url = (
            f"{reverse('staff:refund-queue')}?"
            f"{urlencode({'status': RefundStatus.ISSUED.value, **period})}"
        )
        return self._live_figures(since, until, issued_url)

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        response["Cache-Control"] = "no-store"
        return response
