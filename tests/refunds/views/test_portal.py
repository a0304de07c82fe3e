import re
import time

import pytest
from axes.exceptions import AxesBackendRequestParameterRequired
from django.contrib.auth import authenticate
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
    assert re.findall(
        r'<li class="step step-(\w+)">\s*<span class="step-label">([^<]+)<', body
    ) == [
        ("done", "Requested"),
        ("done", "Cancelled"),
    ]
    assert '<span id="refund-status" data-status="CANCELLED">Cancelled</span>' in body
    assert "hx-get" not in body  # final: the page stops asking
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


def test_a_successful_sign_in_does_not_clear_its_address_count(client, customer_user, settings):
    settings.LOGIN_LOCKOUT_ADDRESS_ATTEMPTS = 2
    client.post("/accounts/login/", {"username": "nobody0@example.com", "password": "x"})
    ok = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert ok.status_code == 302
    client.logout()
    client.post("/accounts/login/", {"username": "nobody1@example.com", "password": "x"})
    locked = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert locked.status_code == 200
    assert "Too many failed sign-ins. Try again in 15 minutes" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_ends_after_the_cool_off(client, customer_user, settings):
    settings.LOGIN_LOCKOUT_ATTEMPTS = 1
    settings.LOGIN_LOCKOUT_SECONDS = 1
    client.post("/accounts/login/", {"username": "alice@example.com", "password": "wrong"})
    locked = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert "Too many failed sign-ins. Try again in 1 minutes" in locked.content.decode()
    time.sleep(1.1)
    again = client.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert again.status_code == 302
    assert client.session["_auth_user_id"] == str(customer_user.pk)


def test_a_sign_in_without_a_request_is_refused_by_the_lockout_backend(customer_user):
    """django-axes needs the request (the address is counted): a sign-in that gives none is an
    error, never a sign-in that escapes the lockout."""
    with pytest.raises(AxesBackendRequestParameterRequired):
        authenticate(username="alice@example.com", password=factories.PASSWORD)


def _reset(client, email: str, **extra):
    return client.post("/accounts/password_reset/", {"email": email}, **extra)


def test_password_reset_sends_at_most_the_limit_per_email_address(
    client, customer_user, settings, caplog
):
    settings.PASSWORD_RESET_EMAIL_LIMIT = 3
    answers = [_reset(client, "alice@example.com", REMOTE_ADDR=f"10.0.1.{n}") for n in range(5)]
    assert [(r.status_code, r.url) for r in answers] == [
        (302, "/accounts/password_reset/done/")
    ] * 5
    assert [m.to for m in mail.outbox] == [["alice@example.com"]] * 3
    suppressed = [r for r in caplog.records if r.name == "refunds.views.accounts"]
    assert [r.getMessage() for r in suppressed] == [
        "Password reset e-mail not sent (client 10.0.1.3): "
        "4 requests for this e-mail address in 3600 s",
        "Password reset e-mail not sent (client 10.0.1.4): "
        "5 requests for this e-mail address in 3600 s",
    ]
    page = client.get(answers[-1].url).content.decode()
    assert "Check your e-mail" in page


def test_password_reset_sends_at_most_the_limit_per_client_address(client, db, settings):
    settings.PASSWORD_RESET_ADDRESS_LIMIT = 2
    for n in range(3):
        factories.UserFactory(username=f"user{n}@example.com", email=f"user{n}@example.com")
    for n in range(3):
        assert _reset(client, f"user{n}@example.com").status_code == 302
    assert [m.to for m in mail.outbox] == [["user0@example.com"], ["user1@example.com"]]
    assert _reset(client, "user2@example.com", REMOTE_ADDR="10.0.0.9").status_code == 302
    assert mail.outbox[-1].to == ["user2@example.com"]
    assert len(mail.outbox) == 3


def test_password_reset_limit_counts_the_client_behind_a_trusted_proxy(client, db, settings):
    settings.PASSWORD_RESET_ADDRESS_LIMIT = 1
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    for n in range(3):
        factories.UserFactory(username=f"user{n}@example.com", email=f"user{n}@example.com")
    proxy = {"REMOTE_ADDR": "10.0.0.5"}
    _reset(client, "user0@example.com", HTTP_X_FORWARDED_FOR="203.0.113.1", **proxy)
    _reset(client, "user1@example.com", HTTP_X_FORWARDED_FOR="203.0.113.2", **proxy)
    # The same client again, however it dresses up the left of the header: refused.
    _reset(client, "user2@example.com", HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.1", **proxy)
    assert [m.to for m in mail.outbox] == [["user0@example.com"], ["user1@example.com"]]


def test_lockout_behind_a_trusted_proxy_counts_each_client_not_the_proxy(
    client, customer_user, settings
):
    settings.LOGIN_LOCKOUT_ADDRESS_ATTEMPTS = 2
    settings.TRUSTED_PROXIES = ["10.0.0.1", "10.0.0.2"]
    via_proxies = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9, 10.0.0.2"}
    for n in range(2):
        client.post(
            "/accounts/login/",
            {"username": f"nobody{n}@example.com", "password": "x"},
            **via_proxies,
        )
    locked = client.post(
        "/accounts/login/",
        {"username": "alice@example.com", "password": factories.PASSWORD},
        **via_proxies,
    )
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    other_client = client.post(
        "/accounts/login/",
        {"username": "alice@example.com", "password": factories.PASSWORD},
        REMOTE_ADDR="10.0.0.1",
        HTTP_X_FORWARDED_FOR="203.0.113.10, 10.0.0.2",
    )
    assert other_client.status_code == 302
    client.logout()
    # A peer that is not a trusted proxy cannot pick its address by sending the header.
    for n in range(2):
        client.post(
            "/accounts/login/",
            {"username": f"nobody{n}@example.com", "password": "x"},
            REMOTE_ADDR="198.51.100.4",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    spoofed = client.post(
        "/accounts/login/",
        {"username": "alice@example.com", "password": factories.PASSWORD},
        REMOTE_ADDR="198.51.100.4",
        HTTP_X_FORWARDED_FOR="203.0.113.200",
    )
    assert "Too many failed sign-ins" in spoofed.content.decode()


def test_portal_shows_roles_not_the_staff_member_who_acted(
    alice_client, order, customer_user, agent
):
    refund = refund_request(
        actor=agent, order=order, reason_code="damaged", refund_only=True, amount="5.00"
    )
    refund_approve(actor=factories.manager(username="boss@example.com"), refund=refund)
    mine = _request(order, customer_user)
    body = alice_client.get(f"/portal/refunds/{refund.pk}/").content.decode()
    assert re.search(r'id="refund-requester">([^<]+)<', body).group(1) == "Our support team"
    assert re.findall(r'<span class="step-label">([^<]+)<', body) == [
        "Requested",
        "Approved",
        "Refund issued",
    ]
    assert "agent1@example.com" not in body
    assert "boss@example.com" not in body
    own = alice_client.get(f"/portal/refunds/{mine.pk}/").content.decode()
    assert re.search(r'id="refund-requester">([^<]+)<', own).group(1) == "You"
    assert "boss@example.com" not in own


def test_progress_follows_the_refund_and_asks_for_a_refresh_when_the_status_moves(
    alice_client, client, order, customer_user, agent
):
    refund = _request(order, customer_user)
    page = alice_client.get(f"/portal/refunds/{refund.pk}/").content.decode()
    url = f"/portal/refunds/{refund.pk}/progress/"
    assert f'hx-get="{url}?status=REQUESTED"' in page
    assert 'aria-current="step"' in page
    same = alice_client.get(url, {"status": "REQUESTED"})
    assert same.status_code == 200
    assert "HX-Refresh" not in same
    assert same["Cache-Control"] == "no-store"
    assert ">Requested</span>" in same.content.decode()
    refund_approve(actor=agent, refund=refund)
    moved = alice_client.get(url, {"status": "REQUESTED"})
    assert moved["HX-Refresh"] == "true"  # the ship form appears: the page is drawn again
    assert "Approved — send the goods back" in moved.content.decode()
    # Another customer, or nobody, cannot read it.
    bob = factories.UserFactory(username="bob@example.com")
    client.force_login(bob)
    assert client.get(url).status_code == 404


def test_the_nav_marks_the_current_page(alice_client, order, customer_user):
    refund = _request(order, customer_user)
    pages = {
        "/portal/orders/": "My orders",
        f"/portal/orders/{order.pk}/": "My orders",
        "/portal/refunds/": "My refunds",
        f"/portal/refunds/{refund.pk}/": "My refunds",
        "/portal/": None,
    }
    for url, current in pages.items():
        body = alice_client.get(url).content.decode()
        marked = re.findall(r'<a href="[^"]+" aria-current="page">([^<]+)</a>', body)
        assert marked == ([current] if current else []), url


def test_return_slip_with_a_qr_code_while_the_goods_go_back(
    alice_client, client, order, customer_user, agent
):
    refund = _request(order, customer_user)
    url = f"/portal/refunds/{refund.pk}/return-slip/"
    assert alice_client.get(url).status_code == 404  # not approved yet: nothing to send
    refund_approve(actor=agent, refund=refund)
    page = alice_client.get(f"/portal/refunds/{refund.pk}/").content.decode()
    assert f'href="{url}"' in page
    assert "Pack the items securely with this slip inside the parcel" in page
    slip = alice_client.get(url)
    assert slip.status_code == 200
    body = slip.content.decode()
    assert f"<title>QR code of {refund.number}</title>" in body
    assert 'viewBox="0 0' in body  # drawn by segno, scales to the size printed
    assert f'<p class="slip-number">{refund.number}</p>' in body
    line = refund.lines.get()
    assert f'<td>{line.order_line.sku}</td><td class="num">{line.quantity}</td>' in body
    bob = factories.UserFactory(username="bob@example.com")
    client.force_login(bob)
    assert client.get(url).status_code == 404
    refund_only = refund_approve(
        actor=agent,
        refund=refund_request(
            actor=customer_user,
            order=order,
            reason_code="damaged",
            refund_only=True,
            lines=[LineChoice(order_line_id=order.lines.order_by("id")[1].pk, quantity=1)],
        ),
    )
    assert alice_client.get(f"/portal/refunds/{refund_only.pk}/return-slip/").status_code == 404
