"""django-filter FilterSets for the refund list: seed 003's orderId, status and valid, plus the
staff queue's search and exact order number / customer e-mail filters."""

import django_filters
from django import forms

from refunds.filters import case_variants, search_refunds
from refunds.models import Refund, StatusChoices

from .common import MAX_ID


class IdFilter(django_filters.Filter):
    field_class = forms.IntegerField


class RefundFilter(django_filters.FilterSet):
    orderId = IdFilter(field_name="order_id", min_value=1, max_value=MAX_ID, label="Order id")
    status = django_filters.ChoiceFilter(choices=StatusChoices.choices)
    valid = django_filters.BooleanFilter(field_name="is_valid")
    orderNumber = django_filters.CharFilter(
        method="filter_order_number",
        max_length=120,
        label="The marketplace's order number (exact, any case)",
    )
    customerEmail = django_filters.CharFilter(
        method="filter_customer_email",
        max_length=254,
        label="The customer's e-mail address (exact, any case)",
    )
    q = django_filters.CharFilter(
        method="filter_search",
        max_length=254,
        label="Part of the order number, customer e-mail or name, tracking id or the "
        "marketplace's refund id (any case), or a refund id (42 or RD-42)",
    )

    class Meta:
        model = Refund
        fields = ["orderId", "status", "valid", "orderNumber", "customerEmail", "q"]

    def filter_order_number(self, queryset, name, value):
        return queryset.filter(order__external_number__in=case_variants(value))

    def filter_customer_email(self, queryset, name, value):
        return queryset.filter(order__customer__email__in=case_variants(value))

    def filter_search(self, queryset, name, value):
        return search_refunds(queryset, value)
