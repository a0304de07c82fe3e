"""The portal under the account's return policy and with a clear request form: each line says
whether it can be returned and why not; a line outside the policy has no input and a forged one
is refused with the reason; "Other" needs an explanation; unit prices and a running total from
the calculator (htmx or, without JavaScript, "Update the total"); the refund's page explains the
amount line by line."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import ReturnPolicy
from refunds.calculator import LineChoice, propose_refund
from refunds.models import Refund, RefundEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, customer_user):
    client.force_login(customer_user)
    return client


@pytest.fixture
def policy_order(order):
    """Alice's order (2 × 10.00; 3 × 9.99 −1.00 +0.50; 1 × 100.00; shipping 5.00), delivered
    10 days ago under a 30-day window; the third line is final sale."""
    order.delivered_at = timezone.now() - dt.timedelta(days=10)
    order.save()
    ReturnPolicy.objects.create(
        account=order.account, window_days=30, non_returnable_skus=order.lines.last().sku
    )
    return order


def _closed(order):
    order.delivered_at = timezone.now() - dt.timedelta(days=45)
    order.save()
    day = timezone.localtime(order.delivered_at).date() + dt.timedelta(days=30)
    return f"Returns for this order closed on {day.day} {day:%b %Y}, 30 days after delivery."


def _url(order):
    return f"/portal/orders/{order.pk}/refund/"


def test_the_order_page_says_per_line_whether_it_can_be_returned(alice_client, policy_order):
    first, _, final = policy_order.lines.order_by("id")
    until = timezone.localtime(policy_order.delivered_at).date() + dt.timedelta(days=30)
    body = alice_client.get(f"/portal/orders/{policy_order.pk}/").content.decode()
    row = body.split(f'id="order-line-{first.pk}"')[1].split("</tr>")[0]
    assert f"Returnable until {until.day} {until:%b %Y}." in row
    assert "10.00 USD" in row  # the unit price
    final_row = body.split(f'id="order-line-{final.pk}"')[1].split("</tr>")[0]
    assert "This item cannot be returned (final sale)." in final_row
    assert "Request a refund" in body


def test_an_order_whose_lines_all_closed_offers_no_request(alice_client, policy_order):
    reason = _closed(policy_order)
    body = alice_client.get(f"/portal/orders/{policy_order.pk}/").content.decode()
    assert body.count(reason) == 2
    assert "Request a refund" not in body


def test_the_form_shows_unit_prices_and_no_input_for_a_line_outside_the_policy(
    alice_client, policy_order
):
    first, second, final = policy_order.lines.order_by("id")
    body = alice_client.get(_url(policy_order)).content.decode()
    assert f'name="line_{first.pk}"' in body
    assert f'name="line_{final.pk}"' not in body
    assert (
        f'<p class="policy-no" id="line-{final.pk}-reason">'
        "This item cannot be returned (final sale).</p>" in body
    )
    assert "10.00 USD each · up to 2 of 2" in body
    assert "9.99 USD each · up to 3 of 3" in body
    # Each described input points at a help text that exists.
    for target in re.findall(r'aria-describedby="([^"]+)"', body):
        for id_ in target.split():
            assert f'id="{id_}"' in body
    assert f'hx-params="csrfmiddlewaretoken,total,line_{first.pk},line_{second.pk}"' in body
    assert "Shipping: 5.00 USD paid, not refunded by this request." in body


def test_a_forged_quantity_for_a_line_outside_the_policy_is_refused_with_the_reason(
    alice_client, policy_order
):
    first, _, final = policy_order.lines.order_by("id")
    response = alice_client.post(
        _url(policy_order),
        {
            f"line_{first.pk}": "1",
            f"line_{final.pk}": "1",
            "reason_code": "defective",
            "goods": "send_back",
        },
    )
    assert response.status_code == 400
    assert (
        f"{final.name} ({final.sku}): This item cannot be returned (final sale)."
        in response.content.decode()
    )
    assert (Refund.objects.count(), RefundEvent.objects.count()) == (0, 0)


def test_a_line_outside_the_window_is_refused_with_the_reason(alice_client, policy_order):
    reason = _closed(policy_order)
    first = policy_order.lines.first()
    body = alice_client.get(_url(policy_order)).content.decode()
    assert f'name="line_{first.pk}"' not in body
    assert reason in body
    response = alice_client.post(
        _url(policy_order),
        {f"line_{first.pk}": "2", "reason_code": "defective", "goods": "keep"},
    )
    assert response.status_code == 400
    assert f"{first.name} ({first.sku}): {reason}" in response.content.decode()
    assert Refund.objects.count() == 0


def test_other_without_an_explanation_is_an_error_beside_the_explanation(
    alice_client, policy_order
):
    first = policy_order.lines.first()
    form = alice_client.get(_url(policy_order)).content.decode()
    assert (
        '<div class="muted help" id="id_customer_explanation_helptext">Required when the reason '
        "is “Other”.</div>"
    ) in form
    assert 'aria-describedby="id_customer_explanation_helptext"' in form
    data = {f"line_{first.pk}": "1", "reason_code": "other", "goods": "keep"}
    response = alice_client.post(_url(policy_order), data)
    assert response.status_code == 400
    body = response.content.decode()
    assert (
        '<div id="id_customer_explanation_error"><p class="error" role="alert">Tell us what '
        "happened: the reason “Other” needs an explanation</p></div>"
    ) in body
    assert Refund.objects.count() == 0

    response = alice_client.post(
        _url(policy_order), {**data, "customer_explanation": "The lid does not fit"}
    )
    assert response.status_code == 302
    assert Refund.objects.get().customer_explanation == "The lid does not fit"


def test_the_running_total_is_the_calculators_and_matches_the_refund(alice_client, policy_order):
    first, second, _ = policy_order.lines.order_by("id")
    quantities = {f"line_{first.pk}": "1", f"line_{second.pk}": "2"}
    expected = propose_refund(
        order=policy_order,
        lines=[
            LineChoice(order_line_id=first.pk, quantity=1),
            LineChoice(order_line_id=second.pk, quantity=2),
        ],
    )
    assert expected.total == Decimal("29.65")  # 10.00 + 2 × 9.99 − 2/3 of 1.00 + 2/3 of 0.50

    partial = alice_client.post(
        _url(policy_order), {**quantities, "total": "1"}, HTTP_HX_REQUEST="true"
    )
    assert partial.status_code == 200
    body = partial.content.decode()
    assert body.startswith('<section id="request-total"')
    assert '<dd class="total" id="request-total-amount">29.65 USD</dd>' in body
    assert f"<dt>{first.name} × 1</dt><dd>10.00 USD</dd>" in body
    assert f"<dt>{second.name} × 2</dt><dd>19.65 USD</dd>" in body
    assert "5.00 USD paid, not refunded by this request" in body
    assert Refund.objects.count() == 0

    too_many = alice_client.post(
        _url(policy_order), {f"line_{first.pk}": "5", "total": "1"}, HTTP_HX_REQUEST="true"
    )
    assert "Correct the quantities to see your refund." in too_many.content.decode()

    # Without JavaScript, "Update the total" draws the page again with the total, no errors.
    page = alice_client.post(_url(policy_order), {**quantities, "total": "1"})
    assert page.status_code == 200
    assert 'id="request-total-amount">29.65 USD</dd>' in page.content.decode()
    assert "This field is required" not in page.content.decode()
    assert Refund.objects.count() == 0

    created = alice_client.post(
        _url(policy_order), {**quantities, "reason_code": "defective", "goods": "keep"}
    )
    assert created.status_code == 302
    assert Refund.objects.get().total == expected.total


def test_the_refund_page_explains_the_amount_line_by_line(alice_client, policy_order):
    first, second, _ = policy_order.lines.order_by("id")
    alice_client.post(
        _url(policy_order),
        {
            f"line_{first.pk}": "2",
            f"line_{second.pk}": "2",
            "reason_code": "defective",
            "goods": "keep",
        },
    )
    refund = Refund.objects.get()
    body = alice_client.get(f"/portal/refunds/{refund.pk}/").content.decode()
    table = body.split('<table id="refund-breakdown">')[1].split("</table>")[0]
    cells = [
        re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)
    ]
    assert cells == [
        [first.name, first.sku],
        ["2", "×", "10.00", "USD"],
        ["—"],
        ["—"],
        ["20.00", "USD"],
        [second.name, second.sku],
        ["2", "×", "9.99", "USD"],
        ["−", "0.67", "USD"],
        # The line's units share 29.47 as 9.83 + 9.82 + 9.82: the cent of rounding is the tax's.
        ["+", "0.34", "USD"],
        ["19.65", "USD"],
        ["Not", "refunded"],
        ["39.65", "USD"],
    ]
    assert refund.total == Decimal("39.65")
