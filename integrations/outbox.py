"""Writing and claiming outbox rows. `outbound_action_create` is called by the refund services
inside their transaction; the delivery task is enqueued only once that transaction commits."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from .base import OutboundKind
from .models import OutboundAction, OutboundState
from .payloads import refund_data, to_json

DELIVER_TASK = "integrations.tasks.deliver_outbound_action"


def outbound_action_create(*, refund, kind: OutboundKind, delay_seconds: float = 0) -> OutboundAction:
    """Write one outbox row for `refund` (which the caller holds locked) and enqueue its delivery
    after commit. The idempotency key is fixed here and sent on every attempt."""
    sequence = OutboundAction.objects.filter(refund=refund, kind=kind).count() + 1
    key = f"RD{refund.pk}-{kind.value.replace('_', '-')}-{sequence}"
    action = OutboundAction.objects.create(
        refund=refund,
        account=refund.order.account,
        kind=kind,
        idempotency_key=key,
        payload=to_json(refund_data(refund, idempotency_key=key)),
        next_attempt_at=timezone.now() + dt.timedelta(seconds=delay_seconds),
    )
    transaction.on_commit(lambda: enqueue_delivery(action.pk))
    return action


def enqueue_delivery(action_id: int, *, countdown: float | None = None) -> None:
    from config.celery import app

    app.send_task(DELIVER_TASK, args=[action_id], countdown=countdown)


def due_actions_claim(*, limit: int = 100, lease_seconds: int = 300) -> list[int]:
    """Claim outbox rows that are due (pending, or in flight past their lease: a worker died),
    skipping rows another sweeper holds, and return their ids for re-enqueueing."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            OutboundAction.objects.select_for_update(skip_locked=True)
            .filter(state__in=[OutboundState.PENDING, OutboundState.IN_FLIGHT], next_attempt_at__lte=now)
            .exclude(claimed_until__gt=now)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        OutboundAction.objects.filter(pk__in=rows).update(
            claimed_until=now + dt.timedelta(seconds=lease_seconds)
        )
    return rows
