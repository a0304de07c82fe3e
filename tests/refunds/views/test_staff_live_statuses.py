"""The statuses endpoint the queue's live badges read: staff only, one query for many ids,
`moving` only while a refund is with the workers, and a clear 400 for ids it cannot read."""

import pytest
from django.urls import reverse

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories

URL = reverse("staff:refund-statuses")


def _refunds(order, customer_user, n):
    out = []
    for _ in range(n):
        o = factories.make_order(customer=order.customer)
        out.append(
            refund_request(
                actor=customer_user,
                order=o,
                reason_code="damaged",
                refund_only=True,
                lines=[LineChoice(order_line_id=o.lines.order_by("id").first().pk, quantity=1)],
            )
        )
    return out


@pytest.mark.django_db
def test_statuses_of_the_rows_asked_for(
    client, agent, order, customer_user, django_assert_num_queries
):
    a, b, c = _refunds(order, customer_user, 3)
    Refund.objects.filter(pk=b.pk).update(status="PROCESSING")
    Refund.objects.filter(pk=c.pk).update(status="PROCESSING", needs_attention=True)
    client.force_login(agent)
    with django_assert_num_queries(5):  # session, user, 2 × permissions, the refunds
        response = client.get(URL, {"ids": f"{c.pk}, {a.pk},{b.pk},{b.pk},987654"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "refunds": [
            {
                "id": a.pk,
                "number": f"RD-{a.pk}",
                "status": "REQUESTED",
                "label": "Requested",
                "needs_attention": False,
                "moving": False,
            },
            {
                "id": b.pk,
                "number": f"RD-{b.pk}",
                "status": "PROCESSING",
                "label": "Processing",
                "needs_attention": False,
                "moving": True,
            },
            {
                "id": c.pk,
                "number": f"RD-{c.pk}",
                "status": "PROCESSING",
                "label": "Processing",
                "needs_attention": True,
                "moving": False,
            },
        ]
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ("", "Give the refunds to read as ids=12,13 (their numbers without RD-)."),
        ("RD-12", "ids must be refund numbers separated by commas, e.g. ids=12,13."),
        ("1;2", "ids must be refund numbers separated by commas, e.g. ids=12,13."),
        ("-1", "ids must be refund numbers separated by commas, e.g. ids=12,13."),
        ("9" * 40, "ids must be refund numbers separated by commas, e.g. ids=12,13."),
        (
            ",".join(str(i) for i in range(1, 203)),
            "At most 200 refunds at a time; 202 were asked for.",
        ),
    ],
)
def test_ids_it_cannot_read_get_a_clear_400(client, agent, ids, message):
    client.force_login(agent)
    response = client.get(URL, {"ids": ids})
    assert response.status_code == 400
    assert response.json() == {"error": message}


@pytest.mark.django_db
def test_customers_may_not_read_statuses(client, customer_user, order):
    (refund,) = _refunds(order, customer_user, 1)
    client.force_login(customer_user)
    assert client.get(URL, {"ids": str(refund.pk)}).status_code == 403
    client.logout()
    assert client.get(URL, {"ids": str(refund.pk)}).status_code == 302
