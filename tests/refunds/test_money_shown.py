"""Every page, CSV, e-mail and API answer shows money quantized to its currency's minor unit, with
its currency: orders with odd amounts (three units of 10.00 with one refunded, a 0.01 line, a
10.00 line over three units, a JPY order with no minor units and a KWD order with three) are
rendered everywhere a person reads an amount, and no amount has another number of decimals than
its currency has."""

import csv
import io
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from refunds import notifications
from refunds.calculator import LineChoice
from refunds.models import Refund
from refunds.services import refund_request
from tests import factories

MINOR = {"USD": 2, "JPY": 0, "KWD": 3}
# A number followed by a currency code, perhaps with spaces or a <span> between.
WITH_CODE = re.compile(r"(?<![\w.,])(\d+(?:\.(\d+))?)(?:\s|&nbsp;|</?span[^>]*>)*(USD|JPY|KWD)\b")
# A decimal number that is not part of a version ("chart-4.4.7") or a time ("22:41:59.123").
DECIMAL = re.compile(r"(?<![\w.:,])\d+\.(\d+)(?![\d.])")


def _cells(html: str, tag: str) -> list[str]:
    """The text of each numeric cell (`<td class="num">`, `<dd class="num">`), tags removed."""
    cells = re.findall(rf'<{tag} class="num"[^>]*>(.*?)</{tag}>', html, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def assert_money_exact(text: str, *, most_decimals: int | None = 2) -> list[str]:
    """Every amount next to a currency code has exactly that currency's decimals, and no other
    number has more than `most_decimals` (None: not checked, for the admin's pages, whose
    inline icons are full of coordinates); returns the amounts found, as "20.00 USD"."""
    found = WITH_CODE.findall(text)
    wrong = [f"{n} {code}" for n, decimals, code in found if len(decimals) != MINOR[code]]
    assert wrong == []
    if most_decimals is not None:
        too_long = [m.group(0) for m in DECIMAL.finditer(text) if len(m.group(1)) > most_decimals]
        assert too_long == []
    return [f"{n} {code}" for n, _, code in found]


def _one_unit(order, actor, *line_indexes):
    lines = list(order.lines.order_by("id"))
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=True,
        lines=[LineChoice(order_line_id=lines[i].pk, quantity=1) for i in line_indexes],
    )


def _issue(refund):
    Refund.objects.filter(pk=refund.pk).update(status="ISSUED", issued_at=timezone.now())
    refund.refresh_from_db()
    return refund


@pytest.fixture
def odd(db, customer_user):
    """USD: 3 × 10.00 (one unit refunded and issued), 1 × 0.01, 3 units coming to 10.00 (one
    unit and the 0.01 line requested), shipping 5.00. JPY: 3 × 500 (one unit issued, one
    requested). KWD: 2 × 7.25 + shipping 1.50 (one unit requested)."""
    customer = factories.CustomerFactory(email="alice@example.com", user=customer_user)
    usd = factories.make_order(
        customer=customer,
        lines=((3, "10.00", "0", "0"), (1, "0.01", "0", "0"), (3, "3.34", "0.02", "0")),
        shipping="5.00",
    )
    jpy = factories.make_order(
        customer=customer, currency="JPY", lines=((3, "500", "0", "0"),), shipping="0"
    )
    kwd = factories.make_order(
        customer=customer, currency="KWD", lines=((2, "7.25", "0", "0"),), shipping="1.50"
    )
    return {
        "usd": usd,
        "jpy": jpy,
        "kwd": kwd,
        "usd_issued": _issue(_one_unit(usd, customer_user, 0)),
        "usd_requested": _one_unit(usd, customer_user, 1, 2),
        "jpy_issued": _issue(_one_unit(jpy, customer_user, 0)),
        "jpy_requested": _one_unit(jpy, customer_user, 0),
        "kwd_requested": _one_unit(kwd, customer_user, 0),
    }


def _get(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200, url
    return response.content.decode()


def test_staff_queue_and_dashboard(client, manager, odd):
    client.force_login(manager)
    # Every refund ("All": the default view lists only those needing a decision).
    queue = assert_money_exact(
        _get(client, reverse("staff:refund-queue"), view="all"), most_decimals=3
    )
    assert sorted(queue) == sorted(["10.00 USD", "3.34 USD", "500 JPY", "500 JPY", "7.250 KWD"])
    dashboard = _get(client, reverse("staff:dashboard"))
    # The figures, then the refund rates by marketplace (ordered, refunded per currency: KWD
    # with three decimals, nothing refunded yet), by reason and by SKU (refunded, ordered).
    assert assert_money_exact(dashboard, most_decimals=3) == [
        *["500 JPY", "10.00 USD"],
        *["1500 JPY", "500 JPY", "16.000 KWD", "0.000 KWD", "45.01 USD", "10.00 USD"],
        *["500 JPY", "1500 JPY", "10.00 USD", "45.01 USD"],
        *["500 JPY", "1500 JPY", "10.00 USD", "30.00 USD"],
    ]
    assert '"data": ["500", "10.00"]' in dashboard  # the chart's figures


def test_staff_refund_detail(client, manager, odd):
    client.force_login(manager)
    usd = _get(client, reverse("staff:refund-detail", args=[odd["usd_requested"].pk]))
    assert assert_money_exact(usd) == [
        "3.34 USD",  # the lead
        *["0.01 USD", "3.33 USD"],  # the refund's lines
        *["3.34 USD", "0.00 USD", "0.00 USD", "3.34 USD"],  # lines, shipping, additional, total
        *["30.00 USD", "20.00 USD", "0.01 USD", "0.00 USD", "10.00 USD", "6.67 USD"],  # order
        *["5.00 USD", "0.00 USD"],  # shipping and additional still refundable
        "45.01 USD",  # order total
        "31.67 USD",  # still refundable
        "45.01 USD",  # the payment
        "3.34 USD",  # the timeline: the customer asked for a refund of 3.34 USD
        "3.34 USD",  # the question the approve shortcut asks
        "3.34 USD",  # the approve button
        "3.34 USD",  # the question Deny asks
    ]
    # Refund lines, then per order line: paid, units, refundable (20.00 = 2 of 3 × 10.00 left).
    cells = _cells(usd, "td")
    assert cells == [
        *[
            "1",
            "0",
            "0.01 USD",
            "1",
            "0",
            "3.33 USD",
            "3.34 USD",
            "0.00 USD",
            "0.00 USD",
            "3.34 USD",
        ],
        *["3", "0", "30.00 USD", "2", "20.00 USD"],
        *["1", "0", "0.01 USD", "0", "0.00 USD"],
        *["3", "0", "10.00 USD", "2", "6.67 USD"],
        *["5.00 USD", "0.00 USD", "31.67 USD"],
    ]
    jpy = _get(client, reverse("staff:refund-detail", args=[odd["jpy_requested"].pk]))
    assert assert_money_exact(jpy, most_decimals=0) == [
        "500 JPY",  # the lead
        *["500 JPY", "500 JPY", "0 JPY", "0 JPY", "500 JPY"],  # line; lines, shipping, extra, total
        *["1500 JPY", "500 JPY", "0 JPY", "0 JPY"],  # the order line; shipping, additional left
        "1500 JPY",  # order total
        "500 JPY",  # still refundable
        "1500 JPY",  # the payment
        *["500 JPY"] * 4,  # timeline, approve shortcut's question, approve button, deny's question
    ]
    kwd = _get(client, reverse("staff:refund-detail", args=[odd["kwd_requested"].pk]))
    assert "7.250 KWD" in assert_money_exact(kwd, most_decimals=3)
    assert '<td class="num">7.250 <span class="cur">KWD</span></td>' in kwd


def test_staff_new_refund_and_preview(client, manager, odd):
    client.force_login(manager)
    usd, jpy = odd["usd"], odd["jpy"]
    page = _get(client, reverse("staff:refund-new", args=[usd.pk]))
    assert assert_money_exact(page) == [
        "45.01 USD",
        "31.67 USD",
        "20.00 USD",
        "0.00 USD",
        "6.67 USD",
    ]
    assert _cells(page, "td") == [
        "2",
        "20.00 USD",
        "0",
        "0.00 USD",
        "2",
        "6.67 USD",
    ]
    page = _get(client, reverse("staff:refund-new", args=[jpy.pk]))
    assert assert_money_exact(page, most_decimals=0) == ["1500 JPY", "500 JPY", "500 JPY"]
    assert _cells(page, "td") == ["1", "500 JPY"]

    # The next unit of the 10.00-over-three-units line is 3.34 (3.33 + 3.34 + 3.33).
    third = list(usd.lines.order_by("id"))[2]
    data = {f"qty_{third.pk}": "1", "shipping_amount": "0.5"}
    preview = client.post(reverse("staff:refund-preview", args=[usd.pk]), data)
    assert preview.status_code == 200
    body = preview.content.decode()
    assert assert_money_exact(body) == ["3.34 USD", "0.50 USD", "0.00 USD", "3.84 USD"]
    assert _cells(body, "dd") == [
        "3.34 USD",
        "0.50 USD",
        "0.00 USD",
        "3.84 USD",
    ]
    no_js = client.post(reverse("staff:refund-new", args=[usd.pk]), {**data, "preview": "1"})
    assert no_js.status_code == 200
    assert assert_money_exact(no_js.content.decode()) == [
        *["45.01 USD", "31.67 USD", "20.00 USD", "0.00 USD", "6.67 USD"],  # the order, its lines
        *["3.34 USD", "0.50 USD", "0.00 USD", "3.84 USD"],  # the preview
    ]
    line = jpy.lines.get()
    preview = client.post(reverse("staff:refund-preview", args=[jpy.pk]), {f"qty_{line.pk}": "1"})
    assert assert_money_exact(preview.content.decode(), most_decimals=0) == [
        *["500 JPY", "0 JPY", "0 JPY", "500 JPY"]  # the line, shipping, additional, total
    ]


def test_staff_csv_export(client, manager, odd):
    client.force_login(manager)
    response = client.get(reverse("staff:refund-export"))
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted((r["total"], r["currency"]) for r in rows) == [
        ("10.00", "USD"),
        ("3.34", "USD"),
        ("500", "JPY"),
        ("500", "JPY"),
        ("7.250", "KWD"),
    ]


def test_admin_refunds_and_orders(client, manager, odd):
    client.force_login(manager)
    changelist = _get(client, reverse("admin:refunds_refund_changelist"))
    assert sorted(assert_money_exact(changelist, most_decimals=None)) == sorted(
        ["10.00 USD", "3.34 USD", "500 JPY", "500 JPY", "7.250 KWD"]
    )
    change = _get(client, reverse("admin:refunds_refund_change", args=[odd["jpy_requested"].pk]))
    # The decision panel (approve button, deny's question), then lines, shipping, additional
    # charges, total; the refund line; the request's sentence in the events.
    assert assert_money_exact(change, most_decimals=None) == [
        *["500 JPY", "500 JPY"],
        *["500 JPY", "0 JPY", "0 JPY", "500 JPY"],
        "500 JPY",
        "500 JPY",
    ]
    change = _get(client, reverse("admin:refunds_refund_change", args=[odd["usd_requested"].pk]))
    assert assert_money_exact(change, most_decimals=None) == [
        *["3.34 USD", "3.34 USD"],
        *["3.34 USD", "0.00 USD", "0.00 USD", "3.34 USD"],
        "0.01 USD",
        "3.33 USD",
        "3.34 USD",
    ]
    orders = _get(client, reverse("admin:orders_order_changelist"))
    assert sorted(assert_money_exact(orders, most_decimals=None)) == [
        "1500 JPY",
        "16.000 KWD",
        "45.01 USD",
    ]
    order = _get(client, reverse("admin:orders_order_change", args=[odd["jpy"].pk]))
    # Items, shipping, tip, additional, grand total; the line's price, discount and tax; the
    # payment.
    assert assert_money_exact(order, most_decimals=None) == [
        "1500 JPY",
        "0 JPY",
        "0 JPY",
        "0 JPY",
        "1500 JPY",
        "500 JPY",
        "0 JPY",
        "0 JPY",
        "1500 JPY",  # the payment's caption row ("card 1500 JPY")
        "1500 JPY",
    ]
    deny = client.post(
        reverse("admin:refunds_refund_changelist"),
        {"action": "deny_selected", "_selected_action": [odd["jpy_requested"].pk]},
    )
    assert deny.status_code == 200
    # The question with the total ("Deny 1 refund for 500 JPY?"), then the refund's row.
    assert assert_money_exact(deny.content.decode(), most_decimals=None) == ["500 JPY", "500 JPY"]


def test_portal_pages(client, customer_user, odd):
    client.force_login(customer_user)
    everything = sorted(["10.00 USD", "3.34 USD", "500 JPY", "500 JPY", "7.250 KWD"])
    orders = sorted(["45.01 USD", "1500 JPY", "16.000 KWD"])
    home = assert_money_exact(_get(client, reverse("portal:home")), most_decimals=3)
    assert sorted(home) == sorted(everything + orders)
    order_list = _get(client, reverse("portal:order-list"))
    assert sorted(assert_money_exact(order_list, most_decimals=3)) == orders
    refund_list = _get(client, reverse("portal:refund-list"))
    assert sorted(assert_money_exact(refund_list, most_decimals=3)) == everything

    usd = _get(client, reverse("portal:order-detail", args=[odd["usd"].pk]))
    assert assert_money_exact(usd) == [
        # per line: unit price, paid, then units left · refundable
        "10.00 USD",
        "30.00 USD",
        "20.00 USD",
        "0.01 USD",
        "0.01 USD",
        "0.00 USD",
        "3.34 USD",
        "10.00 USD",
        "6.67 USD",
        "45.01 USD",
        "31.67 USD",
        "3.34 USD",  # the order's refunds, newest first
        "10.00 USD",
    ]
    jpy = _get(client, reverse("portal:order-detail", args=[odd["jpy"].pk]))
    assert assert_money_exact(jpy, most_decimals=0) == [
        "500 JPY",
        "1500 JPY",
        "500 JPY",
        "1500 JPY",
        "500 JPY",
        "500 JPY",
        "500 JPY",
    ]
    refund = _get(client, reverse("portal:refund-detail", args=[odd["jpy_requested"].pk]))
    # The steps (requested, to be refunded), the amount, the line explained (1 × 500 JPY, its
    # amount, the total), the cancel question.
    assert assert_money_exact(refund, most_decimals=0) == ["500 JPY"] * 7
    refund = _get(client, reverse("portal:refund-detail", args=[odd["usd_requested"].pk]))
    assert assert_money_exact(refund) == [
        *["3.34 USD", "3.34 USD", "3.34 USD"],
        # 1 × 0.01 USD (no discount) 0.01 USD; 1 × 3.34 USD, its third of the 0.02 discount,
        # 3.33 USD; the total
        *["0.01 USD", "0.01 USD", "3.34 USD", "0.01 USD", "3.33 USD", "3.34 USD"],
        "3.34 USD",
    ]
    form = _get(client, reverse("portal:refund-request", args=[odd["jpy"].pk]))
    assert "500 JPY each · up to 1 of 3" in form
    assert_money_exact(form, most_decimals=0)


def test_status_emails(odd, customer_user, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        jpy = _one_unit(odd["jpy"], customer_user, 0)
    notifications.status_changed(odd["usd_requested"].pk, "REQUESTED", "WAITING")
    notifications.status_changed(odd["kwd_requested"].pk, "REQUESTED", "WAITING")
    assert [m.subject for m in mail.outbox] == [
        f"Refund {jpy.number}: Requested",
        f"Refund {odd['usd_requested'].number}: Approved — send the goods back",
        f"Refund {odd['kwd_requested'].number}: Approved — send the goods back",
    ]
    found = [assert_money_exact(m.body, most_decimals=3) for m in mail.outbox]
    assert found == [
        ["500 JPY", "500 JPY"],
        ["3.34 USD", "0.01 USD", "3.33 USD"],
        ["7.250 KWD", "7.250 KWD"],
    ]


def test_api_refunds_and_orders(client, manager, customer_user, odd):
    for user in (manager, customer_user):
        client.force_login(user)
        refunds = client.get("/api/v2/refunds", {"size": 100}).json()["data"]
        assert sorted((r["amount"], r["currency"]) for r in refunds) == [
            ("10.00", "USD"),
            ("3.34", "USD"),
            ("500", "JPY"),
            ("500", "JPY"),
            ("7.250", "KWD"),
        ]
        detail = client.get(f"/api/v2/refunds/{odd['usd_requested'].pk}").json()["data"]
        assert (detail["amount"], [x["amount"] for x in detail["lines"]]) == (
            "3.34",
            ["0.01", "3.33"],
        )
        orders = client.get("/api/v2/orders", {"size": 100}).json()["data"]
        money = ("itemsTotal", "shippingTotal", "tipTotal", "additionalTotal", "grandTotal")
        assert sorted([o["currency"], *(o[k] for k in money)] for o in orders) == [
            ["JPY", "1500", "0", "0", "0", "1500"],
            ["KWD", "14.500", "1.500", "0.000", "0.000", "16.000"],
            ["USD", "40.01", "5.00", "0.00", "0.00", "45.01"],
        ]
        usd = client.get(f"/api/v2/orders/{odd['usd'].pk}").json()["data"]
        line_money = ("unitPrice", "discount", "tax", "paidAmount", "refundableAmount")
        assert [[x[k] for k in line_money] for x in usd["lines"]] == [
            ["10.00", "0.00", "0.00", "30.00", "20.00"],
            ["0.01", "0.00", "0.00", "0.01", "0.00"],
            ["3.34", "0.02", "0.00", "10.00", "6.67"],
        ]
        assert usd["refundable"] == {
            "total": "31.67",
            "shipping": "5.00",
            "additional": "0.00",
            "refunded": "13.34",
        }
        jpy = client.get(f"/api/v2/orders/{odd['jpy'].pk}").json()["data"]
        assert [[x[k] for k in line_money] for x in jpy["lines"]] == [
            ["500", "0", "0", "1500", "500"]
        ]
        assert [p["amount"] for p in jpy["payments"]] == ["1500"]
        assert jpy["refundable"] == {
            "total": "500",
            "shipping": "0",
            "additional": "0",
            "refunded": "1000",
        }
