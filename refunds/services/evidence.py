"""Evidence photos on a refund: adding them (by the refund's customer, or staff who may change
refunds) while the refund is open, and the refusal of a customer's request whose reason needs one
(refunds.policy.reason_needs_photo) without one.

The photos come already checked and re-encoded (`refunds.evidence.prepare_images`, outside any
lock: it is the slow part). Storing them is part of the write: the files are saved through the
evidence storage inside the transaction that adds their rows and the audit event, and deleted
again when that transaction does not commit, so a refused or failed request leaves no file.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence

from django.core.files.base import ContentFile
from django.db import transaction

from ..errors import RefundError
from ..evidence import FIELD, PreparedImage, check_count
from ..models import Refund, RefundEvidence
from ..policy import reason_needs_photo
from ..rules import is_owner
from ..states import FINAL_STATUSES, STATUS_LABELS, RefundStatus
from ._common import load_permissions, lock, record

logger = logging.getLogger(__name__)

ADD_EVIDENCE = "add_evidence"  # the audit event's action
STAFF_PERMISSION = "refunds.change_refund"
# Whether a customer's reason needs a photo is the return policy's (refunds.policy): re-exported
# for refund_request with the rest of what it uses here.
__all__ = [
    "files_kept_on_success",
    "photo_required_error",
    "reason_needs_photo",
    "refund_add_evidence",
    "store_evidence",
]


def photo_required_error(reason_label: str) -> RefundError:
    return RefundError(
        f"Add a photo of the damage: we need one for “{reason_label}” "
        "(a JPEG, PNG, WebP or HEIC photo).",
        field=FIELD,
        code="photo_required",
    )


@contextlib.contextmanager
def files_kept_on_success() -> Iterator[list[str]]:
    """Collects the names of the files saved inside the block; when the block raises (a refusal,
    a database error, a failed commit) they are deleted again. Put it outside the transaction:
    `with files_kept_on_success() as saved, transaction.atomic():` sees the commit fail too.
    A caller's outer transaction that rolls back later is not seen (Django has no rollback
    hook): `manage.py evidence_orphans --delete` removes such files."""
    saved: list[str] = []
    try:
        yield saved
    except BaseException:
        storage = RefundEvidence._meta.get_field("file").storage
        for name in saved:
            try:
                storage.delete(name)
            except Exception:  # the refusal is what the caller must hear, not the clean-up
                logger.exception("Could not delete evidence file %s after a rollback", name)
        raise


def store_evidence(
    refund: Refund,
    images: Sequence[PreparedImage],
    *,
    actor,
    via: str,
    saved: list[str],
    existing: int = 0,
) -> list[RefundEvidence]:
    """Save the files and their rows and append the audit event, on a refund locked by the
    caller (inside its transaction and `files_kept_on_success`), within the photo limit."""
    check_count(len(images), existing=existing)
    rows = []
    for image in images:
        row = RefundEvidence(
            refund=refund,
            original_name=image.original_name,
            content_type=image.content_type,
            size=len(image.content),
            width=image.width,
            height=image.height,
            uploaded_by=actor,
        )
        # The name given is only for its extension: evidence_upload_to makes a random one.
        row.file.save(f"photo{image.extension}", ContentFile(image.content), save=False)
        saved.append(row.file.name)
        rows.append(row)
    RefundEvidence.objects.bulk_create(rows)
    record(
        refund,
        actor=actor,
        via=via,
        action=ADD_EVIDENCE,
        from_status=refund.status,
        changes={
            "photos": [{"id": row.pk, "name": row.original_name, "size": row.size} for row in rows]
        },
    )
    return rows


def _refuse_unless_allowed(actor, refund: Refund) -> None:
    if actor is None or not actor.is_active:
        raise RefundError("Only a signed-in person can add photos to a refund", code="forbidden")
    staff = actor.is_staff and actor.has_perm(STAFF_PERMISSION)
    if not staff and not is_owner(actor, refund.order):
        raise RefundError(
            "You do not have permission to add photos to this refund", code="forbidden"
        )
    status = RefundStatus(refund.status)
    if status in FINAL_STATUSES:
        raise RefundError(
            f"This refund is {STATUS_LABELS[status].lower()}: photos can only be added while it "
            "is open",
            field=FIELD,
            code="invalid_transition",
        )


def refund_add_evidence(
    *, actor, refund: Refund, images: Sequence[PreparedImage], via: str = ""
) -> list[RefundEvidence]:
    """Attach checked photos to an open refund: its customer, or staff who may change refunds.
    At most REFUND_EVIDENCE_MAX_FILES on the refund in all; one audit event ("added 2 photos").
    Refused: RefundError, and no row, event or file is left."""
    if not images:
        raise RefundError("Choose at least one photo to add.", field=FIELD, code="no_photos")
    load_permissions(actor)
    with files_kept_on_success() as saved, transaction.atomic():
        _order, refund = lock(refund)
        _refuse_unless_allowed(actor, refund)
        return store_evidence(
            refund, images, actor=actor, via=via, saved=saved, existing=refund.evidence.count()
        )
