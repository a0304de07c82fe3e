"""Find my order without an account: one answer whatever was typed, a link e-mailed only when
number and e-mail match, limits, and a link that opens that one order, once, in time."""

import datetime as dt
import hashlib
import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.models import GuestAccessLink, Refund, RefundSource, RequesterRole
from refunds.services import refund_request
from refunds.views.portal_access import GUEST_ORDER_SESSION_KEY
from refunds.views.portal_guest import SENT_MESSAGE
from tests import factories

pytestmark = pytest.mark.django_db

FIND = "/portal/find-order/"
SENT = "/portal/find-order/sent/"
LINK = re.compile(r"http://testserver(/portal/guest/[A-Za-z0-9_-]+/)")


@pytest.fixture(autouse=True)
def _clear_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def guest_order(db):
    """An order whose customer has no account."""
    customer = factories.CustomerFactory(email="bob@example.com", name="Bob")
    return factories.make_order(customer=customer, lines=((2, "10.00", "0.00", "0.00"),))


def _find(client, number, email, **extra):
    return client.post(FIND, {"order_number": number, "email": email}, **extra)


def _link_path(message) -> str:
    return LINK.search(message.body).group(1)


def _open(client, guest_order, captured):
    with captured(execute=True):
        _find(client, guest_order.external_number, guest_order.customer.email)
    path = _link_path(mail.outbox[-1])
    response = client.post(path)
    assert response.status_code == 302
    return path, response


def test_the_page_links_from_the_sign_in_page_and_the_portal_bar(client):
    assert FIND in client.get("/accounts/login/").content.decode()
    page = client.get(FIND)
    assert page.status_code == 200
    body = page.content.decode()
    assert f'<a href="{FIND}" aria-current="page">Find my order</a>' in body
    assert 'name="order_number"' in body
    assert 'name="email"' in body


def test_same_answer_for_a_match_an_unknown_number_and_a_mismatched_email(
    client, guest_order, django_capture_on_commit_callbacks
):
    other = factories.make_order(customer=factories.CustomerFactory(email="carol@example.com"))
    answers = []
    with django_capture_on_commit_callbacks(execute=True):
        answers.append(_find(client, guest_order.external_number, "BOB@example.com "))
        answers.append(_find(client, "NO-SUCH-ORDER", "bob@example.com"))
        answers.append(_find(client, guest_order.external_number, "carol@example.com"))
        answers.append(_find(client, other.external_number, "bob@example.com"))
    assert [(a.status_code, a.url) for a in answers] == [(302, SENT)] * 4
    page = client.get(SENT).content.decode()
    assert SENT_MESSAGE in page
    assert SENT_MESSAGE == (
        "If an order with that number and e-mail exists, we sent a sign-in link to that "
        "address. It works once, for 30 minutes."
    )
    # One e-mail, for the one match, to the order's address only.
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]
    assert list(GuestAccessLink.objects.values_list("order_id", "email")) == [
        (guest_order.pk, "bob@example.com")
    ]


def test_the_email_has_the_link_the_order_number_and_the_expiry_and_nothing_else(
    client, guest_order, django_capture_on_commit_callbacks
):
    second = factories.make_order(customer=guest_order.customer)
    with django_capture_on_commit_callbacks(execute=True):
        _find(client, guest_order.external_number, "bob@example.com")
    (message,) = mail.outbox
    link = GuestAccessLink.objects.get()
    assert message.subject == f"Your sign-in link for order {guest_order.external_number}"
    expiry = timezone.localtime(link.expires_at).strftime("%-d %b %Y, %H:%M")
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    path = _link_path(message)
    for body in (message.body, html):
        assert f"http://testserver{path}" in body
        assert guest_order.external_number in body
        assert f"expires at {expiry} UTC (30 minutes after it was sent)" in body
        assert second.external_number not in body
    assert link.expires_at - link.created_at == dt.timedelta(seconds=1800)
    # Only a hash of the token is stored.
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(GuestAccessLink.objects.values_list()))
    assert link.created_from_address == "127.0.0.1"


def test_bad_input_gets_field_errors_and_sends_nothing(client, guest_order):
    response = _find(client, "", "not-an-email")
    assert response.status_code == 400
    body = response.content.decode()
    assert "This field is required." in body
    assert "Enter a valid email address." in body
    assert mail.outbox == []
    assert not GuestAccessLink.objects.exists()


def test_at_most_the_limit_per_email_address_with_the_same_answer_and_a_warning(
    client, guest_order, settings, caplog, django_capture_on_commit_callbacks
):
    settings.GUEST_LINK_EMAIL_LIMIT = 2
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            _find(client, guest_order.external_number, "bob@example.com", REMOTE_ADDR=f"10.0.2.{n}")
            for n in range(4)
        ]
    assert [(a.status_code, a.url) for a in answers] == [(302, SENT)] * 4
    assert [m.to for m in mail.outbox] == [["bob@example.com"]] * 2
    assert GuestAccessLink.objects.count() == 2
    warnings = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.name == "refunds.views.portal_guest"
    ]
    assert warnings == [
        (
            "WARNING",
            "Guest sign-in link not sent (client 10.0.2.2): "
            "3 requests for this e-mail address in 3600 s",
        ),
        (
            "WARNING",
            "Guest sign-in link not sent (client 10.0.2.3): "
            "4 requests for this e-mail address in 3600 s",
        ),
    ]


def test_at_most_the_limit_per_client_address_even_for_unknown_orders(
    client, guest_order, settings, caplog, django_capture_on_commit_callbacks
):
    settings.GUEST_LINK_ADDRESS_LIMIT = 2
    with django_capture_on_commit_callbacks(execute=True):
        misses = [_find(client, f"NOPE-{n}", f"x{n}@example.com") for n in range(2)]
        hit = _find(client, guest_order.external_number, "bob@example.com")
    assert [(a.status_code, a.url) for a in [*misses, hit]] == [(302, SENT)] * 3
    assert mail.outbox == []
    assert not GuestAccessLink.objects.exists()
    assert [r.getMessage() for r in caplog.records if r.name == "refunds.views.portal_guest"] == [
        "Guest sign-in link not sent (client 127.0.0.1): 3 requests from 127.0.0.1 in 3600 s"
    ]


def test_the_link_asks_for_a_click_then_opens_that_order_only(
    client, guest_order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _find(client, guest_order.external_number, "bob@example.com")
    path = _link_path(mail.outbox[0])
    # Opening the page (as a mail scanner would) does not use the link.
    page = client.get(path)
    assert page.status_code == 200
    assert "Open my order" in page.content.decode()
    assert GuestAccessLink.objects.get().used_at is None
    before = client.session.session_key
    response = client.post(path)
    assert response.status_code == 302
    assert response.url == f"/portal/orders/{guest_order.pk}/"
    assert client.session.session_key != before
    assert client.session[GUEST_ORDER_SESSION_KEY] == guest_order.pk
    assert GuestAccessLink.objects.get().used_at is not None
    body = client.get(response.url).content.decode()
    assert f"Order {guest_order.external_number}" in body
    assert "Request a refund" in body
    assert client.get("/portal/").url == f"/portal/orders/{guest_order.pk}/"
    orders = client.get("/portal/orders/").content.decode()
    assert guest_order.external_number in orders


def test_a_guest_gets_404_for_every_other_order_and_refund(
    client, guest_order, order, customer_user, django_capture_on_commit_callbacks
):
    # `order` is Alice's (another customer, with an account); `sibling` is Bob's other order.
    sibling = factories.make_order(customer=guest_order.customer)
    alice_refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=order.lines.first().pk, quantity=1)],
    )
    _open(client, guest_order, django_capture_on_commit_callbacks)
    for url in [
        f"/portal/orders/{order.pk}/",
        f"/portal/orders/{order.pk}/refund/",
        f"/portal/orders/{sibling.pk}/",
        f"/portal/orders/{sibling.pk}/refund/",
        f"/portal/refunds/{alice_refund.pk}/",
        f"/portal/refunds/{alice_refund.pk}/progress/",
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/portal/refunds/{alice_refund.pk}/cancel/").status_code == 404
    assert client.post(f"/portal/refunds/{alice_refund.pk}/ship/").status_code == 404
    lists = (
        client.get("/portal/orders/").content.decode()
        + client.get("/portal/refunds/").content.decode()
    )
    assert order.external_number not in lists
    assert sibling.external_number not in lists
    assert alice_refund.number not in lists
    alice_refund.refresh_from_db()
    assert alice_refund.status == "REQUESTED"


def test_a_used_link_is_refused_and_changes_nothing(
    client, guest_order, django_capture_on_commit_callbacks
):
    path, _ = _open(client, guest_order, django_capture_on_commit_callbacks)
    used_at = GuestAccessLink.objects.get().used_at
    stranger = Client()
    for response in (stranger.get(path), stranger.post(path)):
        assert response.status_code == 410
        body = response.content.decode()
        assert "This link has expired or was already used: ask for a new one." in body
        assert f'href="{FIND}"' in body
    assert GuestAccessLink.objects.get().used_at == used_at
    assert GUEST_ORDER_SESSION_KEY not in stranger.session
    assert stranger.get(f"/portal/orders/{guest_order.pk}/").status_code == 302  # to sign in


def test_an_expired_link_is_refused_and_changes_nothing(
    client, guest_order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _find(client, guest_order.external_number, "bob@example.com")
    path = _link_path(mail.outbox[0])
    GuestAccessLink.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.post(path)
    assert response.status_code == 410
    assert "This link has expired or was already used" in response.content.decode()
    assert GuestAccessLink.objects.get().used_at is None
    assert GUEST_ORDER_SESSION_KEY not in client.session
    assert guest_order.customer.__class__.objects.get(pk=guest_order.customer_id).user is None


def test_an_unknown_token_is_refused(client, db):
    response = client.post("/portal/guest/not-a-token/")
    assert response.status_code == 410
    assert not GuestAccessLink.objects.exists()


def test_a_guest_requests_a_refund_on_the_order(
    client, guest_order, django_capture_on_commit_callbacks
):
    _open(client, guest_order, django_capture_on_commit_callbacks)
    line = guest_order.lines.get()
    response = client.post(
        f"/portal/orders/{guest_order.pk}/refund/",
        {"reason_code": "damaged", "goods": "keep", f"line_{line.pk}": "1"},
    )
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert response.url == f"/portal/refunds/{refund.pk}/"
    assert refund.order_id == guest_order.pk
    assert refund.requester_role == RequesterRole.CUSTOMER
    assert refund.requester_name == "bob@example.com"
    assert refund.source == RefundSource.PORTAL
    # The guest acts as the customer's passwordless user, which cannot sign in.
    user = refund.requested_by
    guest_order.customer.refresh_from_db()
    assert guest_order.customer.user_id == user.pk
    assert not user.has_usable_password()
    assert not user.is_staff
    page = client.get(response.url)
    assert page.status_code == 200
    assert refund.number in page.content.decode()
    assert refund.number in client.get("/portal/refunds/").content.decode()


def test_a_customer_with_an_account_keeps_it_and_the_guest_acts_as_them(
    client, order, customer_user, django_capture_on_commit_callbacks
):
    _open(client, order, django_capture_on_commit_callbacks)
    order.customer.refresh_from_db()
    assert order.customer.user_id == customer_user.pk
    customer_user.refresh_from_db()
    assert customer_user.check_password(factories.PASSWORD)
    line = order.lines.first()
    response = client.post(
        f"/portal/orders/{order.pk}/refund/",
        {"reason_code": "damaged", "goods": "keep", f"line_{line.pk}": "1"},
    )
    assert response.status_code == 302
    assert Refund.objects.get().requested_by_id == customer_user.pk
    # The account still signs in as before.
    other = Client()
    signed_in = other.post(
        "/accounts/login/", {"username": "alice@example.com", "password": factories.PASSWORD}
    )
    assert signed_in.status_code == 302
    assert other.get("/portal/").status_code == 200


def test_a_link_to_a_staff_members_order_may_look_but_not_act(
    client, django_capture_on_commit_callbacks
):
    staff = factories.agent(username="agent9@example.com")
    customer = factories.CustomerFactory(email="agent9@example.com", user=staff)
    staff_order = factories.make_order(customer=customer)
    _open(client, staff_order, django_capture_on_commit_callbacks)
    page = client.get(f"/portal/orders/{staff_order.pk}/").content.decode()
    assert "Request a refund" not in page
    line = staff_order.lines.first()
    response = client.post(
        f"/portal/orders/{staff_order.pk}/refund/",
        {"reason_code": "damaged", "goods": "keep", f"line_{line.pk}": "1"},
    )
    assert response.status_code == 400
    assert "Sign in to your account to do this." in response.content.decode()
    assert not Refund.objects.exists()


def test_opening_a_link_while_signed_in_signs_the_account_out(
    client, guest_order, order, customer_user, django_capture_on_commit_callbacks
):
    client.force_login(customer_user)
    _open(client, guest_order, django_capture_on_commit_callbacks)
    assert "_auth_user_id" not in client.session
    assert client.get(f"/portal/orders/{order.pk}/").status_code == 404
    assert client.get(f"/portal/orders/{guest_order.pk}/").status_code == 200


def test_a_guest_follows_and_cancels_their_own_refund(
    client, guest_order, django_capture_on_commit_callbacks
):
    _open(client, guest_order, django_capture_on_commit_callbacks)
    line = guest_order.lines.get()
    client.post(
        f"/portal/orders/{guest_order.pk}/refund/",
        {"reason_code": "damaged", "goods": "keep", f"line_{line.pk}": "1"},
    )
    refund = Refund.objects.get()
    progress = client.get(f"/portal/refunds/{refund.pk}/progress/")
    assert progress.status_code == 200
    response = client.post(f"/portal/refunds/{refund.pk}/cancel/")
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == "CANCELLED"
    event = refund.events.order_by("-id").first()
    assert (
        event.actor_id
        == guest_order.customer.__class__.objects.get(pk=guest_order.customer_id).user_id
    )
