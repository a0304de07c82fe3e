"""Pages of long lists that cost the same on page 500 as on page 1 (issue 17).

A page of refunds is read in two steps: first the ids of its rows, from the index that matches
the list's order (`refund_created_id_idx`, `refund_status_created_id_idx`: an index-only scan,
so the rows skipped before the page are index entries, not joined and annotated rows), then
those rows with their joins and annotations, by primary key. One `OFFSET` query over the whole
select would join, and compute the correlated subqueries of, every one of the 24,950 rows it
skips to reach page 500 (BENCHMARKS.md, "Ten times the data").

The staff queue (`IdsFirstPaginator`), the admin changelist (`ModelAdmin.paginator`) and the
API's `page`/`size` paging (`page_rows`) all page this way.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models import QuerySet
from django.utils.functional import cached_property


def exact_count_limit() -> int:
    """Lists count exactly up to this many rows and estimate beyond (issue 17): an exact count
    costs what it reads, a million rows for an unfiltered list, and nobody decides anything on
    whether a list holds 412,311 or 412,312 refunds. The queue's tabs say "10,000+" past it.
    settings.LIST_EXACT_COUNT_LIMIT (10,000)."""
    return settings.LIST_EXACT_COUNT_LIMIT


def estimated_count(queryset: QuerySet) -> int | None:
    """The planner's estimate of the queryset's rows (EXPLAIN, no rows read), None off
    PostgreSQL. Good for a plain table or a status; a rough one for a fragment search."""
    if queryset.db != "default" or connection.vendor != "postgresql":
        return None
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


def capped_counts(parts: dict[str, tuple[QuerySet, int]]) -> dict[str, int]:
    """Each queryset's count, read no further than its limit + 1 rows: one statement of scalar
    subqueries, each `SELECT COUNT(*) FROM (... LIMIT limit + 1)`. A count above its limit
    means "more than the limit"."""
    selects, params = [], []
    for key, (queryset, limit) in parts.items():
        sql, sub = queryset.order_by().values("pk")[: limit + 1].query.sql_with_params()
        # The ORM's own SQL with its parameters kept apart, and our own keys as names.
        name = connection.ops.quote_name(key)
        selects.append(f"(SELECT COUNT(*) FROM ({sql}) AS capped) AS {name}")  # noqa: S608
        params.extend(sub)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(selects), params)
        return dict(zip(parts, cursor.fetchone(), strict=True))


def count_or_estimate(
    queryset: QuerySet, limit: int | None = None, *, broad: bool = False
) -> tuple[int, bool]:
    """The queryset's count and whether it is exact: counted when the planner expects at most
    `limit` rows (exact_count_limit()), or when the count read no further than limit + 1 rows
    says so; else the estimate (never below limit + 1, the rows known to exist). `broad`: the
    queryset holds a broad search (refunds.filters.search_is_broad), walked rather than
    collected, so it is estimated whatever this form's estimate says: counting it would walk
    every refund."""
    limit = exact_count_limit() if limit is None else limit
    estimate = estimated_count(queryset)
    if estimate is None:  # not PostgreSQL (make run's SQLite): no estimate to give
        return queryset.count(), True
    if broad or estimate > limit:
        return max(estimate, limit + 1), False
    n = queryset.order_by()[: limit + 1].count()
    return (n, True) if n <= limit else (max(estimate, n), False)


def round_estimate(n: int) -> str:
    """An estimate as a person reads one: two significant figures, "about 51,000"."""
    digits = max(len(str(n)) - 2, 0)
    return f"about {round(n, -digits):,}"


def page_rows(queryset: QuerySet, start: int, stop: int) -> list:
    """Rows start..stop (0-based, stop exclusive) of the ordered queryset: their ids first, then
    the rows. A row gone between the two reads is left out rather than shown stale."""
    if stop <= start:
        return []
    if queryset.query.distinct or not queryset.ordered:
        # DISTINCT needs its ORDER BY columns in the select; an unordered page has no stable
        # position to find the ids by. Neither occurs in our lists; they page as Django does.
        return list(queryset[start:stop])
    ids = list(queryset.values_list("pk", flat=True)[start:stop])
    if not ids:
        return []
    # The rows by id alone: the list's conditions chose the ids, and a search's subquery run
    # again here would cost what finding the ids cost. Joins a filter added stay (forward
    # foreign keys in our lists: one row each); the dict keeps one row per id regardless.
    rows = queryset.order_by()
    rows.query.clear_where()
    by_id = {row.pk: row for row in rows.filter(pk__in=ids)}
    return [by_id[pk] for pk in ids if pk in by_id]


MAX_PAGE = 1_000_000  # as the API's `page` (refunds.api.common.PageQuery)


class OpenEndedPage(Page):
    """A page of a list whose length is only known to be more than a limit: whether a next page
    exists is read (one row past the page), not worked out from a count."""

    def __init__(self, object_list, number, paginator, more: bool):
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self):
        return self.more


class IdsFirstPaginator(Paginator):
    """Django's Paginator, with each page read ids first (`page_rows`).

    `count_is_exact` False (the queue's count was capped or estimated: exact_count_limit())
    makes it open-ended: any page number is valid, a page past the end is empty rather than
    moved to the last, and Next shows when one more row exists. `count` is then a lower bound."""

    count_is_exact = True

    def validate_number(self, number):
        if self.count_is_exact:
            return super().validate_number(number)
        try:
            number = int(number)
        except (TypeError, ValueError) as error:
            raise PageNotAnInteger("That page number is not a whole number.") from error
        if number < 1:
            raise EmptyPage("That page number is less than 1.")
        if number > MAX_PAGE:  # an OFFSET past PostgreSQL's bigint would be an error, not a page
            raise EmptyPage("That page number is past any list.")
        return number

    def get_page(self, number):
        if self.count_is_exact:
            return super().get_page(number)
        try:
            return self.page(number)
        except (PageNotAnInteger, EmptyPage):
            return self.page(1)

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.count_is_exact:
            rows = page_rows(self.object_list, bottom, top + 1)
            return OpenEndedPage(rows[: self.per_page], number, self, len(rows) > self.per_page)
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(page_rows(self.object_list, bottom, top), number, self)


class AdminPaginator(IdsFirstPaginator):
    """The refund changelist's paginator: pages read ids first, and a list of more than
    exact_count_limit() refunds counted by the planner's estimate, shown as "about 1,000,000"
    (templates/admin/refunds/refund/pagination.html). Page numbers run to the estimate's last
    page; one past the real end is empty."""

    count_label = ""
    broad = False  # set by the changelist when its search is broad (RefundAdmin.get_paginator)

    @cached_property
    def count(self):
        n, exact = count_or_estimate(self.object_list, broad=self.broad)
        if not exact:
            self.count_label = round_estimate(n).capitalize()
        return n
