"""Order API output (with what is still refundable) and the staff importer's input, camelCase."""

from __future__ import annotations

from rest_framework import serializers

from orders.models import OrderStatus

from .common import MAX_ID
from .fields import MoneyField

LINE_MONEY = {"currency": "order.currency"}


class OrderLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    externalId = serializers.CharField(source="external_id")
    sku = serializers.CharField()
    name = serializers.CharField()
    quantity = serializers.IntegerField()
    unitPrice = MoneyField(source="unit_price", **LINE_MONEY)
    discount = MoneyField(**LINE_MONEY)
    tax = MoneyField(**LINE_MONEY)
    paidAmount = MoneyField(source="paid_amount", **LINE_MONEY)
    cancelledQuantity = serializers.IntegerField(source="cancelled_quantity")
    refundableQuantity = serializers.IntegerField(source="refundable.units")
    refundableAmount = MoneyField(source="refundable.amount", **LINE_MONEY)


class PaymentOut(serializers.Serializer):
    id = serializers.IntegerField()
    externalId = serializers.CharField(source="external_id")
    method = serializers.CharField()
    amount = MoneyField(currency="order.currency")


class RefundableOut(serializers.Serializer):
    total = MoneyField(currency="order.currency")
    shipping = MoneyField(currency="order.currency")
    additional = MoneyField(currency="order.currency")
    refunded = MoneyField(source="refunded_total", currency="order.currency")


class OrderOut(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField(source="external_number")
    status = serializers.ChoiceField(choices=OrderStatus.choices)
    currency = serializers.CharField()
    placedAt = serializers.DateTimeField(source="placed_at")
    paidAt = serializers.DateTimeField(source="paid_at", allow_null=True)
    itemsTotal = MoneyField(source="items_total")
    shippingTotal = MoneyField(source="shipping_total")
    tipTotal = MoneyField(source="tip_total")
    additionalTotal = MoneyField(source="additional_total")
    grandTotal = MoneyField(source="grand_total")
    adapterKey = serializers.CharField(source="account.adapter_key")
    account = serializers.CharField(source="account.name")
    accountId = serializers.IntegerField(source="account_id")
    customerEmail = serializers.EmailField(source="customer.email")


class OrderDetailOut(OrderOut):
    lines = OrderLineOut(many=True, source="refundable_lines")
    payments = PaymentOut(many=True, source="payments.all")
    refundable = RefundableOut(source="refundable_summary")


class OrderEnvelope(serializers.Serializer):
    data = OrderDetailOut()


class CustomerIn(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class OrderLineIn(serializers.Serializer):
    externalId = serializers.CharField(max_length=120)
    sku = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=250)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    unitPrice = serializers.DecimalField(min_value=0, max_digits=14, decimal_places=3)
    discount = serializers.DecimalField(
        min_value=0, max_digits=14, decimal_places=3, required=False, default="0"
    )
    tax = serializers.DecimalField(
        min_value=0, max_digits=14, decimal_places=3, required=False, default="0"
    )
    fulfilledQuantity = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
    cancelledQuantity = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)


class PaymentIn(serializers.Serializer):
    externalId = serializers.CharField(max_length=120)
    method = serializers.CharField(max_length=60)
    amount = serializers.DecimalField(min_value=0, max_digits=14, decimal_places=3)


def _money(**kwargs):
    return serializers.DecimalField(
        min_value=0, max_digits=14, decimal_places=3, required=False, **kwargs
    )


class OrderCreateIn(serializers.Serializer):
    """The import format of orders.services.order_upsert, in camelCase. Idempotent: the same
    account and number again updates the order."""

    accountId = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    number = serializers.CharField(max_length=100)
    customer = CustomerIn()
    status = serializers.ChoiceField(choices=OrderStatus.choices, default=OrderStatus.PAID)
    currency = serializers.RegexField(r"^[A-Za-z]{3}\Z", max_length=3)
    placedAt = serializers.DateTimeField()
    paidAt = serializers.DateTimeField(required=False, allow_null=True, default=None)
    shippingTotal = _money(default="0")
    tipTotal = _money(default="0")
    additionalTotal = _money(default="0")
    grandTotal = _money(allow_null=True, default=None)
    lines = OrderLineIn(many=True, min_length=1, max_length=500)
    payments = PaymentIn(many=True, required=False, max_length=50, default=list)

    def to_import(self) -> dict:
        """The validated data in order_upsert's snake_case format."""
        d = self.validated_data
        return {
            "account_id": d["accountId"],
            "external_number": d["number"],
            "customer": dict(d["customer"]),
            "status": d["status"],
            "currency": d["currency"],
            "placed_at": d["placedAt"].isoformat(),
            "paid_at": d["paidAt"].isoformat() if d["paidAt"] else None,
            "shipping_total": str(d["shippingTotal"]),
            "tip_total": str(d["tipTotal"]),
            "additional_total": str(d["additionalTotal"]),
            "grand_total": None if d["grandTotal"] is None else str(d["grandTotal"]),
            "lines": [
                {
                    "external_id": x["externalId"],
                    "sku": x["sku"],
                    "name": x["name"],
                    "quantity": x["quantity"],
                    "unit_price": str(x["unitPrice"]),
                    "discount": str(x["discount"]),
                    "tax": str(x["tax"]),
                    "fulfilled_quantity": x["fulfilledQuantity"],
                    "cancelled_quantity": x["cancelledQuantity"],
                }
                for x in d["lines"]
            ],
            "payments": [
                {"external_id": x["externalId"], "method": x["method"], "amount": str(x["amount"])}
                for x in d["payments"]
            ],
        }
