"""`manage.py import_orders FILE.json` and the upsert service behind it."""

import copy
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from orders.errors import OrderError
from orders.models import Customer, Order, OrderLine, PaymentLine
from orders.services import order_upsert
from tests import factories

ORDER = {
    "account": "LLZW test",
    "external_number": "LZ-1001",
    "customer": {"email": "Alice@Example.com", "name": "Alice"},
    "status": "paid",
    "currency": "USD",
    "placed_at": "2026-11-01T10:00:00+00:00",
    "paid_at": "2026-11-01T10:01:00+00:00",
    "shipping_total": "5.00",
    "grand_total": "53.49",
    "lines": [
        {
            "external_id": "L1",
            "sku": "SKU-1",
            "name": "Mug",
            "quantity": 2,
            "unit_price": "20.00",
            "discount": "1.00",
            "tax": "0.00",
        },
        {
            "external_id": "L2",
            "sku": "SKU-2",
            "name": "Tea",
            "quantity": 1,
            "unit_price": "9.49",
            "tax": "0.00",
        },
    ],
    "payments": [
        {"external_id": "P1", "method": "card", "amount": "50.00"},
        {"external_id": "P2", "method": "gift_card", "amount": "3.49"},
    ],
}


@pytest.fixture
def account(db):
    return factories.AccountFactory(name="LLZW test")


def _state():
    return (
        list(Order.objects.order_by("id").values()),
        list(OrderLine.objects.order_by("id").values()),
        list(PaymentLine.objects.order_by("id").values()),
        list(Customer.objects.order_by("id").values()),
    )


def _write(tmp_path, data, name="orders.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_import_creates_order_lines_payments_and_customer(account, tmp_path, capsys):
    call_command("import_orders", str(_write(tmp_path, [ORDER])))
    assert capsys.readouterr().out.strip().startswith("Imported 1 order(s) from")
    order = Order.objects.get()
    assert (order.account, order.external_number, order.status, order.currency) == (
        account,
        "LZ-1001",
        "paid",
        "USD",
    )
    assert order.customer.email == "alice@example.com"
    assert order.customer.name == "Alice"
    assert (order.items_total, order.shipping_total, order.grand_total) == (
        Decimal("48.49"),
        Decimal("5.00"),
        Decimal("53.49"),
    )
    assert [(li.sku, li.quantity, li.paid_amount) for li in order.lines.all()] == [
        ("SKU-1", 2, Decimal("39.00")),
        ("SKU-2", 1, Decimal("9.49")),
    ]
    assert [(p.method, p.amount) for p in order.payments.all()] == [
        ("card", Decimal("50.00")),
        ("gift_card", Decimal("3.49")),
    ]


def test_import_twice_updates_and_never_duplicates(account, tmp_path):
    path = _write(tmp_path, ORDER)
    call_command("import_orders", str(path))
    first = _state()
    call_command("import_orders", str(path))
    assert Order.objects.count() == 1
    assert OrderLine.objects.count() == 2
    assert PaymentLine.objects.count() == 2
    # Nothing but updated_at moves on a repeat.
    second = _state()
    for row in (*first[0], *second[0]):
        row.pop("updated_at")
    assert second == first

    changed = copy.deepcopy(ORDER)
    changed["status"] = "fulfilled"
    changed["lines"][1]["fulfilled_quantity"] = 1
    call_command("import_orders", str(_write(tmp_path, changed, "changed.json")))
    order = Order.objects.get()
    assert order.status == "fulfilled"
    assert order.lines.get(external_id="L2").fulfilled_quantity == 1
    assert Order.objects.count() == 1


def test_removed_line_is_deleted_unless_refunded(account):
    order = order_upsert(data=ORDER)
    smaller = copy.deepcopy(ORDER)
    smaller["lines"] = smaller["lines"][:1]
    smaller["grand_total"] = "44.00"
    smaller["payments"] = [{"external_id": "P1", "method": "card", "amount": "44.00"}]
    order_upsert(data=smaller)
    assert list(order.lines.values_list("external_id", flat=True)) == ["L1"]
    assert list(order.payments.values_list("external_id", flat=True)) == ["P1"]


def test_same_number_on_two_accounts_are_two_orders(account):
    factories.AccountFactory(name="Other shop")
    order_upsert(data=ORDER)
    order_upsert(data={**ORDER, "account": "Other shop"})
    assert Order.objects.filter(external_number="LZ-1001").count() == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"account": "Nope"}, "account: no marketplace account with that name or id"),
        ({"currency": "US"}, "currency: must be a three-letter ISO 4217 code"),
        (
            {"currency": "KWD"},
            "currency: KWD has 3 decimals; Refund Desk keeps amounts to 2 and cannot hold KWD "
            "orders",
        ),
        ({"status": "shipped"}, "status: must be one of pending, paid, fulfilled, cancelled"),
        ({"customer": None}, "customer: an object with email and name is required"),
        ({"customer": {"email": "nobody"}}, "customer.email: is not an e-mail address"),
        ({"lines": []}, "lines: at least one order line is required"),
        (
            {"placed_at": "yesterday"},
            "placed_at: 'yesterday' is not an ISO-8601 date and time with an offset",
        ),
        (
            {"placed_at": "2026-13-45T10:00:00+00:00"},
            "placed_at: '2026-13-45T10:00:00+00:00' "
            "is not an ISO-8601 date and time with an offset",
        ),
        (
            {"placed_at": "2026-11-01T10:00:00"},
            "placed_at: '2026-11-01T10:00:00' is not an ISO-8601 date and time with an offset",
        ),
        (
            {"grand_total": "50.00"},
            "grand_total: 50.00 USD does not equal lines + shipping + tip + additional charges "
            "(53.49 USD)",
        ),
        ({"shipping_total": "5.001"}, "shipping_total: 5.001 has more decimals than USD allows"),
        ({"shipping_total": "-1"}, "shipping_total: must be a non-negative amount, got -1"),
        ({"shipping_total": "NaN"}, "shipping_total: must be a non-negative amount, got NaN"),
        ({"shipping_total": "1e20"}, "shipping_total: 1e20 is too large"),
        ({"shipping_total": "lots"}, "shipping_total: 'lots' is not an amount"),
        (
            {"payments": [{"external_id": "P1", "method": "card", "amount": "1.00"}]},
            "payments: they add up to 1.00 USD, the order total is 53.49 USD",
        ),
        ({"payments": "card"}, "payments: must be a list"),
    ],
)
def test_bad_order_is_refused_and_writes_nothing(account, change, message):
    before = _state()
    with pytest.raises(OrderError) as exc_info:
        order_upsert(data={**ORDER, **change})
    assert exc_info.value.message == message
    assert _state() == before


@pytest.mark.parametrize(
    ("line_change", "message"),
    [
        ({"quantity": 0}, "lines[0].quantity: must be at least 1"),
        ({"quantity": 1.5}, "lines[0].quantity: must be a whole number"),
        ({"quantity": True}, "lines[0].quantity: must be a whole number"),
        ({"quantity": 10**12}, "lines[0].quantity: 1000000000000 is too large"),
        ({"external_id": "L2"}, "lines[1].external_id: L2 appears twice"),
        ({"discount": "41.00"}, "lines[0].discount: larger than the line's price"),
        ({"cancelled_quantity": 3}, "lines[0]: fulfilled and cancelled quantities cannot exceed 2"),
        ({"sku": ""}, "lines[0].sku: is required"),
    ],
)
def test_bad_line_is_refused(account, line_change, message):
    data = copy.deepcopy(ORDER)
    data["lines"][0].update(line_change)
    data.pop("grand_total")
    data.pop("payments")
    with pytest.raises(OrderError) as exc_info:
        order_upsert(data=data)
    assert exc_info.value.message == message
    assert Order.objects.count() == 0


def test_bad_order_late_in_a_file_imports_nothing(account, tmp_path):
    second = {**ORDER, "external_number": "LZ-1002", "currency": "EURO"}
    path = _write(tmp_path, [ORDER, second])
    with pytest.raises(CommandError) as exc_info:
        call_command("import_orders", str(path))
    assert str(exc_info.value) == (
        f"Order #2 in {path}: currency: at most 3 characters. Nothing was imported."
    )
    assert _state() == ([], [], [], [])


def test_unreadable_files_give_a_command_error(account, tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.json: No such file"):
        call_command("import_orders", str(missing))
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(CommandError, match=r"broken\.json is not valid JSON"):
        call_command("import_orders", str(broken))
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CommandError, match=r"binary\.json is not UTF-8 text"):
        call_command("import_orders", str(binary))
    scalar = _write(tmp_path, "hello", "scalar.json")
    with pytest.raises(CommandError, match="Each order must be a JSON object"):
        call_command("import_orders", str(scalar))
    assert _state() == ([], [], [], [])


def test_currency_of_an_order_with_refunds_cannot_change(account, agent):
    from refunds.services import refund_request

    order = order_upsert(data=ORDER)
    refund_request(actor=agent, order=order, reason_code="other", refund_only=True, amount="5.00")
    before = _state()
    with pytest.raises(OrderError, match="cannot change the currency of an order with refunds"):
        order_upsert(data={**ORDER, "currency": "EUR"})
    assert _state() == before


def test_refunded_line_cannot_be_removed(account, agent):
    from refunds.calculator import LineChoice
    from refunds.services import refund_request

    order = order_upsert(data=ORDER)
    line = order.lines.get(external_id="L2")
    refund_request(
        actor=agent,
        order=order,
        reason_code="other",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )
    smaller = copy.deepcopy(ORDER)
    smaller["lines"] = smaller["lines"][:1]
    smaller["grand_total"] = "44.00"
    smaller["payments"] = [{"external_id": "P1", "method": "card", "amount": "44.00"}]
    before = _state()
    with pytest.raises(OrderError, match="lines: line L2 has refunds and cannot be removed"):
        order_upsert(data=smaller)
    assert _state() == before


def _refunded_for_alice(agent):
    """ORDER imported for Alice (a portal user) with one refund on it."""
    from refunds.services import refund_request

    order = order_upsert(data=ORDER)
    alice = factories.UserFactory(username="alice@example.com")
    Customer.objects.filter(email="alice@example.com").update(user=alice)
    refund = refund_request(
        actor=agent, order=order, reason_code="other", refund_only=True, amount="5.00"
    )
    return alice, refund


def test_reimport_with_another_customer_is_refused_and_moves_nothing(account, agent):
    from refunds.models import Refund, RefundEvent
    from refunds.selectors import refunds_for_customer

    alice, refund = _refunded_for_alice(agent)
    mallory = factories.UserFactory(username="mallory@example.com")
    factories.CustomerFactory(email="mallory@example.com", user=mallory)
    before = (_state(), list(Refund.objects.values()), list(RefundEvent.objects.values()))
    moved = {**ORDER, "status": "fulfilled", "customer": {"email": "Mallory@Example.com"}}

    with pytest.raises(OrderError) as exc_info:
        order_upsert(data=moved)

    assert exc_info.value.message == (
        "customer.email: order LZ-1001 of LLZW test belongs to alice@example.com; an import "
        "cannot give it to mallory@example.com. Correct the customer's e-mail in the file"
    )
    assert exc_info.value.field == "customer.email"
    assert (_state(), list(Refund.objects.values()), list(RefundEvent.objects.values())) == before
    assert Order.objects.get().customer.email == "alice@example.com"
    assert list(refunds_for_customer(mallory)) == []
    assert [r.pk for r in refunds_for_customer(alice)] == [refund.pk]


def test_reimport_with_another_customer_in_a_file_imports_nothing(account, agent, tmp_path):
    _refunded_for_alice(agent)
    before = _state()
    new_order = {**ORDER, "external_number": "LZ-1002"}
    moved = {**ORDER, "customer": {"email": "mallory@example.com", "name": "Mallory"}}
    path = _write(tmp_path, [new_order, moved])

    with pytest.raises(CommandError) as exc_info:
        call_command("import_orders", str(path))

    assert str(exc_info.value) == (
        f"Order #2 in {path}: customer.email: order LZ-1001 of LLZW test belongs to "
        "alice@example.com; an import cannot give it to mallory@example.com. Correct the "
        "customer's e-mail in the file. Nothing was imported."
    )
    assert _state() == before


def test_delivery_and_fulfilment_dates_and_line_categories_are_kept_when_not_sent(account):
    data = copy.deepcopy(ORDER)
    data["fulfilled_at"] = "2026-11-02T09:00:00+00:00"
    data["delivered_at"] = "2026-11-04T15:30:00+01:00"
    data["lines"][0]["category"] = "Kitchen"
    order = order_upsert(data=data)
    assert order.fulfilled_at.isoformat() == "2026-11-02T09:00:00+00:00"
    assert order.delivered_at.isoformat() == "2026-11-04T15:30:00+01:00"
    assert order.lines.get(external_id="L1").category == "Kitchen"
    assert order.lines.get(external_id="L2").category == ""

    order = order_upsert(data=copy.deepcopy(ORDER))  # a platform that reports neither
    order.refresh_from_db()
    assert order.delivered_at is not None
    assert order.fulfilled_at is not None
    assert order.lines.get(external_id="L1").category == "Kitchen"

    data = copy.deepcopy(ORDER)
    data["delivered_at"] = None
    assert order_upsert(data=data).delivered_at is None

    data["delivered_at"] = "yesterday"
    with pytest.raises(OrderError, match="delivered_at: 'yesterday' is not an ISO-8601"):
        order_upsert(data=data)
