"""A refund the marketplace accepted but never confirmed is flagged for staff, once, and only
while it is still in PROCESSING."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction, OutboundState
from refunds.models import Refund, RefundEvent
from refunds.services import refund_approve, refund_request, refunds_flag_stale_processing
from refunds.tasks import flag_stale_processing

pytestmark = pytest.mark.django_db


def _processing(order, requester, agent, line_index=0) -> Refund:
    line = list(order.lines.all())[line_index]
    refund = refund_request(
        actor=requester,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    return refund_approve(actor=agent, refund=refund)


def _accepted(refund: Refund, hours_ago: float, state=OutboundState.SUCCEEDED) -> None:
    OutboundAction.objects.filter(refund=refund).update(
        state=state, completed_at=timezone.now() - dt.timedelta(hours=hours_ago)
    )


def test_accepted_long_ago_and_never_confirmed_is_flagged_once(order, customer_user, agent):
    stale = _processing(order, customer_user, agent, 0)
    Refund.objects.filter(pk=stale.pk).update(external_request_id="REQ-42")
    _accepted(stale, settings.REFUND_STALE_PROCESSING_HOURS + 1)
    fresh = _processing(order, customer_user, agent, 1)
    _accepted(fresh, settings.REFUND_STALE_PROCESSING_HOURS - 1)

    assert refunds_flag_stale_processing() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == "PROCESSING"
    assert stale.has_drift
    assert "REQ-42" in stale.drift_note
    assert order.account.name in stale.drift_note
    assert not stale.needs_attention  # not a delivery failure: a retry would pay twice
    assert not fresh.has_drift
    event = RefundEvent.objects.get(refund=stale, action="drift")
    assert event.actor is None
    assert "stale check" in event.actor_label
    assert refunds_flag_stale_processing() == 0  # a second run changes nothing
    assert RefundEvent.objects.filter(refund=stale, action="drift").count() == 1


def test_not_flagged_while_still_delivering_or_once_answered(order, customer_user, agent):
    delivering = _processing(order, customer_user, agent, 0)
    _accepted(delivering, 100, state=OutboundState.PENDING)
    issued = _processing(order, customer_user, agent, 1)
    _accepted(issued, 100)
    Refund.objects.filter(pk=issued.pk).update(status="ISSUED")
    assert refunds_flag_stale_processing() == 0
    assert not Refund.objects.filter(has_drift=True).exists()


def test_threshold_comes_from_settings(settings, order, customer_user, agent):
    refund = _processing(order, customer_user, agent, 0)
    _accepted(refund, 3)
    settings.REFUND_STALE_PROCESSING_HOURS = 4
    assert refunds_flag_stale_processing() == 0
    settings.REFUND_STALE_PROCESSING_HOURS = 2
    assert flag_stale_processing() == 1  # the beat task runs the same service


def test_beat_runs_the_check():
    entry = app.conf.beat_schedule["stale-processing"]
    assert entry["task"] == "refunds.tasks.flag_stale_processing"
    assert entry["schedule"] == settings.STALE_CHECK_INTERVAL
    app.loader.import_default_modules()
    assert "refunds.tasks.flag_stale_processing" in app.tasks
