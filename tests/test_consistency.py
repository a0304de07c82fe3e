"""Consistency of what people read across the staff pages, the sign-in and password pages and the
portal (issue 14, "Accessibility and consistency"): labels without trailing colons, one spelling
("E-mail"), aria-describedby pointing at ids present in the page, the favicon linked and served,
and styled 403/404/500 pages with DEBUG off."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.tokens import default_token_generator
from django.test import RequestFactory
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.views.defaults import server_error

from refunds.calculator import LineChoice
from refunds.services import refund_request
from tests import factories

pytestmark = pytest.mark.django_db

# "Email", "email", "EMAIL" as a word of its own; an address such as alice@example.com or a
# name such as customer_email is not a spelling a person reads as a word.
WRONG_SPELLING = re.compile(r"(?<![\w@.-])e-?mail(?![\w@.-])|\bemail address", re.IGNORECASE)
VISIBLE_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")


class _Page(HTMLParser):
    """The parts of a page these checks read: label texts, visible text (with the attributes a
    person reads or hears), every id, every aria-describedby reference and the icon links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.labels: list[str] = []
        self.text: list[str] = []
        self.ids: set[str] = set()
        self.described_by: list[tuple[str, str]] = []
        self.icons: list[str] = []
        self.stylesheets: list[str] = []
        self._label_depth = 0
        self._label_text: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if attributes.get("aria-describedby"):
            for ref in attributes["aria-describedby"].split():
                self.described_by.append((tag, ref))
        if tag == "link" and "icon" in (attributes.get("rel") or "").split():
            self.icons.append(attributes.get("href") or "")
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href") or "")
        if tag in ("script", "style", "template"):
            self._hidden_depth += 1
        for name in VISIBLE_ATTRIBUTES:
            if attributes.get(name):
                self.text.append(attributes[name])
        if tag in ("input", "button") and attributes.get("type") in ("submit", "button"):
            self.text.append(attributes.get("value") or "")
        if tag == "label":
            self._label_depth += 1
            self._label_text = [] if self._label_depth == 1 else self._label_text

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self._hidden_depth = max(self._hidden_depth - 1, 0)
        if tag == "label" and self._label_depth:
            self._label_depth -= 1
            if not self._label_depth:
                self.labels.append(" ".join("".join(self._label_text).split()))

    def handle_data(self, data):
        if self._hidden_depth:
            return
        self.text.append(data)
        if self._label_depth:
            self._label_text.append(data)


def _parse(response) -> _Page:
    page = _Page()
    page.feed(response.content.decode())
    page.close()
    return page


def _problems(path: str, page: _Page) -> list[str]:
    problems = []
    for label in page.labels:
        if label.endswith(":"):
            problems.append(f"{path}: label ends with a colon: {label!r}")
    for chunk in page.text:
        for match in WRONG_SPELLING.finditer(chunk):
            if match.group(0) != "e-mail" and match.group(0) != "E-mail":
                problems.append(f"{path}: spelling {match.group(0)!r} in {chunk.strip()[:80]!r}")
    for tag, ref in page.described_by:
        if ref not in page.ids:
            problems.append(f"{path}: <{tag} aria-describedby={ref!r}> names no element")
    if not any(href.endswith("/favicon.svg") for href in page.icons):
        problems.append(f"{path}: no favicon link")
    return problems


def _refund(order, actor):
    line = order.lines.first()
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


@pytest.fixture
def refund(order, customer_user):
    return _refund(order, customer_user)


def _check_all(client, pages) -> None:
    problems = []
    for path, method, data in pages:
        response = client.post(path, data) if method == "post" else client.get(path)
        # A refused submit answers 400 (the portal) or 200 (Django's own forms), with the form.
        assert response.status_code in ((200, 400) if method == "post" else (200,)), (
            path,
            response.status_code,
        )
        if method == "post":  # the refusal is shown, so the error ids are really checked
            body = response.content.decode()
            assert 'aria-invalid="true"' in body or "data-error-summary" in body, path
        problems += _problems(path, _parse(response))
    assert not problems, "\n".join(problems)


def test_staff_pages_read_consistently(client, manager, refund, order):
    other = factories.make_order()  # an order with no refund yet: the Orders page's other row
    client.force_login(manager)
    new_refund = reverse("staff:refund-new", args=[other.pk])
    pages = [
        (reverse("staff:refund-detail", args=[refund.pk]), "get", None),
        # A refused denial (no reason): the detail page with the error beside the field.
        (reverse("staff:refund-action", args=[refund.pk, "deny"]), "post", {"reason": ""}),
        (new_refund, "get", None),
        # A refused submit: errors beside the fields, aria-invalid and aria-describedby.
        (new_refund, "post", {"reason_code": "", "shipping_amount": "-1"}),
        (reverse("staff:order-list"), "get", None),
        (reverse("staff:order-list") + "?q=alice", "get", None),
        (reverse("staff:dashboard"), "get", None),
        (reverse("staff:refund-queue"), "get", None),
        (reverse("staff:refund-queue") + "?view=all&q=alice&total_min=x", "get", None),
    ]
    _check_all(client, pages)


def test_sign_in_and_password_pages_read_consistently(client, customer_user):
    pages = [
        ("/accounts/login/", "get", None),
        ("/accounts/login/", "post", {"username": "alice@example.com", "password": "wrong"}),
        ("/accounts/login/", "post", {"username": "", "password": ""}),
        ("/accounts/password_reset/", "get", None),
        ("/accounts/password_reset/", "post", {"email": ""}),
        ("/accounts/password_reset/done/", "get", None),
        ("/accounts/reset/MQ/set-password/", "get", None),  # an invalid link
        ("/accounts/reset/done/", "get", None),
    ]
    _check_all(client, pages)


def test_portal_pages_read_consistently(client, customer_user, refund, order):
    client.force_login(customer_user)
    request_path = reverse("portal:refund-request", args=[order.pk])
    pages = [
        (reverse("portal:home"), "get", None),
        (reverse("portal:order-list"), "get", None),
        (reverse("portal:order-detail", args=[order.pk]), "get", None),
        (request_path, "get", None),
        (request_path, "post", {"reason_code": ""}),  # refused: no reason, no items
        (reverse("portal:refund-list"), "get", None),
        (reverse("portal:refund-detail", args=[refund.pk]), "get", None),
        # Refused: "Add photos" with no file, the refund's page with the error beside the field.
        (reverse("portal:photo-add", args=[refund.pk]), "post", {}),
    ]
    _check_all(client, pages)


def test_favicon_is_linked_and_served(client, settings):
    assert (Path(django_settings.BASE_DIR) / "static" / "favicon.svg").is_file()
    # WhiteNoise serves from the finders (as without collectstatic) when told so at start-up.
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    response = client.get("/static/favicon.svg")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body.lstrip().startswith(b"<svg") or b"<svg" in body[:200]
    assert _parse(client.get("/accounts/login/")).icons == ["/static/favicon.svg"]


def _assert_styled_error(response, code: int, heading: str) -> None:
    assert response.status_code == code
    body = response.content.decode()
    page = _parse(response)
    assert "/static/css/app.css" in page.stylesheets
    assert page.icons == ["/static/favicon.svg"]
    assert 'class="error-page"' in body
    assert f'<p class="error-code">{code}</p>' in body
    assert f"<h1>{heading}</h1>" in body
    assert 'href="/"' in body  # a way back


def test_404_page_is_styled_with_debug_off(client, settings):
    settings.DEBUG = False
    response = client.get("/no-such-page/")
    _assert_styled_error(response, 404, "We cannot find that page")
    assert "/no-such-page/" in response.content.decode()


def test_404_page_for_a_refund_that_is_not_yours(client, settings, refund):
    settings.DEBUG = False
    stranger = factories.UserFactory(username="mallory@example.com")
    client.force_login(stranger)
    response = client.get(reverse("portal:refund-detail", args=[refund.pk]))
    _assert_styled_error(response, 404, "We cannot find that page")


def test_403_page_is_styled_with_debug_off(client, settings, customer_user):
    settings.DEBUG = False
    client.force_login(customer_user)  # a customer on a staff page: PermissionDenied
    response = client.get(reverse("staff:refund-queue"))
    _assert_styled_error(response, 403, "You are not allowed to see this page")
    assert "alice@example.com" in response.content.decode()


def test_500_page_is_styled_without_a_request_context(settings):
    settings.DEBUG = False
    response = server_error(RequestFactory().get("/"))
    _assert_styled_error(response, 500, "Something went wrong on our side")


def test_portal_goods_choice_error_is_described(client, customer_user, order):
    client.force_login(customer_user)
    line = order.lines.first()
    response = client.post(
        reverse("portal:refund-request", args=[order.pk]),
        {f"line_{line.pk}": "1", "reason_code": "damaged", "goods": "neither"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert '<fieldset aria-describedby="id_goods_error">' in body
    assert '<div id="id_goods_error"><p class="error" role="alert">Select a valid choice.' in body
    assert _problems("refund request", _parse(response)) == []


def test_choosing_a_new_password_reads_consistently(client, customer_user):
    uid = urlsafe_base64_encode(force_bytes(customer_user.pk))
    token = default_token_generator.make_token(customer_user)
    response = client.get(f"/accounts/reset/{uid}/{token}/", follow=True)
    assert response.status_code == 200
    page = _parse(response)
    assert _problems("choose a new password", page) == []
    # The password rules are the first field's help text, and what it is described by.
    assert ("input", "id_new_password1_helptext") in page.described_by
    set_password = response.redirect_chain[-1][0]
    refused = client.post(
        set_password, {"new_password1": "a-long-new-secret-1", "new_password2": "different-2"}
    )
    assert refused.status_code == 200
    page = _parse(refused)
    assert ("input", "id_new_password2_error") in page.described_by
    assert _problems("refused new password", page) == []


def test_refused_password_reset_reads_consistently(client):
    _check_all(client, [("/accounts/password_reset/", "post", {"email": "not an address"})])
    body = client.post("/accounts/password_reset/", {"email": "not an address"}).content.decode()
    assert "Enter your e-mail address as name@example.com." in body
