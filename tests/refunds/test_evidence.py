"""refunds.evidence: a photo is what its content is, not what its name says; it is re-encoded
without its metadata and turned upright; what we do not take is refused saying why."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from refunds.errors import RefundError
from refunds.evidence import prepare_images
from tests.fixtures.photos import GPS_IFD, bomb_png, image_bytes, upload


def _open(prepared) -> Image.Image:
    return Image.open(io.BytesIO(prepared.content))


def _refusal(*uploads, **kwargs) -> RefundError:
    with pytest.raises(RefundError) as caught:
        prepare_images(uploads, **kwargs)
    assert caught.value.field == "photos"
    return caught.value


def test_a_jpeg_is_re_encoded_without_its_exif_and_gps():
    original = image_bytes("JPEG", gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the sample has GPS

    [photo] = prepare_images([upload("IMG_0001.JPG", original)])

    assert photo.content_type == "image/jpeg"
    assert photo.extension == ".jpg"
    assert (photo.width, photo.height) == (40, 20)
    assert photo.original_name == "IMG_0001.JPG"
    assert photo.content != original
    image = _open(photo)
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info
    assert b"PhoneCo" not in photo.content


def test_the_exif_orientation_is_applied():
    # Orientation 6: the camera was turned; the stored 40×20 pixels are shown rotated 90°.
    [photo] = prepare_images([upload("turned.jpg", image_bytes("JPEG", orientation=6))])

    assert (photo.width, photo.height) == (20, 40)
    image = _open(photo).convert("RGB")
    assert dict(image.getexif()) == {}
    # The original's left half (blue) is at the top once turned upright (90° clockwise).
    red, _green, blue = image.getpixel((10, 5))
    assert blue > 150 > red
    red, _green, blue = image.getpixel((10, 35))
    assert red > 150 > blue


def test_a_png_with_transparency_stays_png_with_its_alpha():
    content = image_bytes("PNG", mode="RGBA", color=(10, 200, 10, 0))

    [photo] = prepare_images([upload("cutout.png", content, "image/png")])

    assert photo.content_type == "image/png"
    assert photo.extension == ".png"
    image = _open(photo)
    assert image.format == "PNG"
    assert image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0


def test_an_opaque_png_becomes_a_jpeg():
    [photo] = prepare_images([upload("screen.png", image_bytes("PNG"), "image/png")])

    assert photo.content_type == "image/jpeg"
    assert _open(photo).format == "JPEG"


def test_webp_is_taken():
    [photo] = prepare_images([upload("phone.webp", image_bytes("WEBP"), "image/webp")])

    assert photo.content_type == "image/jpeg"
    assert (photo.width, photo.height) == (40, 20)


def test_heic_is_taken():
    content = image_bytes("HEIF", size=(64, 32))
    assert content[4:12] == b"ftypheic"  # a real HEIC file, as an iPhone writes

    [photo] = prepare_images([upload("IMG_4242.HEIC", content, "image/heic")])

    assert photo.content_type == "image/jpeg"
    assert (photo.width, photo.height) == (64, 32)
    assert _open(photo).format == "JPEG"


def test_the_name_and_content_type_are_not_believed():
    """A JPEG named .png and sent as text/plain is a JPEG; its name is kept for display only,
    without any folders."""
    [photo] = prepare_images([upload("../../etc/passwd.png", image_bytes("JPEG"), "text/plain")])

    assert photo.content_type == "image/jpeg"
    assert photo.original_name == "passwd.png"


def test_a_text_file_named_jpg_is_refused():
    error = _refusal(upload("damage.jpg", b"I am not a picture at all\n" * 20))

    assert error.code == "not_an_image"
    assert error.message == (
        "damage.jpg is not a photo we can read: attach a JPEG, PNG, WebP or HEIC image."
    )


def test_a_pdf_named_jpg_is_refused():
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

    assert _refusal(upload("receipt.jpg", pdf)).code == "not_an_image"


def test_an_svg_is_refused():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

    assert _refusal(upload("photo.svg", svg, "image/svg+xml")).code == "not_an_image"


def test_a_gif_is_refused_by_its_type():
    error = _refusal(upload("anim.jpg", image_bytes("GIF", mode="P", color=3)))

    assert error.code == "unsupported_type"
    assert (
        error.message == "anim.jpg is a GIF image: attach a JPEG, PNG, WebP or HEIC photo instead."
    )


def test_a_tiff_is_refused_by_its_type():
    assert _refusal(upload("scan.tif", image_bytes("TIFF"))).code == "unsupported_type"


def test_a_truncated_jpeg_is_refused():
    content = image_bytes("JPEG", size=(400, 300))

    error = _refusal(upload("broken.jpg", content[: len(content) // 2]))

    assert error.code == "not_an_image"


def test_a_corrupt_png_is_refused():
    content = bytearray(image_bytes("PNG", size=(50, 50)))
    content[60:80] = b"\xff" * 20  # inside the image data: its checksum no longer matches

    assert _refusal(upload("corrupt.png", bytes(content))).code == "not_an_image"


def test_an_empty_file_is_refused():
    assert _refusal(upload("nothing.jpg", b"")).code == "empty"


def test_a_file_over_the_size_limit_is_refused(settings):
    settings.REFUND_EVIDENCE_MAX_BYTES = 2 * 1024 * 1024
    content = image_bytes("PNG") + b"\x00" * (2 * 1024 * 1024)  # trailing bytes past the limit

    error = _refusal(upload("huge.png", content, "image/png"))

    assert error.code == "too_big"
    assert error.message == "huge.png is larger than 2 MB: choose a smaller photo."


def test_a_file_whose_declared_size_is_over_the_limit_is_refused_before_it_is_read(settings):
    settings.REFUND_EVIDENCE_MAX_BYTES = 1024

    class Declared:
        name, size = "big.jpg", 10 * 1024 * 1024

        def read(self, *args):
            raise AssertionError("an oversized upload must not be read")

    assert _refusal(Declared()).code == "too_big"


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    bomb = bomb_png()
    assert len(bomb) < 1000  # 3.6 gigapixels in under a kilobyte

    error = _refusal(upload("bomb.png", bomb, "image/png"))

    assert error.code == "too_many_pixels"
    assert (
        error.message
        == "bomb.png has too many pixels (more than 50 megapixels): send a smaller photo."
    )


def test_an_image_over_our_own_pixel_limit_is_refused(settings):
    """Below Pillow's own bomb limit, above ours."""
    settings.REFUND_EVIDENCE_MAX_PIXELS = 1000

    error = _refusal(upload("wide.png", image_bytes("PNG", size=(50, 50)), "image/png"))

    assert error.code == "too_many_pixels"
    assert "more than 0.001 megapixels" in error.message


def test_too_many_photos_are_refused(settings):
    settings.REFUND_EVIDENCE_MAX_FILES = 2
    files = [upload(f"p{n}.jpg", image_bytes("JPEG")) for n in range(3)]

    error = _refusal(*files)

    assert error.code == "too_many_photos"
    assert error.message == "Attach at most 2 photos to a refund."


def test_the_limit_counts_the_photos_the_refund_already_has(settings):
    settings.REFUND_EVIDENCE_MAX_FILES = 3
    files = [upload(f"p{n}.jpg", image_bytes("JPEG")) for n in range(2)]

    error = _refusal(*files, existing=2)

    assert error.message == (
        "Attach at most 3 photos to a refund. This refund already has 2, so you can add 1."
    )
    assert len(prepare_images(files[:1], existing=2)) == 1


def test_one_bad_photo_refuses_them_all():
    good, bad = upload("good.jpg", image_bytes("JPEG")), upload("bad.jpg", b"nope")

    error = _refusal(good, bad)

    assert error.message.startswith("bad.jpg is not a photo")


@pytest.mark.parametrize(
    ("mode", "fmt", "stored_as"),
    [
        ("CMYK", "JPEG", "image/jpeg"),  # print-shop JPEGs
        ("L", "JPEG", "image/jpeg"),
        ("I;16", "PNG", "image/jpeg"),  # 16-bit greyscale
        ("1", "PNG", "image/jpeg"),
        ("P", "PNG", "image/jpeg"),  # palette, no transparency
        ("LA", "PNG", "image/png"),  # greyscale with alpha
        ("RGBA", "WEBP", "image/png"),
        ("RGBA", "HEIF", "image/png"),
    ],
)
def test_every_colour_mode_is_re_encoded_to_rgb_or_rgba(mode, fmt, stored_as):
    fill = (0, 0) if mode == "LA" else (0, 0, 0, 0) if mode == "RGBA" else 0
    content = image_bytes(fmt, mode=mode, color=fill)

    [photo] = prepare_images([upload(f"sample.{fmt.lower()}", content)])

    assert photo.content_type == stored_as
    assert _open(photo).mode == ("RGBA" if stored_as == "image/png" else "RGB")


def test_a_multi_picture_jpeg_keeps_its_first_picture():
    frames = [Image.new("RGB", (20, 10), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="MPO", save_all=True, append_images=frames[1:])
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"

    [photo] = prepare_images([upload("camera.jpg", out.getvalue())])

    red, _green, blue = _open(photo).getpixel((5, 5))
    assert red > 200 > blue
