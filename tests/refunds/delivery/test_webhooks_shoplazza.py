"""Shoplazza's webhooks at our endpoint: signed with the app's client secret (Webhook, "Verify a
webhook": the base64 HMAC-SHA256 of the raw body keyed with the Client Secret), so an account
needs no webhook secret of its own."""

import json

import pytest

from integrations.shoplazza.webhooks import sign
from refunds.delivery.models import WebhookEvent
from tests import factories

pytestmark = pytest.mark.django_db

CLIENT_SECRET = "app-client-secret"
BODY = json.dumps({"id": "rf_1", "order_id": "SL-1", "refund_status": "finished"}).encode()


def _account(**changes):
    values = {
        "adapter_key": "shoplazza",
        "name": "SL",
        "base_url": "http://127.0.0.1:9/shoplazza",
        "credentials": {"client_id": "c", "client_secret": CLIENT_SECRET, "refresh_token": "r"},
        "webhook_secret": "",
    }
    values.update(changes)
    return factories.AccountFactory(**values)


def _post(client, secret: str):
    headers = {
        "X-Shoplazza-Topic": "refunds/update",
        "X-Shoplazza-Deduplication-ID": "d-1",
        "X-Shoplazza-Hmac-Sha256": sign(secret, BODY),
    }
    return client.post(
        "/shoplazza/webhooks", data=BODY, content_type="application/json", headers=headers
    )


def test_a_delivery_signed_with_the_client_secret_is_taken_without_a_webhook_secret(client):
    account = _account()

    response = _post(client, CLIENT_SECRET)

    assert response.status_code == 200
    [event] = WebhookEvent.objects.all()
    assert (event.account_id, event.delivery_key) == (account.pk, "d-1")


def test_a_delivery_signed_with_the_webhook_secret_is_refused(client):
    _account(webhook_secret="whsec-other")

    response = _post(client, "whsec-other")

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0


def test_an_account_without_a_client_secret_takes_nothing(client):
    _account(credentials={"client_id": "c", "refresh_token": "r"}, webhook_secret="whsec-other")

    response = _post(client, "")

    assert response.status_code == 401
    assert WebhookEvent.objects.count() == 0
