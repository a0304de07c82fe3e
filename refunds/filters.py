"""django-filter FilterSets for the staff refund queue (HTML list and its CSV export)."""

from __future__ import annotations

import re
import time

import django_filters
import django_filters.constants
from django import forms
from django.conf import settings
from django.db import connection
from django.db.models import F, Q, Value
from django.db.models.functions import StrIndex, Upper
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from integrations.registry import adapter_choices
from orders.models import Customer, MarketplaceAccount, Order

from .models import ReasonCode, Refund, RefundLine, StatusChoices
from .pagination import estimated_count
from .selectors import NEEDS_DECISION, awaiting_a_manager, overdue

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


# --- a whole value through its rarest part ----------------------------------------------------
# A trigram index finds `%value%` by reading the list of rows of each of the value's trigrams.
# A whole order number or e-mail, pasted as agents do, has trigrams that every row has ("BEN",
# "-00", "@EX", ".CO"), so the lookup reads lists as long as the table: 17 ms for
# "BENCH-0000500" at 1,000,000 orders against 0.8 ms for "0000500" (BENCHMARKS.md, issue 17).
# So a value of several parts (runs of letters or of digits: "BENCH", "0000500") is looked up
# by the part the column's statistics expect in the fewest rows, when that is at most
# LIST_SEARCH_EXACT_COUNT_LIMIT rows, and every row found is then checked for the whole value
# (STRPOS, which no index serves). The same rows either way: the part is a piece of the value,
# so every row containing the value contains the part.
# Assumption (here only): ANALYZE's sample in pg_stats (up to 100 common values and 101
# histogram bounds) stands for the column: a part in k of its n values is expected in
# k / n of the table's rows (pg_class.reltuples). At 1,000,000 rows only a part in none of
# them qualifies. A part the sample misses but which is common makes the lookup slower, never
# wrong; without statistics the whole value is looked up.
_PART = re.compile(r"[^\W\d_]+|\d+")
_SAMPLES: dict[str, tuple[float, dict[tuple[str, str], tuple[list[str], float]]]] = {}
SAMPLE_SECONDS = 600.0  # how long a process keeps the columns' samples
_SAMPLED = (
    (Order, "external_number"),
    (Customer, "email"),
    (Customer, "name"),
    (Refund, "return_tracking_id"),
    (Refund, "external_id"),
)


def _column_samples() -> dict[tuple[str, str], tuple[list[str], float]]:
    """(table, column) -> the values of its pg_stats sample (upper case) and the table's rows,
    for the columns the search reads through trigram indexes. One query, kept SAMPLE_SECONDS
    per database."""
    alias = connection.alias
    now = time.monotonic()
    kept = _SAMPLES.get(alias)
    if kept and now - kept[0] < SAMPLE_SECONDS:
        return kept[1]
    columns = [(model._meta.db_table, model._meta.get_field(f).column) for model, f in _SAMPLED]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.tablename, s.attname, s.most_common_vals::text::text[],"
            " s.histogram_bounds::text::text[], c.reltuples FROM pg_stats s"
            " JOIN pg_class c ON c.relname = s.tablename"
            " AND c.relnamespace = current_schema()::regnamespace"
            " WHERE s.schemaname = current_schema() AND s.tablename = ANY(%s)"
            " AND s.attname = ANY(%s)",
            [[t for t, _ in columns], [c for _, c in columns]],
        )
        samples = {
            (table, column): ([v.upper() for v in (common or []) + (bounds or [])], rows)
            for table, column, common, bounds, rows in cursor.fetchall()
        }
    _SAMPLES[alias] = (now, samples)
    return samples


def rarest_part(model, field: str, value: str) -> str | None:
    """The part of the value (3 characters or more) to look the column up by, or None for the
    whole value: a value of one part, no statistics, or no part expected in few enough rows."""
    if connection.vendor != "postgresql":
        return None
    parts = [part for part in _PART.findall(value) if len(part) >= 3 and part != value]
    if not parts:
        return None
    key = (model._meta.db_table, model._meta.get_field(field).column)
    sample, rows = _column_samples().get(key, ([], 0.0))
    if not sample:
        return None
    # The fewest sampled values holding it, then the longest.
    hits, _, part = min((sum(p.upper() in seen for seen in sample), -len(p), p) for p in parts)
    expected = hits / len(sample) * max(rows, len(sample))
    return part if expected <= settings.LIST_SEARCH_EXACT_COUNT_LIMIT else None


def _containing(model, field: str, value: str):
    """The model's rows whose field contains the value in any case (Django's icontains),
    looked up through the value's rarest part where it has one."""
    rows = model.objects.order_by()
    part = rarest_part(model, field, value)
    if part is None:
        return rows.filter(**{f"{field}__icontains": value})
    whole = GreaterThan(StrIndex(Upper(F(field)), Upper(Value(value))), 0)
    return rows.filter(Q(**{f"{field}__icontains": part}), whole)


def _order_ids_matching(value: str):
    """Ids of the orders whose number, customer e-mail or customer name contains the value, in
    any case: a UNION whose halves each use a trigram index on PostgreSQL (migration 0008; plain
    icontains elsewhere). An OR across the customer join would scan every order instead."""
    by_number = _containing(Order, "external_number", value).values("pk")
    customers = (_containing(Customer, "email", value).values("pk")).union(
        _containing(Customer, "name", value).values("pk")
    )
    by_customer = Order.objects.order_by().filter(customer__in=customers).values("pk")
    return by_number.union(by_customer)


def orders_matching(value: str, queryset=None):
    """Orders whose number, customer e-mail or customer name contains the value (partial, any
    case): "nq-103" finds NQ-1031, "alice" finds alice@example.com and Alice Smith's orders.
    An empty value leaves the queryset as it is. For the staff Orders page."""
    queryset = Order.objects.all() if queryset is None else queryset
    value = (value or "").strip()
    if not value:
        return queryset
    if "\x00" in value:  # as in search_refunds
        return queryset.none()
    return queryset.filter(pk__in=_order_ids_matching(value))


def refund_number(value: str) -> int | None:
    """The refund id in "42", "RD-42", "rd-42" or "#42"; None when the value is not one."""
    number = (value or "").strip().upper().removeprefix("RD-").removeprefix("#")
    if number.isdigit() and len(number) < 18:
        return int(number)
    return None


def refund_ids_matching(value: str):
    """Ids of the refunds whose order number, customer e-mail or name, return tracking id or
    marketplace refund id contains the value in any case, or whose refund number is the value.

    One UNION whose branches each use an index on PostgreSQL: the trigram GIN indexes on
    UPPER(col) (migration 0008, which is what Django's icontains compares) for the fragments,
    the order foreign key for the order side and the primary key for the number. An OR across
    the joins instead scans every refund (BENCHMARKS.md, Lists). On SQLite the same query runs
    as plain LIKE scans."""
    refunds = Refund.objects.order_by()
    branches = [
        refunds.filter(order_id__in=_order_ids_matching(value)).values("pk"),
        _containing(Refund, "return_tracking_id", value).values("pk"),
        _containing(Refund, "external_id", value).values("pk"),
    ]
    number = refund_number(value)
    if number is not None:
        branches.append(refunds.filter(pk=number).values("pk"))
    return branches[0].union(*branches[1:])


# A search is "broad" when the planner expects it to match more refunds than a search counts
# exactly (settings.LIST_SEARCH_EXACT_COUNT_LIMIT, 1,000): a common name or a short fragment
# (issue 17: "customer 12" matches about 5,500 refunds at 100,000; "customer 19" about 56,000
# at 1,000,000). Its matches are then found by walking the list in its order and testing each
# refund, which reaches a page of 50 after about 50 / (its share of the refunds) of them, and
# its count is the planner's estimate ("about 5,500"). A narrow search instead collects its
# matches from the trigram indexes (`refund_ids_matching`), at a cost that grows with the
# matches (so at most the limit), and is counted exactly. The two choices are one: what is
# counted is collected, what is estimated is walked (BENCHMARKS.md, "Ten times the data").
_BROAD: dict[str, tuple[float, bool]] = {}
MEMO_SECONDS = 60.0  # how long a value's broadness is kept (per process)


def search_is_broad(value: str) -> bool:
    """Whether the planner expects the value to match more refunds than
    settings.LIST_SEARCH_EXACT_COUNT_LIMIT (EXPLAIN of the narrow form: no rows read;
    PostgreSQL only, elsewhere never). Kept a minute per value: it only chooses how the same
    refunds are found, so a stale answer costs time, never a wrong list."""
    value = (value or "").strip()
    if not value or "\x00" in value or connection.vendor != "postgresql":
        return False
    now = time.monotonic()
    kept = _BROAD.get(value)
    if kept and now - kept[0] < MEMO_SECONDS:
        return kept[1]
    estimate = estimated_count(Refund.objects.filter(pk__in=refund_ids_matching(value)))
    broad = estimate is not None and estimate > settings.LIST_SEARCH_EXACT_COUNT_LIMIT
    if len(_BROAD) > 1000:
        _BROAD.clear()
    _BROAD[value] = (now, broad)
    return broad


def _broad_match(value: str) -> Q:
    """The same matches as `refund_ids_matching`, as one condition on each refund and its order
    and customer (forward joins, one row each), for a walk in the list's order."""
    match = (
        Q(order__external_number__icontains=value)
        | Q(order__customer__email__icontains=value)
        | Q(order__customer__name__icontains=value)
        | Q(return_tracking_id__icontains=value)
        | Q(external_id__icontains=value)
    )
    number = refund_number(value)
    return match | Q(pk=number) if number is not None else match


def search_refunds(queryset, value: str):
    """Partial, case-insensitive search for the queue, its CSV export, the admin and the API's
    `q`: "alice" finds Alice's refunds by e-mail or name, "nq-103" and "1031" find order
    NQ-1031's (and "1031" refund RD-1031), part of a tracking id or of the marketplace's refund
    id finds that refund. Characters are literal: "%" and "_" match themselves. An empty value
    leaves the queryset as it is. A broad value (`search_is_broad`) is tested refund by refund
    in the list's order; a narrow one collected from the indexes: the same refunds either way."""
    value = (value or "").strip()
    if not value:
        return queryset
    if "\x00" in value:  # PostgreSQL text holds no NUL, so nothing matches (and it cannot be sent)
        return queryset.none()
    if search_is_broad(value):
        return queryset.filter(_broad_match(value))
    return queryset.filter(pk__in=refund_ids_matching(value))


def _search(queryset, name, value):
    return search_refunds(queryset, value)


class StableOrderingFilter(django_filters.OrderingFilter):
    """Sorting that always ends on the id, so pages never repeat or skip a refund."""

    def filter(self, qs, value):
        if value in django_filters.constants.EMPTY_VALUES:
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        return qs.order_by(*ordering, "-id")


# The queue's views (?view=...): the work a person looks for, each in the order it is worked in.
# Without a view the queue shows "Needs a decision" (RefundQueueView.effective_view).
VIEW_DECISION = "decision"
VIEW_MANAGER = "manager"
VIEW_ASSIGNED = "assigned"
VIEW_OVERDUE = "overdue"
VIEW_ALL = "all"
VIEW_CHOICES = (
    (VIEW_DECISION, "Needs a decision"),
    (VIEW_MANAGER, "Awaiting a manager"),
    (VIEW_ASSIGNED, "Assigned to me"),
    (VIEW_OVERDUE, "Overdue"),
    (VIEW_ALL, "All"),
)
OLDEST_FIRST = ("created_at", "id")


def queue_view(queryset, view: str, user, now=None):
    """The refunds of one of the queue's views, in its order (a `sort` given after it wins)."""
    if view == VIEW_DECISION:
        return queryset.filter(NEEDS_DECISION).order_by(*OLDEST_FIRST)
    if view == VIEW_MANAGER:
        return queryset.filter(awaiting_a_manager(user)).order_by(*OLDEST_FIRST)
    if view == VIEW_ASSIGNED:
        mine = Q(assigned_to=user) if getattr(user, "is_authenticated", False) else Q(pk__in=[])
        return queryset.filter(mine).order_by(*OLDEST_FIRST)
    if view == VIEW_OVERDUE:
        return queryset.filter(overdue(now or timezone.now())).order_by(*OLDEST_FIRST)
    return queryset


class RefundQueueFilter(django_filters.FilterSet):
    view = django_filters.ChoiceFilter(
        choices=VIEW_CHOICES, method="filter_view", label="View", empty_label=None
    )
    q = django_filters.CharFilter(
        method=_search,
        label="Search",
        widget=forms.TextInput(
            attrs={"placeholder": "Order, e-mail, name, RD-id or tracking id", "type": "search"}
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
    sku = django_filters.CharFilter(method="filter_sku", label="SKU")
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

    def filter_view(self, queryset, name, value):
        return queue_view(queryset, value, getattr(self.request, "user", None))

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value and user is not None and user.is_authenticated:
            return queryset.filter(requested_by=user)
        return queryset

    def filter_sku(self, queryset, name, value):
        # Refunds with a line of that SKU (exact; the dashboard's SKU figures link here). An id
        # subquery rather than a join, so a refund with two such lines is listed once.
        value = (value or "").strip()
        if not value:
            return queryset
        return queryset.filter(
            pk__in=RefundLine.objects.filter(order_line__sku=value).values("refund_id")
        )

    def filter_true(self, queryset, name, value):
        # An unticked checkbox means "any", not "only those without".
        if value:
            return queryset.filter(**{name: True})
        return queryset
