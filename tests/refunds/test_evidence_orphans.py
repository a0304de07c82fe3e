"""manage.py evidence_orphans: files no photo row names, old enough, listed and deleted; the
photos' own files and a fresh upload's are kept."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from refunds.calculator import LineChoice
from refunds.evidence import prepare_images
from refunds.models import RefundEvidence
from refunds.services import refund_add_evidence, refund_request
from tests.fixtures.photos import jpeg_upload

pytestmark = pytest.mark.django_db


def _storage():
    return RefundEvidence._meta.get_field("file").storage


def _run(*args) -> str:
    out = io.StringIO()
    call_command("evidence_orphans", *args, stdout=out)
    return out.getvalue()


def test_old_orphans_are_listed_then_deleted_and_photos_kept(order, customer_user, monkeypatch):
    refund = refund_request(
        actor=customer_user,
        order=order,
        reason_code="defective",
        refund_only=True,
        lines=[LineChoice(order_line_id=order.lines.first().pk, quantity=1)],
    )
    [photo] = refund_add_evidence(
        actor=customer_user, refund=refund, images=prepare_images([jpeg_upload("kept.jpg")])
    )
    old = _storage().save("evidence/left-by-a-rollback.jpg", ContentFile(b"x"))
    fresh = _storage().save("evidence/still-committing.jpg", ContentFile(b"y"))
    two_hours_ago = timezone.now() - dt.timedelta(hours=2)
    real = type(_storage()).get_modified_time
    monkeypatch.setattr(
        type(_storage()),
        "get_modified_time",
        lambda self, name: two_hours_ago if name == old else real(self, name),
    )

    listed = _run()
    assert f"Orphan: {old}" in listed
    assert fresh not in listed
    assert photo.file.name not in listed
    assert _storage().exists(old)

    deleted = _run("--delete")
    assert f"Deleted: {old}" in deleted
    assert not _storage().exists(old)
    assert _storage().exists(fresh)
    assert _storage().exists(photo.file.name)
    assert "0 orphan evidence file(s)" in _run("--delete")
    _storage().delete(fresh)
