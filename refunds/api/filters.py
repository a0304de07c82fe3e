"""django-filter FilterSets for the refund list (seed 003's orderId, status and valid)."""

import django_filters
from django import forms

from refunds.models import Refund, StatusChoices

from .common import MAX_ID


class IdFilter(django_filters.Filter):
    field_class = forms.IntegerField


class RefundFilter(django_filters.FilterSet):
    orderId = IdFilter(field_name="order_id", min_value=1, max_value=MAX_ID, label="Order id")
    status = django_filters.ChoiceFilter(choices=StatusChoices.choices)
    valid = django_filters.BooleanFilter(field_name="is_valid")

    class Meta:
        model = Refund
        fields = ["orderId", "status", "valid"]
