"""Who may reach what: every portal page and API route, for anonymous callers, for customer A on
customer B's records (guessed ids included), for customers on staff actions, and lists that show
only the caller's rows. A route added without a row here fails `test_matrix_covers_every_route`."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from refunds.calculator import LineChoice
from refunds.evidence import prepare_images
from refunds.models import Refund, RefundEvidence
from refunds.services import refund_add_evidence, refund_approve, refund_request
from refunds.views.portal_access import GUEST_ORDER_SESSION_KEY
from tests import factories
from tests.fixtures.photos import jpeg_upload

pytestmark = pytest.mark.django_db

GUESSED_IDS = (0, 999_999, 999_999_999_999_999_999)

# (method, path template) - {order} / {refund} are filled in with the record's id.
PORTAL_PAGES = [
    ("get", "/portal/"),
    ("get", "/portal/orders/"),
    ("get", "/portal/orders/{order}/"),
    ("get", "/portal/orders/{order}/refund/"),
    ("post", "/portal/orders/{order}/refund/"),
    ("get", "/portal/refunds/"),
    ("get", "/portal/refunds/{refund}/"),
    ("get", "/portal/refunds/{refund}/progress/"),
    ("get", "/portal/refunds/{refund}/return-slip/"),
    ("post", "/portal/refunds/{refund}/ship/"),
    ("post", "/portal/refunds/{refund}/cancel/"),
    ("post", "/portal/refunds/{refund}/photos/"),
    ("get", "/portal/refunds/{refund}/photos/{photo}/"),
]
# Pages for anyone, without an account: "Find my order" and its one-time link
# (tests/refunds/views/test_portal_guest.py covers what they answer).
PUBLIC_PORTAL_PAGES = [
    ("get", "/portal/find-order/"),
    ("post", "/portal/find-order/"),
    ("get", "/portal/find-order/sent/"),
    ("get", "/portal/guest/{token}/"),
    ("post", "/portal/guest/{token}/"),
]
API_ROUTES = [
    ("get", "/api/v2/refunds"),
    ("post", "/api/v2/refunds"),
    ("get", "/api/v2/refunds/{refund}"),
    ("patch", "/api/v2/refunds/{refund}"),
    ("delete", "/api/v2/refunds/{refund}"),
    ("get", "/api/v2/orders"),
    ("post", "/api/v2/orders"),
    ("get", "/api/v2/orders/{order}"),
    ("post", "/api/v2/token"),
]
STAFF_ACTIONS = ["APPROVE", "DENY", "RECEIVE", "RETRY"]


def _routes(resolver, prefix=""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


def _normalise(template: str) -> str:
    return (
        template.lstrip("/")
        .replace("{order}", "<rdid:pk>")
        .replace("{refund}", "<rdid:pk>")
        .replace("{token}", "<str:token>")
        .replace("{photo}", "<rdid:photo_pk>")
    )


def test_matrix_covers_every_route():
    routes = {
        r.replace("<rdid:id>", "<rdid:pk>")
        for r in _routes(get_resolver())
        if r.startswith(("portal/", "api/v2/"))
    }
    covered = {_normalise(path) for _, path in PORTAL_PAGES + PUBLIC_PORTAL_PAGES + API_ROUTES}
    assert routes == covered


@pytest.fixture
def world(order, customer_user):
    """Alice (conftest's customer with `order`) and Bob, each with a refund."""
    bob = factories.UserFactory(username="bob@example.com")
    bob_order = factories.make_order(
        customer=factories.CustomerFactory(email="bob@example.com", user=bob)
    )

    def ask(user, an_order):
        line = an_order.lines.first()
        return refund_request(
            actor=user,
            order=an_order,
            reason_code="damaged",
            refund_only=False,
            lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        )

    def photo(user, refund):
        images = prepare_images([jpeg_upload(f"{user.username}.jpg")])
        return refund_add_evidence(actor=user, refund=refund, images=images)[0]

    alice_refund, bob_refund = ask(customer_user, order), ask(bob, bob_order)
    return {
        "alice": customer_user,
        "bob": bob,
        "alice_order": order,
        "bob_order": bob_order,
        "alice_refund": alice_refund,
        "bob_refund": bob_refund,
        "alice_photo": photo(customer_user, alice_refund),
        "bob_photo": photo(bob, bob_refund),
    }


def _fill(template, order_id, refund_id, photo_id=None):
    """The path for these ids; {photo} is the refund's photo (or, for a guessed id, the same)."""
    return template.format(
        order=order_id, refund=refund_id, photo=refund_id if photo_id is None else photo_id
    )


def _own(world, who: str) -> tuple[int, int, int]:
    return (world[f"{who}_order"].pk, world[f"{who}_refund"].pk, world[f"{who}_photo"].pk)


def _written() -> list:
    """What a refused request must not change: the refunds and their photos."""
    return [
        *Refund.objects.values_list("pk", "status", "return_tracking_id"),
        *RefundEvidence.objects.values_list("pk", "refund_id"),
    ]


def _api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.mark.parametrize(("method", "template"), PORTAL_PAGES)
def test_anonymous_portal_goes_to_sign_in(client, world, method, template):
    path = _fill(template, *_own(world, "alice"))
    response = getattr(client, method)(path)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={path}"


@pytest.mark.parametrize(("method", "template"), API_ROUTES)
def test_anonymous_api_is_401(world, method, template):
    path = _fill(template, world["alice_order"].pk, world["alice_refund"].pk)
    response = getattr(_api(), method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(("method", "template"), [(m, t) for m, t in PORTAL_PAGES if "{" in t])
def test_customer_on_another_customers_portal_pages_is_404(client, world, method, template):
    client.force_login(world["alice"])
    before = _written()
    targets = [_own(world, "bob")] + [(i, i, i) for i in GUESSED_IDS]
    for ids in targets:
        data = {"carrier": "X", "tracking_id": "Y", "reason_code": "damaged", "goods": "keep"}
        response = getattr(client, method)(_fill(template, *ids), data)
        assert response.status_code == 404, (template, ids)
    assert _written() == before


@pytest.mark.parametrize(("method", "template"), [(m, t) for m, t in PORTAL_PAGES if "{" in t])
def test_guest_of_one_order_on_every_other_portal_page_is_404(client, world, method, template):
    """A browser a guest link bound to Bob's order (refunds.views.portal_access) reaches
    nothing of Alice's, nor any guessed id."""
    session = client.session
    session[GUEST_ORDER_SESSION_KEY] = world["bob_order"].pk
    session.save()
    before = _written()
    targets = [_own(world, "alice")] + [(i, i, i) for i in GUESSED_IDS]
    for ids in targets:
        data = {"carrier": "X", "tracking_id": "Y", "reason_code": "damaged", "goods": "keep"}
        response = getattr(client, method)(_fill(template, *ids), data)
        assert response.status_code == 404, (template, ids)
    assert _written() == before


@pytest.mark.parametrize(("method", "template"), [(m, t) for m, t in API_ROUTES if "{" in t])
def test_customer_on_another_customers_api_records_is_404(world, method, template):
    client = _api(world["alice"])
    before = list(Refund.objects.values_list("pk", "status", "return_tracking_id"))
    targets = [(world["bob_order"].pk, world["bob_refund"].pk)] + [(i, i) for i in GUESSED_IDS]
    for order_id, refund_id in targets:
        body = {"action": "SHIP_INIT", "trackingId": "Y", "carrierName": "X"}
        response = getattr(client, method)(
            _fill(template, order_id, refund_id), body, format="json"
        )
        assert response.status_code == 404, (template, order_id)
        assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert list(Refund.objects.values_list("pk", "status", "return_tracking_id")) == before


def test_customer_cannot_request_a_refund_on_another_customers_order(world):
    for order_id in (world["bob_order"].pk, *GUESSED_IDS[1:]):
        response = _api(world["alice"]).post(
            "/api/v2/refunds",
            {"orderId": order_id, "reason": "damaged", "amount": "1.00", "refundOnly": True},
            format="json",
        )
        assert response.status_code == 404
    assert Refund.objects.count() == 2


@pytest.mark.parametrize("action", STAFF_ACTIONS)
def test_customer_on_staff_api_actions_is_403(world, action):
    refund = world["alice_refund"]
    response = _api(world["alice"]).patch(
        f"/api/v2/refunds/{refund.pk}", {"action": action, "responseReason": "no"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"


def test_customer_cannot_import_orders(world):
    response = _api(world["alice"]).post("/api/v2/orders", {}, format="json")
    assert response.status_code == 403


STAFF_PAGES = [
    ("get", "/staff/"),
    ("get", "/staff/refunds/"),
    ("get", "/staff/refunds/export.csv"),
    ("post", "/staff/refunds/bulk/"),
    ("get", "/staff/refunds/{refund}/"),
    ("post", "/staff/refunds/{refund}/approve/"),
    ("post", "/staff/refunds/{refund}/deny/"),
    ("get", "/staff/refunds/{refund}/photos/{photo}/"),
    ("get", "/staff/orders/{order}/refund/"),
    ("get", "/staff/dashboard/"),
]


@pytest.mark.parametrize(("method", "template"), STAFF_PAGES)
def test_customer_on_staff_pages_is_403(client, world, method, template):
    client.force_login(world["alice"])
    path = _fill(template, *_own(world, "alice"))
    assert getattr(client, method)(path).status_code == 403
    assert Refund.objects.get(pk=world["alice_refund"].pk).status == "REQUESTED"


def test_lists_show_only_the_callers_rows(client, world, agent):
    alice, bob = world["alice"], world["bob"]
    for user, mine, theirs in ((alice, "alice", "bob"), (bob, "bob", "alice")):
        refunds = _api(user).get("/api/v2/refunds").json()["data"]
        assert [r["id"] for r in refunds] == [world[f"{mine}_refund"].pk]
        orders = _api(user).get("/api/v2/orders").json()["data"]
        assert [o["id"] for o in orders] == [world[f"{mine}_order"].pk]
        client.force_login(user)
        for page in ("/portal/", "/portal/refunds/", "/portal/orders/"):
            body = client.get(page).content.decode()
            assert world[f"{theirs}_order"].external_number not in body
            if page != "/portal/orders/":
                assert f">{world[f'{mine}_refund'].number}<" in body
                assert f">{world[f'{theirs}_refund'].number}<" not in body
    staff_ids = {r["id"] for r in _api(agent).get("/api/v2/refunds").json()["data"]}
    assert staff_ids == {world["alice_refund"].pk, world["bob_refund"].pk}


def test_staff_act_on_any_customers_refund(world, agent):
    refund = refund_approve(actor=agent, refund=world["bob_refund"])
    assert refund.status == "WAITING"
    response = _api(agent).patch(
        f"/api/v2/refunds/{world['alice_refund'].pk}", {"action": "APPROVE"}, format="json"
    )
    assert response.status_code == 200
