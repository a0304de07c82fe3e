"""What a customer reads about a refund in a list: the same words as its page's headline
(refunds.customer_status), never the status code.

    {{ refund|customer_label }}  -> "Approved — send the goods back", "We are looking into it"
    {{ refund|customer_tone }}   -> "action", "delay"... (the badge's colour)
"""

from __future__ import annotations

from django import template

from refunds import customer_status

register = template.Library()


@register.filter
def customer_label(refund) -> str:
    return customer_status.headline(refund).label


@register.filter
def customer_tone(refund) -> str:
    return customer_status.headline(refund).tone
