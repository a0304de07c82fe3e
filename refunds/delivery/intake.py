"""Webhook intake: the one view for every marketplace (`/<adapter key>/webhooks/<name>`, the
names each adapter class declares in `webhook_endpoints`). It does four things and nothing else:
  1. verify: every enabled account of that adapter key is tried; the adapter's `parse_webhook`
     checks the signature with a constant-time comparison and raises WebhookRejected, which we
     answer with its status (401) storing nothing;
  2. store the raw event with its unique delivery key in one INSERT ... ON CONFLICT DO NOTHING;
     a second delivery of the same key inserts nothing and is answered 200 doing nothing;
  3. answer 200 `{}` at once;
  4. hand the event after commit to the process's batching publisher (publishing.py).

What is stored is what can be kept safely: headers and body with credentials redacted and
signatures reduced to a fingerprint (integrations.http), and no text PostgreSQL refuses (NUL,
unpaired surrogates: replaced). Bodies are parsed with a bounded depth (integrations.jsontext).
"""

from __future__ import annotations

import functools
import json
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from integrations.base import WebhookMessage, WebhookOrigin, WebhookRejected, WebhookTopic
from integrations.http import redact_headers, redact_text
from integrations.jsontext import storable_text
from integrations.registry import UnknownAdapter, adapter_class
from orders.models import MarketplaceAccount

from ..client_address import client_address
from .models import WebhookEvent, WebhookState
from .payloads import account_config
from .publishing import enqueue_processing_soon

logger = logging.getLogger(__name__)


def _headers(request: HttpRequest) -> dict[str, str]:
    """The request's headers (cookies never), each value storable (no NUL)."""
    return {
        key: storable_text(value)
        for key, value in request.headers.items()
        if key.lower() != "cookie"
    }


def _adapter_class_or_none(key: str):
    try:
        return adapter_class(key)
    except UnknownAdapter:
        return None


METHOD_HEADER = "X-Refund-Desk-Method"  # kept with the stored headers, to parse the event again


class WebhookView(View):
    """One view for every marketplace; the adapter declares which names and methods exist."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def dispatch(
        self, request: HttpRequest, key: str, name: str | None = None, token: str | None = None
    ):
        name = name or ""
        adapter_cls = _adapter_class_or_none(key)
        endpoints = getattr(adapter_cls, "webhook_endpoints", {}) if adapter_cls else {}
        uses_origin = bool(getattr(adapter_cls, "webhook_uses_origin", False))
        if name not in endpoints or (token is not None and not uses_origin):
            return JsonResponse({"message": "Unknown webhook"}, status=404)
        if request.method not in endpoints[name]:
            response = JsonResponse({"message": "Method not allowed"}, status=405)
            response["Allow"] = ", ".join(endpoints[name])
            return response
        body = request.body
        if len(body) > settings.WEBHOOK_MAX_BODY_BYTES:
            return JsonResponse({"message": "Body too large"}, status=413)
        headers = _headers(request)
        # A platform that signs nothing is recognised by how it called (the URL's token, its
        # address): the adapter is told, and decides (integrations/<key>/webhooks.py).
        origin = (
            WebhookOrigin(client_address=client_address(request), path_token=token or "")
            if uses_origin
            else None
        )
        verified = _verify(
            adapter_cls,
            key=key,
            name=name,
            method=request.method,
            headers=headers,
            body=body,
            origin=origin,
        )
        if isinstance(verified, JsonResponse):
            if token is not None:
                # Logged by _verify without the URL: Django's own 4xx log line would write the
                # path, and with it a token that may be the account's.
                verified._has_been_logged = True
            return verified
        account, message = verified
        _store(
            account=account,
            key=key,
            name=name,
            message=message,
            headers={**redact_headers(headers), METHOD_HEADER: request.method},
            body=body,
        )
        return JsonResponse({})


# Verifying adapters, one per account and process, rebuilt whenever the account's configuration
# (secret included) differs from the one it was built with. Building an adapter builds its HTTP
# session, which verification never uses: it was built again on every delivery.
_verifiers: dict[int, object] = {}


def _verifier(adapter_cls, account):
    config = account_config(account)
    adapter = _verifiers.get(account.pk)
    if adapter is None or type(adapter) is not adapter_cls or adapter.account != config:
        adapter = adapter_cls(config)
        _verifiers[account.pk] = adapter
    return adapter


# What verification needs of an account, read by a statement built from the model's metadata.
_ACCOUNT_FIELDS = ("id", "name", "base_url", "credentials", "webhook_secret", "options")


@functools.cache
def _accounts_sql(vendor: str) -> str:
    meta, quote = MarketplaceAccount._meta, connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    return (
        f"SELECT {', '.join(column(n) for n in _ACCOUNT_FIELDS)}"  # noqa: S608 (model names)
        f" FROM {quote(meta.db_table)}"
        f" WHERE {column('adapter_key')} = %s AND {column('is_enabled')}"
        f" ORDER BY {column('name')}, {column('id')}"
    )


# The enabled accounts per adapter key, as this process last read them, and when (monotonic).
_accounts_read: dict[str, tuple[float, list[MarketplaceAccount]]] = {}


def _enabled_accounts(key: str, *, clock=time.monotonic) -> list[MarketplaceAccount]:
    """The enabled accounts of one marketplace. Read with one plain query (cheaper than the
    ORM's), and kept by the process for settings.WEBHOOK_ACCOUNTS_TTL_SECONDS: a burst of
    deliveries reads them once a TTL, not once each (issue 17: that query was a quarter of a
    delivery's time). So a disabled account or a new secret counts within the TTL (2 s by
    default; 0 reads them on every delivery, as the tests do)."""
    ttl = settings.WEBHOOK_ACCOUNTS_TTL_SECONDS
    now = clock()
    kept = _accounts_read.get(key)
    if ttl > 0 and kept is not None and 0 <= now - kept[0] < ttl:
        return kept[1]
    with connection.cursor() as cursor:
        cursor.execute(_accounts_sql(connection.vendor), [key])
        rows = cursor.fetchall()
    accounts = [
        MarketplaceAccount(
            id=pk,
            adapter_key=key,
            name=name,
            base_url=base_url,
            credentials=_json_value(credentials),
            webhook_secret=secret,
            options=_json_value(options),
            is_enabled=True,
        )
        for pk, name, base_url, credentials, secret, options in rows
    ]
    if ttl > 0:
        _accounts_read[key] = (now, accounts)
    return accounts


def _json_value(value):
    return json.loads(value) if isinstance(value, str | bytes) else value


def _verify(adapter_cls, *, key, name, method, headers, body, origin=None):
    refusal = WebhookRejected("No enabled account for this marketplace accepts this webhook")
    extra = {"origin": origin} if origin is not None else {}
    for account in _enabled_accounts(key):
        adapter = _verifier(adapter_cls, account)
        if not adapter.webhooks_configured():
            continue  # refuse when the account cannot verify (no secret, by default)
        try:
            message = adapter.parse_webhook(
                name=name, method=method, headers=headers, body=body, **extra
            )
        except WebhookRejected as exc:
            refusal = exc
            # A signature that fits no account is 401; a verified but unreadable body is final.
            if exc.status != 401:
                break
            continue
        return account, message
    # Never silent: a refused call is written to the log, with where it came from.
    logger.warning(
        "%s webhook %s refused (HTTP %s, from %s): %s",
        key,
        name,
        refusal.status or 401,
        origin.client_address if origin is not None else "-",
        refusal.message,
    )
    return JsonResponse({"message": refusal.message}, status=refusal.status or 401)


# The columns the intake writes, named by the model; the statement is built from its metadata.
_STORED = (
    "account",
    "adapter_key",
    "name",
    "delivery_key",
    "topic",
    "headers",
    "body",
    "state",
    "error",
    "received_at",
    "processing_attempts",
    "next_attempt_at",
)


@functools.cache
def _insert_sql(vendor: str) -> str:
    """INSERT ... ON CONFLICT (the delivery key's unique constraint) DO NOTHING RETURNING id, from
    the model's table, columns and constraint (PostgreSQL, and SQLite for `make run`)."""
    meta, quote = WebhookEvent._meta, connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _STORED)
    unique = next(c for c in meta.constraints if c.name == "webhook_delivery_once")
    conflict = ", ".join(quote(meta.get_field(name).column) for name in unique.fields)
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns})"  # noqa: S608 (model names only)
        f" VALUES ({', '.join(['%s'] * len(_STORED))})"
        f" ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote(meta.pk.column)}"
    )


def storable_body(body: bytes) -> str:
    """What is kept of a verified body: its text, with what PostgreSQL refuses (NUL) replaced
    and the values of secret-looking fields redacted. It is parsed again (without verifying:
    the signature was over the original) when the event is processed."""
    return redact_text(storable_text(body.decode("utf-8", "replace")))


def _store(*, account, key, name, message: WebhookMessage, headers, body) -> int | None:
    """Store the event in one statement (INSERT ... ON CONFLICT DO NOTHING: a second delivery of
    the same key inserts nothing and raises nothing) and enqueue it once committed. Returns the
    new event's id, None for a duplicate. `headers` are stored as given (the view redacts
    them); the body is stored as `storable_body` makes it."""
    ignored = message.topic == WebhookTopic.IGNORED
    values = {
        "account": account.pk,
        "adapter_key": key,
        "name": name,
        "delivery_key": storable_text(message.delivery_key[:200]),
        "topic": str(message.topic),
        "headers": headers,
        "body": storable_body(body),
        "state": WebhookState.IGNORED if ignored else WebhookState.RECEIVED,
        "error": "",
        "received_at": timezone.now(),
        "processing_attempts": 0,
        "next_attempt_at": None,
    }
    meta = WebhookEvent._meta
    params = [meta.get_field(name).get_db_prep_save(values[name], connection) for name in _STORED]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        logger.debug("duplicate webhook %s %s ignored", key, message.delivery_key)
        return None
    event_id = row[0]
    if not ignored:
        # Outside a transaction the insert is committed already and this runs at once.
        transaction.on_commit(lambda: enqueue_processing_soon(event_id))
    return event_id


webhook_view = csrf_exempt(WebhookView.as_view())
