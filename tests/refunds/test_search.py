"""Partial, case-insensitive search: orders_matching (the Orders page) and search_refunds (queue,
CSV export, admin and API)."""

import pytest

from refunds.filters import orders_matching
from tests import factories


@pytest.fixture
def orders(db):
    alice = factories.CustomerFactory(email="alice@example.com", name="Alice Smith")
    bob = factories.CustomerFactory(email="bob@shop.test", name="Bob Alison")
    carol = factories.CustomerFactory(email="carol@shop.test", name="Carol Jones")
    return {
        "alice": factories.make_order(customer=alice, external_number="NQ-1031"),
        "bob": factories.make_order(customer=bob, external_number="LZ-2040"),
        "carol": factories.make_order(customer=carol, external_number="NQ-5500"),
    }


def _numbers(queryset):
    return sorted(o.external_number for o in queryset)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("nq-103", ["NQ-1031"]),  # part of the order number, other case
        ("1031", ["NQ-1031"]),
        ("NQ", ["NQ-1031", "NQ-5500"]),
        ("ALICE@", ["NQ-1031"]),  # part of the e-mail
        ("shop.test", ["LZ-2040", "NQ-5500"]),
        ("ali", ["LZ-2040", "NQ-1031"]),  # alice@… and Bob Alison by name
        ("jones", ["NQ-5500"]),
        ("  carol  ", ["NQ-5500"]),
        ("nobody", []),
        ("100%", []),  # a wildcard typed is a character, not "anything"
        ("_", []),
    ],
)
def test_orders_matching_partial_any_case(orders, term, expected):
    assert _numbers(orders_matching(term)) == expected


@pytest.mark.django_db
def test_orders_matching_empty_value_keeps_the_queryset(orders):
    assert _numbers(orders_matching("")) == ["LZ-2040", "NQ-1031", "NQ-5500"]
    assert _numbers(orders_matching(None)) == ["LZ-2040", "NQ-1031", "NQ-5500"]
    only_nq = orders_matching("", queryset=orders_matching("nq"))
    assert _numbers(only_nq) == ["NQ-1031", "NQ-5500"]
    assert _numbers(orders_matching("alice", queryset=orders_matching("nq"))) == ["NQ-1031"]


@pytest.mark.django_db
def test_orders_matching_lists_an_order_once_when_several_fields_match(db):
    customer = factories.CustomerFactory(email="nq@example.com", name="NQ Buyer")
    factories.make_order(customer=customer, external_number="NQ-1")
    assert _numbers(orders_matching("nq")) == ["NQ-1"]


@pytest.fixture
def refunds(orders, agent):
    from refunds.calculator import LineChoice
    from refunds.models import Refund
    from refunds.services import refund_request

    made = {}
    for key, order in orders.items():
        line = order.lines.order_by("id").first()
        made[key] = refund_request(
            actor=agent,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        )
    # Set the way the marketplace results and the return shipment set them.
    Refund.objects.filter(pk=made["bob"].pk).update(
        return_tracking_id="1Z999AA10123456784", external_id="hg-rf-77821"
    )
    return made


def _found(term, refunds):
    from refunds.filters import search_refunds
    from refunds.models import Refund

    names = {r.pk: key for key, r in refunds.items()}
    return sorted(
        names[pk] for pk in search_refunds(Refund.objects.all(), term).values_list("pk", flat=True)
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("alice", ["alice"]),
        ("ali", ["alice", "bob"]),  # alice@… by e-mail and Bob Alison by name
        ("ALICE SMITH", ["alice"]),
        ("nq-103", ["alice"]),
        ("1031", ["alice"]),
        ("lz-2", ["bob"]),
        ("shop.test", ["bob", "carol"]),
        ("a10123", ["bob"]),  # part of the return tracking id
        ("RF-778", ["bob"]),  # part of the marketplace's refund id, other case
        ("nobody", []),
        ("%", []),
        ("", ["alice", "bob", "carol"]),
    ],
)
def test_search_refunds_partial_any_case(refunds, term, expected):
    assert _found(term, refunds) == expected


@pytest.mark.django_db
def test_search_refunds_by_refund_number(refunds):
    carol = refunds["carol"]
    for term in (str(carol.pk), f"RD-{carol.pk}", f"rd-{carol.pk}", f"#{carol.pk}"):
        assert "carol" in _found(term, refunds), term
    assert _found("RD-999999999", refunds) == []


@pytest.mark.django_db
def test_search_refunds_keeps_other_filters_and_lists_each_refund_once(refunds):
    from refunds.filters import search_refunds
    from refunds.models import Refund

    # "nq" matches Alice's order by number and carol's too; Alice's also by nothing else.
    base = Refund.objects.filter(pk__in=[refunds["alice"].pk, refunds["bob"].pk])
    found = list(search_refunds(base, "nq").values_list("pk", flat=True))
    assert found == [refunds["alice"].pk]
    # An order matching on several fields still lists its refund once.
    assert (
        list(search_refunds(Refund.objects.all(), "a").values_list("pk", flat=True)).count(
            refunds["alice"].pk
        )
        == 1
    )
