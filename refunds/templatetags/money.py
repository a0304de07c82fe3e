"""Money in templates: every amount a page shows goes through one of these two filters, so it is
quantized to its currency's minor unit.

    {{ refund.total|money:refund.currency }}   -> "20.00 USD", "1500 JPY"
    {{ line.amount|money_number:currency }}    -> "20.00", "1500" (table cells whose currency
                                                  is in the header or the total)
"""

from __future__ import annotations

from django import template

from orders.money import format_amount, format_money

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """The amount with its currency code; nothing for no amount."""
    if amount is None or amount == "":
        return ""
    return format_money(amount, currency)


@register.filter
def money_number(amount, currency: str) -> str:
    """The amount alone, with exactly the currency's decimals; nothing for no amount."""
    if amount is None or amount == "":
        return ""
    return format_amount(amount, currency)
