import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories

ORDERS = reverse("staff:order-list")


def _refund(order, actor, line_index=0, quantity=1):
    line = list(order.lines.order_by("id"))[line_index]
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=quantity)],
    )


def _numbers(response) -> list[str]:
    return [row["order"].external_number for row in response.context["rows"]]


@pytest.mark.django_db
def test_orders_list_paid_refunded_and_refundable(client, agent, order, customer_user):
    issued = _refund(order, customer_user, line_index=0)  # 10.00
    _refund(order, customer_user, line_index=2)  # 100.00, still requested
    denied = _refund(order, customer_user, line_index=1)
    Refund.objects.filter(pk=issued.pk).update(status="ISSUED", issued_at=timezone.now())
    Refund.objects.filter(pk=denied.pk).update(status="DENIED")
    untouched = factories.make_order(
        customer=factories.CustomerFactory(email="bob@example.com", name="Bob Stone")
    )
    client.force_login(agent)
    response = client.get(ORDERS)
    assert response.status_code == 200
    rows = {row["order"].pk: row for row in response.context["rows"]}
    row = rows[order.pk]
    assert row["order"].grand_total == Decimal("154.47")
    assert row["order"].refunded_total == Decimal("10.00")
    assert row["order"].refund_count == 3
    # The requested refund no longer leaves its 100.00 refundable; the denied one does.
    assert row["refundable"] == Decimal("44.47")
    assert rows[untouched.pk]["order"].refund_count == 0
    assert rows[untouched.pk]["refundable"] == Decimal("25.00")
    body = response.content.decode()
    assert reverse("staff:refund-new", args=[untouched.pk]) in body
    assert '154.47 <span class="cur">USD</span>' in body
    assert f'href="{ORDERS}" aria-current="page">Orders</a>' in body


@pytest.mark.django_db
def test_orders_search_by_fragment_of_number_email_and_name(client, agent):
    alice = factories.CustomerFactory(email="alice@example.com", name="Alice Smith")
    bob = factories.CustomerFactory(email="bob@example.com", name="Bob Stone")
    factories.make_order(customer=alice, external_number="NQ-1031")
    factories.make_order(customer=bob, external_number="NQ-2040")
    factories.make_order(customer=bob, external_number="HG-77")
    client.force_login(agent)
    assert _numbers(client.get(ORDERS, {"q": "nq-103"})) == ["NQ-1031"]
    assert _numbers(client.get(ORDERS, {"q": "ALICE"})) == ["NQ-1031"]
    assert _numbers(client.get(ORDERS, {"q": "stone"})) == ["HG-77", "NQ-2040"]
    response = client.get(ORDERS, {"q": "nothing-like-this"})
    assert _numbers(response) == []
    assert "No orders match “nothing-like-this”." in response.content.decode()


@pytest.mark.django_db
def test_orders_filter_by_marketplace(client, agent):
    hepsi = factories.AccountFactory(name="HepsiGlobal TR", adapter_key="hepsiglobal")
    factories.make_order(account=hepsi, external_number="HG-1")
    factories.make_order(external_number="LZ-1")
    client.force_login(agent)
    assert _numbers(client.get(ORDERS, {"marketplace": "hepsiglobal"})) == ["HG-1"]
    assert _numbers(client.get(ORDERS, {"marketplace": "llzw"})) == ["LZ-1"]


@pytest.mark.django_db
def test_unpaid_and_fully_refunded_orders_offer_no_refund(client, agent, customer_user):
    pending = factories.make_order(status="pending", external_number="PEND-1")
    full = factories.make_order(
        customer=factories.CustomerFactory(user=customer_user),
        lines=((1, "10.00", "0", "0"),),
        shipping="0.00",
        external_number="FULL-1",
    )
    _refund(full, customer_user)
    client.force_login(agent)
    response = client.get(ORDERS)
    rows = {row["order"].external_number: row for row in response.context["rows"]}
    assert rows["PEND-1"]["refundable"] == Decimal("0.00")
    assert rows["FULL-1"]["refundable"] == Decimal("0.00")
    body = response.content.decode()
    assert reverse("staff:refund-new", args=[pending.pk]) not in body
    assert reverse("staff:refund-new", args=[full.pk]) not in body
    assert "Not paid" in body
    assert "Fully refunded" in body


@pytest.mark.django_db
def test_orders_keyset_pages_newest_first(client, agent):
    now = timezone.now()
    made = [
        factories.make_order(external_number=f"P-{i:02d}", placed_at=now - dt.timedelta(hours=i))
        for i in range(30)
    ]
    # Two orders placed at the same moment still page in a stable order (by id).
    Order.objects.filter(pk=made[25].pk).update(placed_at=made[24].placed_at)
    client.force_login(agent)
    first = client.get(ORDERS)
    assert first.context["total"] == 30
    assert len(_numbers(first)) == 25
    assert first.context["newer_cursor"] is None
    older = first.context["older_cursor"]
    second = client.get(ORDERS, {"after": older})
    assert _numbers(first)[-2:] == ["P-23", "P-25"]
    assert _numbers(second) == ["P-24", "P-26", "P-27", "P-28", "P-29"]
    assert second.context["older_cursor"] is None
    back = client.get(ORDERS, {"before": second.context["newer_cursor"]})
    assert _numbers(back) == _numbers(first)
    assert 'rel="next"' in first.content.decode()


@pytest.mark.django_db
def test_orders_page_query_count_is_constant(client, agent, django_assert_num_queries):
    for _ in range(3):
        factories.make_order()
    client.force_login(agent)
    # session, user and its permissions (2), then the page's rows and its capped count.
    with django_assert_num_queries(6):
        client.get(ORDERS)
    for _ in range(5):
        factories.make_order()
    with django_assert_num_queries(6):
        client.get(ORDERS)


@pytest.mark.django_db
def test_orders_page_is_for_staff_only(client, customer_user):
    assert client.get(ORDERS).status_code == 302
    client.force_login(customer_user)
    assert client.get(ORDERS).status_code == 403
