"""CSRF is enforced on every session-authenticated write; only the marketplace webhook views are
exempt (they authenticate with signatures). DRF marks its views csrf_exempt and enforces CSRF in
SessionAuthentication instead, so for those the walk checks the authentication classes."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authentication import SessionAuthentication
from rest_framework.test import APIClient

from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_approve, refund_request

WEBHOOK_MODULE_PREFIX = "refunds.delivery.intake"


def _views(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _views(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry.callback


def _is_webhook(route: str, callback) -> bool:
    return callback.__module__.startswith(WEBHOOK_MODULE_PREFIX) and "webhooks" in route


def test_only_webhook_views_are_csrf_exempt():
    exempt, drf_without_csrf, webhooks = [], [], []
    for route, callback in _views(get_resolver()):
        view_class = getattr(callback, "cls", None)
        if _is_webhook(route, callback):
            webhooks.append(route)
            continue
        if view_class is not None and hasattr(view_class, "authentication_classes"):
            # DRF: session authentication must be DRF's own, which enforces CSRF.
            for auth in view_class.authentication_classes:
                if issubclass(auth, SessionAuthentication) and (
                    auth.enforce_csrf is not SessionAuthentication.enforce_csrf
                ):
                    drf_without_csrf.append(route)
            continue
        if getattr(callback, "csrf_exempt", False):
            exempt.append(route)
    assert exempt == []
    assert drf_without_csrf == []
    assert webhooks  # the walk really reached the webhook URLs


@pytest.fixture
def alice_refund(order, customer_user):
    line = order.lines.first()
    return refund_request(
        actor=customer_user,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/portal/orders/{order}/refund/",
        "/portal/refunds/{refund}/ship/",
        "/portal/refunds/{refund}/cancel/",
        "/accounts/logout/",
    ],
)
def test_portal_writes_without_token_are_403(order, customer_user, alice_refund, path):
    client = _csrf_client(customer_user)
    response = client.post(path.format(order=order.pk, refund=alice_refund.pk), {})
    assert response.status_code == 403
    alice_refund.refresh_from_db()
    assert alice_refund.status == "REQUESTED"


@pytest.mark.django_db
def test_login_without_token_is_403(customer_user):
    response = Client(enforce_csrf_checks=True).post(
        "/accounts/login/", {"username": "alice@example.com", "password": "x"}
    )
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v2/refunds"),
        ("patch", "/api/v2/refunds/{refund}"),
        ("delete", "/api/v2/refunds/{refund}"),
        ("post", "/api/v2/orders"),
        ("post", "/api/v2/token"),
    ],
)
def test_api_session_writes_without_token_are_403(customer_user, alice_refund, method, path):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer_user)
    response = getattr(client, method)(path.format(refund=alice_refund.pk), {}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert "CSRF" in response.json()["error"]["message"]
    assert Refund.objects.get().status == "REQUESTED"


@pytest.mark.django_db
def test_api_session_write_with_token_succeeds(customer_user, alice_refund, agent):
    refund_approve(actor=agent, refund=alice_refund)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer_user)
    client.get("/portal/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.patch(
        f"/api/v2/refunds/{alice_refund.pk}",
        {"action": "SHIP_INIT", "trackingId": "T1", "carrierName": "DHL"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_portal_write_with_token_succeeds(customer_user, alice_refund):
    client = _csrf_client(customer_user)
    client.get(f"/portal/refunds/{alice_refund.pk}/")
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/portal/refunds/{alice_refund.pk}/cancel/", {"csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    alice_refund.refresh_from_db()
    assert alice_refund.status == "CANCELLED"
