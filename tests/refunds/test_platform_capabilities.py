"""What a marketplace cannot do is refused before the refund is saved, with the reason, from the
adapter's Capabilities (issue 11, item 8): amounts without units where the platform refunds
whole order items only, shipping and other charges where it refunds items only."""

import pytest

from integrations.registry import adapter_class
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.errors import RefundError
from refunds.models import Refund, RefundEvent
from refunds.services import refund_cancel, refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def _written():
    return (Refund.objects.count(), RefundEvent.objects.count(), OutboundAction.objects.count())


def _order(adapter_key, customer_user):
    customer = factories.CustomerFactory(email="alice@example.com", user=customer_user)
    return factories.make_order(
        customer=customer,
        account=factories.AccountFactory(adapter_key=adapter_key),
        additional="2.00",
    )


def test_each_platform_declares_partial_amounts_and_charges():
    declared = {
        key: (
            adapter_class(key).capabilities.partial_amount_refund,
            adapter_class(key).capabilities.shipping_refund,
            adapter_class(key).capabilities.additional_charges_refund,
        )
        for key in ("hepsiglobal", "noventiq", "llzw", "shoplazza")
    }
    assert declared == {
        "hepsiglobal": (False, False, False),
        "noventiq": (False, False, False),  # order items only ("Product refund")
        "llzw": (True, True, True),
        "shoplazza": (True, True, True),
    }


@pytest.mark.parametrize(
    ("adapter_key", "label"),
    [("hepsiglobal", "HepsiGlobal"), ("noventiq", "Noventiq Checkout")],
)
@pytest.mark.parametrize("who", ["customer", "staff"])
def test_amount_only_refund_is_refused_where_only_whole_units_are_refunded(
    adapter_key, label, who, customer_user, agent
):
    order = _order(adapter_key, customer_user)
    actor = customer_user if who == "customer" else agent

    with pytest.raises(RefundError) as exc_info:
        refund_request(
            actor=actor, order=order, reason_code="damaged", refund_only=True, amount="5.00"
        )

    assert exc_info.value.message == (
        f"{label} refunds whole units of order items only, not an amount: choose the items and "
        "how many units to refund"
    )
    assert (exc_info.value.field, exc_info.value.code) == ("amount", "unsupported")
    assert _written() == (0, 0, 0)


def test_a_line_amount_without_units_is_refused_on_hepsiglobal(customer_user, agent):
    order = _order("hepsiglobal", customer_user)
    line = order.lines.get()
    with pytest.raises(RefundError) as exc_info:
        refund_request(
            actor=agent,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=line.pk, quantity=0, amount="3.00")],
        )
    assert exc_info.value.field == "lines"
    assert exc_info.value.message.startswith("HepsiGlobal refunds whole units of order items")
    assert _written() == (0, 0, 0)


@pytest.mark.parametrize(
    ("field", "message"),
    [
        (
            "shipping_amount",
            "HepsiGlobal cannot refund shipping: refund it outside HepsiGlobal and leave "
            "shipping at 0",
        ),
        (
            "additional_amount",
            "HepsiGlobal cannot refund additional charges: refund them outside HepsiGlobal and "
            "leave them at 0",
        ),
    ],
)
def test_charges_are_refused_where_the_platform_refunds_items_only(
    field, message, customer_user, agent
):
    order = _order("hepsiglobal", customer_user)
    line = order.lines.get()
    with pytest.raises(RefundError) as exc_info:
        refund_request(
            actor=agent,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
            **{field: "1.00"},
        )
    assert (exc_info.value.message, exc_info.value.field) == (message, field)
    assert _written() == (0, 0, 0)


def test_only_noventiq_refunds_an_item_with_all_its_units_or_not_at_all():
    """Noventiq "Product refund": "3 out of 5 -> a full refund of all the units of this item"."""
    declared = {
        key: adapter_class(key).capabilities.partial_line_quantity
        for key in ("hepsiglobal", "noventiq", "llzw", "shoplazza")
    }
    assert declared == {"hepsiglobal": True, "noventiq": False, "llzw": True, "shoplazza": True}


@pytest.mark.parametrize("who", ["customer", "staff"])
def test_some_units_of_a_noventiq_item_are_refused_and_nothing_is_saved(who, customer_user, agent):
    order = _order("noventiq", customer_user)
    line = order.lines.get()  # 2 units
    actor = customer_user if who == "customer" else agent

    with pytest.raises(RefundError) as exc_info:
        refund_request(
            actor=actor,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        )

    assert exc_info.value.message == (
        "Noventiq Checkout refunds an order item with all its units or not at all: refund all 2 "
        "units of this item, or leave it out"
    )
    assert (exc_info.value.field, exc_info.value.code) == ("lines", "unsupported")
    assert _written() == (0, 0, 0)


def test_every_unit_of_a_noventiq_item_is_accepted(customer_user, agent):
    order = _order("noventiq", customer_user)
    line = order.lines.get()

    refund = refund_request(
        actor=agent,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=2)],
    )

    assert list(refund.lines.values_list("order_line_id", "quantity")) == [(line.pk, 2)]
    assert str(refund.total) == "20.00"


def _held_by_the_platform(adapter_key, customer_user):
    """A REQUESTED refund the marketplace already holds (it reported it: an external id)."""
    order = _order(adapter_key, customer_user)
    return refund_request(
        actor=None,
        order=order,
        reason_code="out_of_stock",
        refund_only=True,
        lines=[LineChoice(order_line_id=order.lines.get().pk, quantity=2)],
        via="test",
        external_id="EXT-9",
    )


def test_a_refund_the_platform_holds_is_not_cancelled_where_it_has_no_cancel(customer_user, agent):
    refund = _held_by_the_platform("hepsiglobal", customer_user)
    before = _written()

    with pytest.raises(RefundError) as refused:
        refund_cancel(actor=agent, refund=refund)

    assert (refused.value.code, refused.value.message) == (
        "unsupported",
        "HepsiGlobal refunds cannot be cancelled once the marketplace has them; deny it instead "
        "if it must not be paid",
    )
    assert _written() == before
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"


def test_a_refund_the_platform_holds_is_cancelled_where_it_has_a_cancel(customer_user, agent):
    refund = _held_by_the_platform("llzw", customer_user)

    refund = refund_cancel(actor=agent, refund=refund)

    assert refund.status == "CANCELLED"
    assert OutboundAction.objects.get(refund=refund).kind == "cancel_refund"
