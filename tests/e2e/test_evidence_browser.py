"""Evidence photos in headless Chromium: a customer whose account's return policy asks a photo
for "Arrived damaged" is told so beside the photos field, attaches one with the request, sees it
on her refund's page, and an agent sees it on the refund's staff page as a thumbnail linking to
the full photo. A file we do not take and a file over the size limit are refused beside the
field, and nothing is stored."""

from __future__ import annotations

import re

import pytest

from orders.models import Customer, ReturnPolicy
from refunds.models import Refund, RefundEvidence
from tests import factories
from tests.fixtures.photos import image_bytes

from .axe import axe_violations, format_violations
from .conftest import screenshot, sign_in
from .test_csp_browser import RECORD_VIOLATIONS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice_order():
    alice = factories.UserFactory(username="alice@example.com")
    customer = Customer.objects.create(email="alice@example.com", name="Alice", user=alice)
    order = factories.make_order(customer=customer, lines=((2, "25.00", "0", "0"),))
    ReturnPolicy.objects.create(account=order.account, reasons_needing_photo=["damaged"])
    return order


def _open_request_form(page, order):
    sign_in(page, "alice@example.com", next_url=f"/portal/orders/{order.pk}/refund/")
    page.wait_for_url(f"**/portal/orders/{order.pk}/refund/")
    page.fill(f"input[name=line_{order.lines.get().pk}]", "1")
    page.select_option("select[name=reason_code]", "damaged")
    page.fill("textarea[name=customer_explanation]", "The lid arrived cracked")
    page.check("input[name=goods][value=keep]")


def _submit(page):
    page.get_by_role("button", name="Request refund").click()
    page.wait_for_load_state()


def _no_csp_violations(page) -> None:
    """Nothing on the page was blocked by the Content-Security-Policy (no inline style or script
    in the photo blocks; the images themselves load from our own views)."""
    assert page.evaluate("window.__cspViolations") == []


def _no_serious_axe_violations(page) -> None:
    violations = axe_violations(page)
    assert not violations, format_violations(violations)


def _natural_width(locator) -> int:
    locator.scroll_into_view_if_needed()
    page = locator.page
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=locator.element_handle()
    )
    return locator.evaluate("img => img.naturalWidth")


def test_a_customer_attaches_a_photo_and_staff_see_it(
    page, browser, live_server, alice_order, tmp_path, make_agent
):
    make_agent("agent-photos@example.com")
    photo = tmp_path / "cracked-lid.jpg"
    photo.write_bytes(image_bytes("JPEG", size=(320, 240), gps=True))
    page.context.add_init_script(RECORD_VIOLATIONS)
    _open_request_form(page, alice_order)

    # Without a photo: refused beside the field, which the error names for screen readers.
    _submit(page)
    error = page.locator("#id_photos_error")
    assert error.inner_text().startswith("Add a photo of the damage")
    described = page.locator("input[name=photos]").get_attribute("aria-describedby").split()
    assert "id_photos_error" in described
    assert not Refund.objects.exists()
    _no_serious_axe_violations(page)

    page.fill(f"input[name=line_{alice_order.lines.get().pk}]", "1")
    page.select_option("select[name=reason_code]", "damaged")
    page.check("input[name=goods][value=keep]")
    page.set_input_files("input[name=photos]", str(photo))
    _submit(page)
    page.wait_for_url(re.compile(r"/portal/refunds/\d+/$"))

    refund = Refund.objects.get()
    stored = RefundEvidence.objects.get(refund=refund)
    assert (stored.original_name, stored.width, stored.height) == ("cracked-lid.jpg", 320, 240)
    thumbnail = page.locator("#photos img.photo-thumb")
    assert thumbnail.get_attribute("alt") == "Photo 1: cracked-lid.jpg"
    assert _natural_width(thumbnail) == 320
    _no_csp_violations(page)
    screenshot(page, "portal-refund-with-photo")
    _no_serious_axe_violations(page)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing runs off the side
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert thumbnail.is_visible()
    _no_serious_axe_violations(page)

    staff = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live_server.url)
    staff.add_init_script(RECORD_VIOLATIONS)
    staff_page = staff.new_page()
    try:
        sign_in(staff_page, "agent-photos@example.com", next_url=f"/staff/refunds/{refund.pk}/")
        staff_page.wait_for_url(f"**/staff/refunds/{refund.pk}/")
        staff_thumbnail = staff_page.locator("#photos img.photo-thumb")
        assert _natural_width(staff_thumbnail) == 320
        _no_csp_violations(staff_page)
        link = staff_page.locator("#photos a").first
        full = staff_page.request.get(link.get_attribute("href"))
        assert full.status == 200
        assert full.headers["content-type"] == "image/jpeg"
        assert full.headers["x-content-type-options"] == "nosniff"
        assert b"PhoneCo" not in full.body()  # the EXIF (camera, GPS) did not survive
        screenshot(staff_page, "staff-detail-with-photo")
        _no_serious_axe_violations(staff_page)
    finally:
        staff.close()


def test_a_file_we_do_not_take_and_a_file_too_big_are_refused_beside_the_field(
    page, alice_order, tmp_path, settings
):
    settings.REFUND_EVIDENCE_MAX_BYTES = 100 * 1024
    not_a_photo = tmp_path / "damage.jpg"
    not_a_photo.write_text("These are my notes, not a picture.\n" * 20)
    too_big = tmp_path / "huge.png"
    too_big.write_bytes(image_bytes("PNG") + b"\0" * (200 * 1024))

    _open_request_form(page, alice_order)
    page.set_input_files("input[name=photos]", str(not_a_photo))
    _submit(page)
    assert page.locator("#id_photos_error").inner_text() == (
        "damage.jpg is not a photo we can read: attach a JPEG, PNG, WebP or HEIC image."
    )

    page.fill(f"input[name=line_{alice_order.lines.get().pk}]", "1")
    page.select_option("select[name=reason_code]", "damaged")
    page.check("input[name=goods][value=keep]")
    page.set_input_files("input[name=photos]", str(too_big))
    _submit(page)
    assert page.locator("#id_photos_error").inner_text() == (
        "huge.png is larger than 100 KB: choose a smaller photo."
    )
    screenshot(page, "portal-photo-refused")

    assert not Refund.objects.exists()
    assert not RefundEvidence.objects.exists()
