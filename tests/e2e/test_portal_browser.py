"""Alice, on a phone-sized screen, signs in to the portal, requests a partial refund for two of
her order's three lines, sees it REQUESTED, enters the return tracking once an agent approved
it, and sees it ISSUED after the real worker delivered it to the HepsiGlobal sandbox. The
e-mails she was sent are checked: the ones sent in this process (live server, test body) from
the locmem outbox, the ones the worker process sent from its file backend."""

from __future__ import annotations

import email
import email.header
import re
from pathlib import Path

import pytest
from django.core import mail

from orders.models import Customer
from refunds.models import Refund
from refunds.services import Received, refund_approve, refund_receive
from tests import factories
from tests.fixtures.pipeline import wait_until

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

THREE_LINES = ((2, "10.00", "0.00", "0.00"), (3, "9.99", "1.00", "0.50"), (1, "100.00", "0", "0"))


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        base_url=live_server.url,
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def worker_mail(celery_worker, tmp_path):
    """The worker, restarted to write its e-mails to files (celery_worker puts the default
    environment back for the next test that asks for it)."""
    folder = tmp_path / "worker-mail"
    folder.mkdir()
    celery_worker.restart(
        TEST_EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        TEST_EMAIL_FILE_PATH=str(folder),
    )
    return folder


def _file_mail(folder: Path) -> list[tuple[str, str]]:
    """(to, subject) of each message Django's file backend wrote (messages separated by a line
    of 79 dashes; subjects decoded: they are RFC 2047 encoded when not ASCII, and folded)."""
    messages = []
    for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime):
        for raw in re.split(r"^-{79}$", path.read_text(), flags=re.M):
            if not raw.strip():
                continue
            message = email.message_from_string(raw.strip("\n"))
            subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
            messages.append((message["To"], subject))
    return messages


def test_alice_requests_a_partial_refund_and_follows_it_to_issued(
    phone, worker_mail, sandbox, marketplace_account, sandbox_order, pipeline_staff
):
    alice = factories.UserFactory(username="alice@example.com")
    customer = Customer.objects.create(email="alice@example.com", name="Alice", user=alice)
    account = marketplace_account("hepsiglobal")
    order = sandbox_order(account, customer=customer, lines=THREE_LINES)
    first, second, third = order.lines.order_by("id")
    page = phone

    sign_in(page, "alice@example.com", next_url="/portal/")
    page.wait_for_url("**/portal/")
    page.click(f"text=Order {order.external_number}")
    page.click("text=Request a refund")
    page.fill(f"input[name=line_{first.pk}]", "2")
    page.fill(f"input[name=line_{second.pk}]", "1")
    assert page.locator(f"input[name=line_{third.pk}]").input_value() == "0"
    page.select_option("select[name=reason_code]", "damaged")
    page.fill("textarea[name=customer_explanation]", "Both arrived broken")
    page.check("input[name=goods][value=send_back]")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/portal/refunds/\d+/$"))

    refund = Refund.objects.get(order=order)
    assert page.locator("#refund-status").get_attribute("data-status") == "REQUESTED"
    assert page.locator(".message.success").inner_text() == f"Refund {refund.number} requested."
    assert sorted((x.order_line_id, x.quantity) for x in refund.lines.all()) == [
        (first.pk, 2),
        (second.pk, 1),
    ]
    assert page.locator("#refund-total").inner_text() == f"{refund.total} USD"
    assert "Send the goods back" not in page.content()
    screenshot(page, "portal-requested")

    refund_approve(actor=pipeline_staff, refund=refund)
    page.reload()
    assert page.locator("#refund-status").get_attribute("data-status") == "WAITING"
    page.fill("input[name=carrier]", "DHL")
    page.fill("input[name=tracking_id]", "JD014600006281230000")
    page.locator("form[action$='/ship/'] button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#refund-tracking").inner_text() == "DHL JD014600006281230000"
    refund.refresh_from_db()
    assert (refund.return_carrier, refund.return_tracking_id) == ("DHL", "JD014600006281230000")

    refund_receive(
        actor=pipeline_staff,
        refund=refund,
        received={line.pk: Received(line.quantity) for line in refund.lines.all()},
    )
    wait_until(
        lambda: Refund.objects.get(pk=refund.pk).status == "ISSUED",
        timeout=60,
        message="the refund to be ISSUED through the HepsiGlobal sandbox",
    )
    # No reload by the customer: the page asks every 5 s and draws itself again as it moves.
    page.locator('#refund-status[data-status="ISSUED"]').wait_for(timeout=30_000)
    assert page.locator("#refund-status").inner_text() == "Refund issued"
    assert page.locator(".step-label").all_inner_texts() == [
        "Requested",
        "Approved — send the goods back",
        "Parcel on its way",
        "Parcel received",
        "Refund issued",
    ]
    assert page.locator(".step-done").count() == 5
    assert "Cancel this refund" not in page.content()
    screenshot(page, "portal-issued")

    wait_until(
        lambda: len(mail.outbox) + len(_file_mail(worker_mail)) >= 4, message="the ISSUED e-mail"
    )
    sent = [(", ".join(m.to), m.subject) for m in mail.outbox] + _file_mail(worker_mail)
    assert sent == [
        ("alice@example.com", f"Refund {refund.number}: Requested"),
        ("alice@example.com", f"Refund {refund.number}: Approved — send the goods back"),
        ("alice@example.com", f"Refund {refund.number}: Parcel received"),
        ("alice@example.com", f"Refund {refund.number}: Refund issued"),
    ]
