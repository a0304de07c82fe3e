import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

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
    response = client.get(QUEUE)
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
        # session, user, permissions (user + groups), tab counts (which also give the page's
        # count), page rows and the accounts offered in the filter
        ({}, 7),
        ({"status": "REQUESTED"}, 7),
        # plus the page's own count
        ({"reason": "damaged"}, 8),
        # plus the search's order lookup
        ({"q": "ORDER"}, 9),
    ],
    ids=["unfiltered", "status", "reason", "search"],
)
@pytest.mark.django_db
def test_queue_runs_a_fixed_number_of_queries(
    client, agent, rows, query, expected, django_assert_num_queries
):
    refunds = _bulk_refunds(rows)
    query = {k: refunds[0].order.external_number if v == "ORDER" else v for k, v in query.items()}
    client.force_login(agent)
    with django_assert_num_queries(expected):
        response = client.get(QUEUE, {"per_page": str(rows), **query})
    assert len(response.context["rows"]) == rows


@pytest.mark.django_db
def test_page_count_from_tab_counts_matches_a_real_count(client, agent, order, customer_user):
    requested = _refund(order, customer_user, line_index=0)
    processing = _refund(order, customer_user, line_index=1, reason="defective")
    drifting = _refund(order, customer_user, line_index=2)
    Refund.objects.filter(pk=processing.pk).update(status="PROCESSING", needs_attention=True)
    Refund.objects.filter(pk=drifting.pk).update(status="ISSUED", has_drift=True)
    _refund(factories.make_order(), agent)
    client.force_login(agent)
    response = client.get(QUEUE)
    tabs = {t["label"]: t["count"] for t in response.context["tabs"]}
    assert (tabs["All"], tabs["Requested"], tabs["Processing"], tabs["Issued"]) == (4, 2, 1, 1)
    assert tabs["Needs attention"] == 1
    assert response.context["page"].paginator.count == 4
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
def test_search_ignores_case_and_matches_every_order_of_the_customer(
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
    assert _numbers(client.get(QUEUE, {"q": "alice@example"})) == []  # exact, not a fragment


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
