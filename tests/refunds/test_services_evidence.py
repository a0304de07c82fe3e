"""refund_add_evidence and the photos of refund_request: stored with an audit event under the
refund's lock; refused, nothing is written and no file is left in the storage."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection

from orders.models import ReturnPolicy
from refunds.calculator import LineChoice
from refunds.errors import RefundError
from refunds.evidence import prepare_images
from refunds.models import Refund, RefundEvent, RefundEvidence
from refunds.services import refund_add_evidence, refund_cancel, refund_request
from refunds.timeline import event_sentence
from tests import factories
from tests.fixtures.photos import image_bytes, jpeg_upload, upload
from tests.refunds.test_services_locking import _kind, _statements

pytestmark = pytest.mark.django_db


def _storage():
    return RefundEvidence._meta.get_field("file").storage


def _stored() -> set[str]:
    _, files = _storage().listdir("evidence") if _storage().exists("evidence") else ([], [])
    return set(files)


def _photos(*names: str):
    return prepare_images([jpeg_upload(name) for name in names])


def _ask(order, user, *, reason="defective", photos=()):
    line = order.lines.order_by("id").first()
    return refund_request(
        actor=user,
        order=order,
        reason_code=reason,
        refund_only=False,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
        photos=photos,
        via="portal",
    )


@pytest.fixture
def refund(order, customer_user):
    return _ask(order, customer_user)


def test_the_customer_adds_photos_with_an_audit_event(refund, customer_user):
    before = _stored()

    rows = refund_add_evidence(
        actor=customer_user, refund=refund, images=_photos("box.jpg", "scratch.jpg"), via="portal"
    )

    assert [r.original_name for r in rows] == ["box.jpg", "scratch.jpg"]
    assert list(refund.evidence.values_list("original_name", flat=True)) == [
        "box.jpg",
        "scratch.jpg",
    ]
    row = rows[0]
    assert (row.content_type, row.width, row.height) == ("image/jpeg", 40, 20)
    assert row.uploaded_by == customer_user
    assert row.file.name.startswith("evidence/")
    assert "box" not in row.file.name  # the stored name says nothing of the customer's
    assert row.size == _storage().size(row.file.name)
    assert _stored() - before == {r.file.name.removeprefix("evidence/") for r in rows}
    event = refund.events.get(action="add_evidence")
    assert event.actor == customer_user
    assert (event.from_status, event.to_status) == ("REQUESTED", "REQUESTED")
    assert event.changes == {
        "photos": [{"id": r.pk, "name": r.original_name, "size": r.size} for r in rows]
    }
    assert event_sentence(event) == (
        "alice@example.com (customer) added 2 photos (box.jpg, scratch.jpg)."
    )


def test_adding_photos_locks_the_order_then_the_refund_before_writing(refund, customer_user):
    images = _photos("one.jpg")
    refund = Refund.objects.get(pk=refund.pk)

    kinds = [
        _kind(sql)
        for sql in _statements(
            lambda: refund_add_evidence(actor=customer_user, refund=refund, images=images)
        )
    ]

    locked = kinds.index("SELECT orders_order FOR UPDATE OF")
    assert kinds[locked : locked + 2] == [
        "SELECT orders_order FOR UPDATE OF",
        "SELECT refunds_refund FOR UPDATE",
    ]
    assert kinds.index("INSERT refunds_refundevidence") > locked + 1
    assert kinds[-1] == "INSERT refunds_refundevent"


def _nothing_written(refund, before_files, before_events):
    assert not RefundEvidence.objects.filter(refund=refund).exists()
    assert RefundEvent.objects.filter(refund=refund).count() == before_events
    assert _stored() == before_files


def test_another_customer_cannot_add_photos(refund):
    bob = factories.UserFactory(username="bob@example.com")
    files, events = _stored(), refund.events.count()

    with pytest.raises(RefundError) as caught:
        refund_add_evidence(actor=bob, refund=refund, images=_photos("x.jpg"))

    assert caught.value.code == "forbidden"
    _nothing_written(refund, files, events)


def test_staff_who_may_change_refunds_add_photos(refund, agent):
    [row] = refund_add_evidence(actor=agent, refund=refund, images=_photos("from-mail.jpg"))

    assert row.uploaded_by == agent


def test_no_photos_on_a_closed_refund(refund, customer_user):
    refund_cancel(actor=customer_user, refund=refund)
    files, events = _stored(), refund.events.count()

    with pytest.raises(RefundError) as caught:
        refund_add_evidence(actor=customer_user, refund=refund, images=_photos("late.jpg"))

    assert caught.value.message == (
        "This refund is cancelled: photos can only be added while it is open"
    )
    assert caught.value.field == "photos"
    _nothing_written(refund, files, events)


def test_the_limit_counts_the_refunds_photos(refund, customer_user, settings):
    settings.REFUND_EVIDENCE_MAX_FILES = 3
    refund_add_evidence(actor=customer_user, refund=refund, images=_photos("a.jpg", "b.jpg"))
    files, events = _stored(), refund.events.count()

    with pytest.raises(RefundError) as caught:
        refund_add_evidence(actor=customer_user, refund=refund, images=_photos("c.jpg", "d.jpg"))

    assert caught.value.code == "too_many_photos"
    assert refund.evidence.count() == 2
    assert refund.events.count() == events
    assert _stored() == files


def test_files_saved_before_a_failure_are_deleted(refund, customer_user, monkeypatch):
    """The database refuses the rows after the files were saved: the files go too."""
    files, events = _stored(), refund.events.count()

    def refuse(*args, **kwargs):
        raise IntegrityError("simulated: the rows could not be written")

    monkeypatch.setattr(RefundEvidence.objects, "bulk_create", refuse)

    with pytest.raises(IntegrityError):
        refund_add_evidence(actor=customer_user, refund=refund, images=_photos("a.jpg", "b.jpg"))

    _nothing_written(refund, files, events)
    assert connection.in_atomic_block  # only the test's own transaction is left


def test_a_request_stores_its_photos_in_its_own_transaction(order, customer_user):
    refund = _ask(order, customer_user, reason="damaged", photos=_photos("dent.jpg"))

    [row] = refund.evidence.all()
    assert row.original_name == "dent.jpg"
    assert list(refund.events.values_list("action", flat=True)) == ["request", "add_evidence"]


def test_a_customer_asking_for_a_reason_that_needs_a_photo_must_attach_one(order, customer_user):
    ReturnPolicy.objects.create(account=order.account, reasons_needing_photo=["damaged"])
    files = _stored()

    with pytest.raises(RefundError) as caught:
        _ask(order, customer_user, reason="damaged")

    assert caught.value.field == "photos"
    assert caught.value.code == "photo_required"
    assert caught.value.message.startswith("Add a photo of the damage")
    assert not Refund.objects.exists()
    assert _stored() == files


def test_a_reason_the_policy_does_not_name_needs_no_photo(order, customer_user):
    ReturnPolicy.objects.create(account=order.account, reasons_needing_photo=["defective"])

    refund = _ask(order, customer_user, reason="damaged")

    assert refund.evidence.count() == 0


def test_staff_asking_on_a_customers_behalf_need_no_photo(order, agent):
    ReturnPolicy.objects.create(account=order.account, reasons_needing_photo=["damaged"])

    refund = _ask(order, agent, reason="damaged")

    assert refund.status == "REQUESTED"


def test_a_refused_request_leaves_none_of_its_photos(order, customer_user):
    """The photos were fine, the request was not (more units than the order has): no refund,
    no photo row, no file."""
    files = _stored()
    line = order.lines.order_by("id").first()

    with pytest.raises(RefundError):
        refund_request(
            actor=customer_user,
            order=order,
            reason_code="damaged",
            refund_only=False,
            lines=[LineChoice(order_line_id=line.pk, quantity=99)],
            photos=_photos("dent.jpg"),
        )

    assert not Refund.objects.exists()
    assert not RefundEvidence.objects.exists()
    assert _stored() == files


def test_too_many_photos_with_a_request_are_refused(order, customer_user, settings):
    photos = _photos("a.jpg", "b.jpg")
    settings.REFUND_EVIDENCE_MAX_FILES = 1

    with pytest.raises(RefundError) as caught:
        _ask(order, customer_user, photos=photos)

    assert caught.value.code == "too_many_photos"
    assert not Refund.objects.exists()


def test_a_png_with_transparency_is_stored_as_png(refund, customer_user):
    images = prepare_images(
        [upload("cut.png", image_bytes("PNG", mode="RGBA", color=(0, 0, 0, 0)), "image/png")]
    )

    [row] = refund_add_evidence(actor=customer_user, refund=refund, images=images)

    assert row.content_type == "image/png"
    assert row.file.name.endswith(".png")
