"""The dashboard: refunds per day and status, issued money per marketplace, the top reasons,
the median time to issue, and the refunds that need a person."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from decimal import Decimal

from django.utils import timezone
from django.views.generic import TemplateView

from integrations.registry import ADAPTERS
from orders.money import format_amount, quantize

from ...models import ReasonCode
from ...selectors import (
    issue_durations,
    issued_per_marketplace,
    refund_queryset,
    refund_status_counts,
    refunds_per_day,
    top_reasons,
)
from ...states import RefundStatus
from ._common import StaffPermissionMixin


def _median_hours(durations: list[dt.timedelta]) -> Decimal | None:
    if not durations:
        return None
    seconds = statistics.median(d.total_seconds() for d in durations)
    return (Decimal(str(seconds)) / 3600).quantize(Decimal("0.1"))


class DashboardView(StaffPermissionMixin, TemplateView):
    template_name = "staff/dashboard.html"
    DAYS = 30

    def get_context_data(self, **kwargs):
        today = timezone.localdate()
        since = today - dt.timedelta(days=self.DAYS - 1)
        per_day = refunds_per_day(since)
        days = [since + dt.timedelta(days=i) for i in range(self.DAYS)]
        by_status: dict[str, dict] = defaultdict(dict)
        for row in per_day:
            by_status[row["status"]][row["day"]] = row["n"]
        per_day_chart = {
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
        issued = issued_per_marketplace()
        per_marketplace = [
            {
                "marketplace": ADAPTERS[r["order__account__adapter_key"]].label
                if r["order__account__adapter_key"] in ADAPTERS
                else r["order__account__adapter_key"],
                "currency": r["currency"],
                # Sums come back unquantized (SQLite: 15 significant digits; JPY: two decimals).
                "amount": quantize(r["amount"], r["currency"]),
                "count": r["n"],
            }
            for r in issued
        ]
        reasons_rows = top_reasons(8)
        labels = dict(ReasonCode.choices)
        reasons = [
            {"reason": labels.get(r["reason_code"], r["reason_code"]), "count": r["n"]}
            for r in reasons_rows
        ]
        durations = issue_durations(today - dt.timedelta(days=90))
        context = super().get_context_data(**kwargs)
        context.update(
            per_day_chart=per_day_chart,
            per_marketplace=per_marketplace,
            marketplace_chart={
                "labels": [f"{r['marketplace']} ({r['currency']})" for r in per_marketplace],
                "data": [format_amount(r["amount"], r["currency"]) for r in per_marketplace],
            },
            reasons=reasons,
            reasons_chart={
                "labels": [r["reason"] for r in reasons],
                "data": [r["count"] for r in reasons],
            },
            median_hours=_median_hours(durations),
            issued_sample=len(durations),
            counts=refund_status_counts(),
            attention=list(refund_queryset().filter(needs_attention=True)[:10]),
            drift=list(refund_queryset().filter(has_drift=True)[:10]),
            days=self.DAYS,
        )
        return context
