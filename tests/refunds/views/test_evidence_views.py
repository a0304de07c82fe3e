"""Evidence photos through the pages: attached with the request or added on the refund's page,
refused beside the field with nothing stored, and served only to those who may see the refund."""

from __future__ import annotations

import io
import logging

import pytest
from django.urls import reverse
from PIL import Image

from orders.models import ReturnPolicy
from refunds.calculator import LineChoice
from refunds.evidence import prepare_images
from refunds.models import Refund, RefundEvidence
from refunds.services import refund_add_evidence, refund_cancel, refund_request
from refunds.views.portal_access import GUEST_ORDER_SESSION_KEY
from tests import factories
from tests.fixtures.photos import image_bytes, jpeg_upload, upload

pytestmark = pytest.mark.django_db


def _storage():
    return RefundEvidence._meta.get_field("file").storage


def _stored() -> set[str]:
    return set(_storage().listdir("evidence")[1]) if _storage().exists("evidence") else set()


def _request_data(order, **extra):
    line = order.lines.order_by("id").first()
    return {f"line_{line.pk}": "1", "reason_code": "damaged", "goods": "keep", **extra}


def _refund(order, user):
    line = order.lines.order_by("id").first()
    return refund_request(
        actor=user,
        order=order,
        reason_code="defective",
        refund_only=True,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


@pytest.fixture
def alice(client, customer_user):
    client.force_login(customer_user)
    return client


@pytest.fixture
def refund_with_photo(order, customer_user):
    refund = _refund(order, customer_user)
    [photo] = refund_add_evidence(
        actor=customer_user, refund=refund, images=prepare_images([jpeg_upload("dent.jpg")])
    )
    return refund, photo


def _errors_of(response, field="photos"):
    return response.context["form"].errors.get(field)


# --- attaching with the request ----------------------------------------------------------------


def test_photos_attached_to_the_request_are_stored_with_it(alice, order, customer_user):
    url = reverse("portal:refund-request", args=[order.pk])
    page = alice.get(url).content.decode()
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file" name="photos"' in page
    assert "multiple" in page

    response = alice.post(
        url,
        _request_data(
            order,
            photos=[jpeg_upload("front.jpg", gps=True), upload("back.webp", image_bytes("WEBP"))],
        ),
    )

    refund = Refund.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("portal:refund-detail", args=[refund.pk])
    assert list(refund.evidence.values_list("original_name", "content_type")) == [
        ("front.jpg", "image/jpeg"),
        ("back.webp", "image/jpeg"),
    ]
    assert refund.evidence.first().uploaded_by == customer_user
    page = alice.get(response.url).content.decode()
    for photo in refund.evidence.all():
        assert reverse("portal:photo", args=[refund.pk, photo.pk]) in page


def test_the_photos_field_says_which_reasons_need_a_photo(alice, order, settings):
    url = reverse("portal:refund-request", args=[order.pk])
    help_text = 'id="id_photos_helptext">Up to 5 photos: JPEG, PNG, WebP or HEIC, 10 MB each.'
    assert help_text + "</div>" in alice.get(url).content.decode()

    ReturnPolicy.objects.create(
        account=order.account, reasons_needing_photo=["damaged", "defective"]
    )
    settings.REFUND_EVIDENCE_MAX_FILES = 3

    assert (
        'id="id_photos_helptext">Up to 3 photos: JPEG, PNG, WebP or HEIC, 10 MB each. A photo is '
        "needed when the reason is “Arrived damaged” or “Defective or not working”.</div>"
    ) in alice.get(url).content.decode()


def test_a_reason_the_policy_asks_a_photo_for_is_refused_without_one(alice, order):
    ReturnPolicy.objects.create(account=order.account, reasons_needing_photo=["damaged"])

    response = alice.post(reverse("portal:refund-request", args=[order.pk]), _request_data(order))

    assert response.status_code == 400
    [error] = _errors_of(response)
    assert error.startswith("Add a photo of the damage")
    body = response.content.decode()
    assert 'id="id_photos_error"' in body
    assert 'aria-describedby="id_photos_helptext id_photos_error"' in body
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        (
            upload("damage.jpg", b"This is a text file, not a photo.\n" * 10, "image/jpeg"),
            "damage.jpg is not a photo we can read: attach a JPEG, PNG, WebP or HEIC image.",
        ),
        (
            upload(
                "scan.jpg", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "image/jpeg"
            ),
            "scan.jpg is not a photo we can read: attach a JPEG, PNG, WebP or HEIC image.",
        ),
        (
            upload("anim.gif", image_bytes("GIF", mode="P", color=1), "image/gif"),
            "anim.gif is a GIF image: attach a JPEG, PNG, WebP or HEIC photo instead.",
        ),
        (
            upload("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
            "logo.svg is not a photo we can read: attach a JPEG, PNG, WebP or HEIC image.",
        ),
    ],
    ids=["text-named-jpg", "pdf-named-jpg", "gif", "svg"],
)
def test_a_file_we_do_not_take_is_refused_beside_the_field_and_nothing_is_stored(
    alice, order, photo, message, caplog
):
    files = _stored()

    with caplog.at_level(logging.INFO, logger="refunds.evidence"):
        response = alice.post(
            reverse("portal:refund-request", args=[order.pk]),
            _request_data(order, photos=[jpeg_upload("fine.jpg"), photo]),
        )

    assert response.status_code == 400
    assert _errors_of(response) == [message]
    assert message in response.content.decode()
    assert not Refund.objects.exists()
    assert not RefundEvidence.objects.exists()
    assert _stored() == files
    assert any("Evidence photo refused" in r.getMessage() for r in caplog.records)


def test_a_photo_over_the_size_limit_is_refused(alice, order, settings):
    settings.REFUND_EVIDENCE_MAX_BYTES = 1024 * 1024
    big = upload("big.png", image_bytes("PNG") + b"\0" * (1024 * 1024), "image/png")

    response = alice.post(
        reverse("portal:refund-request", args=[order.pk]), _request_data(order, photos=[big])
    )

    assert response.status_code == 400
    assert _errors_of(response) == ["big.png is larger than 1 MB: choose a smaller photo."]
    assert not Refund.objects.exists()


def test_too_many_photos_are_refused(alice, order, settings):
    settings.REFUND_EVIDENCE_MAX_FILES = 2
    photos = [jpeg_upload(f"p{n}.jpg") for n in range(3)]

    response = alice.post(
        reverse("portal:refund-request", args=[order.pk]), _request_data(order, photos=photos)
    )

    assert response.status_code == 400
    assert _errors_of(response) == ["Attach at most 2 photos to a refund."]
    assert not Refund.objects.exists()


def test_a_decompression_bomb_is_a_400_not_a_500(alice, order):
    from tests.fixtures.photos import bomb_png

    response = alice.post(
        reverse("portal:refund-request", args=[order.pk]),
        _request_data(order, photos=[upload("bomb.png", bomb_png(), "image/png")]),
    )

    assert response.status_code == 400
    assert "too many pixels" in _errors_of(response)[0]
    assert not Refund.objects.exists()


# --- adding on the refund's page ---------------------------------------------------------------


def test_the_customer_adds_photos_on_an_open_refund(alice, order, customer_user):
    refund = _refund(order, customer_user)
    page = alice.get(reverse("portal:refund-detail", args=[refund.pk])).content.decode()
    assert reverse("portal:photo-add", args=[refund.pk]) in page

    response = alice.post(
        reverse("portal:photo-add", args=[refund.pk]),
        {"photos": [jpeg_upload("a.jpg"), jpeg_upload("b.jpg")]},
    )

    assert response.status_code == 302
    assert refund.evidence.count() == 2
    assert refund.events.filter(action="add_evidence").count() == 1


def test_a_guest_of_the_order_adds_photos_as_its_customer(client, order, customer_user):
    refund = _refund(order, customer_user)
    session = client.session
    session[GUEST_ORDER_SESSION_KEY] = order.pk
    session.save()

    response = client.post(
        reverse("portal:photo-add", args=[refund.pk]), {"photos": [jpeg_upload("guest.jpg")]}
    )

    assert response.status_code == 302
    assert refund.evidence.get().uploaded_by == customer_user


def test_adding_a_refused_file_shows_the_refund_page_with_the_error(alice, order, customer_user):
    refund = _refund(order, customer_user)
    files = _stored()

    response = alice.post(
        reverse("portal:photo-add", args=[refund.pk]),
        {"photos": [upload("notes.jpg", b"just text")]},
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "notes.jpg is not a photo we can read" in body
    assert f"Refund {refund.number}" in body
    assert refund.evidence.count() == 0
    assert _stored() == files


def test_adding_without_a_file_says_so(alice, order, customer_user):
    refund = _refund(order, customer_user)

    response = alice.post(reverse("portal:photo-add", args=[refund.pk]), {})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_no_add_photos_once_the_refund_is_closed(alice, order, customer_user):
    refund = _refund(order, customer_user)
    refund_cancel(actor=customer_user, refund=refund)

    page = alice.get(reverse("portal:refund-detail", args=[refund.pk])).content.decode()
    response = alice.post(
        reverse("portal:photo-add", args=[refund.pk]), {"photos": [jpeg_upload("late.jpg")]}
    )

    assert reverse("portal:photo-add", args=[refund.pk]) not in page
    assert response.status_code == 400
    assert "photos can only be added while it is open" in response.content.decode()
    assert refund.evidence.count() == 0


# --- who is served the file --------------------------------------------------------------------


def _assert_photo(response, photo):
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Content-Disposition"] == (
        f'inline; filename="{photo.refund.number}-photo-{photo.pk}.jpg"'
    )
    assert response["Content-Security-Policy"] == "default-src 'none'; img-src 'self'; sandbox"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"].startswith("private")
    body = b"".join(response.streaming_content)
    assert body == _storage().open(photo.file.name).read()
    assert Image.open(io.BytesIO(body)).format == "JPEG"


def test_the_customer_is_served_their_photo(alice, refund_with_photo):
    refund, photo = refund_with_photo

    _assert_photo(alice.get(reverse("portal:photo", args=[refund.pk, photo.pk])), photo)


def test_a_guest_of_the_order_is_served_its_photo(client, refund_with_photo):
    refund, photo = refund_with_photo
    session = client.session
    session[GUEST_ORDER_SESSION_KEY] = refund.order_id
    session.save()

    _assert_photo(client.get(reverse("portal:photo", args=[refund.pk, photo.pk])), photo)


def test_a_guest_of_another_order_gets_404(client, refund_with_photo):
    refund, photo = refund_with_photo
    session = client.session
    session[GUEST_ORDER_SESSION_KEY] = factories.make_order().pk
    session.save()

    assert client.get(reverse("portal:photo", args=[refund.pk, photo.pk])).status_code == 404


def test_another_customer_gets_404(client, refund_with_photo):
    refund, photo = refund_with_photo
    bob = factories.UserFactory(username="bob@example.com")
    bob_refund = _refund(
        factories.make_order(customer=factories.CustomerFactory(email="bob@example.com", user=bob)),
        bob,
    )
    client.force_login(bob)

    assert client.get(reverse("portal:photo", args=[refund.pk, photo.pk])).status_code == 404
    # Nor through a refund of his own: the photo must belong to the refund in the URL.
    assert client.get(reverse("portal:photo", args=[bob_refund.pk, photo.pk])).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, refund_with_photo):
    refund, photo = refund_with_photo
    for url in (
        reverse("portal:photo", args=[refund.pk, photo.pk]),
        reverse("staff:refund-photo", args=[refund.pk, photo.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url == f"/accounts/login/?next={url}"


def test_staff_with_the_view_permission_are_served_the_photo(client, agent, refund_with_photo):
    refund, photo = refund_with_photo
    client.force_login(agent)

    _assert_photo(client.get(reverse("staff:refund-photo", args=[refund.pk, photo.pk])), photo)
    page = client.get(reverse("staff:refund-detail", args=[refund.pk])).content.decode()
    assert f'src="{reverse("staff:refund-photo", args=[refund.pk, photo.pk])}"' in page
    assert "dent.jpg" in page


def test_staff_without_the_view_permission_and_customers_get_403(
    client, customer_user, refund_with_photo
):
    refund, photo = refund_with_photo
    url = reverse("staff:refund-photo", args=[refund.pk, photo.pk])
    client.force_login(factories.UserFactory(username="intern@example.com", is_staff=True))
    assert client.get(url).status_code == 403
    client.force_login(customer_user)
    assert client.get(url).status_code == 403


def test_a_photo_missing_from_the_storage_is_a_404_with_a_log_line(
    client, agent, refund_with_photo, caplog
):
    refund, photo = refund_with_photo
    _storage().delete(photo.file.name)
    client.force_login(agent)

    with caplog.at_level(logging.ERROR, logger="refunds.views.evidence"):
        response = client.get(reverse("staff:refund-photo", args=[refund.pk, photo.pk]))

    assert response.status_code == 404
    assert any("missing from storage" in r.getMessage() for r in caplog.records)


def test_the_stored_file_has_no_public_url(client, agent, refund_with_photo):
    """Only the views above serve a photo: its storage path answers nothing, even to staff."""
    _, photo = refund_with_photo
    client.force_login(agent)

    for url in (f"/{photo.file.name}", f"/media/{photo.file.name}", f"/static/{photo.file.name}"):
        assert client.get(url).status_code == 404, url
