"""LLZW sends no webhooks (seed 003 documents none): every inbound call is refused."""

import pytest

from integrations.base import WebhookRejected
from integrations.llzw.client import LlzwAdapter
from integrations.llzw.webhooks import parse_webhook

from .support import make_account


def test_the_adapter_declares_no_webhook_endpoint():
    assert LlzwAdapter.webhook_endpoints == {}


@pytest.mark.parametrize("name", ["refund", "refund-status", ""])
def test_any_inbound_webhook_is_rejected_with_404(name):
    adapter = LlzwAdapter(make_account("http://127.0.0.1:9/llzw"))
    signed_looking = {"X-Signature": "abc", "Content-Type": "application/json"}

    with pytest.raises(WebhookRejected) as caught:
        adapter.parse_webhook(
            name=name, method="POST", headers=signed_looking, body=b'{"id": 1, "status": "ISSUED"}'
        )

    assert caught.value.status == 404
    assert caught.value.message == (
        f"LLZW sends no webhooks (got POST {name!r}); its refunds are polled."
    )


def test_the_module_function_refuses_too():
    account = make_account("http://127.0.0.1:9/llzw")

    with pytest.raises(WebhookRejected) as caught:
        parse_webhook(account, name="refund", method="PUT", headers={}, body=b"")

    assert (
        caught.value.message == "LLZW sends no webhooks (got PUT 'refund'); its refunds are polled."
    )
