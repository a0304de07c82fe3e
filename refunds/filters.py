"""django-filter FilterSets for the staff refund queue (HTML list and its CSV export)."""

from __future__ import annotations

import django_filters
import django_filters.constants
from django import forms
from django.db.models import Q

from integrations.registry import adapter_choices
from orders.models import Customer, MarketplaceAccount, Order

from .models import ReasonCode, Refund, StatusChoices

SORTS = (
    ("created_at", "created"),
    ("total", "total"),
    ("status", "status"),
    ("order__external_number", "order"),
    ("updated_at", "updated"),
)


def case_variants(value: str) -> list[str]:
    """The value as typed, in lower and in upper case: an exact match in any of them uses the
    column's plain index, where a case-insensitive lookup (UPPER(col) = ...) could not."""
    value = value.strip()
    return list(dict.fromkeys([value, value.lower(), value.upper()]))


def search_refunds(queryset, value: str):
    """Order number, customer e-mail, refund id (42 or RD-42), tracking id or the marketplace's
    refund id. Exact matches only (in the case typed, lower or upper case), so every branch uses
    an index on a large queue.

    The order side (number or customer e-mail) is resolved first, in one UNION query whose two
    halves each use an index; the refund filter is then an OR of columns of the refund table
    alone, which PostgreSQL answers with a bitmap OR of indexes. An OR across the joins instead
    scans every refund (BENCHMARKS.md, Lists)."""
    value = (value or "").strip()
    if not value:
        return queryset
    variants = case_variants(value)
    by_number = Order.objects.filter(external_number__in=variants).values_list("pk", flat=True)
    by_email = Order.objects.filter(
        customer__in=Customer.objects.filter(email__in=variants).values("pk")
    ).values_list("pk", flat=True)
    order_ids = list(by_number.order_by().union(by_email.order_by()))
    query = (
        Q(order_id__in=order_ids) | Q(return_tracking_id__in=variants) | Q(external_id__in=variants)
    )
    number = value.upper().removeprefix("RD-").removeprefix("#")
    if number.isdigit() and len(number) < 18:
        query |= Q(pk=int(number))
    return queryset.filter(query)


def _search(queryset, name, value):
    return search_refunds(queryset, value)


class StableOrderingFilter(django_filters.OrderingFilter):
    """Sorting that always ends on the id, so pages never repeat or skip a refund."""

    def filter(self, qs, value):
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        return qs.order_by(*ordering, "-id")


class RefundQueueFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method=_search,
        label="Search",
        widget=forms.TextInput(
            attrs={"placeholder": "Order, e-mail, RD-id or tracking id", "type": "search"}
        ),
    )
    status = django_filters.MultipleChoiceFilter(
        choices=StatusChoices.choices,
        widget=forms.SelectMultiple(attrs={"size": 3}),
        distinct=False,  # a column of the refund itself: no join, so no duplicates to remove
    )
    marketplace = django_filters.ChoiceFilter(
        field_name="order__account__adapter_key", choices=adapter_choices, label="Marketplace"
    )
    account = django_filters.ModelChoiceFilter(
        field_name="order__account", queryset=MarketplaceAccount.objects.all(), label="Account"
    )
    reason = django_filters.ChoiceFilter(
        field_name="reason_code", choices=ReasonCode.choices, label="Reason"
    )
    total_min = django_filters.NumberFilter(
        field_name="total",
        lookup_expr="gte",
        label="Amount from",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
    )
    total_max = django_filters.NumberFilter(
        field_name="total",
        lookup_expr="lte",
        label="Amount to",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
    )
    created_after = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="Created from",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="Created to",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    mine = django_filters.BooleanFilter(
        method="filter_mine", label="Requested by me", widget=forms.CheckboxInput
    )
    attention = django_filters.BooleanFilter(
        field_name="needs_attention",
        label="Needs attention",
        widget=forms.CheckboxInput,
        method="filter_true",
    )
    drift = django_filters.BooleanFilter(
        field_name="has_drift", label="Drift", widget=forms.CheckboxInput, method="filter_true"
    )
    sort = StableOrderingFilter(fields=SORTS, label="Sort by")

    class Meta:
        model = Refund
        fields: list[str] = []

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value and user is not None and user.is_authenticated:
            return queryset.filter(requested_by=user)
        return queryset

    def filter_true(self, queryset, name, value):
        # An unticked checkbox means "any", not "only those without".
        if value:
            return queryset.filter(**{name: True})
        return queryset
