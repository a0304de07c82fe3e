"""A manager sets an account's return policy in the admin, in people's words: the reasons as
checkboxes by their labels, SKUs and categories one per line; the account's page links to it."""

import pytest
from django.urls import reverse

from orders.models import ReturnPolicy
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_manager_adds_a_policy_from_the_accounts_page_and_the_list_reads_it(client, manager):
    account = factories.AccountFactory(name="LLZW main", adapter_key="llzw")
    client.force_login(manager)
    page = client.get(reverse("admin:orders_marketplaceaccount_change", args=[account.pk]))
    add_url = reverse("admin:orders_returnpolicy_add") + f"?account={account.pk}"
    assert f'<a href="{add_url}">Add a return policy</a>' in page.content.decode()

    form = client.get(add_url)
    body = form.content.decode()
    assert form.status_code == 200
    for words in (
        "Return window (days)",
        "SKUs that cannot be returned",
        "Arrived damaged",
        "Reasons that need a photo",
        "Return address",
    ):
        assert words in body
    assert "reasons_needing_explanation</label>" not in body

    response = client.post(
        add_url,
        {
            "account": account.pk,
            "window_days": "30",
            "non_returnable_skus": " GIFT-1 \r\n\r\nGIFT-1\r\nSOCK-2 ",
            "non_returnable_categories": "Underwear",
            "reasons_needing_explanation": ["other", "not_as_described"],
            "reasons_needing_photo": ["damaged"],
            "return_address": "Returns dept\n1 Dock Road",
            "return_instructions": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = ReturnPolicy.objects.get(account=account)
    assert policy.window_days == 30
    assert policy.non_returnable_skus == "GIFT-1\nSOCK-2"
    assert policy.reasons_needing_explanation == ["other", "not_as_described"]
    assert policy.reasons_needing_photo == ["damaged"]

    listing = client.get(reverse("admin:orders_returnpolicy_changelist")).content.decode()
    assert "LLZW main (LLZW shop)" in listing
    assert "30 days after delivery" in listing
    assert "2 SKUs; Underwear" in listing
    assert "Other, Not as described" in listing

    page = client.get(reverse("admin:orders_marketplaceaccount_change", args=[account.pk]))
    change_url = reverse("admin:orders_returnpolicy_change", args=[policy.pk])
    assert (
        f'<a href="{change_url}">Change the return policy</a> (returns within 30 days)'
        in page.content.decode()
    )


def test_an_agent_may_read_a_policy_but_not_change_it(client, agent):
    policy = ReturnPolicy.objects.create(account=factories.AccountFactory(), window_days=14)
    client.force_login(agent)
    url = reverse("admin:orders_returnpolicy_change", args=[policy.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"account": policy.account_id, "window_days": "99"})
    policy.refresh_from_db()
    assert policy.window_days == 14
