"""The managers' admin: refunds read-only, approve/deny through the services with one message
per refund, masked write-only secrets, outbox retry, read-only webhooks."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orders.models import MarketplaceAccount
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction, WebhookEvent
from refunds.evidence import prepare_images
from refunds.models import Refund
from refunds.services import refund_add_evidence, refund_approve, refund_assign, refund_request
from tests import factories
from tests.fixtures.photos import jpeg_upload

CHANGELIST = reverse("admin:refunds_refund_changelist")


def _refund(order, actor, line_index=0, refund_only=True):
    line = list(order.lines.all())[line_index]
    return refund_request(
        actor=actor,
        order=order,
        reason_code="damaged",
        refund_only=refund_only,
        lines=[LineChoice(order_line_id=line.pk, quantity=1)],
    )


def _messages(response):
    return [str(m) for m in response.context["messages"]]


@pytest.mark.django_db
def test_refund_changelist_filters_and_search(client, manager, agent, order, customer_user):
    refund = _refund(order, customer_user)
    _refund(factories.make_order(), agent, refund_only=False)
    client.force_login(manager)
    response = client.get(CHANGELIST, {"q": order.external_number})
    assert response.status_code == 200
    assert [r.pk for r in response.context["cl"].result_list] == [refund.pk]
    response = client.get(CHANGELIST, {"refund_only__exact": "1"})
    assert response.status_code == 200  # unknown filters are dropped, not a 500
    response = client.get(CHANGELIST, {"status__exact": "REQUESTED"})
    assert len(response.context["cl"].result_list) == 2


@pytest.mark.django_db
def test_changelist_search_finds_fragments_in_any_case(
    client, manager, agent, order, customer_user
):
    refund = _refund(order, customer_user)
    second = _refund(factories.make_order(customer=order.customer), customer_user)
    other = _refund(factories.make_order(), agent)
    Refund.objects.filter(pk=other.pk).update(return_tracking_id="1Z999AA10123456784")
    client.force_login(manager)

    def found(term):
        response = client.get(CHANGELIST, {"q": term})
        assert response.status_code == 200
        return sorted(r.pk for r in response.context["cl"].result_list)

    assert found("ALICE@example.com") == sorted([refund.pk, second.pk])
    assert found(order.external_number.lower()) == [refund.pk]
    assert found(refund.number) == [refund.pk]
    # A bare number is a refund id, and a fragment of order numbers too (which ones depends on
    # the sequences): the refund with that id is among the results.
    assert other.pk in found(str(other.pk))
    assert found("1z999aa10123456784") == [other.pk]
    assert found("alice") == sorted([refund.pk, second.pk])  # part of the e-mail
    assert found("a1012345") == [other.pk]  # part of the tracking id
    assert found("no-such-thing") == []
    response = client.get(CHANGELIST, {"q": "alice"})
    assert "Part of the order number, the customer&#x27;s e-mail or name" in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_refund_change_page_is_read_only_with_inlines(client, manager, agent, order, customer_user):
    refund = _refund(order, customer_user)
    refund_approve(actor=agent, refund=refund)
    client.force_login(manager)
    url = reverse("admin:refunds_refund_change", args=[refund.pk])
    response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="status"' not in body
    assert "RD" + str(refund.pk) + "-create-refund-1" in body  # the outbound action inline
    client.post(url, {"status": "ISSUED", "total": "1.00"})
    refund.refresh_from_db()
    assert (refund.status, refund.total) == ("PROCESSING", Decimal("10.00"))
    assert client.get(reverse("admin:refunds_refund_add")).status_code == 403


@pytest.mark.django_db
def test_refund_change_page_shows_the_customers_photos_as_thumbnails(
    client, manager, order, customer_user
):
    refund = _refund(order, customer_user)
    [photo] = refund_add_evidence(
        actor=customer_user, refund=refund, images=prepare_images([jpeg_upload("dent.jpg")])
    )
    client.force_login(manager)

    body = client.get(reverse("admin:refunds_refund_change", args=[refund.pk])).content.decode()

    photo_url = reverse("staff:refund-photo", args=[refund.pk, photo.pk])
    assert "Photos from the customer" in body
    assert f'<a href="{photo_url}" target="_blank" rel="noopener"><img src="{photo_url}"' in body
    assert 'alt="Photo: dent.jpg"' in body
    assert photo.file.name not in body  # the storage path is never shown
    assert client.get(photo_url).status_code == 200


# --- bulk approve and deny: a confirmation page with the count and the totals first ---------


def _one(price, currency="USD", requester=None):
    order = factories.make_order(currency=currency, lines=((1, price, "0", "0"),), shipping="0")
    return _refund(order, requester or factories.agent(username=f"req-{order.pk}@example.com"))


def _bulk(client, action, refunds, url=CHANGELIST, **extra):
    return client.post(
        url, {"action": action, ACTION_CHECKBOX_NAME: [r.pk for r in refunds], **extra}
    )


def _states(refunds):
    return [_state(refund) for refund in refunds]


@pytest.mark.django_db
def test_bulk_approve_asks_first_with_the_count_and_the_total_per_currency(client, manager):
    refunds = [_one("12.34"), _one("500", "JPY"), _one("12.34")]
    before = _states(refunds)
    client.force_login(manager)
    page = _bulk(client, "approve_selected", refunds)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/refunds/refund/approve_selected_confirmation.html"
    assert page.context["question"] == "Approve 3 refunds for 24.68 USD + 500 JPY?"
    body = page.content.decode()
    assert '<h1 id="rd-bulk-question">Approve 3 refunds for 24.68 USD + 500 JPY?</h1>' in body
    for refund in refunds:
        assert f'name="{ACTION_CHECKBOX_NAME}" value="{refund.pk}"' in body
        assert f'<th scope="row">{refund.number}<input' in body
    assert body.count('class="rd-bulk-amount">12.34 USD</td>') == 2
    assert body.count('class="rd-bulk-amount">500 JPY</td>') == 1
    assert '<input type="hidden" name="action" value="approve_selected">' in body
    assert '<input type="hidden" name="post" value="yes">' in body
    assert f'<a href="{CHANGELIST}" class="button cancel-link">Cancel</a>' in body
    # Asking changed nothing, and Cancel is only a link back to the list.
    assert _states(refunds) == before
    assert client.get(CHANGELIST).status_code == 200
    assert _states(refunds) == before

    response = _bulk(client, "approve_selected", refunds, post="yes")
    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    ordered = sorted(refunds, key=lambda r: r.pk)
    assert _messages(client.get(CHANGELIST)) == [
        *(f"{refund.number}: approved, now Processing" for refund in ordered),
        "3 of 3 refunds approved",
    ]
    assert [state[0] for state in _states(refunds)] == ["PROCESSING"] * 3
    event = refunds[0].events.order_by("id").last()
    assert (event.action, event.actor) == ("approve", manager)


@pytest.mark.django_db
def test_bulk_approve_says_beforehand_which_the_rules_refuse_and_leaves_them(client, manager):
    first = _one("20.00")
    own = _one("5.00", requester=manager)
    client.force_login(manager)
    page = _bulk(client, "approve_selected", [first, own])
    assert page.context["question"] == "Approve 2 refunds for 25.00 USD?"
    assert page.context["refused_count"] == 1
    body = page.content.decode()
    assert "<strong>1 of them will not be approved</strong>" in body
    assert (
        "<td><strong>No, it will not be approved:</strong> "
        "You requested this refund, so someone else must approve it</td>"
    ) in body
    assert _states([first, own]) == [("REQUESTED", "", 1)] * 2

    response = _bulk(client, "approve_selected", [first, own], post="yes")
    assert _messages(client.get(response["Location"])) == [
        f"{first.number}: approved, now Processing",
        f"{own.number} was not approved: "
        "You requested this refund, so someone else must approve it",
        "1 of 2 refunds approved",
    ]
    assert _state(first)[0] == "PROCESSING"
    # The refused one is exactly as it was: same status, no new event, nothing sent.
    assert _state(own) == ("REQUESTED", "", 1)
    assert not OutboundAction.objects.filter(refund=own).exists()


@pytest.mark.django_db
def test_bulk_cancel_goes_back_to_the_list_as_it_was_filtered(client, manager):
    refund = _one("7.00")
    client.force_login(manager)
    url = f"{CHANGELIST}?status__exact=REQUESTED&q=RD"
    page = _bulk(client, "approve_selected", [refund], url=url)
    assert page.context["question"] == "Approve 1 refund for 7.00 USD?"
    assert page.context["cancel_url"] == url
    assert 'href="/admin/refunds/refund/?status__exact=REQUESTED&amp;q=RD"' in (
        page.content.decode()
    )
    assert _state(refund) == ("REQUESTED", "", 1)
    # Confirming from the filtered list approves the refund it showed.
    _bulk(client, "approve_selected", [refund], url=url, post="yes")
    assert _state(refund)[0] == "PROCESSING"


@pytest.mark.django_db
def test_bulk_actions_refuse_more_refunds_than_a_page_can_show(client, manager, monkeypatch):
    import refunds.admin

    monkeypatch.setattr(refunds.admin, "BULK_LIMIT", 2)
    refunds_ = [_one("1.00"), _one("2.00"), _one("3.00")]
    client.force_login(manager)
    for action, verb in (("approve_selected", "approve"), ("deny_selected", "deny")):
        response = _bulk(client, action, refunds_, select_across="1", index="0", post="yes")
        assert response.status_code == 302
        assert _messages(client.get(response["Location"])) == [
            f"Pick at most 2 refunds to {verb} at once; nothing was changed."
        ]
    assert _states(refunds_) == [("REQUESTED", "", 1)] * 3
    page = _bulk(client, "approve_selected", refunds_[:2])
    assert page.context["question"] == "Approve 2 refunds for 3.00 USD?"


@pytest.mark.django_db
def test_bulk_approve_without_the_permission_changes_nothing(client, order, customer_user):
    refund = _refund(order, customer_user)
    viewer = factories.UserFactory(username="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename="view_refund", content_type__app_label="refunds")
    )
    client.force_login(viewer)
    response = _bulk(client, "approve_selected", [refund], post="yes")
    assert response.status_code == 200  # the list again: the action is not offered to a viewer
    assert "approve_selected" not in response.content.decode()
    assert _state(refund) == ("REQUESTED", "", 1)


@pytest.mark.django_db
def test_agent_cannot_approve_above_limit_in_admin_but_manager_can(
    client, agent, manager, settings, order, customer_user
):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    refund = _refund(order, customer_user, line_index=2)  # 100.00
    client.force_login(agent)
    page = _bulk(client, "approve_selected", [refund])
    assert page.context["question"] == "Approve 1 refund for 100.00 USD?"
    assert (
        "<strong>No, it will not be approved:</strong> Refunds above 50.00 USD need a refund "
        "manager" in page.content.decode()
    )
    response = _bulk(client, "approve_selected", [refund], post="yes")
    assert _messages(client.get(response["Location"]))[0] == (
        f"{refund.number} was not approved: Refunds above 50.00 USD need a refund manager's "
        "approval (this one is 100.00 USD)"
    )
    assert _state(refund) == ("REQUESTED", "", 1)
    client.force_login(manager)
    _bulk(client, "approve_selected", [refund], post="yes")
    assert _state(refund)[0] == "PROCESSING"


@pytest.mark.django_db
def test_bulk_deny_asks_for_a_reason_with_the_count_and_the_total(client, manager):
    refunds = [_one("3.50"), _one("1500", "JPY")]
    client.force_login(manager)
    page = _bulk(client, "deny_selected", refunds)
    assert page.status_code == 200
    assert page.templates[0].name == "admin/refunds/refund/deny_selected_confirmation.html"
    assert page.context["question"] == "Deny 2 refunds for 3.50 USD + 1500 JPY?"
    body = page.content.decode()
    assert 'name="reason"' in body
    assert '<input type="hidden" name="post" value="yes">' in body
    assert _states(refunds) == [("REQUESTED", "", 1)] * 2
    # Confirmed without a reason: refused, the page again with the error, nothing denied.
    page = _bulk(client, "deny_selected", refunds, post="yes", reason="  ")
    assert page.status_code == 400
    assert page.context["form"].errors == {"reason": ["This field is required."]}
    assert page.context["question"] == "Deny 2 refunds for 3.50 USD + 1500 JPY?"
    assert _states(refunds) == [("REQUESTED", "", 1)] * 2

    response = _bulk(client, "deny_selected", refunds, post="yes", reason="Item was used")
    assert _messages(client.get(response["Location"])) == [
        *(f"{r.number}: denied, now Denied" for r in sorted(refunds, key=lambda r: r.pk)),
        "2 of 2 refunds denied",
    ]
    assert _states(refunds) == [("DENIED", "Item was used", 2)] * 2


@pytest.mark.django_db
def test_bulk_deny_leaves_a_refund_the_rules_refuse(client, manager, agent):
    processing = _one("9.00")
    refund_approve(actor=agent, refund=processing)
    client.force_login(manager)
    page = _bulk(client, "deny_selected", [processing])
    assert page.context["refused_count"] == 1
    response = _bulk(client, "deny_selected", [processing], post="yes", reason="Too late")
    assert _messages(client.get(response["Location"])) == [
        f"{processing.number} was not denied: This refund is being processed by the "
        "marketplace; it can be denied only if the marketplace refused it",
        "0 of 1 refunds denied",
    ]
    assert _state(processing) == ("PROCESSING", "", 2)


@pytest.mark.django_db
def test_customer_cannot_reach_the_admin(client, customer_user):
    client.force_login(customer_user)
    response = client.get(CHANGELIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.django_db
def test_account_secrets_are_masked_and_write_only(client, manager):
    account = factories.AccountFactory(
        name="LLZW main",
        credentials={"username": "seller", "password": "hunter2"},
        webhook_secret="whsec-very-secret",
    )
    client.force_login(manager)
    url = reverse("admin:orders_marketplaceaccount_change", args=[account.pk])
    body = client.get(url).content.decode()
    assert "hunter2" not in body
    assert "whsec-very-secret" not in body
    assert "password: ••••••••" in body
    base = {
        "adapter_key": "llzw",
        "name": "LLZW main",
        "base_url": "http://127.0.0.1:9/llzw",
        "options": "{}",
        "rate_limit_per_second": "",
        "is_enabled": "on",
    }
    response = client.post(url, {**base, "new_credentials": "[1, 2]"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "new_credentials": ["Enter a JSON object of text keys and text values"]
    }
    account.refresh_from_db()
    assert account.credentials == {"username": "seller", "password": "hunter2"}
    client.post(url, {**base, "new_credentials": "", "new_webhook_secret": ""})
    account.refresh_from_db()
    assert account.credentials == {"username": "seller", "password": "hunter2"}
    assert account.webhook_secret == "whsec-very-secret"
    client.post(
        url,
        {
            **base,
            "new_credentials": '{"username": "s2", "password": "p2"}',
            "new_webhook_secret": "whsec-new",
        },
    )
    account = MarketplaceAccount.objects.get(pk=account.pk)
    assert account.credentials == {"username": "s2", "password": "p2"}
    assert account.webhook_secret == "whsec-new"


@pytest.mark.django_db
def test_outbound_action_retry_goes_through_the_service(
    client, manager, agent, order, customer_user
):
    failed = _refund(order, customer_user, line_index=0)
    fine = _refund(order, customer_user, line_index=1)
    refund_approve(actor=agent, refund=failed)
    refund_approve(actor=agent, refund=fine)
    Refund.objects.filter(pk=failed.pk).update(needs_attention=True, attention_message="refused")
    OutboundAction.objects.filter(refund=failed).update(state="failed")
    actions = list(OutboundAction.objects.order_by("refund_id").values_list("pk", flat=True))
    client.force_login(manager)
    response = client.post(
        reverse("admin:refunds_outboundaction_changelist"),
        {"action": "retry_selected", ACTION_CHECKBOX_NAME: actions},
        follow=True,
    )
    assert _messages(response) == [
        f"{failed.number}: sent again",
        f"{fine.number}: Only a refund whose delivery failed can be retried",
        "1 of 2 refunds sent again",
    ]
    assert OutboundAction.objects.filter(refund=failed).count() == 2
    assert OutboundAction.objects.filter(refund=fine).count() == 1


@pytest.mark.django_db
def test_webhook_events_are_read_only(client, manager, order):
    hook = WebhookEvent.objects.create(
        account=order.account,
        adapter_key="llzw",
        name="refund-result",
        delivery_key="k1",
        headers={},
        body="{}",
    )
    client.force_login(manager)
    url = reverse("admin:refunds_webhookevent_change", args=[hook.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"state": "processed", "body": "changed"})
    hook.refresh_from_db()
    assert (hook.state, hook.body) == ("received", "{}")
    assert client.get(reverse("admin:refunds_webhookevent_add")).status_code == 403


@pytest.mark.django_db
def test_order_admin_lists_orders_with_refund_link(client, manager, order):
    client.force_login(manager)
    response = client.get(reverse("admin:orders_order_changelist"))
    assert response.status_code == 200
    assert reverse("staff:refund-new", args=[order.pk]) in response.content.decode()
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    assert f"{order.external_number}-SKU-1" in response.content.decode()


# --- a manager's day in the admin: Approve and Deny on a refund's page (issue 14) -----------


def _change(refund):
    return reverse("admin:refunds_refund_change", args=[refund.pk])


def _approve_url(refund):
    return reverse("admin:refunds_refund_approve", args=[refund.pk])


def _deny_url(refund):
    return reverse("admin:refunds_refund_deny", args=[refund.pk])


def _state(refund):
    refund.refresh_from_db()
    return (refund.status, refund.response_reason, refund.events.count())


@pytest.mark.django_db
def test_change_page_offers_approve_and_deny_and_links_to_the_back_office(
    client, manager, order, customer_user
):
    refund = _refund(order, customer_user)
    client.force_login(manager)
    response = client.get(_change(refund))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'action="{_approve_url(refund)}"' in body
    assert f'action="{_deny_url(refund)}"' in body
    assert 'data-confirm="Deny RD-' in body
    assert 'name="deny-reason"' in body
    assert "required" in str(response.context["deny_form"]["reason"])
    assert f'href="{reverse("staff:refund-detail", args=[refund.pk])}"' in body
    assert "Open in the back office" in body


@pytest.mark.django_db
def test_read_only_refund_has_no_save_or_delete_buttons(client, manager, order, customer_user):
    refund = _refund(order, customer_user)
    client.force_login(manager)
    response = client.get(_change(refund))
    body = response.content.decode()
    for name in ('name="_save"', 'name="_continue"', 'name="_addanother"', "deletelink"):
        assert name not in body
    assert response.context["has_change_permission"] is False
    assert response.context["title"] == "View refund"
    # A forged save does nothing: the admin refuses it.
    assert client.post(_change(refund), {"status": "ISSUED"}).status_code == 403
    assert _state(refund) == ("REQUESTED", "", 1)


@pytest.mark.django_db
def test_manager_approves_in_the_admin_through_the_service(client, manager, order, customer_user):
    refund = _refund(order, customer_user)
    client.force_login(manager)
    response = client.post(_approve_url(refund), {"approve-note": "Photos checked"}, follow=True)
    assert response.redirect_chain == [(_change(refund), 302)]
    assert _messages(response) == [f"{refund.number} approved: now Processing."]
    assert _state(refund) == ("PROCESSING", "", 2)
    event = refund.events.order_by("id").last()
    assert (event.action, event.actor, event.from_status, event.to_status, event.note) == (
        "approve",
        manager,
        "REQUESTED",
        "PROCESSING",
        "Photos checked",
    )


@pytest.mark.django_db
def test_admin_refuses_to_approve_own_request_and_changes_nothing(client, manager, order):
    refund = _refund(order, manager)
    client.force_login(manager)
    page = client.get(_change(refund))
    # The page says why instead of offering a button that cannot work.
    assert page.context["approve_form"] is None
    assert "You requested this refund, so someone else must approve it." in (page.content.decode())
    response = client.post(_approve_url(refund), {"approve-note": ""})
    assert response.status_code == 400
    assert _messages(response) == [
        f"{refund.number} was not approved. "
        "You requested this refund, so someone else must approve it."
    ]
    assert _state(refund) == ("REQUESTED", "", 1)


@pytest.mark.django_db
def test_admin_refuses_above_limit_without_the_permission(
    client, agent, order, customer_user, settings
):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    refund = _refund(order, customer_user, line_index=2)  # 100.00
    client.force_login(agent)
    response = client.post(_approve_url(refund), {})
    assert response.status_code == 400
    assert _messages(response) == [
        f"{refund.number} was not approved. Refunds above 50.00 USD need a refund manager's "
        "approval (this one is 100.00 USD)."
    ]
    assert _state(refund) == ("REQUESTED", "", 1)


@pytest.mark.django_db
def test_manager_denies_in_the_admin_with_a_reason(client, manager, order, customer_user):
    refund = _refund(order, customer_user)
    client.force_login(manager)
    response = client.post(_deny_url(refund), {"deny-reason": "Item was used"}, follow=True)
    assert _messages(response) == [f"{refund.number} denied: now Denied."]
    assert _state(refund) == ("DENIED", "Item was used", 2)
    event = refund.events.order_by("id").last()
    assert (event.action, event.actor, event.note) == ("deny", manager, "Item was used")


@pytest.mark.django_db
def test_deny_without_a_reason_is_refused_and_keeps_the_page(client, manager, order, customer_user):
    refund = _refund(order, customer_user)
    client.force_login(manager)
    response = client.post(_deny_url(refund), {"deny-reason": "   "})
    assert response.status_code == 400
    assert _messages(response) == [
        f"{refund.number} was not denied. Reason (the customer reads it): This field is required."
    ]
    assert response.context["deny_form"].errors == {"reason": ["This field is required."]}
    assert 'aria-invalid="true"' in response.content.decode()
    assert _state(refund) == ("REQUESTED", "", 1)


@pytest.mark.django_db
def test_deny_refused_by_the_rules_keeps_what_was_typed(
    client, manager, agent, order, customer_user
):
    refund = _refund(order, customer_user)
    refund_approve(actor=agent, refund=refund)  # processing: only a failed one can be denied
    client.force_login(manager)
    response = client.post(_deny_url(refund), {"deny-reason": "Too late"})
    assert response.status_code == 400
    assert _messages(response) == [
        f"{refund.number} was not denied. This refund is being processed by the marketplace; "
        "it can be denied only if the marketplace refused it."
    ]
    assert "Too late</textarea>" in response.content.decode()
    assert _state(refund) == ("PROCESSING", "", 2)


@pytest.mark.django_db
def test_decisions_need_post_a_staff_user_and_the_permission(client, manager, order, customer_user):
    refund = _refund(order, customer_user)
    client.force_login(manager)
    assert client.get(_approve_url(refund)).status_code == 405
    viewer = factories.UserFactory(username="viewer@example.com", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_refund"], content_type__app_label="refunds")
    )
    client.force_login(viewer)
    assert client.post(_approve_url(refund)).status_code == 403
    assert client.post(_deny_url(refund), {"deny-reason": "No"}).status_code == 403
    client.force_login(customer_user)
    response = client.post(_approve_url(refund))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert _state(refund) == ("REQUESTED", "", 1)


@pytest.mark.django_db
def test_decisions_check_the_csrf_token(manager, order, customer_user):
    from django.test import Client

    refund = _refund(order, customer_user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.post(_approve_url(refund)).status_code == 403
    assert _state(refund) == ("REQUESTED", "", 1)


@pytest.mark.django_db
def test_filters_and_columns_use_peoples_words(client, manager, agent, order, customer_user):
    refund = _refund(order, customer_user)
    other = factories.make_order(account=factories.AccountFactory(name="Shoplazza US"))
    _refund(other, agent)
    client.force_login(manager)
    response = client.get(CHANGELIST)
    titles = [spec.title for spec in response.context["cl"].filter_specs]
    assert titles == [
        "Status",
        "Marketplace",
        "Seller account",
        "Reason",
        "Needs attention",
        "Differs from the marketplace",
        "Opened from",
        "Requested by",
        "Requested",
    ]
    body = response.content.decode().lower()
    for internal in ("adapter key", "adapter_key", "seed 003", "has drift", "requester role"):
        assert internal not in body
    marketplace = response.context["cl"].filter_specs[1]
    assert [label for _, label in marketplace.lookup_choices] == [
        "HepsiGlobal",
        "Noventiq Checkout",
        "LLZW shop",
        "Shoplazza",
    ]
    response = client.get(CHANGELIST, {"marketplace": "hepsiglobal"})
    assert list(response.context["cl"].result_list) == []
    response = client.get(CHANGELIST, {"marketplace": order.account.adapter_key})
    assert len(response.context["cl"].result_list) == 2
    change = client.get(_change(refund)).content.decode().lower()
    for internal in ("seed 003", "adapter key", "external id", "has drift"):
        assert internal not in change


@pytest.mark.django_db
def test_audit_events_read_as_sentences_with_raw_data_behind_a_toggle(
    client, manager, agent, order, customer_user
):
    refund = _refund(order, customer_user)
    refund_approve(actor=agent, refund=refund, note="Looks fine")
    client.force_login(manager)
    client.get(_change(refund))
    with CaptureQueriesContext(connection) as two_events:
        client.get(_change(refund))
    for assignee in (manager, agent, None):  # three more events by staff actors
        refund_assign(actor=manager, refund=refund, assignee=assignee)
    with CaptureQueriesContext(connection) as five_events:
        response = client.get(_change(refund))
    # The sentences need each event's refund and actor's groups: no query per event.
    assert len(five_events) == len(two_events)
    body = response.content.decode()
    assert (
        "agent1@example.com (refund agent) approved the refund of 10.00 USD: "
        "Requested → Processing. Note: “Looks fine”"
    ) in body
    assert "alice@example.com (customer) asked for a refund of 10.00 USD" in body
    assert '<details class="rd-raw"><summary>Show raw data</summary><pre>{' in body
    assert "&quot;total&quot;: &quot;10.00&quot;" in body  # pretty-printed, indented


# --- the outbox and the webhook inbox in people's words -------------------------------------


def _titles(response):
    return [spec.title for spec in response.context["cl"].filter_specs]


def _headers(response):
    from django.contrib.admin.templatetags.admin_list import result_headers
    from django.utils.text import capfirst

    return [
        capfirst(str(header["text"]))
        for header in result_headers(response.context["cl"])
        if "action-checkbox" not in header.get("class_attrib", "")
    ]


DELIVERY_INTERNAL = ("adapter key", "adapter_key", "seed 0", "idempotency", "claimed", "sweeper")


def _hook(account, key="k1", name="refund-result"):
    return WebhookEvent.objects.create(
        account=account,
        adapter_key=account.adapter_key,
        name=name,
        delivery_key=key,
        headers={},
        body="{}",
    )


@pytest.mark.django_db
def test_outbound_actions_filters_columns_and_page_use_peoples_words(
    client, manager, agent, order, customer_user
):
    refund = _refund(order, customer_user)
    refund_approve(actor=agent, refund=refund)
    factories.AccountFactory(name="Shoplazza US", adapter_key="shoplazza")
    changelist = reverse("admin:refunds_outboundaction_changelist")
    client.force_login(manager)
    response = client.get(changelist)
    assert _titles(response) == ["State", "What", "Marketplace", "Seller account"]
    assert _headers(response) == [
        "Refund · created",
        "Seller account",
        "What",
        "State",
        "Attempts",
        "Next try",
        "Last error",
    ]
    marketplace = response.context["cl"].filter_specs[2]
    assert [label for _, label in marketplace.lookup_choices] == [
        "HepsiGlobal",
        "Noventiq Checkout",
        "LLZW shop",
        "Shoplazza",
    ]
    body = response.content.decode()
    assert f"{order.account.name} (LLZW shop)" in body
    assert [w for w in DELIVERY_INTERNAL if w in body.lower()] == []
    assert len(client.get(changelist, {"marketplace": "llzw"}).context["cl"].result_list) == 1
    assert not client.get(changelist, {"marketplace": "shoplazza"}).context["cl"].result_list
    action = OutboundAction.objects.get(refund=refund)
    page = client.get(reverse("admin:refunds_outboundaction_change", args=[action.pk]))
    body = page.content.decode()
    assert "Key sent to the marketplace (the same on every try)" in body
    assert action.idempotency_key in body
    assert f"{refund.number} (Processing)" in body
    assert "PROCESSING" not in body
    assert [w for w in ("adapter key", "claimed until", "sweeper") if w in body.lower()] == []


@pytest.mark.django_db
def test_webhook_events_filters_columns_and_page_use_peoples_words(client, manager, order):
    shoplazza = factories.AccountFactory(name="Shoplazza US", adapter_key="shoplazza")
    llzw_hook = _hook(order.account)
    _hook(shoplazza, key="k2", name="refunds/update")
    changelist = reverse("admin:refunds_webhookevent_changelist")
    client.force_login(manager)
    response = client.get(changelist)
    assert _titles(response) == ["State", "Marketplace", "Webhook", "Seller account"]
    assert _headers(response) == [
        "ID",
        "Marketplace",
        "Seller account",
        "Webhook",
        "Topic",
        "State",
        "Refund",
        "Received",
        "Processed",
    ]
    body = response.content.decode()
    assert '<td class="field-marketplace">LLZW shop</td>' in body
    assert '<td class="field-marketplace">Shoplazza</td>' in body
    assert [w for w in DELIVERY_INTERNAL if w in body.lower()] == []
    response = client.get(changelist, {"marketplace": "llzw"})
    assert list(response.context["cl"].result_list) == [llzw_hook]
    page = client.get(reverse("admin:refunds_webhookevent_change", args=[llzw_hook.pk]))
    body = page.content.decode()
    assert page.context["subtitle"] == "LLZW shop refund-result (k1)"
    assert "Delivery id from the marketplace" in body
    assert "Failed processing attempts" in body
    lowered = body.lower()
    for internal in ("adapter key", "webhook_max_retries", "sweeper", "processing attempts that"):
        assert internal not in lowered


@pytest.mark.django_db
def test_outbox_and_inbox_lists_do_not_query_per_row(client, manager, agent, order, customer_user):
    client.force_login(manager)
    outbox = reverse("admin:refunds_outboundaction_changelist")
    inbox = reverse("admin:refunds_webhookevent_changelist")
    refund_approve(actor=agent, refund=_refund(order, customer_user, line_index=0))
    _hook(order.account, key="k1")
    client.get(outbox), client.get(inbox)
    with CaptureQueriesContext(connection) as one_outbox:
        client.get(outbox)
    with CaptureQueriesContext(connection) as one_inbox:
        client.get(inbox)
    for index in (1, 2):
        refund_approve(actor=agent, refund=_refund(order, customer_user, line_index=index))
    other = factories.AccountFactory(name="Shoplazza US", adapter_key="shoplazza")
    _hook(other, key="k2"), _hook(order.account, key="k3")
    with CaptureQueriesContext(connection) as three_outbox:
        assert len(client.get(outbox).context["cl"].result_list) == 3
    with CaptureQueriesContext(connection) as three_inbox:
        assert len(client.get(inbox).context["cl"].result_list) == 3
    assert (len(three_outbox), len(three_inbox)) == (len(one_outbox), len(one_inbox))


def test_no_internal_references_in_model_labels_or_help():
    """What the admin (and the API schema) can show from the models: no "seed 003"."""
    from django.apps import apps

    found = [
        f"{model.__name__}.{field.name}: {text}"
        for app in ("orders", "refunds")
        for model in apps.get_app_config(app).get_models()
        for field in model._meta.get_fields()
        if not field.auto_created or field.concrete
        for text in (str(getattr(field, "help_text", "")), str(getattr(field, "verbose_name", "")))
        if "seed" in text.lower()
    ]
    assert found == []
