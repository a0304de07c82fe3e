"""The lifecycle table: every action from every status. Allowed ones move the refund where
states.py says; every other one raises RefundError with a message a person can act on and leaves
the refund, its lines, its events and its outbox rows exactly as they were."""

from decimal import Decimal

import pytest

from integrations.base import Confirmed, Rejected
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.errors import RefundError
from refunds.models import Refund, RefundEvent, RefundLine
from refunds.services import (
    Received,
    refund_apply_marketplace_result,
    refund_approve,
    refund_cancel,
    refund_deny,
    refund_receive,
    refund_request,
    refund_retry,
    refund_ship,
)

STATES = [
    "REQUESTED",
    "WAITING",
    "PROCESSING",
    "PROCESSING_FAILED",  # PROCESSING, delivery failed for good ("needs attention")
    "ISSUED",
    "DENIED",
    "CANCELLED",
]
ACTIONS = ["approve", "deny", "ship", "receive", "cancel", "retry"]

# (start state, action) -> status afterwards. Anything missing must be refused.
ALLOWED = {
    ("REQUESTED", "approve"): "WAITING",
    ("REQUESTED", "deny"): "DENIED",
    ("REQUESTED", "cancel"): "CANCELLED",
    ("WAITING", "deny"): "DENIED",
    ("WAITING", "ship"): "WAITING",
    ("WAITING", "receive"): "PROCESSING",
    ("WAITING", "cancel"): "CANCELLED",
    ("PROCESSING_FAILED", "deny"): "DENIED",
    ("PROCESSING_FAILED", "retry"): "PROCESSING",
}


def _make(state, order, customer_user, agent, *, refund_only=False):
    """A refund in `state`, made through the services (so its events exist)."""
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        customer_explanation="Broken",
    )
    if state == "REQUESTED":
        return refund
    if state == "DENIED":
        return refund_deny(actor=agent, refund=refund, reason="Outside the return window")
    if state == "CANCELLED":
        return refund_cancel(actor=customer_user, refund=refund)
    refund = refund_approve(actor=agent, refund=refund)
    if state == "WAITING":
        return refund
    if not refund_only:
        refund = refund_receive(
            actor=agent, refund=refund, received={refund.lines.get().pk: Received(1, True)}
        )
    if state == "PROCESSING":
        return refund
    if state == "PROCESSING_FAILED":
        return refund_apply_marketplace_result(
            refund=refund, result=Rejected(code="E1", message="Order is locked"), via="test"
        )
    assert state == "ISSUED"
    return refund_apply_marketplace_result(
        refund=refund, result=Confirmed(external_id="EXT-1"), via="test"
    )


def _do(action, refund, *, agent, customer_user):
    match action:
        case "approve":
            return refund_approve(actor=agent, refund=refund)
        case "deny":
            return refund_deny(actor=agent, refund=refund, reason="Not eligible")
        case "ship":
            return refund_ship(
                actor=customer_user, refund=refund, tracking_id="1Z999", carrier="UPS"
            )
        case "receive":
            line = refund.lines.get()
            return refund_receive(
                actor=agent, refund=refund, received={line.pk: Received(1, restock=True)}
            )
        case "cancel":
            return refund_cancel(actor=customer_user, refund=refund)
        case "retry":
            return refund_retry(actor=agent, refund=refund)
    raise AssertionError(action)


def snapshot(refund_id):
    """Everything an action may write for one refund."""
    return {
        "refund": Refund.objects.filter(pk=refund_id).values().get(),
        "lines": list(RefundLine.objects.filter(refund_id=refund_id).order_by("id").values()),
        "events": list(RefundEvent.objects.filter(refund_id=refund_id).order_by("id").values()),
        "outbox": list(OutboundAction.objects.filter(refund_id=refund_id).order_by("id").values()),
    }


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_lifecycle_table(state, action, order, customer_user, agent2):
    refund = _make(state, order, customer_user, agent2)
    before = snapshot(refund.pk)
    expected = ALLOWED.get((state, action))
    if expected is None:
        with pytest.raises(RefundError) as exc_info:
            _do(action, refund, agent=agent2, customer_user=customer_user)
        message = exc_info.value.message
        assert message
        assert message[0].isupper()
        assert exc_info.value.code in {"invalid_transition", "refused"}
        assert snapshot(refund.pk) == before
    else:
        result = _do(action, refund, agent=agent2, customer_user=customer_user)
        after = snapshot(refund.pk)
        assert result.status == expected
        assert after["refund"]["status"] == expected
        assert len(after["events"]) == len(before["events"]) + 1
        event = after["events"][-1]
        assert event["action"] == action
        assert event["from_status"] == before["refund"]["status"]
        assert event["to_status"] == expected


def test_refused_transition_message_names_the_statuses(order, customer_user, agent2):
    refund = _make("ISSUED", order, customer_user, agent2)
    with pytest.raises(RefundError) as exc_info:
        refund_approve(actor=agent2, refund=refund)
    assert exc_info.value.message == (
        "Cannot approve a refund that is issued; only a refund that is requested can be."
    )
    assert exc_info.value.code == "invalid_transition"


def test_approve_refund_only_goes_to_processing_and_writes_create_refund(
    order, customer_user, agent2
):
    refund = _make("REQUESTED", order, customer_user, agent2, refund_only=True)
    refund = refund_approve(actor=agent2, refund=refund)
    assert refund.status == "PROCESSING"
    assert list(OutboundAction.objects.filter(refund=refund).values_list("kind", flat=True)) == [
        "create_refund"
    ]


def test_approve_with_return_writes_no_money_outbox_row(order, customer_user, agent2):
    refund = _make("REQUESTED", order, customer_user, agent2)
    refund = refund_approve(actor=agent2, refund=refund)
    assert refund.status == "WAITING"
    assert OutboundAction.objects.filter(refund=refund).count() == 0


def test_receive_writes_create_refund_and_caps_to_received(order, customer_user, agent2):
    line = order.lines.order_by("id")[1]  # 3 × 9.99 − 1.00 + 0.50 = 29.47
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=3)],
    )
    assert refund.total == Decimal("29.47")
    refund = refund_approve(actor=agent2, refund=refund)
    refund = refund_receive(
        actor=agent2, refund=refund, received={refund.lines.get().pk: Received(2, restock=True)}
    )
    assert refund.status == "PROCESSING"
    assert refund.total == Decimal("19.65")
    assert refund.lines_amount == Decimal("19.65")
    refund_line = refund.lines.get()
    assert (refund_line.received_quantity, refund_line.restock) == (2, True)
    assert list(OutboundAction.objects.filter(refund=refund).values_list("kind", flat=True)) == [
        "create_refund"
    ]


def test_receive_nothing_is_refused_and_writes_nothing(order, customer_user, agent2):
    refund = _make("WAITING", order, customer_user, agent2)
    before = snapshot(refund.pk)
    with pytest.raises(RefundError, match="Nothing refundable was received; deny the refund"):
        refund_receive(actor=agent2, refund=refund, received={refund.lines.get().pk: Received(0)})
    assert snapshot(refund.pk) == before


def test_receive_more_than_expected_is_refused(order, customer_user, agent2):
    refund = _make("WAITING", order, customer_user, agent2)
    before = snapshot(refund.pk)
    with pytest.raises(RefundError) as exc_info:
        refund_receive(actor=agent2, refund=refund, received={refund.lines.get().pk: Received(2)})
    sku = order.lines.order_by("id").first().sku
    assert exc_info.value.message == f"Line {sku}: 1 units expected, 2 received"
    assert snapshot(refund.pk) == before


def test_confirm_moves_processing_to_issued(order, customer_user, agent2):
    refund = _make("PROCESSING", order, customer_user, agent2)
    refund = refund_apply_marketplace_result(
        refund=refund, result=Confirmed(external_id="R-9"), via="test"
    )
    assert refund.status == "ISSUED"
    assert refund.issued_at is not None
    assert refund.external_id == "R-9"


@pytest.mark.parametrize("state", ["REQUESTED", "WAITING", "DENIED", "CANCELLED"])
def test_confirm_outside_processing_changes_no_status(state, order, customer_user, agent2):
    refund = _make(state, order, customer_user, agent2)
    before = snapshot(refund.pk)
    refund_apply_marketplace_result(refund=refund, result=Confirmed(), via="test")
    assert snapshot(refund.pk) == before


def test_confirm_twice_is_idempotent(order, customer_user, agent2):
    refund = _make("ISSUED", order, customer_user, agent2)
    before = snapshot(refund.pk)
    refund_apply_marketplace_result(
        refund=refund, result=Confirmed(external_id="EXT-1"), via="test"
    )
    assert snapshot(refund.pk) == before


def test_processing_without_failure_cannot_be_denied(order, customer_user, agent2):
    refund = _make("PROCESSING", order, customer_user, agent2)
    before = snapshot(refund.pk)
    with pytest.raises(RefundError, match="can be denied only if the marketplace refused it"):
        refund_deny(actor=agent2, refund=refund, reason="Changed our mind")
    assert snapshot(refund.pk) == before


def test_failed_delivery_shows_platform_error(order, customer_user, agent2):
    refund = _make("PROCESSING_FAILED", order, customer_user, agent2)
    assert refund.needs_attention is True
    assert refund.attention_message == f"{order.account.name} refused: Order is locked"
    # The refused delivery is over (as the delivery task leaves it); the retry is a new action
    # that carries the same idempotency key, so the platform sees the same refund again.
    OutboundAction.objects.filter(refund=refund).update(state="failed")
    refund = refund_retry(actor=agent2, refund=refund)
    assert (refund.needs_attention, refund.attention_message) == (False, "")
    kinds = list(
        OutboundAction.objects.filter(refund=refund)
        .order_by("id")
        .values_list("kind", "idempotency_key", "state")
    )
    assert kinds == [
        ("create_refund", f"RD{refund.pk}-create-refund-1", "failed"),
        ("create_refund", f"RD{refund.pk}-create-refund-1", "pending"),
    ]


def test_retry_while_the_first_delivery_is_still_open_sends_nothing_more(
    order, customer_user, agent2
):
    refund = _make("PROCESSING_FAILED", order, customer_user, agent2)
    refund_retry(actor=agent2, refund=refund)
    assert list(OutboundAction.objects.filter(refund=refund).values_list("state", flat=True)) == [
        "pending"
    ]


def test_deny_requires_a_reason(order, customer_user, agent2):
    refund = _make("REQUESTED", order, customer_user, agent2)
    before = snapshot(refund.pk)
    with pytest.raises(RefundError) as exc_info:
        refund_deny(actor=agent2, refund=refund, reason="   ")
    assert (exc_info.value.message, exc_info.value.field) == ("This field is required", "reason")
    assert snapshot(refund.pk) == before


def test_ship_of_refund_only_is_refused(order, customer_user, agent2):
    refund = _make("REQUESTED", order, customer_user, agent2, refund_only=True)
    refund.refresh_from_db()
    with pytest.raises(RefundError, match="Cannot record the return shipment"):
        refund_ship(actor=customer_user, refund=refund, tracking_id="1Z", carrier="UPS")


def test_ship_records_tracking_once(order, customer_user, agent2):
    refund = _make("WAITING", order, customer_user, agent2)
    refund_ship(actor=customer_user, refund=refund, tracking_id="1Z999", carrier="UPS")
    before = snapshot(refund.pk)
    refund = refund_ship(actor=customer_user, refund=refund, tracking_id="1Z999", carrier="UPS")
    assert (refund.return_tracking_id, refund.return_carrier) == ("1Z999", "UPS")
    assert snapshot(refund.pk) == before


def test_customer_cannot_approve_own_refund(order, customer_user, agent2):
    refund = _make("REQUESTED", order, customer_user, agent2)
    before = snapshot(refund.pk)
    with pytest.raises(RefundError) as exc_info:
        refund_approve(actor=customer_user, refund=refund)
    assert exc_info.value.message == "You do not have permission to approve this refund"
    assert exc_info.value.code == "forbidden"
    assert snapshot(refund.pk) == before


def test_other_customer_cannot_cancel(order, customer_user, agent2):
    from tests.factories import UserFactory

    refund = _make("REQUESTED", order, customer_user, agent2)
    before = snapshot(refund.pk)
    with pytest.raises(RefundError, match="You do not have permission to cancel this refund"):
        refund_cancel(actor=UserFactory(username="bob@example.com"), refund=refund)
    assert snapshot(refund.pk) == before


def test_system_cannot_approve(order, customer_user, agent2):
    refund = _make("REQUESTED", order, customer_user, agent2)
    before = snapshot(refund.pk)
    with pytest.raises(RefundError, match="Only a person can approve a refund"):
        refund_approve(actor=None, refund=refund)
    assert snapshot(refund.pk) == before
