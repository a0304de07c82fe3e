"""Long lists (issue 17): pages read ids first, counts capped or estimated past a limit, broad
searches walked in the list's order. Each gives what the plain way gives, and says when a
number is a bound or an estimate rather than a count."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from refunds import filters
from refunds.filters import search_is_broad, search_refunds
from refunds.models import Refund
from refunds.pagination import (
    IdsFirstPaginator,
    count_or_estimate,
    estimated_count,
    page_rows,
    round_estimate,
)
from refunds.selectors import refund_queue_queryset, refund_status_counts
from tests import factories

QUEUE = "/staff/refunds/"
STATUSES = ("REQUESTED", "WAITING", "ISSUED")


def _many(order, n: int, statuses=STATUSES) -> list[Refund]:
    """n refunds of the order, statuses in turn (listing data only: no service involved)."""
    return Refund.objects.bulk_create(
        Refund(
            order=order,
            status=statuses[i % len(statuses)],
            requester_role="customer",
            source="portal",
            reason_code="damaged",
            lines_amount=Decimal(i + 1),
            total=Decimal(i + 1),
            currency=order.currency,
            return_tracking_id=f"TRACK-{i:03d}",
        )
        for i in range(n)
    )


def _analyze(*tables: str) -> None:
    """What autovacuum does after a load: the planner's row counts become the tables' own."""
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'ANALYZE "{table}"')


@pytest.mark.django_db
@pytest.mark.parametrize("ordering", [None, ("total", "-id"), ("-status", "created_at", "id")])
def test_pages_read_ids_first_list_what_offset_paging_lists(order, ordering):
    _many(order, 37)
    queryset = refund_queue_queryset()
    if ordering:
        queryset = queryset.order_by(*ordering)
    ours, django = IdsFirstPaginator(queryset, 5), Paginator(queryset, 5)
    assert ours.num_pages == django.num_pages == 8
    for number in ours.page_range:
        page = ours.page(number)
        expected = list(django.page(number))
        assert [r.pk for r in page] == [r.pk for r in expected]
        # The rows keep their joins and annotations: the queue shows them.
        assert [(r.line_count, r.order.external_number) for r in page] == [
            (r.line_count, r.order.external_number) for r in expected
        ]
    assert page_rows(queryset, 40, 45) == []
    assert page_rows(queryset, 5, 5) == []


@pytest.mark.django_db
def test_an_open_ended_paginator_reads_whether_a_next_page_exists(order):
    _many(order, 12)
    paginator = IdsFirstPaginator(refund_queue_queryset(), 5)
    paginator.count, paginator.count_is_exact = 6, False  # "more than 5"
    first, last = paginator.get_page(1), paginator.get_page(3)
    assert (len(first), first.has_next(), first.has_previous()) == (5, True, False)
    assert (len(last), last.has_next(), last.has_previous()) == (2, False, True)
    past = paginator.get_page(9)  # not moved to a last page it cannot know
    assert (past.number, list(past), past.has_next()) == (9, [], False)
    assert paginator.get_page("x").number == paginator.get_page(0).number == 1
    assert paginator.get_page(10**20).number == 1  # not an OFFSET PostgreSQL cannot take


@pytest.mark.django_db
def test_tab_counts_are_exact_up_to_the_limit_and_a_bound_past_it(order):
    _many(order, 11)  # 4 requested, 4 waiting, 3 issued
    Refund.objects.filter(status="ISSUED").update(has_drift=True)
    exact = refund_status_counts()
    assert (exact["all"], exact["REQUESTED"], exact["ISSUED"], exact["drift"]) == (11, 4, 3, 3)
    for queryset in (None, Refund.objects.all()):
        roomy = refund_status_counts(queryset, limit=11)
        assert roomy == exact
        assert not roomy.capped
        assert not roomy.estimated
    tight = refund_status_counts(limit=3)
    assert tight.capped == {"REQUESTED", "WAITING", "all"}
    assert [tight.label(k) for k in ("all", "REQUESTED", "ISSUED", "drift")] == [
        "3+",
        "3+",
        "3",
        "3",
    ]
    assert tight.exact("ISSUED")
    assert not tight.exact("WAITING")


@pytest.mark.django_db
def test_a_search_past_the_limit_gives_the_planners_estimate_not_tab_counts(order):
    _many(order, 12)
    _analyze("refunds_refund")
    searched = search_refunds(Refund.objects.all(), "TRACK-")
    counts = refund_status_counts(searched, limit=5, searched=True)
    assert counts.estimated == {"all"}
    assert counts["REQUESTED"] is None
    assert counts.label("REQUESTED") == ""
    assert counts["all"] >= 6
    assert counts.label("all").startswith("about ")
    # Under the limit the same search is counted, tab by tab.
    small = refund_status_counts(searched, limit=50, searched=True)
    assert (small["all"], small["WAITING"], small.estimated) == (12, 4, set())


@pytest.mark.django_db
def test_count_or_estimate_counts_small_lists_and_estimates_large_ones(order):
    _many(order, 12)
    _analyze("refunds_refund")
    assert estimated_count(Refund.objects.all()) == 12  # reltuples after ANALYZE
    assert count_or_estimate(Refund.objects.all(), limit=12) == (12, True)
    assert count_or_estimate(Refund.objects.filter(status="ISSUED"), limit=5) == (4, True)
    assert count_or_estimate(Refund.objects.all(), limit=5) == (12, False)
    assert [round_estimate(n) for n in (7, 12, 51_234, 1_000_000, 412_311)] == [
        "about 7",
        "about 12",
        "about 51,000",
        "about 1,000,000",
        "about 410,000",
    ]


@pytest.mark.django_db
def test_queue_past_the_limit_says_so_and_pages_open_ended(client, agent, order, settings):
    settings.LIST_EXACT_COUNT_LIMIT = 5
    _many(order, 12, statuses=("REQUESTED", "REQUESTED", "ISSUED"))  # 8 requested, 4 issued
    client.force_login(agent)
    response = client.get(QUEUE, {"view": "all", "page_size": 10})
    body = response.content.decode()
    assert response.status_code == 200
    assert "More than 5 refunds · page 1</span>" in body
    assert " of 2</span>" not in body  # no last page it cannot know
    assert 'All <span class="count">5+</span>' in body
    assert 'Requested <span class="count">5+</span>' in body
    assert 'Issued <span class="count">4</span>' in body
    assert 'rel="next"' in body
    second = client.get(QUEUE, {"view": "all", "page_size": 10, "page": 2}).content.decode()
    assert len(client.get(QUEUE, {"view": "all", "page_size": 10, "page": 2}).context["rows"]) == 2
    assert 'rel="next"' not in second
    assert 'rel="prev"' in second
    past = client.get(QUEUE, {"view": "all", "page_size": 10, "page": 7})
    assert past.status_code == 200
    assert "The list ends before page 7." in past.content.decode()
    for hostile in ("-3", "abc", "1e9", "99999999999999999999", "７"):
        answer = client.get(QUEUE, {"view": "all", "page_size": 10, "page": hostile})
        assert answer.status_code == 200, hostile
    # Under the limit the queue counts and shows the last page, as before.
    settings.LIST_EXACT_COUNT_LIMIT = 100
    body = client.get(QUEUE, {"view": "all", "page_size": 10}).content.decode()
    assert "12 refunds · page 1 of 2</span>" in body
    assert 'All <span class="count">12</span>' in body


@pytest.mark.django_db
def test_api_and_admin_say_a_total_past_the_limit_is_an_estimate(client, manager, order, settings):
    settings.LIST_EXACT_COUNT_LIMIT = 5
    _many(order, 12)
    _analyze("refunds_refund")
    client.force_login(manager)
    meta = client.get("/api/v2/refunds", {"size": 5, "page": 2}).json()["meta"]
    assert meta == {"page": 2, "size": 5, "total": 12, "totalIsEstimate": True}
    data = client.get("/api/v2/refunds", {"size": 5, "page": 2}).json()["data"]
    assert len(data) == 2
    narrow = client.get("/api/v2/refunds", {"status": "ISSUED"}).json()["meta"]
    assert (narrow["total"], narrow["totalIsEstimate"]) == (4, False)
    admin = client.get("/admin/refunds/refund/")
    assert admin.status_code == 200
    page = admin.content.decode()
    assert "About 12 refunds" in page
    assert "12 refunds</a>" not in page  # no estimate shown as a count
    searched = client.get("/admin/refunds/refund/", {"q": "TRACK-"}).content.decode()
    assert "About 12 results" in searched
    assert "4 refunds" in client.get("/admin/refunds/refund/?status__exact=ISSUED").content.decode()


@pytest.mark.django_db
def test_a_broad_search_is_walked_and_finds_what_the_narrow_one_finds(settings):
    people = [("Alice Smith", "alice@shop.example"), ("Bob Smith", "bob@shop.example")]
    people += [("Carol Jones", "carol@shop.example"), ("Dan Brown", "dan@shop.example")]
    made = []
    for name, email in people:
        customer = factories.CustomerFactory(name=name, email=email)
        made += _many(factories.make_order(customer=customer), 3)
    _analyze("orders_customer", "orders_order", "refunds_refund")
    values = ("smith", "SHOP.example", "track-001", made[4].number, "nothing like it")
    settings.LIST_SEARCH_EXACT_COUNT_LIMIT = 0  # the planner never expects 0 rows: all broad
    assert all(search_is_broad(v) for v in values)
    walked = {}
    for value in values:
        found = search_refunds(refund_queue_queryset(), value)
        assert "UNION" not in str(found.query)  # one condition per refund, in the list's order
        walked[value] = [r.pk for r in found]
    settings.LIST_SEARCH_EXACT_COUNT_LIMIT = 10_000
    filters._BROAD.clear()
    assert not any(search_is_broad(v) for v in values)
    for value, pks in walked.items():
        collected = search_refunds(refund_queue_queryset(), value)
        assert "UNION" in str(collected.query)  # collected from the indexes
        assert pks == [r.pk for r in collected], value
    assert (len(walked["smith"]), len(walked["SHOP.example"])) == (6, 12)
    assert len(walked["track-001"]) == 4  # TRACK-001 of each order
    assert walked[made[4].number] == [made[4].pk]
    assert walked["nothing like it"] == []


@pytest.mark.django_db
def test_a_broad_search_is_estimated_on_every_list(client, manager, order, settings):
    _many(order, 12)
    _analyze("refunds_refund", "orders_order", "orders_customer")
    settings.LIST_SEARCH_EXACT_COUNT_LIMIT = 0
    client.force_login(manager)
    meta = client.get("/api/v2/refunds", {"q": "track-00"}).json()["meta"]
    assert meta["totalIsEstimate"] is True
    assert meta["total"] >= 1
    queue = client.get(QUEUE, {"q": "track-00", "page_size": 10})
    assert queue.context["page"].paginator.count_is_exact is False
    assert "About " in queue.content.decode()
    assert [row["refund"].return_tracking_id for row in queue.context["rows"]] == [
        f"TRACK-{i:03d}" for i in range(9, -1, -1)
    ]
    admin = client.get("/admin/refunds/refund/", {"q": "track-00"}).content.decode()
    assert "About " in admin


@pytest.mark.django_db
def test_a_pages_rows_are_read_by_id_alone(order):
    _many(order, 7)
    searched = search_refunds(refund_queue_queryset(), "track-00")
    with CaptureQueriesContext(connection) as queries:
        rows = page_rows(searched, 0, 5)
    ids_sql, rows_sql = (q["sql"] for q in queries.captured_queries)
    # The search ran once, for the ids; the rows come by primary key with their annotations.
    assert "LIKE" in ids_sql
    assert "LIKE" not in rows_sql
    assert [(r.pk, r.line_count) for r in rows] == [(r.pk, r.line_count) for r in searched[:5]]


HOSTILE = ["\x00", "a\x00b", "%", "_", "%_%", "\\", "'; drop table x; --", "x" * 5000, "🙂"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", [QUEUE, "/api/v2/refunds", "/admin/refunds/refund/"])
def test_hostile_search_values_answer_without_an_error_and_find_nothing(
    client, manager, order, url
):
    _many(order, 3)
    client.force_login(manager)
    for value in HOSTILE:
        response = client.get(url, {"q": value})
        assert response.status_code in (200, 400), (url, value[:10])
        # (Django's admin refuses a NUL in its search form itself and lists unsearched.)
        if url == "/admin/refunds/refund/" and "\x00" not in value:
            assert response.context["cl"].result_count == 0, value[:10]
    # Bytes that are not UTF-8 arrive as U+FFFD, not as a lone surrogate.
    assert client.get(url + "?q=%ED%A0%80").status_code in (200, 400)
    # NUL never reaches PostgreSQL (its text cannot hold one): nothing matches.
    assert not search_refunds(Refund.objects.all(), "a\x00b").exists()
    assert not search_is_broad("a\x00b")


@pytest.mark.django_db
def test_a_whole_value_is_looked_up_by_its_rarest_part_and_finds_what_icontains_finds(settings):
    from django.db.models import Q

    from orders.models import Customer, Order
    from refunds.filters import orders_matching, rarest_part

    made = []
    for n in range(100, 140):
        customer = factories.CustomerFactory(name=f"Shop Buyer {n}", email=f"buyer{n}@shop.test")
        made += _many(factories.make_order(customer=customer, external_number=f"SHOP-00{n}"), 1)
    # A longer number holding a whole one: a partial search still lists it.
    made += _many(factories.make_order(external_number="SHOP-001171"), 1)
    # No statistics for the columns (what pg_stats holds before the first ANALYZE; set here,
    # as other tests' committed rows may have been analysed already): the whole value.
    filters._SAMPLES[connection.alias] = (time.monotonic(), {})
    assert rarest_part(Order, "external_number", "SHOP-00117") is None
    _analyze("orders_customer", "orders_order", "refunds_refund")
    filters._SAMPLES.clear()
    settings.LIST_SEARCH_EXACT_COUNT_LIMIT = 10
    # Every number has "SHOP"; "00117" is in two of them (SHOP-00117 and SHOP-001171).
    assert rarest_part(Order, "external_number", "shop-00117") == "00117"
    assert rarest_part(Customer, "email", "BUYER117@SHOP.TEST") == "117"
    assert rarest_part(Customer, "name", "Shop Buyer 117") == "117"
    assert rarest_part(Order, "external_number", "SHOP") is None  # one part: the value itself
    assert rarest_part(Customer, "email", "SHOP-00117") == "00117"  # in no e-mail: none found
    # Each part of "shop buyer" is expected in 40 customers, more than the limit: the whole.
    assert rarest_part(Customer, "email", "shop buyer") is None
    assert "STRPOS" not in str(search_refunds(Refund.objects.all(), "shop buyer").query)
    settings.LIST_SEARCH_EXACT_COUNT_LIMIT = 1000
    assert rarest_part(Customer, "email", "shop buyer") == "buyer"  # 40 rows: few enough now

    def plain(value):
        return sorted(
            Refund.objects.filter(
                Q(order__external_number__icontains=value)
                | Q(order__customer__email__icontains=value)
                | Q(order__customer__name__icontains=value)
                | Q(return_tracking_id__icontains=value)
                | Q(external_id__icontains=value)
            ).values_list("pk", flat=True)
        )

    values = ("SHOP-00117", "shop-00117", "Shop-00117", "buyer117@shop.test", "Shop Buyer 117")
    values += ("SHOP-0011", "hop-00139", "shop buyer", "SHOP-00117-X", "track-000", "00117")
    for value in values:
        found = search_refunds(Refund.objects.all(), value)
        assert sorted(r.pk for r in found) == plain(value), value
    assert plain("SHOP-00117") == sorted([made[17].pk, made[40].pk])  # 00117 and 001171
    narrowed = str(search_refunds(Refund.objects.all(), "SHOP-00117").query)
    assert "STRPOS" in narrowed
    assert "%00117%" in narrowed
    assert "%SHOP-00117%" not in narrowed
    numbers = sorted(o.external_number for o in orders_matching("shop-00117"))
    assert numbers == ["SHOP-00117", "SHOP-001171"]
    # Hostile values through the narrowed lookup: no error, the rows icontains finds.
    assert "STRPOS" in str(search_refunds(Refund.objects.all(), "00117'; --").query)
    for value in [v for v in HOSTILE if "\x00" not in v] + ["00117'; --", "x_00117%"]:
        found = search_refunds(Refund.objects.all(), value)
        assert sorted(r.pk for r in found) == plain(value), value[:10]
