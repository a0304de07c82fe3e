"""The API's money output: a decimal string with exactly its currency's decimals ("20.00" for
USD, "1500" for JPY, "1.250" for KWD), read beside the currency the record carries."""

from __future__ import annotations

from operator import attrgetter

from rest_framework import serializers

from orders.money import format_amount


class MoneyField(serializers.DecimalField):
    """Read-only money quantized to the currency at `currency` (a dotted path from the same
    object: "currency" on a refund, "order.currency" on an order line). The schema is a decimal
    string with up to three decimals, the most any ISO 4217 currency has."""

    def __init__(self, *, currency: str = "currency", **kwargs):
        self.currency_of = attrgetter(currency)
        super().__init__(max_digits=15, decimal_places=3, read_only=True, **kwargs)

    def get_attribute(self, instance):
        amount = super().get_attribute(instance)
        return None if amount is None else (amount, self.currency_of(instance))

    def to_representation(self, value):
        amount, currency = value
        return format_amount(amount, currency)
