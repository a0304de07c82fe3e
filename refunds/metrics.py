"""Prometheus figures, computed from the database when scraped (config/health.py serves them).

Every web process reports the same numbers (they are the database's, not the process's), so a
scrape of any one of them is enough. Each family is one GROUP BY over indexed columns:

refund_desk_outbox_actions{state, marketplace}            outbound actions (gauge)
refund_desk_outbox_oldest_age_seconds{state, marketplace} age of the oldest pending / in-flight
                                                          action (gauge; absent when none)
refund_desk_delivery_attempts_total{marketplace, outcome} delivery attempts (counter)
refund_desk_delivery_attempt_duration_seconds{marketplace, outcome}
                                                          finished attempts' time (summary:
                                                          _count and _sum)
refund_desk_webhook_events{state, marketplace}            stored webhooks (gauge)
refund_desk_webhook_oldest_unprocessed_age_seconds{marketplace}
                                                          lag: the oldest webhook still waiting
                                                          to be processed (gauge; 0 when none)
refund_desk_refunds{status}                               refunds (gauge)

"marketplace" is the platform (the account's adapter key: llzw, shoplazza, ...).
"""

from __future__ import annotations

from django.db.models import Count, F, Min, Sum
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from orders.models import MarketplaceAccount
from refunds.delivery.models import (
    OutboundAction,
    OutboundAttempt,
    OutboundState,
    WebhookEvent,
    WebhookState,
)
from refunds.models import Refund, StatusChoices

OPEN_STATES = (OutboundState.PENDING, OutboundState.IN_FLIGHT)


def _age(now, moment) -> float:
    return max(0.0, (now - moment).total_seconds())


class RefundDeskCollector:
    """A prometheus_client custom collector: nothing is counted in memory; collect() queries."""

    def describe(self):
        return []  # no queries at registration

    def collect(self):
        now = timezone.now()
        marketplaces = sorted(
            set(MarketplaceAccount.objects.values_list("adapter_key", flat=True).distinct())
        )
        yield from self._outbox(now, marketplaces)
        yield from self._attempts()
        yield from self._webhooks(now, marketplaces)
        yield from self._refunds()

    def _outbox(self, now, marketplaces):
        depth = GaugeMetricFamily(
            "refund_desk_outbox_actions",
            "Outbound actions by state and marketplace.",
            labels=["state", "marketplace"],
        )
        age = GaugeMetricFamily(
            "refund_desk_outbox_oldest_age_seconds",
            "Age of the oldest pending or in-flight outbound action.",
            labels=["state", "marketplace"],
        )
        rows = {
            (row["state"], row["account__adapter_key"]): row
            for row in OutboundAction.objects.order_by()
            .values("state", "account__adapter_key")
            .annotate(n=Count("id"), oldest=Min("created_at"))
        }
        keys = sorted(set(marketplaces) | {key for _, key in rows})
        for state in OutboundState.values:
            for key in keys:
                row = rows.get((state, key))
                depth.add_metric([state, key], row["n"] if row else 0)
                if row and state in OPEN_STATES:
                    age.add_metric([state, key], _age(now, row["oldest"]))
        yield depth
        yield age

    def _attempts(self):
        total = CounterMetricFamily(
            "refund_desk_delivery_attempts",
            "Delivery attempts by marketplace and outcome.",
            labels=["marketplace", "outcome"],
        )
        duration = SummaryMetricFamily(
            "refund_desk_delivery_attempt_duration_seconds",
            "Time from the start of a delivery attempt to its outcome (finished attempts).",
            labels=["marketplace", "outcome"],
        )
        rows = (
            OutboundAttempt.objects.order_by()
            .values("action__account__adapter_key", "outcome")
            .annotate(
                n=Count("id"),
                finished=Count("finished_at"),
                took=Sum(F("finished_at") - F("started_at")),
            )
            .order_by("action__account__adapter_key", "outcome")
        )
        for row in rows:
            labels = [row["action__account__adapter_key"], row["outcome"]]
            total.add_metric(labels, row["n"])
            took = row["took"].total_seconds() if row["took"] is not None else 0.0
            duration.add_metric(labels, count_value=row["finished"], sum_value=took)
        yield total
        yield duration

    def _webhooks(self, now, marketplaces):
        counts = GaugeMetricFamily(
            "refund_desk_webhook_events",
            "Stored webhook events by state and marketplace.",
            labels=["state", "marketplace"],
        )
        lag = GaugeMetricFamily(
            "refund_desk_webhook_oldest_unprocessed_age_seconds",
            "Age of the oldest webhook event still waiting to be processed (0 when none).",
            labels=["marketplace"],
        )
        rows = {
            (row["state"], row["adapter_key"]): row
            for row in WebhookEvent.objects.order_by()
            .values("state", "adapter_key")
            .annotate(n=Count("id"), oldest=Min("received_at"))
        }
        keys = sorted(set(marketplaces) | {key for _, key in rows})
        for key in keys:
            for state in WebhookState.values:
                row = rows.get((state, key))
                counts.add_metric([state, key], row["n"] if row else 0)
            waiting = rows.get((WebhookState.RECEIVED, key))
            lag.add_metric([key], _age(now, waiting["oldest"]) if waiting else 0.0)
        yield counts
        yield lag

    def _refunds(self):
        refunds = GaugeMetricFamily("refund_desk_refunds", "Refunds by status.", labels=["status"])
        counts = dict(Refund.objects.order_by().values_list("status").annotate(n=Count("id")))
        for status in StatusChoices.values:
            refunds.add_metric([status], counts.get(status, 0))
        yield refunds


def exposition() -> tuple[bytes, str]:
    """The figures in Prometheus' text format, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RefundDeskCollector())
    return generate_latest(registry), CONTENT_TYPE_LATEST
