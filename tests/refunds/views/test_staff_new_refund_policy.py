"""Staff refunding a line outside the return policy: the new-refund page says why per line and
offers the override note only then; without a note nothing is created, with one the request's
event records it and the timeline tells it."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from orders.models import ReturnPolicy
from refunds.models import Refund, RefundEvent
from refunds.timeline import event_sentence

pytestmark = pytest.mark.django_db


@pytest.fixture
def final_sale_order(order):
    ReturnPolicy.objects.create(account=order.account, non_returnable_skus=order.lines.last().sku)
    return order


def test_the_override_note_is_offered_only_when_a_line_is_outside_the_policy(client, agent, order):
    client.force_login(agent)
    url = reverse("staff:refund-new", args=[order.pk])
    assert "Why override the return policy" not in client.get(url).content.decode()

    ReturnPolicy.objects.create(account=order.account, non_returnable_skus=order.lines.last().sku)
    body = client.get(url).content.decode()
    final = order.lines.last()
    assert (
        f'<td id="policy-{final.pk}"><span class="policy-breach">This item cannot be returned '
        "(final sale).</span></td>"
    ) in body
    assert f'<td id="policy-{order.lines.first().pk}">Returnable</td>' in body
    assert '<label for="id_policy_override_note">Why override the return policy</label>' in body


def test_staff_need_a_note_to_refund_outside_the_policy_and_it_is_recorded(
    client, agent, final_sale_order
):
    order = final_sale_order
    final = order.lines.last()
    client.force_login(agent)
    url = reverse("staff:refund-new", args=[order.pk])
    data = {f"qty_{final.pk}": "1", "reason_code": "defective", "create": "1"}

    refused = client.post(url, data)
    assert refused.status_code == 400
    assert (
        '<div id="id_policy_override_note_error"><p class="error" role="alert">'
        f"{final.name} ({final.sku}): This item cannot be returned (final sale). To refund it "
        "anyway, say why you override the return policy</p></div>"
    ) in refused.content.decode()
    assert (Refund.objects.count(), RefundEvent.objects.count()) == (0, 0)

    created = client.post(url, {**data, "policy_override_note": "Faulty batch, goodwill"})
    refund = Refund.objects.get()
    assert created.status_code == 302
    event = refund.events.get(action="request")
    assert event.changes["policy_override"]["note"] == "Faulty batch, goodwill"
    assert event_sentence(event) == (
        f"agent1@example.com (refund agent) asked for a refund of {refund.total} USD: Requested, "
        "overriding the return policy: “Faulty batch, goodwill”."
    )
    detail = client.get(reverse("staff:refund-detail", args=[refund.pk])).content.decode()
    assert "overriding the return policy: “Faulty batch, goodwill”" in detail


def test_a_window_that_closed_is_shown_to_staff_too(client, agent, order):
    order.delivered_at = timezone.now() - dt.timedelta(days=20)
    order.save()
    ReturnPolicy.objects.create(account=order.account, window_days=7)
    client.force_login(agent)
    body = client.get(reverse("staff:refund-new", args=[order.pk])).content.decode()
    assert body.count("Returns for this order closed on") == 3
    assert "Why override the return policy" in body


def test_the_live_preview_warns_when_a_chosen_line_is_outside_the_policy(
    client, agent, final_sale_order
):
    order = final_sale_order
    first, final = order.lines.first(), order.lines.last()
    client.force_login(agent)
    url = reverse("staff:refund-preview", args=[order.pk])

    fine = client.post(url, {f"qty_{first.pk}": "1"}).content.decode()
    assert 'id="preview-total"' in fine
    assert "Outside the return policy" not in fine

    outside = client.post(url, {f"qty_{final.pk}": "1"}).content.decode()
    assert 'id="preview-total"' in outside  # the amount is still shown
    assert "<strong>Outside the return policy</strong>" in outside
    assert f"<li>{final.sku}: This item cannot be returned (final sale).</li>" in outside
    assert (Refund.objects.count(), RefundEvent.objects.count()) == (0, 0)
