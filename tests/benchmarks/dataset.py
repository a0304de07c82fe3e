"""Build the large benchmark data set with PostgreSQL COPY (not the ORM one row at a time):
`scale` orders (100,000 for make bench-quick, 1,000,000 for make bench) with three lines each and
one refund each, across the four marketplaces."""

from __future__ import annotations

import datetime as dt
import random
import time
from array import array
from decimal import Decimal

from django.db import connection

from orders.models import Customer, MarketplaceAccount, Order, OrderLine, PaymentLine
from refunds.models import Refund, RefundLine

STATUSES = ["REQUESTED", "WAITING", "PROCESSING", "ISSUED", "DENIED", "CANCELLED"]
REASONS = ["damaged", "defective", "incorrect_order", "changed_mind", "not_as_described"]
CATEGORIES = ["Electronics", "Home", "Clothing"]  # OrderLine.category (no default in the table)
SHIPPING = Decimal("4.99")
LINE_COLUMNS = [
    "id",
    "order_id",
    "external_id",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "discount",
    "tax",
    "fulfilled_quantity",
    "cancelled_quantity",
    "category",
]
ORDER_COLUMNS = [
    "id",
    "account_id",
    "external_number",
    "customer_id",
    "status",
    "currency",
    "placed_at",
    "paid_at",
    "items_total",
    "shipping_total",
    "tip_total",
    "additional_total",
    "grand_total",
    "created_at",
    "updated_at",
]


def _copy(table: str, columns: list[str], rows) -> None:
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


SCALE = 100_000  # make bench-quick; make bench sets BENCH_SCALE=1000000


def build(*, scale: int = SCALE, lines_per_order: int = 3, seed: int = 7) -> dict:
    """`scale` orders, each with `lines_per_order` lines and one refund, and one customer per
    five orders. Rows are generated while COPY streams them (nothing but a few numbers per order
    is held in memory), so the 1,000,000-order set fits the machine as the 100,000 one does."""
    orders = refunds = scale
    customers = max(1, scale // 5)
    rng_orders, rng_refunds = random.Random(seed + 1), random.Random(seed + 2)
    started = time.perf_counter()
    accounts = []
    for key in ("hepsiglobal", "noventiq", "llzw", "shoplazza"):
        account, _ = MarketplaceAccount.objects.get_or_create(
            name=f"Bench {key}",
            defaults={
                "adapter_key": key,
                "base_url": f"http://127.0.0.1:9/{key}",
                "webhook_secret": "bench-secret",
            },
        )
        accounts.append(account.pk)
    now = dt.datetime.now(dt.UTC)
    base_customer = (Customer.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    _copy(
        Customer._meta.db_table,
        ["id", "email", "name"],
        (
            (base_customer + i, f"bench{i}@example.com", f"Bench Customer {i}")
            for i in range(customers)
        ),
    )
    base_order = (Order.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    base_line = (OrderLine.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    # Per order: the items total and its first line's quantity and amount, in cents.
    items_cents = array("q", bytes(8 * orders))
    first_qty = array("b", bytes(orders))
    first_cents = array("q", bytes(8 * orders))

    def line_draws():
        """The random part of every line, the same sequence each time it is called."""
        rng = random.Random(seed)
        for i in range(orders):
            for j in range(lines_per_order):
                yield i, j, rng.randint(1, 4), rng.randint(500, 20000), rng.randint(1, 5000)

    # The lines reference the orders and the orders carry the lines' totals: one pass over the
    # draws for the totals, then the orders, then the same draws again for the lines.
    for i, j, qty, price, _sku in line_draws():
        items_cents[i] += price * qty
        if j == 0:
            first_qty[i], first_cents[i] = qty, price * qty

    def line_rows():
        for n, (i, j, qty, price, sku) in enumerate(line_draws()):
            yield (
                base_line + n,
                base_order + i,
                f"B{i}-L{j}",
                f"SKU-{sku}",
                "Bench product",
                qty,
                Decimal(price) / 100,
                Decimal("0.00"),
                Decimal("0.00"),
                0,
                0,
                CATEGORIES[j % len(CATEGORIES)],
            )

    def order_rows():
        for i in range(orders):
            placed = now - dt.timedelta(minutes=rng_orders.randint(0, 60 * 24 * 90))
            items = Decimal(items_cents[i]) / 100
            yield (
                base_order + i,
                accounts[i % 4],
                f"BENCH-{i:07d}",
                base_customer + rng_orders.randrange(customers),
                "paid",
                "USD",
                placed,
                placed,
                items,
                SHIPPING,
                Decimal(0),
                Decimal(0),
                items + SHIPPING,
                placed,
                placed,
            )

    _copy(Order._meta.db_table, ORDER_COLUMNS, order_rows())
    _copy(OrderLine._meta.db_table, LINE_COLUMNS, line_rows())
    _copy(
        PaymentLine._meta.db_table,
        ["order_id", "external_id", "method", "amount"],
        (
            (base_order + i, f"BENCH-{i}-P1", "card", Decimal(items_cents[i]) / 100 + SHIPPING)
            for i in range(orders)
        ),
    )
    base_refund = (Refund.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1

    def refund_rows():
        for k in range(refunds):
            i = k % orders
            amount = Decimal(first_cents[i]) / 100
            status = STATUSES[rng_refunds.randrange(len(STATUSES))]
            created = now - dt.timedelta(minutes=rng_refunds.randint(0, 60 * 24 * 60))
            yield (
                base_refund + k,
                base_order + i,
                status,
                "customer",
                "",
                "portal",
                REASONS[k % len(REASONS)],
                "",
                "",
                k % 2 == 0,
                False,
                f"TRK{k:08d}" if k % 3 == 0 else "",
                "",
                amount,
                Decimal(0),
                Decimal(0),
                amount,
                "USD",
                created,
                created,
                True,
                "",
                "",
                False,
                "",
                False,
                False,
                "",
            )

    _copy(
        Refund._meta.db_table,
        [
            "id",
            "order_id",
            "status",
            "requester_role",
            "requester_name",
            "source",
            "reason_code",
            "customer_explanation",
            "response_reason",
            "refund_only",
            "covers_cancellation",
            "return_tracking_id",
            "return_carrier",
            "lines_amount",
            "shipping_amount",
            "additional_amount",
            "total",
            "currency",
            "created_at",
            "updated_at",
            "is_valid",
            "external_id",
            "external_request_id",
            "needs_attention",
            "attention_message",
            "outcome_unknown",
            "has_drift",
            "drift_note",
        ],
        refund_rows(),
    )
    _copy(
        RefundLine._meta.db_table,
        ["refund_id", "order_line_id", "quantity", "amount", "restock", "received_quantity"],
        (
            (
                base_refund + k,
                base_line + (k % orders) * lines_per_order,
                first_qty[k % orders],
                Decimal(first_cents[k % orders]) / 100,
                False,
                0,
            )
            for k in range(refunds)
        ),
    )
    with connection.cursor() as cursor:
        for model in (Customer, Order, OrderLine, PaymentLine, Refund, RefundLine):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT MAX(id) FROM {table}))"
            )
            cursor.execute(f"VACUUM ANALYZE {table}")  # what autovacuum does after a bulk load
    return {
        "orders": orders,
        "lines": orders * lines_per_order,
        "refunds": refunds,
        "customers": customers,
        "seconds": time.perf_counter() - started,
    }
