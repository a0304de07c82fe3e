import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request
from refunds.views.staff.dashboard import days_and_hours, percent
from tests import factories

DASHBOARD = reverse("staff:dashboard")
QUEUE = reverse("staff:refund-queue")


def _refund(order, actor, reason="damaged", line_index=0):
    line = list(order.lines.all())[line_index]
    return refund_request(
        actor=actor,
        order=order,
        reason_code=reason,
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


@pytest.mark.django_db
def test_dashboard_figures(client, agent, order, customer_user):
    issued_1 = _refund(order, customer_user, line_index=0)
    issued_2 = _refund(order, customer_user, line_index=1, reason="defective")
    _refund(order, customer_user, line_index=2, reason="defective")
    now = timezone.now()
    Refund.objects.filter(pk=issued_1.pk).update(
        status="ISSUED", issued_at=now, created_at=now - dt.timedelta(hours=2)
    )
    Refund.objects.filter(pk=issued_2.pk).update(
        status="ISSUED",
        issued_at=now,
        created_at=now - dt.timedelta(hours=4),
        has_drift=True,
        drift_note="LLZW says DENIED",
    )
    client.force_login(agent)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    ctx = response.context
    assert ctx["median_hours"] == Decimal("3.0")
    assert ctx["median_display"] == "3 h"
    today = timezone.localdate()
    period = f"created_after={today - dt.timedelta(days=29)}&created_before={today}"
    assert ctx["per_marketplace"] == [
        {
            "marketplace": "LLZW shop",
            "currency": "USD",
            "amount": Decimal("19.82"),
            "count": 2,
            "url": f"{QUEUE}?status=ISSUED&marketplace=llzw&{period}",
        }
    ]
    assert ctx["reasons"] == [
        {
            "code": "defective",
            "reason": "Defective or not working",
            "count": 2,
            "url": f"{QUEUE}?reason=defective&{period}",
        },
        {
            "code": "damaged",
            "reason": "Arrived damaged",
            "count": 1,
            "url": f"{QUEUE}?reason=damaged&{period}",
        },
    ]
    assert ctx["reasons_chart"]["labels"] == ["Defective or not working: 2", "Arrived damaged: 1"]
    issued = next(d for d in ctx["per_day_chart"]["datasets"] if d["status"] == "ISSUED")
    assert sum(issued["data"]) == 2
    assert [r.pk for r in ctx["drift"]] == [issued_2.pk]
    body = response.content.decode()
    assert "chart-4.4.7.umd.min.js" in body
    assert 'id="data-per-day"' in body
    assert "LLZW says DENIED" in body


@pytest.mark.django_db
def test_dashboard_empty_and_forbidden_for_customers(client, agent, customer_user):
    client.force_login(agent)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert response.context["median_hours"] is None
    assert "Nothing issued yet." in response.content.decode()
    client.force_login(customer_user)
    assert client.get(DASHBOARD).status_code == 403
    client.logout()
    assert client.get(DASHBOARD).status_code == 302


@pytest.mark.parametrize(
    ("duration", "shown"),
    [
        (dt.timedelta(minutes=35), "35 min"),
        (dt.timedelta(minutes=59, seconds=40), "1 h"),
        (dt.timedelta(hours=5, minutes=20), "5 h"),
        (dt.timedelta(hours=23, minutes=31), "1 d"),
        (dt.timedelta(days=1, hours=4, minutes=10), "1 d 4 h"),
        (dt.timedelta(days=12, hours=1), "12 d 1 h"),
    ],
)
def test_days_and_hours(duration, shown):
    assert days_and_hours(duration) == shown


def test_percent_is_decimal_with_one_place():
    assert percent(Decimal("19.82"), Decimal("154.47")) == Decimal("12.8")
    assert percent(1, 3) == Decimal("33.3")
    assert percent(2, 0) is None


def _issue(refund, *, created_at, hours=1):
    Refund.objects.filter(pk=refund.pk).update(
        status="ISSUED", created_at=created_at, issued_at=created_at + dt.timedelta(hours=hours)
    )


@pytest.mark.django_db
def test_refund_rates_by_marketplace_reason_and_sku(client, agent, customer_user):
    """Two LLZW orders (USD) and one HepsiGlobal order (EUR) placed in the period; the issued
    refunds created in it give the rates; a refund created before the period counts nowhere."""
    customer = factories.CustomerFactory(user=customer_user)
    hepsi = factories.AccountFactory(name="HepsiGlobal TR", adapter_key="hepsiglobal")
    llzw = factories.AccountFactory(name="LLZW main", adapter_key="llzw")
    now = timezone.now()
    usd_1 = factories.make_order(
        account=llzw, customer=customer, lines=((2, "10.00", "0", "0"),), external_number="U1"
    )  # 25.00 with shipping
    usd_2 = factories.make_order(
        account=llzw, customer=customer, lines=((2, "37.50", "0", "0"),), external_number="U2"
    )  # 80.00
    eur = factories.make_order(
        account=hepsi,
        customer=customer,
        currency="EUR",
        lines=((4, "12.50", "0", "0"),),
        external_number="E1",
    )  # 55.00
    _issue(_refund(usd_1, customer_user), created_at=now - dt.timedelta(days=2), hours=30)
    _issue(
        _refund(eur, customer_user, reason="defective"),
        created_at=now - dt.timedelta(days=1),
        hours=2,
    )
    old = _refund(usd_2, customer_user)
    _issue(old, created_at=now - dt.timedelta(days=45))
    _refund(usd_2, customer_user, reason="defective")  # requested, not issued: no rate
    client.force_login(agent)
    response = client.get(DASHBOARD)
    ctx = response.context
    today = timezone.localdate()
    period = f"created_after={today - dt.timedelta(days=29)}&created_before={today}"
    assert [
        (r["marketplace"], r["currency"], r["orders"], r["ordered"], r["refunds"], r["refunded"])
        for r in ctx["by_marketplace"]
    ] == [
        ("HepsiGlobal", "EUR", 1, Decimal("55.00"), 1, Decimal("12.50")),
        ("LLZW shop", "USD", 2, Decimal("105.00"), 1, Decimal("10.00")),
    ]
    assert [(r["amount_rate"], r["count_rate"]) for r in ctx["by_marketplace"]] == [
        (Decimal("22.7"), Decimal("100.0")),
        (Decimal("9.5"), Decimal("50.0")),
    ]
    assert (
        ctx["by_marketplace"][0]["url"] == f"{QUEUE}?status=ISSUED&marketplace=hepsiglobal&{period}"
    )
    assert [
        (r["reason"], r["currency"], r["refunds"], r["refunded"], r["amount_rate"])
        for r in ctx["by_reason"]
    ] == [
        ("Arrived damaged", "USD", 1, Decimal("10.00"), Decimal("9.5")),
        ("Defective or not working", "EUR", 1, Decimal("12.50"), Decimal("22.7")),
    ]
    assert ctx["by_reason"][0]["url"] == f"{QUEUE}?status=ISSUED&reason=damaged&{period}"
    skus = {r["sku"]: r for r in ctx["by_sku"]}
    assert set(skus) == {"U1-SKU-1", "E1-SKU-1"}
    assert (skus["U1-SKU-1"]["units"], skus["U1-SKU-1"]["ordered_units"]) == (1, 2)
    assert skus["U1-SKU-1"]["refunded"] == Decimal("10.00")
    assert skus["U1-SKU-1"]["ordered"] == Decimal("20.00")
    assert skus["U1-SKU-1"]["amount_rate"] == Decimal("50.0")
    assert skus["E1-SKU-1"]["unit_rate"] == Decimal("25.0")
    assert skus["E1-SKU-1"]["url"] == f"{QUEUE}?status=ISSUED&sku=E1-SKU-1&{period}"
    # Median of 30 h and 2 h; the refund created before the period is not in it.
    assert ctx["issued_sample"] == 2
    assert ctx["median_display"] == "16 h"
    body = response.content.decode()
    assert "22.7 %" in body
    assert "12.50 EUR" in body


@pytest.mark.django_db
def test_every_figure_link_lists_the_refunds_behind_it(client, agent, customer_user):
    customer = factories.CustomerFactory(user=customer_user)
    hepsi = factories.AccountFactory(name="HepsiGlobal TR", adapter_key="hepsiglobal")
    now = timezone.now()
    orders = [
        factories.make_order(customer=customer, lines=((2, "10.00", "0", "0"),)),
        factories.make_order(customer=customer, account=hepsi, lines=((2, "10.00", "0", "0"),)),
    ]
    a = _refund(orders[0], customer_user)
    b = _refund(orders[1], customer_user, reason="defective")
    c = _refund(orders[1], customer_user, reason="defective")
    _issue(a, created_at=now - dt.timedelta(days=3))
    _issue(b, created_at=now - dt.timedelta(days=3))
    Refund.objects.filter(pk=c.pk).update(created_at=now - dt.timedelta(days=40))
    client.force_login(agent)
    ctx = client.get(DASHBOARD).context

    def listed(url):
        response = client.get(url)
        assert response.status_code == 200
        return sorted(row["refund"].pk for row in response.context["rows"])

    assert listed(ctx["issued_url"]) == sorted([a.pk, b.pk])
    by_mp = {r["key"]: r for r in ctx["by_marketplace"]}
    assert listed(by_mp["hepsiglobal"]["url"]) == [b.pk]
    assert listed(by_mp["llzw"]["url"]) == [a.pk]
    reasons = {r["code"]: r for r in ctx["reasons"]}
    assert listed(reasons["defective"]["url"]) == [b.pk]  # c was created before the period
    assert listed(ctx["reasons_url"]) == sorted([a.pk, b.pk])
    sku = orders[1].lines.get().sku
    assert listed(next(r["url"] for r in ctx["by_sku"] if r["sku"] == sku)) == [b.pk]


@pytest.mark.django_db
def test_chosen_period_and_a_wrong_one(client, agent, customer_user):
    customer = factories.CustomerFactory(user=customer_user)
    order = factories.make_order(customer=customer, lines=((2, "10.00", "0", "0"),))
    refund = _refund(order, customer_user)
    _issue(refund, created_at=timezone.now() - dt.timedelta(days=45), hours=26)
    client.force_login(agent)
    assert client.get(DASHBOARD).context["issued_sample"] == 0
    today = timezone.localdate()
    since = today - dt.timedelta(days=60)
    response = client.get(DASHBOARD, {"date_from": since.isoformat(), "date_to": today.isoformat()})
    ctx = response.context
    assert (ctx["since"], ctx["until"], ctx["span"]) == (since, today, 61)
    assert ctx["median_display"] == "1 d 2 h"
    assert len(ctx["per_day_chart"]["labels"]) == 61
    assert ctx["issued_url"] == (
        f"{QUEUE}?status=ISSUED&created_after={since.isoformat()}&created_before={today}"
    )
    wrong = client.get(DASHBOARD, {"date_from": today.isoformat(), "date_to": since.isoformat()})
    assert wrong.status_code == 200
    assert "The start of the period must not be after its end." in wrong.content.decode()
    assert wrong.context["since"] == today - dt.timedelta(days=29)
    too_long = client.get(DASHBOARD, {"date_from": "2020-01-01", "date_to": today.isoformat()})
    assert "Choose a period of at most 366 days." in too_long.content.decode()


@pytest.mark.django_db
def test_queue_filters_by_sku(client, agent, order, customer_user):
    first = _refund(order, customer_user, line_index=0)
    _refund(order, customer_user, line_index=1)
    client.force_login(agent)
    sku = order.lines.order_by("id").first().sku
    response = client.get(QUEUE, {"sku": sku})
    assert [row["refund"].pk for row in response.context["rows"]] == [first.pk]


@pytest.mark.django_db
def test_dashboard_figures_ask_again_for_the_same_period(client, agent, order, customer_user):
    client.force_login(agent)
    params = {"date_from": "2026-01-01", "date_to": "2026-01-31"}
    page = client.get(DASHBOARD, params).content.decode()
    live = reverse("staff:dashboard-live")
    assert f'hx-get="{live}?date_from=2026-01-01&amp;date_to=2026-01-31"' in page
    assert 'hx-trigger="every 5s"' in page
    refund = _refund(order, customer_user)
    first = client.get(live, params)
    assert first.status_code == 200
    assert first["Cache-Control"] == "no-store"
    body = first.content.decode()
    assert 'id="dashboard-kpis"' in body
    assert "<html" not in body  # the figures alone
    assert "median request → issued (0 refunds created 1 Jan – 31 Jan 2026)" in body

    def processing(html: str) -> str:
        start = html.index('id="kpi-processing"')
        return html[html.index('<span class="kpi-value">', start) :].split(">", 1)[1].split("<")[0]

    assert processing(body) == "0"
    Refund.objects.filter(pk=refund.pk).update(status="PROCESSING")
    assert processing(client.get(live, params).content.decode()) == "1"


@pytest.mark.django_db
def test_dashboard_figures_are_for_staff_only(client, customer_user):
    client.force_login(customer_user)
    assert client.get(reverse("staff:dashboard-live")).status_code == 403
