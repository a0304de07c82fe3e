"""Orders, customers and marketplace accounts in the managers' admin speak people's words: the
platform by its name from the registry (never its adapter key), no field names or internal
references in filters, columns and labels."""

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.text import capfirst

from tests import factories

ORDERS = reverse("admin:orders_order_changelist")
ACCOUNTS = reverse("admin:orders_marketplaceaccount_changelist")
CUSTOMERS = reverse("admin:orders_customer_changelist")
PLATFORMS = ["HepsiGlobal", "Noventiq Checkout", "LLZW shop", "Shoplazza"]
INTERNAL = ("adapter key", "adapter_key", "seed 0", "external number", "external id", ">llzw<")


def _titles(response):
    return [spec.title for spec in response.context["cl"].filter_specs]


def _headers(response):
    """The column headings as shown (capitalised), without the action checkbox's."""
    return [
        capfirst(str(header["text"]))
        for header in result_headers(response.context["cl"])
        if "action-checkbox" not in header.get("class_attrib", "")
    ]


def _no_internal_words(response):
    body = response.content.decode().lower()
    assert [word for word in INTERNAL if word in body] == []


@pytest.fixture
def two_platforms(db):
    llzw = factories.AccountFactory(name="LLZW main", adapter_key="llzw")
    shoplazza = factories.AccountFactory(name="Shoplazza US", adapter_key="shoplazza")
    return (
        factories.make_order(account=llzw, external_number="LZ-1001"),
        factories.make_order(account=shoplazza, external_number="SL-2002", currency="JPY"),
    )


@pytest.mark.django_db
def test_orders_list_filters_and_columns_use_peoples_words(client, manager, two_platforms):
    llzw_order, shoplazza_order = two_platforms
    client.force_login(manager)
    response = client.get(ORDERS)
    assert response.status_code == 200
    assert _titles(response) == ["Status", "Marketplace", "Seller account", "Currency"]
    assert _headers(response) == [
        "Order number",
        "Seller account",
        "Customer",
        "Status",
        "Grand total",
        "Placed",
        "Refund",
    ]
    marketplace = response.context["cl"].filter_specs[1]
    assert [label for _, label in marketplace.lookup_choices] == PLATFORMS
    body = response.content.decode()
    assert "LLZW main (LLZW shop)" in body
    assert "Shoplazza US (Shoplazza)" in body
    _no_internal_words(response)
    response = client.get(ORDERS, {"marketplace": "shoplazza"})
    assert list(response.context["cl"].result_list) == [shoplazza_order]
    response = client.get(ORDERS, {"marketplace": "llzw"})
    assert list(response.context["cl"].result_list) == [llzw_order]
    response = client.get(ORDERS, {"marketplace": "hepsiglobal"})
    assert list(response.context["cl"].result_list) == []


@pytest.mark.django_db
def test_orders_list_queries_do_not_grow_with_rows(client, manager, two_platforms):
    client.force_login(manager)
    client.get(ORDERS)
    with CaptureQueriesContext(connection) as two:
        client.get(ORDERS)
    for _ in range(3):
        factories.make_order(account=factories.AccountFactory())
    with CaptureQueriesContext(connection) as five:
        response = client.get(ORDERS)
    assert len(response.context["cl"].result_list) == 5
    assert len(five) == len(two)


@pytest.mark.django_db
def test_order_page_labels_use_peoples_words(client, manager, two_platforms):
    order = two_platforms[0]
    client.force_login(manager)
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    labels = [
        capfirst(str(field.field["label"]))
        for fieldset in response.context["adminform"]
        for line in fieldset
        for field in line
    ]
    assert labels[:8] == [
        "Seller account",
        "Order number",
        "Customer",
        "Status",
        "Currency",
        "Placed",
        "Paid",
        "Items total",
    ]
    assert labels[-2:] == ["Imported", "Last updated"]
    body = response.content.decode()
    assert "Line id at the marketplace" in body
    assert "Payment id at the marketplace" in body
    _no_internal_words(response)


@pytest.mark.django_db
def test_marketplace_accounts_show_the_platform_by_its_name(client, manager, two_platforms):
    client.force_login(manager)
    response = client.get(ACCOUNTS)
    assert response.status_code == 200
    assert _titles(response) == ["Marketplace", "Enabled"]
    assert _headers(response) == [
        "Name",
        "Marketplace",
        "API address",
        "Enabled",
        "Credentials",
        "Added",
    ]
    marketplace = response.context["cl"].filter_specs[0]
    assert [label for _, label in marketplace.lookup_choices] == PLATFORMS
    _no_internal_words(response)
    response = client.get(ACCOUNTS, {"marketplace": "shoplazza"})
    assert [a.name for a in response.context["cl"].result_list] == ["Shoplazza US"]
    account = two_platforms[0].account
    response = client.get(reverse("admin:orders_marketplaceaccount_change", args=[account.pk]))
    form = response.context["adminform"].form
    assert [str(form[name].label) for name in ("adapter_key", "base_url", "is_enabled")] == [
        "Marketplace",
        "API address",
        "Enabled",
    ]
    body = response.content.decode()
    assert '<option value="llzw" selected>LLZW shop</option>' in body
    # The form's input keeps its field name (name="adapter_key"); nothing a person reads does.
    assert "adapter key" not in body.lower()
    assert 'for="id_adapter_key">Marketplace' in body


@pytest.mark.django_db
def test_customers_list_and_form_say_e_mail(client, manager, two_platforms):
    customer = two_platforms[0].customer
    customer.user = factories.UserFactory(username="portal-user@example.com")
    customer.save(update_fields=["user"])
    client.force_login(manager)
    response = client.get(CUSTOMERS)
    assert _headers(response) == ["E-mail", "Name", "Portal sign-in"]
    assert "portal-user@example.com" in response.content.decode()
    response = client.get(reverse("admin:orders_customer_change", args=[customer.pk]))
    form = response.context["adminform"].form
    assert [str(form[name].label) for name in ("email", "user")] == ["E-mail", "Portal sign-in"]


@pytest.mark.django_db
def test_order_page_is_view_only_and_shows_money_with_its_code(client, manager, two_platforms):
    order = two_platforms[1]  # JPY: no minor units
    client.force_login(manager)
    url = reverse("admin:orders_order_change", args=[order.pk])
    response = client.get(url)
    assert response.context["title"] == "View order"
    body = response.content.decode()
    for name in ('name="_save"', 'name="_continue"', "deletelink"):
        assert name not in body
    # The payment's caption row says the amount as money, not "card 20.00".
    assert f"card {order.grand_total:.0f} JPY" in body
    assert f"card {order.grand_total}" not in body
    assert client.post(url, {"status": "cancelled"}).status_code == 403
    order.refresh_from_db()
    assert order.status == "paid"
