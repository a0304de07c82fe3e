"""Our rows -> the adapters' frozen values, and the JSON snapshot stored on an outbox row."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings

from integrations.base import AccountConfig, PaymentShare, RefundData, RefundLineData
from orders.money import allocate


def account_config(account) -> AccountConfig:
    return AccountConfig(
        account_id=account.pk,
        adapter_key=account.adapter_key,
        name=account.name,
        base_url=account.base_url.rstrip("/"),
        credentials=dict(account.credentials or {}),
        webhook_secret=account.webhook_secret,
        options=dict(account.options or {}),
        callback_base_url=settings.REFUND_DESK_BASE_URL.rstrip("/"),
    )


def refund_data(refund, *, idempotency_key: str) -> RefundData:
    """Snapshot a refund (with its order, lines and payments) for an adapter call."""
    order = refund.order
    lines = tuple(
        RefundLineData(
            order_line_external_id=rl.order_line.external_id,
            sku=rl.order_line.sku,
            name=rl.order_line.name,
            quantity=rl.quantity,
            amount=rl.amount,
            restock=rl.restock,
            fulfilled_quantity=rl.order_line.fulfilled_quantity,
            ordered_quantity=rl.order_line.quantity,
        )
        for rl in refund.lines.select_related("order_line").order_by("id")
    )
    payments = list(order.payments.order_by("id"))
    shares = (
        allocate(refund.total, [p.amount for p in payments], refund.currency) if payments else []
    )
    return RefundData(
        refund_id=refund.pk,
        idempotency_key=idempotency_key,
        order_external_number=order.external_number,
        currency=refund.currency,
        total=refund.total,
        lines_amount=refund.lines_amount,
        shipping_amount=refund.shipping_amount,
        additional_amount=refund.additional_amount,
        reason_code=refund.reason_code,
        customer_explanation=refund.customer_explanation,
        refund_only=refund.refund_only,
        requested_at=refund.created_at,
        lines=lines,
        payments=tuple(
            PaymentShare(payment_external_id=p.external_id, method=p.method, amount=share)
            for p, share in zip(payments, shares, strict=True)
            if share > 0
        ),
        order_grand_total=order.grand_total,
        order_tip_total=order.tip_total,
        order_additional_total=order.additional_total,
        external_id=refund.external_id,
        external_request_id=refund.external_request_id,
        return_tracking_id=refund.return_tracking_id,
        return_carrier=refund.return_carrier,
        response_reason=refund.response_reason,
        customer_email=order.customer.email,
    )


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def to_json(data: RefundData) -> dict:
    return _encode(dataclasses.asdict(data))


def from_json(payload: dict) -> RefundData:
    money = {
        "total",
        "lines_amount",
        "shipping_amount",
        "additional_amount",
        "order_grand_total",
        "order_tip_total",
        "order_additional_total",
    }
    values = dict(payload)
    for key in money & set(values):  # snapshots written before a field existed lack it
        values[key] = Decimal(values[key])
    values["requested_at"] = dt.datetime.fromisoformat(values["requested_at"])
    values["lines"] = tuple(
        RefundLineData(**{**line, "amount": Decimal(line["amount"])}) for line in values["lines"]
    )
    values["payments"] = tuple(
        PaymentShare(**{**p, "amount": Decimal(p["amount"])}) for p in values["payments"]
    )
    return RefundData(**values)
