"""Build the large benchmark data set with PostgreSQL COPY (not the ORM one row at a time):
100,000 orders with 300,000 lines and 100,000 refunds across the four marketplaces."""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from django.db import connection

from orders.models import Customer, MarketplaceAccount, Order, OrderLine, PaymentLine
from refunds.models import Refund, RefundLine

STATUSES = ["REQUESTED", "WAITING", "PROCESSING", "ISSUED", "DENIED", "CANCELLED"]
REASONS = ["damaged", "defective", "incorrect_order", "changed_mind", "not_as_described"]
CATEGORIES = ["Electronics", "Home", "Clothing"]  # OrderLine.category (no default in the table)


def _copy(table: str, columns: list[str], rows) -> None:
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def build(
    *,
    orders: int = 100_000,
    lines_per_order: int = 3,
    refunds: int = 100_000,
    customers: int = 20_000,
    seed: int = 7,
) -> dict:
    rng = random.Random(seed)
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
    order_rows, line_rows, payment_rows = [], [], []
    line_id = (OrderLine.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    order_lines: dict[int, list[tuple[int, int, Decimal]]] = {}
    for i in range(orders):
        oid = base_order + i
        placed = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 90))
        items = Decimal(0)
        order_lines[oid] = []
        for j in range(lines_per_order):
            qty = rng.randint(1, 4)
            price = Decimal(rng.randint(500, 20000)) / 100
            line_rows.append(
                (
                    line_id,
                    oid,
                    f"B{i}-L{j}",
                    f"SKU-{rng.randint(1, 5000)}",
                    "Bench product",
                    qty,
                    price,
                    Decimal("0.00"),
                    Decimal("0.00"),
                    0,
                    0,
                    CATEGORIES[j % len(CATEGORIES)],
                )
            )
            order_lines[oid].append((line_id, qty, price * qty))
            items += price * qty
            line_id += 1
        shipping = Decimal("4.99")
        total = items + shipping
        order_rows.append(
            (
                oid,
                accounts[i % 4],
                f"BENCH-{i:07d}",
                base_customer + rng.randrange(customers),
                "paid",
                "USD",
                placed,
                placed,
                items,
                shipping,
                Decimal(0),
                Decimal(0),
                total,
                placed,
                placed,
            )
        )
        payment_rows.append((oid, f"BENCH-{i}-P1", "card", total))
    _copy(
        Order._meta.db_table,
        [
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
        ],
        order_rows,
    )
    _copy(
        OrderLine._meta.db_table,
        [
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
        ],
        line_rows,
    )
    _copy(PaymentLine._meta.db_table, ["order_id", "external_id", "method", "amount"], payment_rows)
    base_refund = (Refund.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    refund_rows, refund_line_rows = [], []
    for k in range(refunds):
        rid = base_refund + k
        oid = base_order + (k % orders)
        lid, qty, amount = order_lines[oid][0]
        status = STATUSES[rng.randrange(len(STATUSES))]
        created = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        refund_rows.append(
            (
                rid,
                oid,
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
        )
        refund_line_rows.append((rid, lid, qty, amount, False, 0))
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
        refund_rows,
    )
    _copy(
        RefundLine._meta.db_table,
        ["refund_id", "order_line_id", "quantity", "amount", "restock", "received_quantity"],
        refund_line_rows,
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
        "lines": len(line_rows),
        "refunds": refunds,
        "customers": customers,
        "seconds": time.perf_counter() - started,
    }
