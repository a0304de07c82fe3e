"""refunds/policy.py: which order lines a customer can return under the account's return policy,
why not in the customer's words, and which reasons need an explanation or a photo."""

import datetime as dt

import pytest
from django.utils import timezone

from orders.models import ReturnPolicy
from refunds import policy
from refunds.errors import RefundError
from tests import factories

pytestmark = pytest.mark.django_db

NOON = dt.time(12, 0)


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, NOON))


def _order(**dates):
    order = factories.make_order(lines=((1, "10.00", "0", "0"), (2, "5.00", "0", "0")))
    for key, value in dates.items():
        setattr(order, key, value)
    order.save()
    return order


def _one(order, today, **policy_fields):
    if policy_fields:
        ReturnPolicy.objects.create(account=order.account, **policy_fields)
        order.account.refresh_from_db()
    line = order.lines.first()
    return policy.line_eligibility(
        line, order=order, policy=policy.policy_for(order.account), today=today
    )


def test_without_a_policy_every_line_is_returnable_at_any_time():
    order = _order(delivered_at=_at(dt.date(2020, 1, 1)))
    eligibility = _one(order, dt.date(2026, 12, 7))
    assert eligibility == policy.LineEligibility(order.lines.first().pk, True)
    assert eligibility.note == ""


def test_the_window_counts_from_delivery_and_includes_its_last_day():
    order = _order(delivered_at=_at(dt.date(2026, 10, 3)), fulfilled_at=_at(dt.date(2026, 9, 1)))
    last_day = _one(order, dt.date(2026, 11, 2), window_days=30)
    assert last_day.is_returnable
    assert last_day.returnable_until == dt.date(2026, 11, 2)
    assert last_day.note == "Returnable until 2 Nov 2026."

    day_after = _one(order, dt.date(2026, 11, 3))
    assert not day_after.is_returnable
    assert day_after.code == policy.WINDOW_CLOSED
    assert (
        day_after.reason == "Returns for this order closed on 2 Nov 2026, 30 days after delivery."
    )
    assert day_after.note == day_after.reason


def test_without_a_delivery_date_the_window_counts_from_fulfilment():
    order = _order(fulfilled_at=_at(dt.date(2026, 10, 1)))
    closed = _one(order, dt.date(2026, 10, 16), window_days=14)
    assert (
        closed.reason == "Returns for this order closed on 15 Oct 2026, 14 days after it was sent."
    )


def test_without_delivery_or_fulfilment_the_window_counts_from_payment_then_placing():
    paid = _order(paid_at=_at(dt.date(2026, 10, 1)), placed_at=_at(dt.date(2026, 9, 30)))
    assert policy.window_start(paid) == policy.WindowStart(paid.paid_at, "payment")
    assert _one(paid, dt.date(2026, 10, 9), window_days=7).reason == (
        "Returns for this order closed on 8 Oct 2026, 7 days after payment."
    )
    unpaid = _order(paid_at=None, placed_at=_at(dt.date(2026, 9, 30)))
    assert policy.window_start(unpaid) == policy.WindowStart(unpaid.placed_at, "order")


def test_a_final_sale_sku_or_category_cannot_be_returned_even_inside_the_window():
    order = _order(delivered_at=timezone.now())
    first, second = order.lines.order_by("id")
    second.category = "Underwear"
    second.save()
    ReturnPolicy.objects.create(
        account=order.account,
        window_days=30,
        non_returnable_skus=f"  {first.sku.lower()}  \n\nOTHER-SKU",
        non_returnable_categories="underwear\n",
    )
    order.account.refresh_from_db()
    eligibility = policy.order_eligibility(order)
    assert eligibility[first.pk] == policy.LineEligibility(
        first.pk, False, "This item cannot be returned (final sale).", policy.FINAL_SALE_SKU
    )
    assert eligibility[second.pk].reason == (
        "This item cannot be returned: Underwear items are final sale."
    )
    assert eligibility[second.pk].code == policy.FINAL_SALE_CATEGORY
    assert policy.breaches(eligibility, [second.pk, first.pk, second.pk]) == [
        eligibility[second.pk],
        eligibility[first.pk],
    ]


def test_a_policy_with_no_window_has_no_last_day():
    order = _order(delivered_at=_at(dt.date(2020, 1, 1)))
    eligibility = _one(order, dt.date(2026, 12, 7), window_days=None)
    assert eligibility.is_returnable
    assert eligibility.returnable_until is None


def test_reasons_needing_an_explanation_or_a_photo_follow_the_policy_and_its_defaults():
    account = factories.AccountFactory()
    assert policy.reason_needs_explanation(account, "other")
    assert not policy.reason_needs_explanation(account, "damaged")
    # Without a policy no reason needs a photo; a new policy asks for one with "damaged".
    assert not policy.reason_needs_photo(account, "damaged")
    fresh = factories.AccountFactory()
    ReturnPolicy.objects.create(account=fresh)
    fresh.refresh_from_db()
    assert policy.reason_needs_photo(fresh, "damaged")
    assert not policy.reason_needs_photo(fresh, "other")

    ReturnPolicy.objects.create(
        account=account, reasons_needing_explanation=[], reasons_needing_photo=["defective"]
    )
    account.refresh_from_db()
    assert not policy.reason_needs_explanation(account, "other")
    assert policy.reason_needs_photo(account, "defective")
    assert not policy.reason_needs_photo(account, "damaged")


def test_a_reason_that_needs_an_explanation_is_refused_without_one():
    account = factories.AccountFactory()
    with pytest.raises(RefundError) as refused:
        policy.check_explanation(account, "other", "   ")
    assert refused.value.field == "customer_explanation"
    assert refused.value.message == "Tell us what happened: the reason “Other” needs an explanation"
    policy.check_explanation(account, "other", "The box was empty")
    policy.check_explanation(account, "damaged", "")
