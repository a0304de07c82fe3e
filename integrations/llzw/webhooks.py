"""LLZW sends no webhooks: refund changes on the shop reach Refund Desk by polling
`GET /api/v2/refunds` (seed 003 documents no callback of any kind). Anything posted to
/llzw/webhooks/<name> is refused, before reading the body, so nobody can inject a status."""

from __future__ import annotations

from collections.abc import Mapping

from integrations.base import AccountConfig, WebhookMessage, WebhookRejected


def parse_webhook(
    account: AccountConfig, *, name: str, method: str, headers: Mapping[str, str], body: bytes
) -> WebhookMessage:
    raise WebhookRejected(
        f"LLZW sends no webhooks (got {method} {name!r}); its refunds are polled.", status=404
    )
