"""HepsiGlobal's calls into our "Webhooks Integration API": verification, then parsing.

HepsiGlobal publishes no authentication for these calls (mapping.py, ASSUMPTIONS A1): it calls
the marketplace's base URL, given at onboarding, followed by the documented path. So we check
what can be set up on that base URL, per account, in MarketplaceAccount.options["webhook_auth"]:

- "path_token" (the default): the account's webhook secret is a path segment of the base URL we
  give HepsiGlobal, `{REFUND_DESK_BASE_URL}/hepsiglobal/<webhook secret>/webhooks/...`;
- "basic": HTTP basic auth set up at onboarding, user options["webhook_username"] (default
  "hepsiglobal"), password the account's webhook secret;
- "ip_allowlist": the client's address (behind our trusted proxies) is in
  options["webhook_ip_allowlist"] (a list of IPs or CIDRs), and nothing else is asked.

options["webhook_ip_allowlist"], when given with "path_token" or "basic", is checked as well.
Every comparison of a secret is constant-time; an account whose configuration cannot verify
anything (no secret, an empty allow-list) accepts nothing. Each accepted call is logged with
how it was recognised; the intake logs each refused one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Mapping
from typing import Any

from integrations import jsontext
from integrations.base import (
    AccountConfig,
    CancelledLine,
    WebhookMessage,
    WebhookOrigin,
    WebhookRejected,
    WebhookTopic,
)

from .mapping import RESULT_ERROR_CODES, STATUS_MAP

logger = logging.getLogger(__name__)

REFUND_CREATE_RESULT = "refund-create-result"
ORDER_CANCEL = "order-cancel"
# Seed 001: PUT /webhooks/order-cancel. The result webhook's method is not published
# (ASSUMPTIONS A2 in mapping.py): POST.
ENDPOINTS = {REFUND_CREATE_RESULT: ("POST",), ORDER_CANCEL: ("PUT",)}

PATH_TOKEN = "path_token"  # noqa: S105 (a mode's name, not a secret)
BASIC = "basic"
IP_ALLOWLIST = "ip_allowlist"
AUTH_MODES = (PATH_TOKEN, BASIC, IP_ALLOWLIST)
DEFAULT_AUTH = PATH_TOKEN
DEFAULT_BASIC_USER = "hepsiglobal"
# What refunds/delivery/urls.py accepts as a path token.
TOKEN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-")
TOKEN_LENGTH = (16, 200)


def auth_mode(account: AccountConfig) -> str:
    return str((account.options or {}).get("webhook_auth") or DEFAULT_AUTH)


def _allowlist(account: AccountConfig) -> tuple | None:
    """The account's allow-list as networks; None when it has none; () when it is unreadable."""
    entries = (account.options or {}).get("webhook_ip_allowlist")
    if entries in (None, "", []):
        return None
    if isinstance(entries, str):
        entries = [entries]
    try:
        return tuple(ipaddress.ip_network(str(entry).strip(), strict=False) for entry in entries)
    except ValueError:
        return ()


def usable_path_token(secret: str) -> bool:
    return TOKEN_LENGTH[0] <= len(secret) <= TOKEN_LENGTH[1] and set(secret) <= TOKEN_CHARACTERS


def configured(account: AccountConfig) -> bool:
    """Whether the account can verify anything: its mode is known and has what it needs."""
    mode = auth_mode(account)
    allowlist = _allowlist(account)
    if allowlist == ():
        return False  # an unreadable allow-list accepts nothing
    if mode == PATH_TOKEN:
        return usable_path_token(account.webhook_secret)
    if mode == BASIC:
        return bool(account.webhook_secret)
    if mode == IP_ALLOWLIST:
        return bool(allowlist)
    return False


def basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value or ""
    return ""


def _check_address(origin: WebhookOrigin | None, networks: tuple) -> str:
    address = origin.client_address if origin is not None else ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise WebhookRejected(
            "The HepsiGlobal webhook's address is unknown, so it cannot be checked against the "
            "account's allow-list."
        ) from None
    if not any(parsed in network for network in networks):
        raise WebhookRejected(
            f"The HepsiGlobal webhook comes from {address}, which is not in the account's "
            "allow-list."
        )
    return address


def verify(
    *, account: AccountConfig, headers: Mapping[str, str], origin: WebhookOrigin | None
) -> str:
    """Raise WebhookRejected (401) unless the call is recognised as the account's; return how
    it was (for the log)."""
    mode = auth_mode(account)
    if mode not in AUTH_MODES:
        raise WebhookRejected(
            f"The HepsiGlobal account's webhook_auth {mode!r} is not one of "
            f"{', '.join(AUTH_MODES)}."
        )
    if not configured(account):
        raise WebhookRejected(
            f"The HepsiGlobal account cannot verify webhooks by {mode}: set its webhook secret "
            "(path_token: 16 to 200 letters, digits or ._~-) or its webhook_ip_allowlist."
        )
    secret = account.webhook_secret
    how = mode
    if mode == PATH_TOKEN:
        given = origin.path_token if origin is not None else ""
        if not given:
            raise WebhookRejected(
                "The HepsiGlobal webhook was not sent to the account's secret URL "
                "(/hepsiglobal/<token>/webhooks/...)."
            )
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise WebhookRejected("The HepsiGlobal webhook's URL token does not match.")
    elif mode == BASIC:
        username = str((account.options or {}).get("webhook_username") or DEFAULT_BASIC_USER)
        given = _header(headers, "Authorization")
        if not given:
            raise WebhookRejected("The HepsiGlobal webhook carries no basic credentials.")
        expected = basic_authorization(username, secret)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected("The HepsiGlobal webhook's basic credentials do not match.")
    networks = _allowlist(account)
    if networks:
        address = _check_address(origin, networks)
        how = f"{how} from {address}" if mode != IP_ALLOWLIST else f"ip_allowlist ({address})"
    return how


# --- parsing ---------------------------------------------------------------------------------


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = jsontext.loads(body)
    except jsontext.JSONTooDeep as exc:
        raise WebhookRejected(
            f"The HepsiGlobal webhook body is refused: {exc}.", status=400
        ) from None
    except ValueError:  # not UTF-8, not JSON
        raise WebhookRejected("The HepsiGlobal webhook body is not JSON.", status=400) from None
    if not isinstance(data, dict):
        raise WebhookRejected("The HepsiGlobal webhook body is not a JSON object.", status=400)
    return jsontext.storable(data)


def _text(data: dict, key: str, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise WebhookRejected(f"The HepsiGlobal webhook lacks {where}{key}.", status=400)
    return str(value)


def _result_message(errors: list) -> str:
    messages = []
    for error in errors:
        text = str(error)
        code, _, rest = text.partition(":")
        if code in RESULT_ERROR_CODES:
            messages.append(f"{RESULT_ERROR_CODES[code]} ({rest.strip()})")
        else:
            messages.append(f"HepsiGlobal refused the refund: {text}")
    return " ".join(messages)


def parse_refund_create_result(data: dict) -> WebhookMessage:
    """The payload is not published (ASSUMPTIONS A2 in mapping.py). Create Refund says only
    that the result comes "via RequestId": `request_id` is required, `refund_number` (our key)
    is used when present, and the status is read without regard to case."""
    request_id = _text(data, "request_id")
    refund_number = str(data.get("refund_number") or "")
    status = str(data.get("status") or "").lower()
    if status not in STATUS_MAP:
        raise WebhookRejected(
            "The HepsiGlobal webhook status is not success or failed.", status=400
        )
    errors = data.get("errors") or []
    if not isinstance(errors, list):
        raise WebhookRejected("The HepsiGlobal webhook errors are not a list.", status=400)
    return WebhookMessage(
        delivery_key=f"refund-create-result:{request_id}",
        topic=WebhookTopic.REFUND_RESULT,
        order_external_number=str(data.get("order_number") or ""),
        external_id=refund_number,
        external_request_id=request_id,
        idempotency_key=refund_number,
        status=STATUS_MAP[status],
        message=_result_message(errors)
        if status == "failed"
        else "HepsiGlobal created the refund.",
        payload=data,
    )


def _cancel_quantity(item: dict, where: str) -> int:
    quantity = item.get("cancel_quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise WebhookRejected(
            f"The HepsiGlobal webhook {where}cancel_quantity is not a count.", status=400
        )
    return quantity


def parse_order_cancel(data: dict) -> WebhookMessage:
    """Seed 001, "Order cancel (canceled by seller)": its example is one flat cancellation
    (`cancel_id`, `order_number`, `cancel_quantity`, `order_item_number`, `reason`), while its
    text says "Each item within the cancel_items array specifies details for cancellation". Both
    are read: a `cancel_items` array of such items (each field missing from an item is taken
    from the body), all of one order, is one event whose refund covers every line."""
    items = data.get("cancel_items")
    if items is None:
        items, prefix = [data], ""
    elif not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise WebhookRejected(
            "The HepsiGlobal webhook cancel_items is not a list of cancellations.", status=400
        )
    else:
        prefix = "cancel_items[]."
    cancel_ids: list[str] = []
    order_numbers = set()
    quantities: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for item in items:
        merged = {**{k: v for k, v in data.items() if k != "cancel_items"}, **item}
        cancel_ids.append(_text(merged, "cancel_id", prefix))
        order_numbers.add(_text(merged, "order_number", prefix))
        line = _text(merged, "order_item_number", prefix)
        quantities[line] = quantities.get(line, 0) + _cancel_quantity(merged, prefix)
        reasons.setdefault(line, str(merged.get("reason") or ""))
    if len(order_numbers) != 1:
        raise WebhookRejected(
            "The HepsiGlobal webhook cancels lines of several orders in one call.", status=400
        )
    lines = tuple(CancelledLine(line, quantities[line], reasons[line]) for line in quantities)
    ids = "+".join(sorted(set(cancel_ids)))
    if len(ids) > 180:
        ids = "sha256-" + hashlib.sha256(ids.encode()).hexdigest()
    reason = lines[0].reason if len({line.reason for line in lines}) == 1 else ""
    single = lines[0] if len(lines) == 1 else None
    total = sum(line.quantity for line in lines)
    return WebhookMessage(
        delivery_key=f"order-cancel:{ids}",
        topic=WebhookTopic.ORDER_CANCEL,
        order_external_number=order_numbers.pop(),
        order_line_external_id=single.order_line_external_id if single else "",
        quantity=single.quantity if single else total,
        reason=reason,
        cancelled_lines=lines,
        message=(
            f"The seller cancelled {total} unit(s) on HepsiGlobal ({reason or 'no reason'})."
            if single or reason
            else f"The seller cancelled {total} unit(s) on {len(lines)} lines on HepsiGlobal."
        ),
        payload=data,
    )


def parse(
    *,
    account: AccountConfig,
    name: str,
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    verified: bool = False,
    origin: WebhookOrigin | None = None,
) -> WebhookMessage:
    """Verify, then parse; `verified`: the event was verified when it arrived (its stored
    headers no longer hold the credentials): parse only."""
    if name not in ENDPOINTS:
        raise WebhookRejected(f"No HepsiGlobal webhook is called {name!r}.", status=404)
    if method.upper() not in ENDPOINTS[name]:
        raise WebhookRejected(
            f"HepsiGlobal's {name} webhook is not sent with {method}.", status=405
        )
    how = "" if verified else verify(account=account, headers=headers, origin=origin)
    data = _object(body)
    if name == REFUND_CREATE_RESULT:
        message = parse_refund_create_result(data)
    else:
        message = parse_order_cancel(data)
    if how:
        logger.info(
            "HepsiGlobal webhook %s %s accepted for account %s by %s",
            name,
            message.delivery_key,
            account.name or account.account_id,
            how,
        )
    return message
