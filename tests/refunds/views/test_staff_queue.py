import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.models import Refund, RefundEvent
from refunds.services import refund_request
from tests import factories

QUEUE = reverse("staff:refund-queue")


def _refund(order, actor, *, line_index=0, quantity=1, reason="damaged", refund_only=True):
    line = list(order.lines.all())[line_index]
    return refund_request(
        actor=actor,
        order=order,
        reason_code=reason,
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=quantity)],
    )


def _numbers(response) -> list[str]:
    return [row["refund"].number for row in response.context["rows"]]


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={QUEUE}"


@pytest.mark.django_db
def test_customer_is_forbidden(client, customer_user):
    client.force_login(customer_user)
    assert client.get(QUEUE).status_code == 403


@pytest.mark.django_db
def test_staff_without_refund_permission_is_forbidden(client):
    user = factories.UserFactory(username="clerk@example.com", is_staff=True)
    client.force_login(user)
    assert client.get(QUEUE).status_code == 403


@pytest.mark.django_db
def test_queue_lists_refunds_with_tabs_and_counts(client, agent, order, customer_user):
    first = _refund(order, customer_user, line_index=0)
    second = _refund(order, customer_user, line_index=1, reason="defective")
    Refund.objects.filter(pk=second.pk).update(needs_attention=True, status="PROCESSING")
    client.force_login(agent)
    response = client.get(QUEUE, {"view": "all"})
    assert response.status_code == 200
    assert _numbers(response) == [second.number, first.number]
    tabs = {t["label"]: t["count"] for t in response.context["tabs"]}
    assert tabs["All"] == 2
    assert tabs["Needs attention"] == 1
    assert tabs["Requested"] == 1
    assert tabs["Processing"] == 1
    assert tabs["Issued"] == 0
    body = response.content.decode()
    assert "Needs attention" in body
    assert f'href="/staff/refunds/{first.pk}/"' in body


@pytest.mark.django_db
def test_filters_by_status_reason_attention_and_amount(client, agent, order, customer_user):
    small = _refund(order, customer_user, line_index=0)  # 10.00
    big = _refund(order, customer_user, line_index=2, reason="defective")  # 100.00
    Refund.objects.filter(pk=big.pk).update(needs_attention=True)
    client.force_login(agent)
    assert _numbers(client.get(QUEUE, {"reason": "defective"})) == [big.number]
    assert _numbers(client.get(QUEUE, {"attention": "on"})) == [big.number]
    assert _numbers(client.get(QUEUE, {"total_max": "50"})) == [small.number]
    assert _numbers(client.get(QUEUE, {"total_min": "50.00", "total_max": "100.00"})) == [
        big.number
    ]
    assert _numbers(client.get(QUEUE, {"status": "ISSUED"})) == []
    assert _numbers(client.get(QUEUE, {"status": "REQUESTED", "sort": "total"})) == [
        small.number,
        big.number,
    ]
    assert _numbers(client.get(QUEUE, {"sort": "-total"})) == [big.number, small.number]


@pytest.mark.django_db
def test_filter_by_marketplace_account_and_mine(client, agent, agent2, order, customer_user):
    mine = _refund(order, agent, line_index=0)
    theirs = _refund(order, customer_user, line_index=1)
    other_order = factories.make_order(
        account=factories.AccountFactory(name="Shoplazza EU", adapter_key="shoplazza")
    )
    elsewhere = _refund(other_order, agent2)
    client.force_login(agent)
    assert _numbers(client.get(QUEUE, {"mine": "on"})) == [mine.number]
    assert _numbers(client.get(QUEUE, {"marketplace": "shoplazza"})) == [elsewhere.number]
    assert _numbers(client.get(QUEUE, {"account": order.account_id})) == [
        theirs.number,
        mine.number,
    ]


@pytest.mark.django_db
def test_search_by_order_email_refund_id_and_tracking(client, agent, order, customer_user):
    refund = _refund(order, customer_user)
    other = _refund(factories.make_order(), agent)
    Refund.objects.filter(pk=refund.pk).update(return_tracking_id="1Z999AA10123456784")
    client.force_login(agent)
    for term in (
        order.external_number,
        "alice@example.com",
        refund.number,
        str(refund.pk),
        "1Z999AA10123456784",
    ):
        assert _numbers(client.get(QUEUE, {"q": term})) == [refund.number], term
    assert _numbers(client.get(QUEUE, {"q": other.order.external_number})) == [other.number]
    assert _numbers(client.get(QUEUE, {"q": "nobody@nowhere.test"})) == []


@pytest.mark.django_db
def test_bad_filter_input_shows_error_not_500(client, agent, order, customer_user):
    _refund(order, customer_user)
    client.force_login(agent)
    response = client.get(
        QUEUE,
        {
            "total_min": "ten",
            "created_after": "yesterday",
            "status": "BOGUS",
            "per_page": "x",
            "page": "99",
        },
    )
    assert response.status_code == 200
    errors = response.context["filterset"].errors
    assert set(errors) == {"total_min", "created_after", "status"}
    assert "Enter a number." in response.content.decode()


@pytest.mark.django_db
def test_pagination_and_page_size(client, agent, customer_user):
    order = factories.make_order(lines=((30, "1.00", "0", "0"),))
    line = order.lines.get()
    for _ in range(12):
        refund_request(
            actor=agent,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        )
    client.force_login(agent)
    response = client.get(QUEUE, {"per_page": "10"})
    assert len(response.context["rows"]) == 10
    assert response.context["page"].paginator.num_pages == 2
    response = client.get(QUEUE, {"per_page": "10", "page": "2"})
    assert len(response.context["rows"]) == 2


def _bulk_refunds(count):
    agent_requester = factories.agent(username="requester@example.com")
    order = factories.make_order(lines=((count, "1.00", "0", "0"),))
    line = order.lines.get()
    return [
        refund_request(
            actor=agent_requester,
            order=order,
            reason_code="damaged",
            refund_only=False,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        )
        for _ in range(count)
    ]


@pytest.mark.parametrize("rows", [10, 100])
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # session, user, permissions (user + groups), tab counts (counted under every filter
        # but the status tabs, so they also give the page's count), the page's ids, its rows
        # (with the due time's subquery) and the accounts offered in the filter
        ({}, 8),
        ({"status": "REQUESTED"}, 8),
        ({"reason": "damaged"}, 8),
        # the search is one subquery of the counts' and the page's queries; the tables' sizes
        # (is the search broad?) and the planner's estimate of its matches (count or estimate?)
        # are one query each
        ({"q": "ORDER"}, 10),
        ({"view": "manager"}, 8),
        ({"view": "assigned"}, 8),
        ({"view": "overdue"}, 8),
        ({"view": "all"}, 8),
        ({"view": "all", "q": "ORDER", "reason": "damaged"}, 10),
        # a status tab and "needs attention" at once: the counts cannot tell, the page counts
        # (the planner's estimate, then a count, as it is small)
        ({"view": "all", "status": "REQUESTED", "attention": "on"}, 10),
    ],
    ids=[
        "unfiltered",
        "status",
        "reason",
        "search",
        "manager",
        "assigned",
        "overdue",
        "all",
        "all-search-reason",
        "status-and-attention",
    ],
)
@pytest.mark.django_db
def test_queue_runs_a_fixed_number_of_queries(
    client, agent, rows, query, expected, django_assert_num_queries, settings
):
    settings.REFUND_APPROVAL_LIMIT = Decimal("0.50")  # every refund awaits a manager
    refunds = _bulk_refunds(rows)
    # Every refund is in every view: assigned to the agent, flagged, and overdue.
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    Refund.objects.update(assigned_to=agent, needs_attention=True, created_at=two_days_ago)
    RefundEvent.objects.update(created_at=two_days_ago)
    query = {k: refunds[0].order.external_number if v == "ORDER" else v for k, v in query.items()}
    client.force_login(agent)
    with django_assert_num_queries(expected):
        response = client.get(QUEUE, {"per_page": str(rows), **query})
    assert len(response.context["rows"]) == rows
    assert response.context["page"].paginator.count == rows
    assert all(row["due"].is_overdue for row in response.context["rows"])


@pytest.mark.django_db
def test_page_count_from_tab_counts_matches_a_real_count(client, agent, order, customer_user):
    requested = _refund(order, customer_user, line_index=0)
    processing = _refund(order, customer_user, line_index=1, reason="defective")
    drifting = _refund(order, customer_user, line_index=2)
    Refund.objects.filter(pk=processing.pk).update(status="PROCESSING", needs_attention=True)
    Refund.objects.filter(pk=drifting.pk).update(status="ISSUED", has_drift=True)
    _refund(factories.make_order(), agent)
    client.force_login(agent)
    response = client.get(QUEUE, {"view": "all"})
    tabs = {t["label"]: t["count"] for t in response.context["tabs"]}
    assert (tabs["All"], tabs["Requested"], tabs["Processing"], tabs["Issued"]) == (4, 2, 1, 1)
    assert tabs["Needs attention"] == 1
    assert response.context["page"].paginator.count == 4
    # The default view (needs a decision) counts its own refunds: no issued one.
    response = client.get(QUEUE)
    tabs = {t["label"]: t["count"] for t in response.context["tabs"]}
    assert (tabs["All"], tabs["Requested"], tabs["Processing"], tabs["Issued"]) == (3, 2, 1, 0)
    assert response.context["page"].paginator.count == 3
    cases = [
        ({"status": "REQUESTED"}, 2),
        ({"status": ["REQUESTED", "ISSUED"]}, 3),
        ({"attention": "on"}, 1),
        ({"drift": "on"}, 1),
        ({"status": "REQUESTED", "reason": "damaged"}, 2),
        ({"status": "PROCESSING", "attention": "on"}, 1),
        ({"q": order.external_number}, 3),
        ({"q": order.external_number, "status": "REQUESTED"}, 1),
    ]
    for query, count in cases:
        response = client.get(QUEUE, query)
        assert response.context["page"].paginator.count == count, query
        assert len(response.context["rows"]) == count, query
    assert requested.number in _numbers(client.get(QUEUE, {"status": "REQUESTED"}))


@pytest.mark.django_db
def test_search_finds_fragments_in_any_case_and_every_order_of_the_customer(
    client, agent, order, customer_user
):
    first = _refund(order, customer_user)
    second_order = factories.make_order(customer=order.customer)
    second = _refund(second_order, customer_user)
    client.force_login(agent)
    for term in ("ALICE@EXAMPLE.COM", " alice@example.com ", "Alice@Example.com"):
        assert sorted(_numbers(client.get(QUEUE, {"q": term}))) == sorted(
            [first.number, second.number]
        ), term
    assert _numbers(client.get(QUEUE, {"q": order.external_number.lower()})) == [first.number]
    assert _numbers(client.get(QUEUE, {"q": f"rd-{first.pk}"})) == [first.number]
    # Fragments: of the e-mail, of the order number (any case).
    assert sorted(_numbers(client.get(QUEUE, {"q": "alice@exa"}))) == sorted(
        [first.number, second.number]
    )
    assert _numbers(client.get(QUEUE, {"q": order.external_number[2:].lower()})) == [first.number]
    assert _numbers(client.get(QUEUE, {"q": "nobody@nowhere"})) == []


@pytest.mark.django_db
def test_csv_export_follows_filters_and_neutralises_formulas(client, agent, customer_user):
    customer = factories.CustomerFactory(email="=cmd@example.com")
    order = factories.make_order(customer=customer)
    refund = _refund(order, agent)
    _refund(factories.make_order(), agent, reason="defective")
    client.force_login(agent)
    response = client.get(reverse("staff:refund-export"), {"reason": "damaged"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["refund", "status", "marketplace"]
    assert len(rows) == 2
    assert rows[1][0] == refund.number
    assert rows[1][5] == "'=cmd@example.com"
    assert rows[1][7] == "10.00"


@pytest.mark.django_db
def test_bulk_approve_reports_each_refund(client, agent, agent2, order, customer_user):
    ok = _refund(order, customer_user, line_index=0)
    own = _refund(order, agent, line_index=1)
    client.force_login(agent)
    response = client.post(
        reverse("staff:refund-bulk"),
        {"action": "approve", "refund_ids": [ok.pk, own.pk, 999999], "next": QUEUE},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert texts == [
        f"{ok.number}: approved, now Processing",
        f"{own.number}: You requested this refund, so someone else must approve it",
        "RD-999999: no such refund",
        "1 of 3 refunds approved",
    ]
    ok.refresh_from_db()
    own.refresh_from_db()
    assert (ok.status, own.status) == ("PROCESSING", "REQUESTED")
    assert RefundEvent.objects.filter(refund=own).count() == 1


@pytest.mark.django_db
def test_bulk_deny_needs_a_reason_and_changes_nothing_without(client, agent, order, customer_user):
    refund = _refund(order, customer_user)
    client.force_login(agent)
    response = client.post(
        reverse("staff:refund-bulk"), {"action": "deny", "refund_ids": [refund.pk]}, follow=True
    )
    texts = [str(m) for m in response.context["messages"]]
    assert texts == ["Reason: Give the customer a reason for the denial"]
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"
    response = client.post(
        reverse("staff:refund-bulk"),
        {"action": "deny", "refund_ids": [refund.pk], "reason": "Used item"},
        follow=True,
    )
    refund.refresh_from_db()
    assert (refund.status, refund.response_reason) == ("DENIED", "Used item")
    assert refund.total == Decimal("10.00")


@pytest.mark.django_db
def test_bulk_with_nothing_selected_says_so(client, agent):
    client.force_login(agent)
    response = client.post(reverse("staff:refund-bulk"), {"action": "approve"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["Refunds: Choose at least one refund"]


@pytest.mark.django_db
def test_bulk_rejects_foreign_next_url(client, agent):
    client.force_login(agent)
    response = client.post(
        reverse("staff:refund-bulk"), {"action": "approve", "next": "https://evil.example.com/"}
    )
    assert response["Location"] == QUEUE


@pytest.mark.django_db
def test_staff_land_on_the_queue_after_sign_in(client, agent):
    response = client.post(
        "/accounts/login/",
        {"username": agent.username, "password": factories.PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1] == (QUEUE, 302)
    assert response.status_code == 200


@pytest.mark.django_db
def test_csv_export_is_staff_only(client, customer_user):
    client.force_login(customer_user)
    assert client.get(reverse("staff:refund-export")).status_code == 403
    assert client.post(reverse("staff:refund-bulk"), {"action": "approve"}).status_code == 403


# --- views, tab counts under the filters, due times ------------------------------------------


def _requester():
    """Someone who may request a refund on any order (staff), and is not the viewer."""
    return factories.agent(username="requester@example.com")


def _view(client, view, **params):
    return _numbers(client.get(QUEUE, {"view": view, **params}))


def _age(refund, *, hours, status=None):
    """Move a refund's creation and its events `hours` into the past (status optional)."""
    when = timezone.now() - dt.timedelta(hours=hours)
    fields = {"created_at": when}
    if status:
        fields["status"] = status
    Refund.objects.filter(pk=refund.pk).update(**fields)
    RefundEvent.objects.filter(refund=refund).update(created_at=when)


@pytest.mark.django_db
def test_default_view_is_needs_a_decision_oldest_first(client, agent, order, customer_user):
    newer = _refund(order, customer_user, line_index=0)
    older = _refund(order, customer_user, line_index=1)
    flagged = _refund(order, customer_user, line_index=2)
    waiting = _refund(factories.make_order(), agent)
    _age(older, hours=30)
    _age(flagged, hours=20, status="PROCESSING")
    Refund.objects.filter(pk=flagged.pk).update(needs_attention=True)
    _age(waiting, hours=40, status="WAITING")
    client.force_login(agent)
    response = client.get(QUEUE)
    assert response.context["view"] == "decision"
    assert _numbers(response) == [older.number, flagged.number, newer.number]
    assert _view(client, "decision") == [older.number, flagged.number, newer.number]
    # "All" is the old listing: every refund, newest first.
    assert _view(client, "all") == [newer.number, flagged.number, older.number, waiting.number]
    views = {v["value"]: v for v in response.context["views"]}
    assert views["decision"]["active"]
    assert list(views) == ["decision", "manager", "assigned", "overdue", "all"]


@pytest.mark.django_db
def test_a_search_or_filter_without_a_view_lists_every_refund(client, agent, order, customer_user):
    requested = _refund(order, customer_user, line_index=0)
    issued = _refund(order, customer_user, line_index=1)
    Refund.objects.filter(pk=issued.pk).update(status="ISSUED")
    client.force_login(agent)
    # Links from the Orders page (?q=) and the dashboard (?reason=) list all they counted.
    assert _numbers(client.get(QUEUE, {"q": order.external_number})) == [
        issued.number,
        requested.number,
    ]
    assert client.get(QUEUE, {"reason": "damaged"}).context["view"] == "all"
    # Within a view the search narrows the view.
    assert _view(client, "decision", q=order.external_number) == [requested.number]
    # Sorting or paging alone keeps the default view.
    assert _numbers(client.get(QUEUE, {"per_page": "10"})) == [requested.number]


@pytest.mark.django_db
def test_awaiting_a_manager_is_above_the_limit_or_requested_by_the_viewer(
    client, agent, agent2, manager, order, customer_user, settings
):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    small = _refund(order, customer_user, line_index=0)  # 10.00
    large = _refund(order, customer_user, line_index=2)  # 100.00
    own_small = _refund(factories.make_order(), agent)  # 10.00, requested by agent
    issued_large = _refund(factories.make_order(lines=((1, "80.00", "0", "0"),)), _requester())
    Refund.objects.filter(pk=issued_large.pk).update(status="ISSUED")
    _age(large, hours=2)
    client.force_login(agent)
    assert _view(client, "manager") == [large.number, own_small.number]
    client.force_login(agent2)  # agent2 can approve agent's own refund
    assert _view(client, "manager") == [large.number]
    client.force_login(manager)
    assert _view(client, "manager") == [large.number]
    assert small.number not in _view(client, "manager")


@pytest.mark.django_db
def test_awaiting_a_manager_compares_the_limit_per_currency_as_the_rules_do(
    client, agent, customer_user, settings
):
    from refunds import rules
    from refunds.states import Action

    # 500.50 is 501 JPY (rounded half up): the rules quantize the limit to the currency.
    settings.REFUND_APPROVAL_LIMIT = Decimal("500.50")
    requester = _requester()
    jpy_at = _refund(factories.make_order(currency="JPY", lines=((1, "501", "0", "0"),)), requester)
    jpy_over = _refund(
        factories.make_order(currency="JPY", lines=((1, "502", "0", "0"),)), requester
    )
    kwd_at = _refund(
        factories.make_order(currency="KWD", lines=((1, "500.50", "0", "0"),)), requester
    )
    kwd_over = _refund(
        factories.make_order(currency="KWD", lines=((1, "500.51", "0", "0"),)), requester
    )
    usd_at = _refund(factories.make_order(lines=((1, "500.50", "0", "0"),)), requester)
    usd_over = _refund(factories.make_order(lines=((1, "500.51", "0", "0"),)), requester)
    client.force_login(agent)
    listed = set(_view(client, "manager"))
    assert listed == {jpy_over.number, kwd_over.number, usd_over.number}
    for refund in (jpy_at, jpy_over, kwd_at, kwd_over, usd_at, usd_over):
        refund = Refund.objects.select_related("order__customer", "order__account").get(
            pk=refund.pk
        )
        blocked = rules.decide(agent, refund, Action.APPROVE).code == "approval_limit"
        assert blocked == (refund.number in listed), refund.number


@pytest.mark.django_db
def test_assigned_to_me_lists_only_the_viewers_refunds(
    client, agent, agent2, manager, order, customer_user
):
    from refunds.services import refund_assign

    mine_newer = _refund(order, customer_user, line_index=0)
    mine_older = _refund(order, customer_user, line_index=1)
    theirs = _refund(order, customer_user, line_index=2)
    _refund(factories.make_order(), _requester())  # nobody's
    _age(mine_older, hours=5)
    refund_assign(actor=manager, refund=mine_newer, assignee=agent)
    refund_assign(actor=manager, refund=mine_older, assignee=agent)
    refund_assign(actor=manager, refund=theirs, assignee=agent2)
    client.force_login(agent)
    assert _view(client, "assigned") == [mine_older.number, mine_newer.number]
    client.force_login(agent2)
    assert _view(client, "assigned") == [theirs.number]
    client.force_login(manager)
    assert _view(client, "assigned") == []


@pytest.mark.django_db
def test_tab_counts_follow_the_search_and_filters_but_not_the_status_tab(
    client, agent, order, customer_user
):
    alice_requested = _refund(order, customer_user, line_index=0)
    alice_issued = _refund(order, customer_user, line_index=1)
    Refund.objects.filter(pk=alice_issued.pk).update(status="ISSUED", needs_attention=True)
    elsewhere = factories.make_order(
        account=factories.AccountFactory(name="Shoplazza EU", adapter_key="shoplazza")
    )
    _refund(elsewhere, agent)
    _refund(elsewhere, agent, reason="defective")
    client.force_login(agent)

    def tabs(**params):
        response = client.get(QUEUE, {"view": "all", **params})
        return {t["label"]: t["count"] for t in response.context["tabs"]}, response

    counts, _ = tabs()
    assert (counts["All"], counts["Requested"], counts["Issued"]) == (4, 3, 1)
    counts, response = tabs(q="alice")
    assert (counts["All"], counts["Requested"], counts["Issued"]) == (2, 1, 1)
    assert counts["Needs attention"] == 1
    # The status tab itself does not change the counts, only what is listed.
    counts, response = tabs(q="alice", status="ISSUED")
    assert (counts["All"], counts["Requested"], counts["Issued"]) == (2, 1, 1)
    assert _numbers(response) == [alice_issued.number]
    counts, response = tabs(marketplace="shoplazza")
    assert (counts["All"], counts["Requested"], counts["Issued"]) == (2, 2, 0)
    counts, response = tabs(marketplace="shoplazza", reason="defective")
    assert (counts["All"], counts["Requested"]) == (1, 1)
    assert response.context["page"].paginator.count == 1
    # The tabs' links keep the search, the filters and the view.
    issued_tab = next(t for t in response.context["tabs"] if t["label"] == "Issued")
    assert issued_tab["query"] == "status=ISSUED"
    assert "view=all" in response.context["keep_query"]
    assert "marketplace=shoplazza" in response.context["keep_query"]
    assert alice_requested.number not in _numbers(response)


@pytest.mark.django_db
def test_search_box_sits_above_the_tabs_outside_the_filters_panel(client, agent, order):
    client.force_login(agent)
    body = client.get(QUEUE).content.decode()
    search = body.index('name="q"')
    assert body.index('aria-label="Views"') < search < body.index('class="tabs statuses"')
    assert search < body.index("<details")  # not inside the collapsed panel
    panel = body[body.index("<details") : body.index("</details>")]
    assert 'name="q"' not in panel  # no q given: the panel carries none


@pytest.mark.django_db
def test_bulk_form_asks_with_each_rows_amount_and_currency(client, agent, customer_user):
    refund = _refund(
        factories.make_order(currency="KWD", lines=((1, "7.250", "0", "0"),)), _requester()
    )
    client.force_login(agent)
    body = client.get(QUEUE).content.decode()
    assert 'id="bulk" class="bulk" data-confirm-bulk data-confirm="Approve"' in body
    assert (
        f'value="{refund.pk}" aria-label="Select {refund.number}" class="row-check" '
        'data-amount="7.250" data-currency="KWD"'
    ) in body


def test_due_text_in_hours_minutes_and_days(settings):
    from refunds.due import due_for

    now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    settings.REFUND_DUE_HOURS = {"REQUESTED": 24, "WAITING": 336, "PROCESSING": 2}
    due = due_for("REQUESTED", now - dt.timedelta(hours=21), now)
    assert (due.text, due.tone, due.is_overdue) == ("Due in 3 h", "soon", False)
    assert due.at == now + dt.timedelta(hours=3)
    due = due_for("REQUESTED", now - dt.timedelta(hours=26), now)
    assert (due.text, due.tone, due.is_overdue) == ("Overdue by 2 h", "overdue", True)
    assert due_for("REQUESTED", now - dt.timedelta(hours=23, minutes=15), now).text == (
        "Due in 45 min"
    )
    assert due_for("REQUESTED", now - dt.timedelta(hours=14), now).tone == "ok"  # 10 h of 24
    assert due_for("WAITING", now - dt.timedelta(hours=20), now).text == "Due in 13 d 4 h"
    assert due_for("WAITING", now, now).text == "Due in 14 d"
    assert due_for("PROCESSING", now - dt.timedelta(hours=49), now).text == "Overdue by 47 h"
    assert due_for("PROCESSING", now - dt.timedelta(hours=50), now).text == "Overdue by 2 d"
    for final in ("ISSUED", "DENIED", "CANCELLED"):
        assert due_for(final, now - dt.timedelta(days=30), now) is None


@pytest.mark.django_db
def test_rows_show_due_and_overdue_from_when_the_status_was_entered(
    client, agent, manager, order, customer_user, monkeypatch, settings
):
    from refunds.services import refund_approve, refund_assign

    settings.REFUND_DUE_HOURS = {"REQUESTED": 24, "WAITING": 336, "PROCESSING": 2}
    fresh = _refund(order, customer_user, line_index=0)
    late = _refund(order, customer_user, line_index=1)
    moved = _refund(order, customer_user, line_index=2, refund_only=False)
    closed = _refund(factories.make_order(), _requester())
    Refund.objects.filter(pk=closed.pk).update(status="CANCELLED")
    start = timezone.now()
    Refund.objects.filter(pk=late.pk).update(created_at=start - dt.timedelta(hours=26))
    RefundEvent.objects.filter(refund=late).update(created_at=start - dt.timedelta(hours=26))
    # Created long ago but approved (now waiting for the return) 3 days ago: due from then.
    Refund.objects.filter(pk=moved.pk).update(created_at=start - dt.timedelta(days=10))
    RefundEvent.objects.filter(refund=moved).update(created_at=start - dt.timedelta(days=10))
    refund_approve(actor=agent, refund=moved)
    RefundEvent.objects.filter(refund=moved, to_status="WAITING").update(
        created_at=start - dt.timedelta(days=3)
    )
    # An assignment keeps the status: it does not restart the clock.
    refund_assign(actor=manager, refund=late, assignee=agent)
    # The clock: 21 h after the fresh refund was requested.
    fresh_at = RefundEvent.objects.get(refund=fresh).created_at
    monkeypatch.setattr(timezone, "now", lambda: fresh_at + dt.timedelta(hours=21))
    client.force_login(agent)
    response = client.get(QUEUE, {"view": "all"})
    due = {row["refund"].number: row["due"] for row in response.context["rows"]}
    assert due[fresh.number].text == "Due in 3 h"
    late_by = (fresh_at + dt.timedelta(hours=21)) - (start - dt.timedelta(hours=2))
    assert due[late.number].text == f"Overdue by {round(late_by.total_seconds() / 3600)} h"
    assert due[late.number].is_overdue
    assert due[moved.number].text.startswith("Due in 10 d")
    assert due[closed.number] is None
    body = response.content.decode()
    assert '<span class="due due-soon age age-aging" title="Due ' in body
    assert "Due in 3 h</span>" in body
    assert '<span class="due due-overdue age age-old"' in body
    assert "No due time" in body
    # The Overdue view lists only the late one.
    assert _view(client, "overdue") == [late.number]


@pytest.mark.django_db
def test_status_counts_of_a_queryset_match_the_unfiltered_counts(order, customer_user, agent):
    from refunds.selectors import refund_status_counts

    refunds = [_refund(order, customer_user, line_index=i) for i in range(3)]
    Refund.objects.filter(pk=refunds[1].pk).update(status="ISSUED", has_drift=True)
    Refund.objects.filter(pk=refunds[2].pk).update(status="PROCESSING", needs_attention=True)
    everything = refund_status_counts()
    assert refund_status_counts(Refund.objects.all()) == everything
    assert (everything["all"], everything["ISSUED"], everything["drift"]) == (3, 1, 1)
    only = refund_status_counts(Refund.objects.filter(pk=refunds[2].pk))
    assert (only["all"], only["PROCESSING"], only["attention"], only["REQUESTED"]) == (1, 1, 1, 0)


@pytest.mark.django_db
def test_overdue_filter_agrees_with_each_rows_due_time(agent, manager, order, customer_user):
    from refunds.due import due_for
    from refunds.selectors import overdue, refund_queue_queryset
    from refunds.services import refund_approve, refund_assign

    start = timezone.now()
    refunds = [_refund(order, customer_user, line_index=i, refund_only=False) for i in range(3)]
    for hours, refund in zip((30, 10, 60), refunds, strict=True):
        _age(refund, hours=hours)
    refund_approve(actor=agent, refund=refunds[2])  # waiting for the return since now
    refund_assign(actor=manager, refund=refunds[0], assignee=agent)  # keeps its clock
    for now in (start, start + dt.timedelta(hours=15), start + dt.timedelta(days=15)):
        listed = set(Refund.objects.filter(overdue(now)).values_list("pk", flat=True))
        expected = {
            r.pk
            for r in refund_queue_queryset()
            if (due := due_for(r.status, r.status_since, now)) and due.is_overdue
        }
        assert listed == expected, now
    assert set(Refund.objects.filter(overdue(start)).values_list("pk", flat=True)) == {
        refunds[0].pk
    }
