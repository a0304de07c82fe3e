"""The snapshot an outbox row keeps of a refund: what it carries of the order, and that snapshots
written before a field existed still read."""

from decimal import Decimal

import pytest

from refunds.delivery.payloads import from_json, refund_data, to_json
from refunds.services import refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_snapshot_carries_the_order_tip_and_other_charges_apart(agent):
    order = factories.make_order(additional="2.00", tip="3.00")
    refund = refund_request(
        actor=agent, order=order, reason_code="other", refund_only=True, additional_amount="5.00"
    )

    data = refund_data(refund, idempotency_key="RD-1-create-refund-1")

    assert (data.order_tip_total, data.order_additional_total) == (
        Decimal("3.00"),
        Decimal("2.00"),
    )
    assert data.additional_amount == Decimal("5.00")
    assert from_json(to_json(data)) == data


def test_a_snapshot_written_before_the_order_charges_existed_reads_with_none(agent):
    order = factories.make_order(additional="2.00", tip="3.00")
    refund = refund_request(
        actor=agent, order=order, reason_code="other", refund_only=True, additional_amount="5.00"
    )
    old = to_json(refund_data(refund, idempotency_key="RD-1-create-refund-1"))
    del old["order_tip_total"], old["order_additional_total"]

    data = from_json(old)

    assert (data.order_tip_total, data.order_additional_total) == (Decimal("0"), Decimal("0"))
    assert data.additional_amount == Decimal("5.00")
