"""The Prometheus figures (refunds/metrics.py) for known rows, as /metrics serves them."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction, OutboundAttempt, WebhookEvent
from refunds.services import refund_request
from tests import factories

TOKEN = "s3cret-metrics"


def _scrape(client) -> list[str]:
    with override_settings(METRICS_TOKEN=TOKEN):
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode().splitlines()


def _value(lines, sample: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in lines if line.rsplit(" ", 1)[0] == sample]
    assert len(values) == 1, f"{sample} appears {len(values)} times"
    return values[0]


def _action(refund, account, state, *, created_ago, key):
    action = OutboundAction.objects.create(
        refund=refund,
        account=account,
        kind="create_refund",
        idempotency_key=key,
        payload={},
        state=state,
        next_attempt_at=timezone.now(),
    )
    # created_at is auto_now_add: set the age afterwards
    OutboundAction.objects.filter(pk=action.pk).update(
        created_at=timezone.now() - dt.timedelta(seconds=created_ago)
    )
    return action


def _webhook(account, state, key, *, received_ago):
    event = WebhookEvent.objects.create(
        account=account,
        adapter_key=account.adapter_key,
        name="refund-result",
        delivery_key=key,
        headers={},
        body="{}",
        state=state,
    )
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - dt.timedelta(seconds=received_ago)
    )


@pytest.mark.django_db
def test_metrics_show_outbox_attempts_webhooks_and_refunds_for_known_rows(
    client, order, customer_user
):
    llzw = order.account
    shoplazza = factories.AccountFactory(name="Shop", adapter_key="shoplazza")
    line = order.lines.first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    assert OutboundAction.objects.count() == 0
    _action(refund, llzw, "pending", created_ago=120, key="k1")
    _action(refund, llzw, "pending", created_ago=30, key="k2")
    done = _action(refund, llzw, "succeeded", created_ago=600, key="k3")
    _action(refund, shoplazza, "in_flight", created_ago=45, key="k4")
    start = timezone.now() - dt.timedelta(seconds=100)
    OutboundAttempt.objects.create(
        action=done,
        number=1,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=2),
        outcome="failed",
    )
    OutboundAttempt.objects.create(
        action=done,
        number=2,
        started_at=start,
        finished_at=start + dt.timedelta(milliseconds=1500),
        outcome="accepted",
    )
    OutboundAttempt.objects.create(
        action=done,
        number=3,
        started_at=start,
        finished_at=start + dt.timedelta(milliseconds=500),
        outcome="accepted",
    )
    _webhook(llzw, "received", "d1", received_ago=90)
    _webhook(llzw, "received", "d2", received_ago=10)
    _webhook(llzw, "processed", "d3", received_ago=500)
    _webhook(shoplazza, "failed", "d4", received_ago=5)

    lines = _scrape(client)

    assert _value(lines, 'refund_desk_outbox_actions{marketplace="llzw",state="pending"}') == 2
    assert _value(lines, 'refund_desk_outbox_actions{marketplace="llzw",state="succeeded"}') == 1
    assert _value(lines, 'refund_desk_outbox_actions{marketplace="llzw",state="in_flight"}') == 0
    assert (
        _value(lines, 'refund_desk_outbox_actions{marketplace="shoplazza",state="in_flight"}') == 1
    )
    assert _value(lines, 'refund_desk_outbox_actions{marketplace="shoplazza",state="dead"}') == 0
    oldest = _value(
        lines, 'refund_desk_outbox_oldest_age_seconds{marketplace="llzw",state="pending"}'
    )
    assert 120 <= oldest < 180
    in_flight = 'refund_desk_outbox_oldest_age_seconds{marketplace="shoplazza",state="in_flight"}'
    assert 45 <= _value(lines, in_flight) < 105
    assert not any(
        line.startswith("refund_desk_outbox_oldest_age_seconds") and 'state="succeeded"' in line
        for line in lines
    )

    attempts = 'refund_desk_delivery_attempts_total{marketplace="llzw",outcome="%s"}'
    assert _value(lines, attempts % "accepted") == 2
    assert _value(lines, attempts % "failed") == 1
    duration = (
        'refund_desk_delivery_attempt_duration_seconds_%s{marketplace="llzw",outcome="accepted"}'
    )
    assert _value(lines, duration % "count") == 2
    assert _value(lines, duration % "sum") == 2.0

    hooks = 'refund_desk_webhook_events{marketplace="%s",state="%s"}'
    assert _value(lines, hooks % ("llzw", "received")) == 2
    assert _value(lines, hooks % ("llzw", "processed")) == 1
    assert _value(lines, hooks % ("shoplazza", "failed")) == 1
    assert _value(lines, hooks % ("shoplazza", "received")) == 0
    lag = 'refund_desk_webhook_oldest_unprocessed_age_seconds{marketplace="%s"}'
    assert 90 <= _value(lines, lag % "llzw") < 150
    assert _value(lines, lag % "shoplazza") == 0

    assert _value(lines, 'refund_desk_refunds{status="REQUESTED"}') == 1
    assert _value(lines, 'refund_desk_refunds{status="ISSUED"}') == 0
