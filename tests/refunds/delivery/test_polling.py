"""Polling and reconciliation, run in-process against the LLZW sandbox over HTTP (the beat task
`poll_account` calls exactly this)."""

import pytest
import requests

from integrations.llzw.sandbox import STAFF_SECONDS as LLZW_STAFF_SECONDS
from refunds.delivery.models import OutboundAction, OutboundState
from refunds.delivery.polling import account_poll
from refunds.delivery.tasks import deliver_outbound_action
from refunds.models import Refund, RefundEvent
from tests.fixtures.pipeline import approve_refund

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_celery_worker")]


def _shop_refund(sandbox, order, amount=10.00):
    response = requests.post(
        f"{sandbox.url_for('llzw')}/_sim/customer-refund",
        timeout=5,
        json={
            "orderId": int(order.external_number),
            "reason": "damaged",
            "amount": amount,
            "refundOnly": True,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["id"])


def _shop_staff(sandbox, external_id, decision, **body):
    """The shop's own staff decide on the shop (the simulator's control path: LLZW's API has no
    seller decision, seed 003)."""
    response = requests.post(
        f"{sandbox.url_for('llzw')}/_sim/refunds/{external_id}/{decision}",
        timeout=5,
        json=body or None,
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture
def staff_on_call(sandbox):
    """The shop's staff act only when the test says so (not on their timer)."""
    sandbox.configure("llzw", staff_seconds=None)
    yield sandbox
    sandbox.configure("llzw", staff_seconds=LLZW_STAFF_SECONDS)


def _delivered(order, agent):
    """Our refund approved, and its create delivered to the shop in-process."""
    refund = approve_refund(order, agent)
    action = OutboundAction.objects.get(refund=refund, kind="create_refund")
    deliver_outbound_action(action.pk)
    action.refresh_from_db()
    assert action.state == OutboundState.SUCCEEDED
    refund.refresh_from_db()
    return refund


def test_refund_that_moved_on_without_us_is_imported_and_flagged_as_drift(
    sandbox, marketplace_account, sandbox_order
):
    account = marketplace_account("llzw")
    order = sandbox_order(account)
    external_id = _shop_refund(sandbox, order)
    _shop_staff(sandbox, external_id, "confirm")

    stats = account_poll(account.pk)

    refund = Refund.objects.get(external_id=external_id)
    assert stats["imported"] == 1
    assert (refund.status, refund.source) == ("PROCESSING", "marketplace")
    assert refund.has_drift is True
    assert "without Refund Desk" in refund.drift_note
    events = RefundEvent.objects.filter(refund=refund).count()

    account_poll(account.pk)  # a second run changes nothing

    assert Refund.objects.filter(order=order).count() == 1
    assert RefundEvent.objects.filter(refund=refund).count() == events


def test_amount_that_differs_on_the_platform_is_flagged(
    sandbox, marketplace_account, sandbox_order
):
    account = marketplace_account("llzw")
    order = sandbox_order(account)
    external_id = _shop_refund(sandbox, order, amount=10.00)
    account_poll(account.pk)
    refund = Refund.objects.get(external_id=external_id)
    assert refund.has_drift is False
    Refund.objects.filter(pk=refund.pk).update(total="7.00", lines_amount="7.00")

    account_poll(account.pk)

    refund.refresh_from_db()
    assert refund.has_drift is True
    assert "10.00" in refund.drift_note
    assert "7.00 USD" in refund.drift_note


def test_disabled_account_is_not_polled(sandbox, marketplace_account, sandbox_order):
    account = marketplace_account("llzw", is_enabled=False)
    order = sandbox_order(account)
    _shop_refund(sandbox, order)

    assert account_poll(account.pk) == {}
    assert Refund.objects.count() == 0


def test_our_refund_issued_by_the_shops_staff_is_completed_by_the_poll(
    staff_on_call, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account("llzw")
    refund = _delivered(sandbox_order(account), pipeline_staff)
    account_poll(account.pk)
    refund.refresh_from_db()
    waiting = (refund.status, refund.external_id, refund.needs_attention)
    _shop_staff(staff_on_call, refund.external_id, "confirm")
    _shop_staff(staff_on_call, refund.external_id, "issue")

    account_poll(account.pk)

    refund.refresh_from_db()
    assert waiting == ("PROCESSING", "1", False)
    assert (refund.status, refund.needs_attention, refund.has_drift) == ("ISSUED", False, False)
    assert refund.issued_at is not None
    assert refund.events.filter(action="marketplace_confirmed").count() == 1
    events = refund.events.count()

    account_poll(account.pk)  # a second run changes nothing

    assert refund.events.count() == events


def test_our_refund_denied_by_the_shops_staff_needs_attention_and_is_not_denied(
    staff_on_call, marketplace_account, sandbox_order, pipeline_staff
):
    account = marketplace_account("llzw")
    refund = _delivered(sandbox_order(account), pipeline_staff)
    _shop_staff(staff_on_call, refund.external_id, "deny", reason="Bought 40 days ago")

    account_poll(account.pk)

    refund.refresh_from_db()
    assert (refund.status, refund.needs_attention) == ("PROCESSING", True)
    assert refund.attention_message == (
        "llzw sandbox refused: LLZW refund 1 is denied on the shop: Bought 40 days ago"
    )
    assert refund.response_reason == ""
    events = refund.events.count()

    account_poll(account.pk)  # a second run changes nothing

    refund.refresh_from_db()
    assert (refund.status, refund.events.count()) == ("PROCESSING", events)


def test_a_refund_only_on_the_shop_denied_before_our_create_was_recorded_needs_attention(
    staff_on_call, marketplace_account, sandbox_order, pipeline_staff
):
    """The list path alone (the status read skips refunds whose create is not recorded yet):
    a denial of our refund, found by our key, is a result for a person, never a silent DENIED."""
    account = marketplace_account("llzw")
    refund = _delivered(sandbox_order(account), pipeline_staff)
    OutboundAction.objects.filter(refund=refund).update(state=OutboundState.IN_FLIGHT)
    _shop_staff(staff_on_call, refund.external_id, "deny", reason="Worn")

    stats = account_poll(account.pk)

    refund.refresh_from_db()
    assert stats["result_rejected"] == 1
    assert (refund.status, refund.needs_attention) == ("PROCESSING", True)
    assert refund.attention_message == (
        "llzw sandbox refused: refund 1 is denied on the platform: Worn"
    )
