"""An unknown outcome (a delivery given up without an answer) is not a refusal: the refund cannot
be denied, a retry carries the same idempotency key, the platform is asked again where it can find
a refund by our key, and a second platform refund for one of ours is drift for staff."""

import pytest
import requests
from django.core import mail

from integrations.base import Accepted, Confirmed, RemoteRefund, TransientError, may_have_acted
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.delivery.polling import remote_refunds_reconcile
from refunds.errors import RefundError
from refunds.models import Refund
from refunds.services import (
    refund_apply_marketplace_result,
    refund_approve,
    refund_deny,
    refund_mark_outcome_unknown,
    refund_request,
    refund_retry,
)

from .test_lifecycle import snapshot

pytestmark = pytest.mark.django_db


def _processing(order, customer_user, agent):
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    return refund_approve(actor=agent, refund=refund)


def _given_up(refund, *, adapter_key):
    """The create action as the delivery task leaves it after the last unanswered attempt."""
    account = refund.order.account
    account.adapter_key = adapter_key
    account.save(update_fields=["adapter_key"])
    OutboundAction.objects.filter(refund=refund).update(state="unknown", attempts=8)
    return refund_mark_outcome_unknown(
        refund=refund,
        attempts=8,
        last_error="Could not reach the platform (connection failed)",
        idempotency_key=f"RD{refund.pk}-create-refund-1",
        via="test",
    )


def test_without_a_lookup_a_person_is_asked_with_the_evidence(order, customer_user, agent2):
    refund = _given_up(_processing(order, customer_user, agent2), adapter_key="hepsiglobal")
    name = order.account.name
    assert (refund.status, refund.needs_attention, refund.outcome_unknown) == (
        "PROCESSING",
        True,
        True,
    )
    assert refund.attention_message == (
        f"Outcome unknown: {name} did not answer (8 attempts, last: Could not reach the platform "
        f"(connection failed)). Check on {name} whether refund RD{refund.pk}-create-refund-1 "
        "exists before doing anything else. Retry asks again with the same key."
    )
    event = refund.events.get(action="outcome_unknown")
    assert event.changes == {
        "attempts": 8,
        "last_error": "Could not reach the platform (connection failed)",
        "idempotency_key": f"RD{refund.pk}-create-refund-1",
        "asking_the_marketplace": False,
    }
    # Nothing more is sent by itself (a person decides).
    assert OutboundAction.objects.filter(refund=refund).count() == 1


def test_without_a_lookup_managers_are_told(
    order, customer_user, agent2, manager, django_capture_on_commit_callbacks
):
    refund = _processing(order, customer_user, agent2)
    with django_capture_on_commit_callbacks(execute=True):
        _given_up(refund, adapter_key="hepsiglobal")
    assert [m.subject for m in mail.outbox] == [f"Refund {refund.number} needs attention"]
    assert "Outcome unknown" in mail.outbox[0].body


def test_a_refund_that_may_have_been_paid_cannot_be_denied(order, customer_user, agent2):
    refund = _given_up(_processing(order, customer_user, agent2), adapter_key="hepsiglobal")
    before = snapshot(refund.pk)
    with pytest.raises(RefundError) as refused:
        refund_deny(actor=agent2, refund=refund, reason="Customer gave up")
    assert refused.value.code == "outcome_unknown"
    assert f"{order.account.name} may have paid this refund" in refused.value.message
    assert snapshot(refund.pk) == before


def test_retry_after_an_unknown_outcome_sends_the_same_key(order, customer_user, agent2):
    refund = _given_up(_processing(order, customer_user, agent2), adapter_key="hepsiglobal")
    refund = refund_retry(actor=agent2, refund=refund, note="checked: nothing there")
    assert (refund.needs_attention, refund.outcome_unknown, refund.attention_message) == (
        False,
        False,
        "",
    )
    actions = list(
        OutboundAction.objects.filter(refund=refund)
        .order_by("id")
        .values_list("kind", "idempotency_key", "state")
    )
    key = f"RD{refund.pk}-create-refund-1"
    assert actions == [("create_refund", key, "unknown"), ("create_refund", key, "pending")]
    assert OutboundAction.objects.order_by("id").last().payload["idempotency_key"] == key
    assert refund.events.order_by("id").last().changes == {
        "idempotency_key": key,
        "outcome_was_unknown": True,
    }


def test_with_a_lookup_the_platform_is_asked_again_once_with_the_same_key(
    order, customer_user, agent2
):
    refund = _given_up(_processing(order, customer_user, agent2), adapter_key="shoplazza")
    key = f"RD{refund.pk}-create-refund-1"
    assert refund.attention_message.endswith(
        f"Refund Desk is asking {order.account.name} again with the same key {key}: it answers "
        "with the refund it holds, or takes it now if it never got it."
    )
    again = OutboundAction.objects.filter(refund=refund, state="pending").get()
    assert (again.kind, again.idempotency_key) == ("create_refund", key)

    # That one gets no answer either: now a person is asked, and nothing more is sent.
    OutboundAction.objects.filter(pk=again.pk).update(state="unknown")
    refund = refund_mark_outcome_unknown(
        refund=refund, attempts=8, last_error="timeout", idempotency_key=key, via="test"
    )
    assert "Check on" in refund.attention_message
    assert not OutboundAction.objects.filter(refund=refund, state="pending").exists()


def test_the_platform_holding_the_refund_settles_the_unknown(order, customer_user, agent2):
    refund = _given_up(_processing(order, customer_user, agent2), adapter_key="hepsiglobal")
    refund = refund_apply_marketplace_result(
        refund=refund, result=Accepted(external_request_id="01HX" + "0" * 22), via="test"
    )
    assert (refund.status, refund.needs_attention, refund.outcome_unknown) == (
        "PROCESSING",
        False,
        False,
    )
    refund = refund_apply_marketplace_result(refund=refund, result=Confirmed(), via="test")
    assert (refund.status, refund.outcome_unknown) == ("ISSUED", False)


def test_a_late_answer_after_the_refund_was_issued_changes_nothing(order, customer_user, agent2):
    refund = _processing(order, customer_user, agent2)
    refund = refund_apply_marketplace_result(
        refund=refund, result=Confirmed(external_id="EXT-1"), via="test"
    )
    before = snapshot(refund.pk)
    refund = _given_up(refund, adapter_key="hepsiglobal")
    after = snapshot(refund.pk)
    assert after["events"] == before["events"]
    assert (refund.status, refund.outcome_unknown) == ("ISSUED", False)


def test_the_same_confirmation_again_is_harmless(order, customer_user, agent2):
    refund = _processing(order, customer_user, agent2)
    refund = refund_apply_marketplace_result(
        refund=refund, result=Confirmed(external_id="EXT-1"), via="test"
    )
    before = snapshot(refund.pk)
    refund_apply_marketplace_result(refund=refund, result=Confirmed(external_id="EXT-1"), via="t")
    assert snapshot(refund.pk) == before


def test_a_second_confirmation_under_other_ids_is_drift(order, customer_user, agent2):
    refund = _processing(order, customer_user, agent2)
    refund = refund_apply_marketplace_result(
        refund=refund, result=Confirmed(external_id="EXT-1"), via="test"
    )
    refund = refund_apply_marketplace_result(
        refund=refund, result=Confirmed(external_id="EXT-2"), via="test"
    )
    refund.refresh_from_db()
    name = order.account.name
    assert (refund.status, refund.external_id, refund.has_drift) == ("ISSUED", "EXT-1", True)
    assert refund.drift_note == (
        f"{name} confirmed another refund (EXT-2) for this refund, which was already issued as "
        f"EXT-1: check {name} for a double payment"
    )
    assert refund.events.order_by("id").last().action == "drift"


class _Listing:
    """An adapter stand-in that lists what the platform holds (the polling code's only need)."""

    def __init__(self, remote):
        self.remote = remote

    def list_refunds(self, since=None):
        return self.remote


def test_a_second_platform_refund_made_with_our_key_is_drift(order, customer_user, agent2):
    from collections import Counter

    refund = _processing(order, customer_user, agent2)
    refund = refund_apply_marketplace_result(
        refund=refund, result=Accepted(external_id="11"), via="test"
    )
    key = f"RD{refund.pk}-create-refund-1"
    second = RemoteRefund(
        external_id="12",
        order_external_number=order.external_number,
        status="ISSUED",
        amount=refund.total,
        currency=refund.currency,
        idempotency_key=key,
    )
    stats = Counter()
    remote_refunds_reconcile(order.account, _Listing([second]), stats)
    refund.refresh_from_db()
    assert (refund.status, refund.external_id, refund.has_drift) == ("PROCESSING", "11", True)
    assert "holds a second refund 12" in refund.drift_note
    assert key in refund.drift_note
    assert stats["drift_second_refund"] == 1


def test_a_platform_refund_bearing_an_unknown_key_of_ours_is_never_imported(
    order, customer_user, agent2
):
    from collections import Counter

    refund = _processing(order, customer_user, agent2)
    stray = RemoteRefund(
        external_id="99",
        order_external_number=order.external_number,
        status="REQUESTED",
        amount=refund.total,
        currency=refund.currency,
        idempotency_key="RD424242-create-refund-1",
    )
    stats = Counter()
    remote_refunds_reconcile(order.account, _Listing([stray]), stats)
    assert Refund.objects.filter(order=order).count() == 1  # not imported as a new request
    refund.refresh_from_db()
    assert refund.has_drift is True
    assert "RD424242-create-refund-1, which matches no refund here" in refund.drift_note
    assert stats["drift_unmatched"] == 1


# --- what a failed call tells about the platform -------------------------------------------


def _raised_from(cause, **kwargs):
    try:
        try:
            raise cause
        except requests.RequestException as exc:
            raise TransientError("failed", **kwargs) from exc
    except TransientError as exc:
        return exc


def test_only_a_call_that_never_reached_the_platform_is_known_not_to_have_acted():
    assert may_have_acted(_raised_from(requests.ConnectTimeout("connect timed out"))) is False
    refused = requests.ConnectionError("NewConnectionError: [Errno 111] Connection refused")
    assert may_have_acted(_raised_from(refused)) is False
    assert may_have_acted(_raised_from(requests.ReadTimeout("read timed out"))) is True
    dropped = requests.ConnectionError("('Connection aborted.', RemoteDisconnected(...))")
    assert may_have_acted(_raised_from(dropped)) is True
    assert may_have_acted(TransientError("HTTP 503", code="503")) is True
    assert may_have_acted(TransientError("slow down", code="429")) is False
    assert may_have_acted(TransientError("said so", may_have_acted=False)) is False
