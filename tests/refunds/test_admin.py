"""The managers' admin: refunds read-only, approve/deny through the services with one message
per refund, masked write-only secrets, outbox retry, read-only webhooks."""

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from orders.models import MarketplaceAccount
from refunds.calculator import LineChoice
from refunds.delivery.models import OutboundAction, WebhookEvent
from refunds.models import Refund, RefundEvent
from refunds.services import refund_approve, refund_request
from tests import factories

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
def test_changelist_search_is_exact_on_indexed_fields_in_any_case(
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
    assert found(str(other.pk)) == [other.pk]
    assert found("1z999aa10123456784") == [other.pk]
    assert found("alice") == []  # a fragment matches nothing: every branch is an index lookup
    response = client.get(CHANGELIST, {"q": "alice"})
    assert "Exact order number, customer e-mail" in response.content.decode()


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
def test_approve_selected_reports_per_refund(client, manager, order):
    requester = factories.agent(username="requester@example.com")
    first = _refund(order, requester, line_index=0)
    own = _refund(order, manager, line_index=1)
    client.force_login(manager)
    response = client.post(
        CHANGELIST,
        {"action": "approve_selected", ACTION_CHECKBOX_NAME: [first.pk, own.pk]},
        follow=True,
    )
    assert _messages(response) == [
        f"{first.number}: approved, now Processing",
        f"{own.number}: You requested this refund, so someone else must approve it",
        "1 of 2 refunds approved",
    ]
    first.refresh_from_db()
    own.refresh_from_db()
    assert (first.status, own.status) == ("PROCESSING", "REQUESTED")


@pytest.mark.django_db
def test_agent_cannot_approve_above_limit_in_admin_but_manager_can(
    client, agent, manager, settings, order, customer_user
):
    settings.REFUND_APPROVAL_LIMIT = Decimal("50.00")
    refund = _refund(order, customer_user, line_index=2)  # 100.00
    client.force_login(agent)
    response = client.post(
        CHANGELIST, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [refund.pk]}, follow=True
    )
    assert _messages(response)[0] == (
        f"{refund.number}: Refunds above 50.00 USD need a refund manager's approval "
        "(this one is 100.00 USD)"
    )
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"
    assert RefundEvent.objects.filter(refund=refund).count() == 1
    client.force_login(manager)
    client.post(CHANGELIST, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [refund.pk]})
    refund.refresh_from_db()
    assert refund.status == "PROCESSING"


@pytest.mark.django_db
def test_deny_selected_asks_for_a_reason_first(client, manager, order, customer_user):
    refund = _refund(order, customer_user)
    client.force_login(manager)
    response = client.post(
        CHANGELIST, {"action": "deny_selected", ACTION_CHECKBOX_NAME: [refund.pk]}
    )
    assert response.status_code == 200
    assert "Deny these refunds" in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"
    response = client.post(
        CHANGELIST,
        {"action": "deny_selected", "apply": "1", "reason": "", ACTION_CHECKBOX_NAME: [refund.pk]},
    )
    assert response.context["form"].errors == {"reason": ["This field is required."]}
    refund.refresh_from_db()
    assert refund.status == "REQUESTED"
    response = client.post(
        CHANGELIST,
        {
            "action": "deny_selected",
            "apply": "1",
            "reason": "Item was used",
            ACTION_CHECKBOX_NAME: [refund.pk],
        },
        follow=True,
    )
    assert _messages(response) == [f"{refund.number}: denied, now Denied", "1 of 1 refunds denied"]
    refund.refresh_from_db()
    assert (refund.status, refund.response_reason) == ("DENIED", "Item was used")


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
