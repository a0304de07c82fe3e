"""The Orders page: find an order by a fragment of its number or its customer's e-mail or name,
see what was paid, refunded and is still refundable, and start a refund on it (also on an order
that has none yet, which the refund queue cannot reach).

Paging is by keyset on (placed_at, id), the list's order: a page costs the same at the first
order and at the hundred-thousandth, and the count shown stops at COUNT_CAP (COUNT(*) over every
order on each page load is the slow part of a plain paginator on a large table)."""

from __future__ import annotations

from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.views.generic import TemplateView

from integrations.registry import adapter_choices
from orders.models import Order

from ...filters import orders_matching
from ...selectors import order_refundable_left, staff_orders_queryset
from ._common import StaffPermissionMixin

PAGE_SIZES = (25, 50, 100)
COUNT_CAP = 1000


class OrderSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search orders",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Order number, e-mail or name"}
        ),
    )
    marketplace = forms.ChoiceField(required=False, label="Marketplace")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["marketplace"].choices = [("", "All marketplaces"), *adapter_choices()]


def _cursor(value: str | None) -> Order | None:
    """The order a page starts after (or before): given by its id in the query string."""
    if not value or not value.isdigit() or len(value) > 18:
        return None
    return Order.objects.filter(pk=int(value)).only("pk", "placed_at").first()


def _filtered(form: OrderSearchForm, queryset: QuerySet[Order]) -> QuerySet[Order]:
    if not form.is_valid():
        return queryset
    marketplace = form.cleaned_data["marketplace"]
    if marketplace:
        queryset = queryset.filter(account__adapter_key=marketplace)
    return orders_matching(form.cleaned_data["q"], queryset)


class OrderListView(StaffPermissionMixin, TemplateView):
    template_name = "staff/orders.html"

    def get_context_data(self, **kwargs):
        request = self.request
        form = OrderSearchForm(request.GET)
        try:
            per_page = int(request.GET.get("per_page") or PAGE_SIZES[0])
        except ValueError:
            per_page = PAGE_SIZES[0]
        if per_page not in PAGE_SIZES:
            per_page = PAGE_SIZES[0]
        queryset = _filtered(form, staff_orders_queryset())
        after = _cursor(request.GET.get("after"))
        before = None if after else _cursor(request.GET.get("before"))
        if after is not None:
            page = list(
                queryset.filter(
                    Q(placed_at__lt=after.placed_at) | Q(placed_at=after.placed_at, pk__lt=after.pk)
                )[: per_page + 1]
            )
            has_newer, has_older = True, len(page) > per_page
            page = page[:per_page]
        elif before is not None:
            page = list(
                queryset.filter(
                    Q(placed_at__gt=before.placed_at)
                    | Q(placed_at=before.placed_at, pk__gt=before.pk)
                ).order_by("placed_at", "id")[: per_page + 1]
            )
            has_newer, has_older = len(page) > per_page, True
            page = page[:per_page][::-1]
        else:
            page = list(queryset[: per_page + 1])
            has_newer, has_older = False, len(page) > per_page
            page = page[:per_page]
        # Counted without the page's annotations, and only up to the cap.
        total = _filtered(form, Order.objects.order_by())[: COUNT_CAP + 1].count()
        keep = QueryDict(mutable=True)
        for key in ("q", "marketplace", "per_page"):
            if request.GET.get(key):
                keep[key] = request.GET[key]
        rows = [{"order": order, "refundable": order_refundable_left(order)} for order in page]
        context = super().get_context_data(**kwargs)
        context.update(
            form=form,
            rows=rows,
            per_page=per_page,
            page_sizes=PAGE_SIZES,
            total=min(total, COUNT_CAP),
            total_capped=total > COUNT_CAP,
            keep_query=keep.urlencode(),
            newer_cursor=page[0].pk if page and has_newer else None,
            older_cursor=page[-1].pk if page and has_older else None,
            is_first_page=after is None and before is None,
        )
        return context
