"""Mirroring an order Refund Desk does not have from its marketplace: a webhook or a polled
refund names an order that was never imported; where the platform's API lets us read an order
(`MarketplaceAdapter.read_order`, e.g. Noventiq's GET /v1/order/{order_id}) it is fetched and
saved through the orders service (orders.services.order_upsert), instead of failing."""

from __future__ import annotations

import logging

from integrations.base import OrderData
from orders.errors import OrderError
from orders.models import Order
from orders.services import order_upsert

from .adapters import account_adapter

logger = logging.getLogger(__name__)


def import_payload(account, number: str, data: OrderData) -> dict:
    """An OrderData in the import format of orders.services.order_upsert."""
    return {
        "account_id": account.pk,
        "external_number": number,
        "customer": {"email": data.customer_email, "name": data.customer_name},
        "status": data.status,
        "currency": data.currency,
        "placed_at": data.placed_at.isoformat(),
        "paid_at": data.paid_at.isoformat() if data.paid_at else None,
        "shipping_total": str(data.shipping_total),
        "tip_total": str(data.tip_total),
        "additional_total": str(data.additional_total),
        "lines": [
            {
                "external_id": line.external_id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
                "discount": str(line.discount),
                "tax": str(line.tax),
                "fulfilled_quantity": line.fulfilled_quantity,
                "cancelled_quantity": line.cancelled_quantity,
            }
            for line in data.lines
        ],
        "payments": [
            {"external_id": p.external_id, "method": p.method, "amount": str(p.amount)}
            for p in data.payments
        ],
    }


def order_mirror(account, number: str, *, adapter=None) -> Order | None:
    """The account's order `number`: the one Refund Desk has, else the platform's, mirrored.
    None when the platform cannot show it (no order API, unknown order) or shows an order the
    orders service refuses (logged). Raises MarketplaceError when the platform could not be
    asked (the caller retries later)."""
    order = Order.objects.filter(account=account, external_number=number).first()
    if order is not None or not number:
        return order
    data = (adapter or account_adapter(account)).read_order(number)
    if data is None:
        return None
    try:
        order = order_upsert(data=import_payload(account, number, data))
    except OrderError as exc:
        logger.warning(
            "%s: order %s read from the platform cannot be mirrored: %s",
            account.name,
            number,
            exc,
        )
        return None
    logger.info("%s: order %s mirrored from the platform", account.name, number)
    return order
