from decimal import Decimal

import pytest
from django.urls import reverse

from refunds.models import Refund, RefundEvent
from tests import factories


def _url(order, preview=False):
    return reverse("staff:refund-preview" if preview else "staff:refund-new", args=[order.pk])


def _lines(order):
    return list(order.lines.all())


@pytest.mark.django_db
def test_form_lists_lines_with_refundable_units(client, agent, order):
    client.force_login(agent)
    response = client.get(_url(order))
    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(info.line.sku, info.units, info.amount) for info, _ in rows] == [
        (f"{order.external_number}-SKU-1", 2, Decimal("20.00")),
        (f"{order.external_number}-SKU-2", 3, Decimal("29.47")),
        (f"{order.external_number}-SKU-3", 1, Decimal("100.00")),
    ]
    assert "htmx-2.0.4.min.js" in response.content.decode()


@pytest.mark.django_db
def test_live_preview_uses_the_calculator(client, agent, order):
    line1, line2, _ = _lines(order)
    client.force_login(agent)
    response = client.post(
        _url(order, preview=True),
        {
            f"qty_{line1.pk}": "1",
            f"qty_{line2.pk}": "1",
            "shipping_amount": "5.00",
        },
    )
    assert response.status_code == 200
    proposal = response.context["proposal"]
    assert [line.amount for line in proposal.lines] == [Decimal("10.00"), Decimal("9.82")]
    assert proposal.total == Decimal("24.82")
    assert '<dd class="num" id="preview-total">24.82 USD</dd>' in response.content.decode()
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_preview_explains_what_is_over_the_limit(client, agent, order):
    client.force_login(agent)
    response = client.post(_url(order, preview=True), {"shipping_amount": "5.01"})
    assert response.context["preview_error"] == "Shipping: 5.00 USD refundable, 5.01 USD requested"
    response = client.post(_url(order, preview=True), {"shipping_amount": "1.001"})
    assert response.context["preview_error"] == "Correct the highlighted fields to see the amount."


@pytest.mark.django_db
def test_preview_button_works_without_javascript(client, agent, order):
    line1 = _lines(order)[0]
    client.force_login(agent)
    response = client.post(_url(order), {f"qty_{line1.pk}": "2", "preview": "1"})
    assert response.status_code == 200
    assert response.context["proposal"].total == Decimal("20.00")
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_create_refund_on_behalf_of_customer(client, agent, order):
    line1, _, line3 = _lines(order)
    client.force_login(agent)
    response = client.post(
        _url(order),
        {
            f"qty_{line1.pk}": "1",
            f"qty_{line3.pk}": "1",
            "shipping_amount": "",
            "additional_amount": "",
            "reason_code": "not_as_described",
            "refund_only": "on",
            "customer_explanation": "Said on the phone",
            "note": "call 123",
            "create": "1",
        },
        follow=True,
    )
    refund = Refund.objects.get()
    assert response.redirect_chain == [(reverse("staff:refund-detail", args=[refund.pk]), 302)]
    assert [str(m) for m in response.context["messages"]] == [
        f"{refund.number} requested for 110.00 USD."
    ]
    assert (refund.status, refund.source, refund.requested_by, refund.refund_only) == (
        "REQUESTED",
        "staff",
        agent,
        True,
    )
    assert refund.customer_explanation == "Said on the phone"
    assert RefundEvent.objects.get(refund=refund).note == "call 123"


@pytest.mark.django_db
def test_create_refused_shows_errors_and_writes_nothing(client, agent, order):
    line1 = _lines(order)[0]
    client.force_login(agent)
    response = client.post(
        _url(order),
        {
            f"qty_{line1.pk}": "3",
            "reason_code": "damaged",
            "create": "1",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        f"qty_{line1.pk}": ["Ensure this value is less than or equal to 2."]
    }
    response = client.post(_url(order), {"reason_code": "", "create": "1"})
    assert response.status_code == 400
    assert response.context["form"].errors == {"reason_code": ["This field is required."]}
    response = client.post(_url(order), {"reason_code": "damaged", "create": "1"})
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Choose at least one line, shipping or an amount to refund"
    ]
    response = client.post(
        _url(order), {"reason_code": "damaged", "shipping_amount": "6", "create": "1"}
    )
    assert response.context["form"].errors == {
        "shipping_amount": ["Shipping: 5.00 USD refundable, 6.00 USD requested"]
    }
    assert Refund.objects.count() == 0
    assert RefundEvent.objects.count() == 0


@pytest.mark.django_db
def test_new_refund_needs_add_permission(client, order):
    viewer = factories.UserFactory(username="viewer@example.com", is_staff=True)
    from django.contrib.auth.models import Permission

    viewer.user_permissions.add(Permission.objects.get(codename="view_refund"))
    client.force_login(viewer)
    assert client.get(reverse("staff:refund-queue")).status_code == 200
    assert client.get(_url(order)).status_code == 403
    assert client.post(_url(order), {"reason_code": "damaged", "create": "1"}).status_code == 403
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_unknown_order_is_404(client, agent):
    client.force_login(agent)
    assert client.get(reverse("staff:refund-new", args=[424242])).status_code == 404
