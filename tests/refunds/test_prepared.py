"""refunds.prepared: the row locks compiled once give what Django's own get() and save() give
(the same fields, related objects, annotations, deferred fields, errors), and after the first
call send the same SQL with a new value and nothing else."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.db.models.signals import post_save, pre_save
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext

from orders.models import Order
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction
from refunds.models import Refund, RefundEvent
from refunds.prepared import STAND_IN, prepared_get, prepared_insert, prepared_update
from refunds.services import refund_approve, refund_request
from tests import factories

pytestmark = pytest.mark.django_db


def _orders(pk):
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "account")
        .filter(pk=pk)
    )


def _actions(pk):
    return (
        OutboundAction.objects.select_for_update(of=("self",))
        .select_related("account")
        .annotate(refund_order_id=F("refund__order_id"))
        .defer("payload", "response")
        .filter(pk=pk)
    )


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _approved(order, customer_user, agent) -> Refund:
    line = order.lines.order_by("id").first()
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    return refund_approve(actor=agent, refund=refund)


def test_an_order_with_its_customer_and_account_as_the_orm_reads_it(order):
    other = factories.make_order(lines=((1, "7.25", "0.00", "0.00"),), currency="JPY")
    for wanted in (order, other):
        got = prepared_get("test.order", Order, _orders, wanted.pk)
        expected = _orders(wanted.pk).get()
        assert _fields(got) == _fields(expected)
        assert isinstance(got.grand_total, Decimal)
        assert isinstance(got.placed_at, dt.datetime)
        assert got.placed_at.tzinfo is not None
        # The select_related objects are there, loaded: no query to reach them.
        with CaptureQueriesContext(connection) as reads:
            assert _fields(got.customer) == _fields(expected.customer)
            assert _fields(got.account) == _fields(expected.account)
        assert len(reads) == 0
        assert got._state.adding is False
        assert got._state.db == "default"


def test_after_the_first_call_one_statement_with_the_new_value(order):
    other = factories.make_order()
    prepared_get("test.order.sql", Order, _orders, order.pk)
    built = []

    def build(pk):
        built.append(pk)
        return _orders(pk)

    with CaptureQueriesContext(connection) as sent:
        got = prepared_get("test.order.sql", Order, build, other.pk)
    assert got.pk == other.pk
    assert got.external_number == other.external_number
    assert built == []  # compiled before: the queryset is not even built again
    assert len(sent) == 1
    sql = sent[0]["sql"]
    assert "FOR UPDATE" in sql.upper()
    assert str(other.pk) in sql
    assert str(STAND_IN) not in sql


def test_annotations_and_deferred_fields_as_the_orm_gives_them(order, customer_user, agent):
    refund = _approved(order, customer_user, agent)
    action = OutboundAction.objects.get(refund=refund)
    got = prepared_get("test.action", OutboundAction, _actions, action.pk)
    assert got.refund_order_id == order.pk
    assert got.get_deferred_fields() == {"payload", "response"}
    assert _fields(got.account) == _fields(order.account)
    assert got.state == action.state
    assert got.idempotency_key == action.idempotency_key
    # A deferred field still loads on demand, as Django's would.
    assert got.payload == action.payload


@pytest.mark.django_db(transaction=True)
def test_a_lock_outside_a_transaction_is_refused_as_django_refuses_it():
    order = factories.make_order()
    with transaction.atomic():
        prepared_get("test.order.autocommit", Order, _orders, order.pk)  # compiled here
    with pytest.raises(TransactionManagementError, match="outside of a transaction"):
        prepared_get("test.order.autocommit", Order, _orders, order.pk)
    with pytest.raises(TransactionManagementError, match="outside of a transaction"):
        _orders(order.pk).get()


def test_no_row_is_django_s_does_not_exist():
    with pytest.raises(Order.DoesNotExist):
        prepared_get("test.order.none", Order, _orders, 987654321)


def test_a_query_that_does_not_take_its_value_exactly_once_is_refused(order):
    with pytest.raises(ValueError, match="once"):
        prepared_get("test.none", Order, lambda pk: Order.objects.filter(pk=order.pk), 1)
    with pytest.raises(ValueError, match="once"):
        prepared_get("test.twice", Order, lambda pk: Order.objects.filter(pk=pk, customer_id=pk), 1)
    with pytest.raises(ValueError, match="a query of"):
        prepared_get("test.model", Refund, _orders, order.pk)


@pytest.mark.django_db(transaction=True)
def test_each_thread_compiles_its_own_and_reads_on_its_own_connection():
    orders = [factories.make_order() for _ in range(3)]
    found: dict[int, str] = {}
    errors: list[BaseException] = []

    def read(order):
        try:
            for _ in range(3):
                with transaction.atomic():
                    got = prepared_get("test.order.threads", Order, _orders, order.pk)
                found[order.pk] = got.external_number
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=read, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert found == {o.pk: o.external_number for o in orders}


def test_an_update_writes_the_fields_and_auto_now_and_nothing_else(order, customer_user, agent):
    refund = _approved(order, customer_user, agent)
    before = Refund.objects.get(pk=refund.pk)
    refund.external_id = "HG-R-1"
    refund.response_reason = "Kept for the record"  # not in the fields: not written
    with CaptureQueriesContext(connection) as sent:
        prepared_update(refund, ["external_id", "updated_at"])
    assert len(sent) == 1
    assert sent[0]["sql"].startswith("UPDATE")
    after = Refund.objects.get(pk=refund.pk)
    assert after.external_id == "HG-R-1"
    assert after.response_reason == before.response_reason
    assert after.updated_at > before.updated_at
    assert refund.updated_at == after.updated_at  # the instance holds what was written


def test_an_update_of_a_row_that_is_gone_fails_as_django_s_save_does(order, customer_user, agent):
    refund = _approved(order, customer_user, agent)
    ghost = Refund.objects.get(pk=refund.pk)
    ghost.pk = 987654321
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        prepared_update(ghost, ["external_id"])
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        ghost.save(update_fields=["external_id"])


def test_an_expression_takes_django_s_own_save(order, customer_user, agent):
    refund = _approved(order, customer_user, agent)
    refund.lines_amount = F("lines_amount") + Decimal("0.00")
    prepared_update(refund, ["lines_amount"])
    refund.refresh_from_db()
    assert refund.lines_amount == Decimal(refund.lines_amount)


def test_an_insert_writes_the_row_as_django_s_create_does(order, customer_user, agent):
    refund = _approved(order, customer_user, agent)
    event = RefundEvent(
        refund=refund,
        actor=agent,
        actor_label="agent",
        action="note",
        from_status=refund.status,
        to_status=refund.status,
        changes={"amount": ["1.00", "2.00"], "nested": {"x": [1, None]}},
        note="A note",
    )
    with CaptureQueriesContext(connection) as sent:
        prepared_insert(event)
    assert len(sent) == 1
    assert sent[0]["sql"].startswith("INSERT")
    assert event.pk is not None
    assert event._state.adding is False
    stored = RefundEvent.objects.get(pk=event.pk)
    assert _fields(stored) == _fields(event)
    assert stored.created_at is not None  # auto_now_add, as Django's insert sets it
    assert stored.changes == {"amount": ["1.00", "2.00"], "nested": {"x": [1, None]}}
    # An event with a pk takes Django's own save, whose append-only rule refuses it.
    with pytest.raises(ValidationError, match="append-only"):
        prepared_insert(stored)


def test_nothing_listens_to_refund_or_event_saves():
    """prepared_update and prepared_insert send no model signals: true to Django only while
    nobody listens."""
    for model in (Refund, RefundEvent):
        assert not pre_save.has_listeners(model)
        assert not post_save.has_listeners(model)
