"""Evidence photos in the portal and the back office: the photos field of the portal's forms, the
customer's "Add photos" on an open refund, and the views that serve a photo's file.

A photo is never a public file: there is no MEDIA_URL route, and each file is read from the
evidence storage and streamed only to those who may see its refund: the customer (or the guest
whose one-time link opened that order), through `refunds_for_viewer`; staff with the refunds view
permission. Anyone else gets the 404 (or the sign-in page) every other page of theirs gives.
"""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View

from refunds import services
from refunds.errors import RefundError
from refunds.evidence import ACCEPT_ATTRIBUTE, WHAT_WE_TAKE, prepare_images, readable_size
from refunds.models import ReasonCode, RefundEvidence
from refunds.policy import reason_needs_photo
from refunds.selectors import refund_queryset, refunds_for_viewer
from refunds.states import FINAL_STATUSES, RefundStatus

from .portal_access import PortalViewerMixin
from .staff._common import StaffPermissionMixin

logger = logging.getLogger(__name__)


class MultiplePhotoInput(forms.FileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Several files under one name (Django's "Uploading multiple files"), checked and re-encoded
    by refunds.evidence: cleans to a list of PreparedImage. `existing` is how many photos the
    refund already has (the limit counts them)."""

    widget = MultiplePhotoInput

    def __init__(self, *, existing: int = 0, **kwargs):
        self.existing = existing
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Photos")
        super().__init__(**kwargs)
        self.widget.attrs.update({"accept": ACCEPT_ATTRIBUTE})

    @property
    def help_text(self) -> str:
        """The limits as the settings say when the form is shown, not when it was defined."""
        return self._help_text or photo_limits()

    @help_text.setter
    def help_text(self, value: str) -> None:
        self._help_text = value

    def clean(self, data, initial=None):
        uploads = data if isinstance(data, list | tuple) else [data] if data else []
        files = []
        for upload in uploads:  # Django's own check of each (a nameless file part is refused)
            files.append(super().clean(upload, initial))
        if not files and self.required:
            raise ValidationError(self.error_messages["required"], code="required")
        try:
            return prepare_images(files, existing=self.existing)
        except RefundError as exc:
            raise ValidationError(exc.message, code=exc.code) from None


def photo_limits() -> str:
    return (
        f"Up to {settings.REFUND_EVIDENCE_MAX_FILES} photos: {WHAT_WE_TAKE}, "
        f"{readable_size(settings.REFUND_EVIDENCE_MAX_BYTES)} each."
    )


def request_photos_help(account) -> str:
    """The request form's photos help: the limits, and the reasons the account's return policy
    asks a photo for, so that the customer knows before sending."""
    needing = [label for code, label in ReasonCode.choices if reason_needs_photo(account, code)]
    if not needing:
        return photo_limits()
    reasons = " or ".join(f"“{label}”" for label in needing)
    return f"{photo_limits()} A photo is needed when the reason is {reasons}."


class AddPhotosForm(forms.Form):
    def __init__(self, *args, existing: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["photos"] = PhotosField(existing=existing, label="Add photos", required=True)


def can_add_photos(actor, refund) -> bool:
    """Whether the portal offers "Add photos": the viewer may act on the refund's order, it is
    still open and has room for another photo. The service decides again when it is posted."""
    return (
        actor is not None
        and RefundStatus(refund.status) not in FINAL_STATUSES
        and len(refund.evidence.all()) < settings.REFUND_EVIDENCE_MAX_FILES
    )


def portal_evidence_context(refund, actor, form: AddPhotosForm | None = None) -> dict:
    """What the customer's refund page shows of its photos (prefetched `evidence`)."""
    photos = list(refund.evidence.all())
    return {
        "photos": photos,
        "can_add_photos": form is not None or can_add_photos(actor, refund),
        "photo_form": form or AddPhotosForm(existing=len(photos)),
    }


def _file_response(evidence: RefundEvidence, refund) -> FileResponse:
    """The photo as the image it is: shown in the browser, never sniffed as anything else, kept
    only in that viewer's own cache."""
    try:
        handle = evidence.file.open("rb")
    except (FileNotFoundError, OSError):
        logger.error(
            "Evidence file missing from storage: refund %s, photo %s", refund.pk, evidence.pk
        )
        raise Http404("This photo is not available") from None
    extension = ".png" if evidence.content_type == "image/png" else ".jpg"
    response = FileResponse(
        handle,
        content_type=evidence.content_type,
        as_attachment=False,
        filename=f"{refund.number}-photo-{evidence.pk}{extension}",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    # An image needs nothing else, so even opened directly the file can load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


class PortalEvidenceFileView(PortalViewerMixin, View):
    """A photo of one of the viewer's refunds (a guest: of their order's refunds)."""

    def get(self, request, pk: int, photo_pk: int):
        refund = get_object_or_404(refunds_for_viewer(self.viewer), pk=pk)
        evidence = get_object_or_404(RefundEvidence.objects.filter(refund=refund), pk=photo_pk)
        return _file_response(evidence, refund)


class StaffEvidenceFileView(StaffPermissionMixin, View):
    """A photo of any refund, for staff who may view refunds (the detail page and the admin)."""

    def get(self, request, pk: int, photo_pk: int):
        refund = get_object_or_404(refund_queryset(), pk=pk)
        evidence = get_object_or_404(RefundEvidence.objects.filter(refund=refund), pk=photo_pk)
        return _file_response(evidence, refund)


class PortalEvidenceAddView(PortalViewerMixin, View):
    """ "Add photos" on the customer's open refund. Refused (a file we do not take, too big, too
    many, the refund closed): the refund's page again with the message beside the field (400),
    nothing stored."""

    def post(self, request, pk: int):
        # Imported here: the refund page's view lives in portal.py, which imports this module.
        from .portal import NO_GUEST_ACTOR, RefundDetailView

        refund = get_object_or_404(refunds_for_viewer(self.viewer), pk=pk)
        actor = self.actor_for(refund.order)
        if actor is None:
            raise Http404(NO_GUEST_ACTOR)
        form = AddPhotosForm(request.POST, request.FILES, existing=refund.evidence.count())
        if form.is_valid():
            try:
                added = services.refund_add_evidence(
                    actor=actor, refund=refund, images=form.cleaned_data["photos"], via="portal"
                )
            except RefundError as exc:
                form.add_error("photos" if exc.field == "photos" else None, exc.message)
            else:
                count = len(added)
                messages.success(request, f"{count} photo{'s' if count != 1 else ''} added.")
                return HttpResponseRedirect(reverse("portal:refund-detail", args=[pk]))
        view = RefundDetailView(request=request, kwargs={"pk": pk}, args=())
        view.viewer = self.viewer
        return view.render_to_response(view.get_context_data(pk=pk, photo_form=form), status=400)
