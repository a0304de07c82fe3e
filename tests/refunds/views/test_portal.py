import re

import pytest
from django.core import mail
from django.core.cache import cache

from refunds.calculator import LineChoice
from refunds.models import Refund, RefundEvent
from refunds.services import refund_approve, refund_request
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_lockouts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice_client(client, customer_user):
    client.force_login(customer_user)
    return client


def _request(order, user, *, refund_only=False):
    line = order.lines.first()
    return refund_request(
        actor=user,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def test_login_with_email_and_password(client, customer_user):
    response = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == "/"
    assert client.get("/portal/").status_code == 200


def test_lockout_after_repeated_failures_even_with_the_right_password(
    client, customer_user, settings
):
    settings.LOGIN_LOCKOUT_ATTEMPTS = 3
    for _ in range(3):
        response = client.post(
            "/accounts/login/", {"username": "alice@example.com", "password": "wrong"}
        )
        assert response.status_code == 200
        assert "do not match" in response.content.decode()
    response = client.post(
        "/accounts/login/", {"username": "ALICE@example.com", "password": factories.PASSWORD}
    )
    assert response.status_code == 200
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_lockout_per_address_across_accounts(client, customer_user, settings):
    settings.LOGIN_LOCKOUT_ADDRESS_ATTEMPTS = 2
    for n in range(2):
        client.post("/accounts/login/", {"username": f"nobody{n}@example.com", "password": "x"})
    response = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert "Too many failed sign-ins" in response.content.decode()
    other_address = client.post(
        "/accounts/login/",
        {"username": "alice@example.com", "password": factories.PASSWORD},
        REMOTE_ADDR="10.0.0.9",
    )
    assert other_address.status_code == 302


def test_password_reset_sends_a_working_link(client, customer_user):
    response = client.post("/accounts/password_reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert mail.outbox[0].subject == "Reset your Refund Desk password"
    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    form_url = client.get(link).url
    response = client.post(
        form_url, {"new_password1": "a-new-Passw0rd!", "new_password2": "a-new-Passw0rd!"}
    )
    assert response.status_code == 302
    customer_user.refresh_from_db()
    assert customer_user.check_password("a-new-Passw0rd!")


def test_home_lists_own_orders_and_refunds(alice_client, order, customer_user):
    refund = _request(order, customer_user)
    other = factories.make_order()
    body = alice_client.get("/portal/").content.decode()
    assert order.external_number in body
    assert refund.number in body
    assert other.external_number not in body


def test_request_partial_refund_through_the_form(
    alice_client, order, django_capture_on_commit_callbacks
):
    l1, l2, l3 = order.lines.all()
    form = alice_client.get(f"/portal/orders/{order.pk}/refund/")
    assert form.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"/portal/orders/{order.pk}/refund/",
            {
                f"line_{l1.pk}": "2",
                f"line_{l2.pk}": "1",
                f"line_{l3.pk}": "0",
                "reason_code": "damaged",
                "customer_explanation": "Broken",
                "goods": "send_back",
            },
        )
    refund = Refund.objects.get()
    assert response.status_code == 302
    assert response.url == f"/portal/refunds/{refund.pk}/"
    assert [(x.order_line_id, x.quantity) for x in refund.lines.all()] == [(l1.pk, 2), (l2.pk, 1)]
    assert (refund.reason_code, refund.refund_only, refund.status) == (
        "damaged",
        False,
        "REQUESTED",
    )
    assert [m.subject for m in mail.outbox] == [f"Refund {refund.number}: Requested"]
    detail = alice_client.get(response.url).content.decode()
    assert 'data-status="REQUESTED"' in detail


def test_request_more_than_refundable_is_a_form_error_and_writes_nothing(alice_client, order):
    l1 = order.lines.first()
    response = alice_client.post(
        f"/portal/orders/{order.pk}/refund/",
        {
            f"line_{l1.pk}": "3",
            "reason_code": "damaged",
            "goods": "keep",
        },
    )
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 2." in response.content.decode()
    assert Refund.objects.count() == 0


def test_request_without_lines_or_reason_is_refused(alice_client, order):
    response = alice_client.post(f"/portal/orders/{order.pk}/refund/", {"goods": "keep"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body
    assert Refund.objects.count() == 0


def test_enter_tracking_while_waiting(alice_client, order, customer_user, agent):
    refund = refund_approve(actor=agent, refund=_request(order, customer_user))
    assert (
        "Send the goods back" in alice_client.get(f"/portal/refunds/{refund.pk}/").content.decode()
    )
    response = alice_client.post(
        f"/portal/refunds/{refund.pk}/ship/", {"carrier": "DHL", "tracking_id": "JD0001"}
    )
    assert response.status_code == 302
    refund.refresh_from_db()
    assert (refund.return_carrier, refund.return_tracking_id) == ("DHL", "JD0001")


def test_tracking_form_errors_stay_beside_the_field(alice_client, order, customer_user, agent):
    refund = refund_approve(actor=agent, refund=_request(order, customer_user))
    response = alice_client.post(f"/portal/refunds/{refund.pk}/ship/", {"carrier": "DHL"})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    refund.refresh_from_db()
    assert refund.return_tracking_id == ""


def test_tracking_while_requested_is_refused(alice_client, order, customer_user):
    refund = _request(order, customer_user)
    assert (
        "Send the goods back"
        not in alice_client.get(f"/portal/refunds/{refund.pk}/").content.decode()
    )
    events = RefundEvent.objects.count()
    response = alice_client.post(
        f"/portal/refunds/{refund.pk}/ship/", {"carrier": "DHL", "tracking_id": "JD0001"}
    )
    assert response.status_code == 400
    assert "Cannot record the return shipment" in response.content.decode()
    refund.refresh_from_db()
    assert refund.return_tracking_id == ""
    assert RefundEvent.objects.count() == events


def test_cancel_and_timeline(
    alice_client, order, customer_user, django_capture_on_commit_callbacks
):
    refund = _request(order, customer_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/portal/refunds/{refund.pk}/cancel/")
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == "CANCELLED"
    assert [m.subject for m in mail.outbox] == [f"Refund {refund.number}: Cancelled"]
    body = alice_client.get(f"/portal/refunds/{refund.pk}/").content.decode()
    assert re.findall(r"<strong>(\w+)</strong></li>", body) == ["REQUESTED", "CANCELLED"]
    assert "Cancel this refund" not in body
    again = alice_client.post(f"/portal/refunds/{refund.pk}/cancel/", follow=True)
    assert "Cannot cancel a refund that is cancelled" in again.content.decode()


def test_malformed_session_cookie_is_no_session_not_a_500(client):
    response = client.get("/portal/", HTTP_COOKIE="sessionid=abc\x00defghijkl")
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/portal/"


@pytest.mark.parametrize("path", ["/portal/", "/portal/refunds/", "/portal/orders/"])
def test_portal_lists_run_a_fixed_number_of_queries(alice_client, customer_user, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    customer = factories.CustomerFactory(email="alice@example.com", user=customer_user)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(path).status_code == 200
        return len(queries)

    _request(factories.make_order(customer=customer), customer_user)
    one = count()
    for _ in range(4):
        _request(factories.make_order(customer=customer), customer_user)
    assert count() == one


def test_lockout_also_guards_the_admin_sign_in(client, agent, settings):
    settings.LOGIN_LOCKOUT_ATTEMPTS = 2
    for _ in range(2):
        client.post("/admin/login/", {"username": agent.username, "password": "wrong"})
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": agent.username, "password": factories.PASSWORD},
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    portal = client.post(
        "/accounts/login/", {"username": agent.username, "password": factories.PASSWORD}
    )
    assert "Too many failed sign-ins" in portal.content.decode()


def test_a_successful_sign_in_clears_the_account_count(client, customer_user, settings):
    settings.LOGIN_LOCKOUT_ATTEMPTS = 2
    client.post("/accounts/login/", {"username": "alice@example.com", "password": "wrong"})
    ok = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert ok.status_code == 302
    client.logout()
    client.post("/accounts/login/", {"username": "alice@example.com", "password": "wrong"})
    again = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert again.status_code == 302
