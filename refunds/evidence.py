"""Evidence photos as uploaded, checked and re-encoded before anything is stored.

What a file is comes from its content, never from its name or the browser's content type: Pillow
opens it, `verify()` reads it through, it is opened again and decoded, turned upright by its EXIF
orientation, and saved anew - JPEG for photos, PNG when it has transparency - so nothing of the
original file (EXIF with GPS, XMP, maker notes, comments, trailing bytes) is kept. Only the ICC
colour profile is carried over, so that a phone's wide-gamut photo keeps its colours.

Taken: JPEG (and MPO, the multi-picture JPEG some cameras write: its first picture), PNG, WebP and
HEIC/HEIF (pillow-heif). Refused: GIF (animations and palette art are not photos of goods, and one
frame of an animation is not what the customer saw), SVG (a document that can carry script, and no
raster to check), TIFF, BMP, AVIF, PDF and anything else Pillow may read.

No models here: `refunds.services.evidence` stores what `prepare_images` returns.
"""

from __future__ import annotations

import functools
import io
import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import RefundError

logger = logging.getLogger(__name__)

FIELD = "photos"
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "HEIF"})
# What the file input offers in the browser's picker (a hint only: the content decides).
ACCEPT_ATTRIBUTE = "image/jpeg,image/png,image/webp,image/heic,image/heif,.heic,.heif"
WHAT_WE_TAKE = "JPEG, PNG, WebP or HEIC"
JPEG_QUALITY = 88
ORIGINAL_NAME_MAX = 200


@dataclass(frozen=True)
class PreparedImage:
    """One photo, re-encoded and ready to store."""

    content: bytes
    content_type: str  # image/jpeg or image/png
    extension: str  # ".jpg" or ".png"
    width: int
    height: int
    original_name: str  # as the customer's device named it, for display only


@functools.cache
def register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (pillow-heif), once per process."""
    # Imported here: loading libheif is for the processes that read photos, not every import.
    import pillow_heif

    pillow_heif.register_heif_opener()


def readable_size(size: int) -> str:
    """A byte limit as people read it: "10 MB", "1.5 MB", "100 KB"."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.3g} MB"
    return f"{max(size // 1024, 1)} KB"


def _display_name(name: str | None) -> str:
    """The file's own name without any folders, for people to recognise it; never a path."""
    base = PurePath((name or "").replace("\\", "/")).name.strip()
    return base[:ORIGINAL_NAME_MAX] or "photo"


def _refuse(name: str, message: str, code: str) -> RefundError:
    logger.info("Evidence photo refused (%s): %r", code, name)
    return RefundError(message, field=FIELD, code=code)


def check_count(new: int, *, existing: int = 0) -> None:
    """At most REFUND_EVIDENCE_MAX_FILES photos on a refund, counting those it already has."""
    limit = settings.REFUND_EVIDENCE_MAX_FILES
    if new + existing > limit:
        left = max(limit - existing, 0)
        already = f" This refund already has {existing}, so you can add {left}." if existing else ""
        raise _refuse(
            f"{new} photos",
            f"Attach at most {limit} photos to a refund.{already}",
            "too_many_photos",
        )


def _read(upload, name: str) -> bytes:
    """The upload's bytes, refusing an oversized one before reading it (its size is known from
    the request) and again by what was actually read."""
    limit = settings.REFUND_EVIDENCE_MAX_BYTES
    too_big = f"{name} is larger than {readable_size(limit)}: choose a smaller photo."
    declared = getattr(upload, "size", None)
    if declared is not None and declared > limit:
        raise _refuse(name, too_big, "too_big")
    if hasattr(upload, "seek"):
        upload.seek(0)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise _refuse(name, too_big, "too_big")
    if not data:
        raise _refuse(name, f"{name} is empty: choose the photo again.", "empty")
    return data


def _not_an_image(name: str) -> RefundError:
    return _refuse(
        name,
        f"{name} is not a photo we can read: attach a {WHAT_WE_TAKE} image.",
        "not_an_image",
    )


def _open_checked(data: bytes, name: str) -> Image.Image:
    """Open the bytes as an image of a format we take, within the pixel limit, without decoding
    the pixels yet (Pillow reads the header only)."""
    register_heif()
    limit = settings.REFUND_EVIDENCE_MAX_PIXELS
    with warnings.catch_warnings():
        # Pillow warns (and past twice its limit refuses) about huge images: both are refusals.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(name) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise _not_an_image(name) from None
    if image.format not in ACCEPTED_FORMATS:
        shown = {"GIF": "GIF", "TIFF": "TIFF", "BMP": "BMP", "AVIF": "AVIF"}.get(
            image.format or "", "this kind of"
        )
        raise _refuse(
            name,
            f"{name} is a {shown} image: attach a {WHAT_WE_TAKE} photo instead.",
            "unsupported_type",
        )
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > limit:
        raise _too_many_pixels(name)
    return image


def _too_many_pixels(name: str) -> RefundError:
    megapixels = f"{settings.REFUND_EVIDENCE_MAX_PIXELS / 1_000_000:g}"
    return _refuse(
        name,
        f"{name} has too many pixels (more than {megapixels} megapixels): send a smaller photo.",
        "too_many_pixels",
    )


def _has_transparency(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        alpha = image.getchannel("A")
        return alpha.getextrema()[0] < 255
    return image.mode == "P" and "transparency" in image.info


def _reencode(data: bytes, name: str) -> PreparedImage:
    image = _open_checked(data, name)
    try:
        image.verify()  # reads the file through: truncated or corrupt data fails here
    except Exception:  # Pillow raises many kinds for damaged data; all mean "not readable"
        raise _not_an_image(name) from None
    # verify() leaves the image unusable: open it again (checked again) and decode it.
    image = _open_checked(data, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except Exception:  # a file that verifies but does not decode is as unreadable
            raise _not_an_image(name) from None
    icc_profile = image.info.get("icc_profile")
    if _has_transparency(upright):
        converted = upright.convert("RGBA")
        content_type, extension, save = "image/png", ".png", {"format": "PNG", "optimize": True}
    else:
        converted = upright.convert("RGB")
        content_type, extension = "image/jpeg", ".jpg"
        save = {"format": "JPEG", "quality": JPEG_QUALITY, "optimize": True}
    if icc_profile:
        save["icc_profile"] = icc_profile
    out = io.BytesIO()
    # A fresh image from the pixels alone: no info, EXIF, XMP or comments come along.
    clean = Image.new(converted.mode, converted.size)
    clean.paste(converted)
    clean.save(out, **save)
    return PreparedImage(
        content=out.getvalue(),
        content_type=content_type,
        extension=extension,
        width=clean.width,
        height=clean.height,
        original_name=name,
    )


def prepare_images(uploads: Iterable, *, existing: int = 0) -> list[PreparedImage]:
    """Check and re-encode uploaded photos (Django UploadedFiles or any object with `name` and
    `read`). All or nothing: the first photo refused raises RefundError(field="photos") saying
    which one and what to do, and nothing is returned to store."""
    files: Sequence = [upload for upload in uploads if upload is not None]
    check_count(len(files), existing=existing)
    prepared = []
    for upload in files:
        name = _display_name(getattr(upload, "name", ""))
        prepared.append(_reencode(_read(upload, name), name))
    return prepared
