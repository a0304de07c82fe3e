"""The only writers of orders. `order_upsert` is idempotent: the same external order twice
updates the first copy and never duplicates it. An order keeps its customer: importing it again
with another customer e-mail is refused.

Import format (one object, or a list of them, in `import_orders FILE.json`)::

    {
      "account": "HepsiGlobal demo",          # MarketplaceAccount name (or "account_id": 3)
      "external_number": "HG-1001",
      "customer": {"email": "alice@example.com", "name": "Alice"},
      "status": "paid",                        # pending | paid | fulfilled | cancelled
      "currency": "USD",
      "placed_at": "2026-11-01T10:00:00+00:00",
      "paid_at": "2026-11-01T10:01:00+00:00",  # optional
      "fulfilled_at": "2026-11-02T09:00:00+00:00",  # optional; absent keeps what is stored
      "delivered_at": "2026-11-04T15:30:00+00:00",  # optional; absent keeps what is stored
      "shipping_total": "5.00", "tip_total": "0.00", "additional_total": "0.00",
      "grand_total": "45.00",                  # optional; checked against the parts when given
      "lines": [{"external_id": "L1", "sku": "SKU-1", "name": "Mug", "quantity": 2,
                 "category": "Kitchen",              # optional
                 "unit_price": "20.00", "discount": "0.00", "tax": "0.00",
                 "fulfilled_quantity": 0, "cancelled_quantity": 0}],
      "payments": [{"external_id": "P1", "method": "card", "amount": "45.00"}]
    }
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_datetime

from orders.money import MINOR_UNITS, format_money, quantize

from .errors import OrderError
from .models import (
    MONEY,
    Customer,
    MarketplaceAccount,
    Order,
    OrderLine,
    OrderStatus,
    PaymentLine,
)

# What the columns hold (DecimalField max_digits=14, decimal_places=2; PositiveIntegerField).
MAX_AMOUNT = Decimal(10) ** 12
MAX_QUANTITY = 2_147_483_647


def _decimal(value: Any, field: str, currency: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise OrderError(f"{field}: {value!r} is not an amount", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise OrderError(f"{field}: must be a non-negative amount, got {value}", field=field)
    if amount >= MAX_AMOUNT:
        raise OrderError(f"{field}: {value} is too large", field=field)
    if quantize(amount, currency) != amount:
        raise OrderError(f"{field}: {value} has more decimals than {currency} allows", field=field)
    return amount


def _int(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise OrderError(f"{field}: must be a whole number", field=field)
    try:
        number = int(value)
    except ValueError:
        raise OrderError(f"{field}: {value!r} is not a whole number", field=field) from None
    if number < minimum:
        raise OrderError(f"{field}: must be at least {minimum}", field=field)
    if number > MAX_QUANTITY:
        raise OrderError(f"{field}: {number} is too large", field=field)
    return number


def _when(value: Any, field: str, *, required: bool) -> dt.datetime | None:
    if value in (None, ""):
        if required:
            raise OrderError(f"{field}: is required", field=field)
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible, e.g. month 13
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise OrderError(
            f"{field}: {value!r} is not an ISO-8601 date and time with an offset", field=field
        )
    return parsed


def _text(data: dict, key: str, field: str, *, max_length: int, required: bool = True) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str | int):
        raise OrderError(f"{field}: must be text", field=field)
    value = str(value).strip()
    if required and not value:
        raise OrderError(f"{field}: is required", field=field)
    if len(value) > max_length:
        raise OrderError(f"{field}: at most {max_length} characters", field=field)
    return value


def _account(data: dict) -> MarketplaceAccount:
    if data.get("account_id") is not None:
        account = MarketplaceAccount.objects.filter(
            pk=_int(data["account_id"], "account_id")
        ).first()
    else:
        name = _text(data, "account", "account", max_length=120)
        account = MarketplaceAccount.objects.filter(name=name).first()
    if account is None:
        raise OrderError("account: no marketplace account with that name or id", field="account")
    return account


@transaction.atomic
def order_upsert(*, data: dict) -> Order:
    """Create or update one order from the import format; all or nothing."""
    if not isinstance(data, dict):
        raise OrderError("Each order must be a JSON object")
    account = _account(data)
    number = _text(data, "external_number", "external_number", max_length=100)
    currency = _text(data, "currency", "currency", max_length=3).upper()
    if len(currency) != 3 or not currency.isalpha():
        raise OrderError("currency: must be a three-letter ISO 4217 code", field="currency")
    if MINOR_UNITS.get(currency, 2) > MONEY["decimal_places"]:
        # Amounts are stored to MONEY's decimals: a currency with more (KWD, BHD...) would lose
        # its last digit silently.
        raise OrderError(
            f"currency: {currency} has {MINOR_UNITS[currency]} decimals; Refund Desk keeps "
            f"amounts to {MONEY['decimal_places']} and cannot hold {currency} orders",
            field="currency",
        )
    status = data.get("status", OrderStatus.PAID)
    if status not in OrderStatus.values:
        raise OrderError(f"status: must be one of {', '.join(OrderStatus.values)}", field="status")
    customer_data = data.get("customer")
    if not isinstance(customer_data, dict):
        raise OrderError("customer: an object with email and name is required", field="customer")
    email = _text(customer_data, "email", "customer.email", max_length=254).lower()
    if "@" not in email:
        raise OrderError("customer.email: is not an e-mail address", field="customer.email")
    customer_name = _text(customer_data, "name", "customer.name", max_length=200, required=False)

    lines = data.get("lines")
    if not isinstance(lines, list) or not lines:
        raise OrderError("lines: at least one order line is required", field="lines")
    parsed_lines = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            raise OrderError(f"lines[{i}]: must be an object", field="lines")
        ext = _text(line, "external_id", f"lines[{i}].external_id", max_length=120)
        if ext in seen:
            raise OrderError(f"lines[{i}].external_id: {ext} appears twice", field="lines")
        seen.add(ext)
        quantity = _int(line.get("quantity"), f"lines[{i}].quantity", minimum=1)
        values = {
            "sku": _text(line, "sku", f"lines[{i}].sku", max_length=100),
            "name": _text(line, "name", f"lines[{i}].name", max_length=250),
            "quantity": quantity,
            "unit_price": _decimal(line.get("unit_price"), f"lines[{i}].unit_price", currency),
            "discount": _decimal(line.get("discount", "0"), f"lines[{i}].discount", currency),
            "tax": _decimal(line.get("tax", "0"), f"lines[{i}].tax", currency),
            "fulfilled_quantity": _int(
                line.get("fulfilled_quantity", 0), f"lines[{i}].fulfilled_quantity"
            ),
            "cancelled_quantity": _int(
                line.get("cancelled_quantity", 0), f"lines[{i}].cancelled_quantity"
            ),
        }
        if "category" in line:  # absent keeps what is stored, like the order's dates
            values["category"] = _text(
                line, "category", f"lines[{i}].category", max_length=120, required=False
            )
        if values["fulfilled_quantity"] > quantity or values["cancelled_quantity"] > quantity:
            raise OrderError(
                f"lines[{i}]: fulfilled and cancelled quantities cannot exceed {quantity}",
                field="lines",
            )
        if values["discount"] > values["unit_price"] * quantity:
            raise OrderError(f"lines[{i}].discount: larger than the line's price", field="lines")
        parsed_lines.append((ext, values))

    payments = data.get("payments") or []
    if not isinstance(payments, list):
        raise OrderError("payments: must be a list", field="payments")
    parsed_payments = []
    for i, payment in enumerate(payments):
        if not isinstance(payment, dict):
            raise OrderError(f"payments[{i}]: must be an object", field="payments")
        amount = _decimal(payment.get("amount"), f"payments[{i}].amount", currency)
        if amount <= 0:
            raise OrderError(f"payments[{i}].amount: must be more than zero", field="payments")
        parsed_payments.append(
            (
                _text(payment, "external_id", f"payments[{i}].external_id", max_length=120),
                _text(payment, "method", f"payments[{i}].method", max_length=60),
                amount,
            )
        )

    items_total = sum(
        (v["unit_price"] * v["quantity"] - v["discount"] + v["tax"] for _, v in parsed_lines),
        Decimal("0"),
    )
    shipping = _decimal(data.get("shipping_total", "0"), "shipping_total", currency)
    tip = _decimal(data.get("tip_total", "0"), "tip_total", currency)
    additional = _decimal(data.get("additional_total", "0"), "additional_total", currency)
    grand_total = items_total + shipping + tip + additional
    if grand_total >= MAX_AMOUNT:
        raise OrderError(f"grand_total: {grand_total} is too large", field="grand_total")
    if data.get("grand_total") not in (None, ""):
        given = _decimal(data["grand_total"], "grand_total", currency)
        if given != grand_total:
            raise OrderError(
                f"grand_total: {format_money(given, currency)} does not equal lines + shipping "
                f"+ tip + additional charges ({format_money(grand_total, currency)})",
                field="grand_total",
            )
    paid = sum((p[2] for p in parsed_payments), Decimal("0"))
    if parsed_payments and paid != grand_total:
        raise OrderError(
            f"payments: they add up to {format_money(paid, currency)}, the order total is "
            f"{format_money(grand_total, currency)}",
            field="payments",
        )

    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(account=account, external_number=number)
        .first()
    )
    if order is None:
        customer, _ = Customer.objects.get_or_create(email=email, defaults={"name": customer_name})
    elif order.customer.email.lower() != email:
        # The customer, and whoever logs in as them, sees the order and its refunds: an import
        # never hands them to someone else.
        raise OrderError(
            f"customer.email: order {number} of {account.name} belongs to "
            f"{order.customer.email}; an import cannot give it to {email}. Correct the "
            "customer's e-mail in the file",
            field="customer.email",
        )
    else:
        customer = order.customer
    if customer_name and customer.name != customer_name:
        customer.name = customer_name
        customer.save(update_fields=["name"])

    order_values = {
        "customer": customer,
        "status": status,
        "currency": currency,
        "placed_at": _when(data.get("placed_at"), "placed_at", required=True),
        "paid_at": _when(data.get("paid_at"), "paid_at", required=False),
        "items_total": items_total,
        "shipping_total": shipping,
        "tip_total": tip,
        "additional_total": additional,
        "grand_total": grand_total,
    }
    # A platform that does not report these dates (or an older export) leaves them as they are.
    for key in ("fulfilled_at", "delivered_at"):
        if key in data:
            order_values[key] = _when(data[key], key, required=False)
    if order is None:
        order = Order.objects.create(account=account, external_number=number, **order_values)
    else:
        if order.currency != currency and order.refunds.exists():
            raise OrderError("currency: cannot change the currency of an order with refunds")
        for key, value in order_values.items():
            setattr(order, key, value)
        order.save()

    existing_lines = {line.external_id: line for line in order.lines.all()}
    for ext, values in parsed_lines:
        line = existing_lines.pop(ext, None)
        if line is None:
            OrderLine.objects.create(order=order, external_id=ext, **values)
        else:
            for key, value in values.items():
                setattr(line, key, value)
            line.save()
    for ext, line in existing_lines.items():
        if line.refund_lines.exists():
            raise OrderError(f"lines: line {ext} has refunds and cannot be removed")
        line.delete()

    existing_payments = {p.external_id: p for p in order.payments.all()}
    for ext, method, amount in parsed_payments:
        payment = existing_payments.pop(ext, None)
        if payment is None:
            PaymentLine.objects.create(order=order, external_id=ext, method=method, amount=amount)
        else:
            payment.method, payment.amount = method, amount
            payment.save(update_fields=["method", "amount"])
    for payment in existing_payments.values():
        payment.delete()
    return order
