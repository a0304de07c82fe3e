import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request

DASHBOARD = reverse("staff:dashboard")


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
    assert ctx["per_marketplace"] == [
        {"marketplace": "LLZW shop", "currency": "USD", "amount": Decimal("19.82"), "count": 2}
    ]
    assert ctx["reasons"] == [
        {"reason": "Defective or not working", "count": 2},
        {"reason": "Arrived damaged", "count": 1},
    ]
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
