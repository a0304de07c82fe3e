"""The one interface every marketplace adapter implements.

Adapters never import Django models: they take and return the frozen dataclasses below, so each
can be tested alone against its sandbox. The refund services and the Celery tasks are the only
callers; they turn our rows into these values (see `refunds.delivery.payloads`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

import requests

from .errors import MarketplaceError, PermanentError, TransientError
from .http import Classifier, build_session, never_reached, send


class ResultDelivery(StrEnum):
    IMMEDIATE = "immediate"  # the create call's answer is final
    WEBHOOK = "webhook"  # the platform calls us back later
    POLLING = "polling"  # we ask the platform until it says it is done


class OutboundKind(StrEnum):
    """What an outbox row asks a marketplace to do."""

    CREATE_REFUND = "create_refund"  # money must move: the refund entered PROCESSING
    APPROVE_RETURN = "approve_return"  # a refund the platform already knows was approved (WAITING)
    DENY_REFUND = "deny_refund"  # a refund the platform already knows was denied
    CANCEL_REFUND = "cancel_refund"  # a refund the platform already knows was cancelled
    SEND_RETURN_SHIPMENT = "send_return_shipment"  # tracking of goods coming back
    READ_STATUS = "read_status"  # poll the platform for the refund's result


@dataclass(frozen=True)
class Capabilities:
    partial_refund_by_line: bool
    # An amount that is not whole units of order lines (a refund of an amount only, spread over
    # the lines): False where the platform refunds whole order items only.
    partial_amount_refund: bool
    shipping_refund: bool
    # Other charges than shipping (tip, gift wrapping and the like).
    additional_charges_refund: bool
    multiple_payments: bool
    cancel_after_creation: bool
    return_shipment: bool
    result_delivery: ResultDelivery
    # Sentences staff read on the refund page, e.g. "HepsiGlobal refunds cannot be cancelled
    # once sent".
    notes: tuple[str, ...] = ()
    # Requests per second the platform allows per account, when it publishes a limit.
    rate_limit_per_second: Decimal | None = None
    # The adapter's create call first looks the refund up by our idempotency key on the
    # platform (a status or list API) and answers with it when it exists, so after an unknown
    # outcome Refund Desk asks the platform again itself instead of asking a person.
    refund_lookup: bool = False
    # Some units of an order line (3 of 5): False where the platform refunds an order item with
    # all its units or not at all (Noventiq), so a refund must take every unit of a line it names.
    partial_line_quantity: bool = True


@dataclass(frozen=True)
class AccountConfig:
    """A MarketplaceAccount row as the adapter sees it."""

    account_id: int
    adapter_key: str
    name: str
    base_url: str
    credentials: Mapping[str, str]
    webhook_secret: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    # Where the platform should call us back (our public base URL).
    callback_base_url: str = ""


@dataclass(frozen=True)
class RefundLineData:
    order_line_external_id: str
    sku: str
    name: str
    quantity: int
    amount: Decimal
    restock: bool
    fulfilled_quantity: int = 0
    ordered_quantity: int = 0


@dataclass(frozen=True)
class PaymentShare:
    payment_external_id: str
    method: str
    amount: Decimal


@dataclass(frozen=True)
class RefundData:
    """Our refund, as a snapshot taken when the outbox row was written."""

    refund_id: int
    idempotency_key: str
    order_external_number: str
    currency: str
    total: Decimal
    lines_amount: Decimal
    shipping_amount: Decimal
    additional_amount: Decimal
    reason_code: str
    customer_explanation: str
    refund_only: bool
    requested_at: dt.datetime
    lines: tuple[RefundLineData, ...] = ()
    payments: tuple[PaymentShare, ...] = ()
    order_grand_total: Decimal = Decimal("0")
    # The order's tip and its other additional charges (our additional amount holds both), for
    # platforms that refund them apart (Shoplazza's refund_tip).
    order_tip_total: Decimal = Decimal("0")
    order_additional_total: Decimal = Decimal("0")
    # The platform's ids, when it already knows the refund.
    external_id: str = ""
    external_request_id: str = ""
    return_tracking_id: str = ""
    return_carrier: str = ""
    response_reason: str = ""
    customer_email: str = ""


# --- Orders as a platform shows them ---------------------------------------------------------


@dataclass(frozen=True)
class OrderLineData:
    external_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal = Decimal("0")
    tax: Decimal = Decimal("0")
    fulfilled_quantity: int = 0
    cancelled_quantity: int = 0


@dataclass(frozen=True)
class OrderPaymentData:
    external_id: str
    method: str
    amount: Decimal


@dataclass(frozen=True)
class OrderData:
    """An order read from the platform (`MarketplaceAdapter.read_order`), in Refund Desk's
    vocabulary: `status` is one of orders.models.OrderStatus (pending, paid, fulfilled,
    cancelled); amounts in the order's currency. Refund Desk mirrors it through the orders
    service (refunds.delivery.mirror)."""

    external_number: str
    status: str
    currency: str
    placed_at: dt.datetime
    customer_email: str
    lines: tuple[OrderLineData, ...]
    payments: tuple[OrderPaymentData, ...] = ()
    customer_name: str = ""
    paid_at: dt.datetime | None = None
    shipping_total: Decimal = Decimal("0")
    tip_total: Decimal = Decimal("0")
    additional_total: Decimal = Decimal("0")


# --- Results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """The platform took the request; the final answer comes later (webhook or polling)."""

    external_id: str = ""
    external_request_id: str = ""
    message: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Confirmed:
    """The platform says the money went back (or the action is done for good)."""

    external_id: str = ""
    external_request_id: str = ""
    message: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """Refused for good: retrying the same request cannot succeed. A person must act."""

    code: str
    message: str
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FailedForNow:
    """Did not work this time (timeout, 5xx, 429); the same request may succeed later.

    `may_have_acted`: no answer came back, so the platform may have done what we asked (a read
    timeout, a connection dropped after the request went out, a 5xx). False only when the
    request provably did not reach it or was turned away unread (connection refused, 429)."""

    message: str
    retry_after: float | None = None
    code: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)
    may_have_acted: bool = True


Result = Accepted | Confirmed | Rejected | FailedForNow


# --- Errors (raised inside clients; the adapter turns them into results) ---------------------
# MarketplaceError, TransientError and PermanentError live in integrations.errors (a leaf module
# the transport imports too); imported above, they are part of this interface.

# Codes the clients give a 429 (or our own rate limiter's wait): the platform turned the request
# away unread.
RATE_LIMITED_CODES = frozenset(
    {"429", "http_429", "rate_limited", "too_many_requests", "TooManyRequests"}
)


def may_have_acted(exc: TransientError) -> bool:
    """Whether the platform may have done what a failed call asked. Only a request that provably
    never reached it (the connection was never made) or that it turned away unread (429) is
    known not to have acted; everything else (read timeouts, connections dropped mid-call,
    5xx, our own crash) is an unknown outcome, never a refusal."""
    if exc.may_have_acted is not None:
        return exc.may_have_acted
    if exc.code in RATE_LIMITED_CODES:
        return False
    # A fallback for errors raised without a say (the transport always says): look for the
    # requests exception it was raised from.
    cause = exc.__cause__ or exc.__context__
    seen = 0
    while cause is not None and seen < 10:
        if isinstance(cause, requests.RequestException) and never_reached(cause):
            return False
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return True


class WebhookRejected(Exception):
    """An inbound webhook failed verification or cannot be read; answer 4xx and store nothing."""

    def __init__(self, message: str, *, status: int = 401):
        super().__init__(message)
        self.message = message
        self.status = status


# --- What the platform reports ---------------------------------------------------------------


@dataclass(frozen=True)
class RemoteRefund:
    """A refund as the platform lists it, in our status vocabulary (refunds.states values)."""

    external_id: str
    order_external_number: str
    status: str
    amount: Decimal
    currency: str = ""
    reason: str = ""
    refund_only: bool = True
    requester: str = ""
    tracking_id: str = ""
    carrier: str = ""
    response_reason: str = ""
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    # Our key when the platform echoes it (HepsiGlobal refund_number), else "".
    idempotency_key: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


class WebhookTopic(StrEnum):
    REFUND_RESULT = "refund_result"  # the outcome of a refund we created
    REFUND_STATUS = "refund_status"  # a refund's status changed on the platform
    ORDER_CANCEL = "order_cancel"  # the seller cancelled units the customer paid for
    IGNORED = "ignored"  # verified, stored, nothing to do


@dataclass(frozen=True)
class CancelledLine:
    """One order line of an ORDER_CANCEL webhook: the units the seller cancelled."""

    order_line_external_id: str
    quantity: int
    reason: str = ""


@dataclass(frozen=True)
class WebhookOrigin:
    """How an inbound webhook reached us, as the intake saw it, for platforms that sign nothing
    (an adapter declares `webhook_uses_origin`): the secret token of the URL it called, if any,
    and the client's address (behind our trusted proxies)."""

    client_address: str = ""
    path_token: str = ""


@dataclass(frozen=True)
class WebhookMessage:
    """A verified inbound webhook, parsed."""

    delivery_key: str  # unique per delivery: cancel_id, request_id, deduplication id...
    topic: WebhookTopic
    order_external_number: str = ""
    external_id: str = ""
    external_request_id: str = ""
    idempotency_key: str = ""
    status: str = ""  # our vocabulary for refund results: ISSUED, DENIED, PROCESSING
    message: str = ""
    # ORDER_CANCEL: the order line and the cancelled units (one line), and every cancelled line
    # when the platform names several in one call (`cancelled_lines`, the one line included).
    order_line_external_id: str = ""
    quantity: int = 0
    reason: str = ""
    cancelled_lines: tuple[CancelledLine, ...] = ()
    occurred_at: dt.datetime | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


# --- Credentials ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A credential a platform issued us: an access token, or a session cookie's value.
    `expires_in`: seconds it is valid from now, as the platform announced it (0 or less: it
    is already spent); None when it announced nothing (kept until the platform answers 401)."""

    value: str
    expires_in: float | None = None


class TokenCache:
    """One adapter's credential, shared by its threads: fetched on first use, renewed
    `margin` seconds before it expires (at most `share` of its lifetime, so that a short-lived
    token is still used), and renewed on demand after a 401. One fetch at a time: a thread
    that waits while another renews gets the new token instead of fetching again."""

    def __init__(
        self,
        fetch: Callable[[], Token],
        *,
        margin: float = 30.0,
        share: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._fetch = fetch
        self._margin = margin
        self._share = share
        self._clock = clock
        self._lock = threading.Lock()
        self._value = ""
        self._renew_at = 0.0

    def get(self, *, refused: str | None = None) -> str:
        """The valid token; with `refused` (the token a 401 answered), a new one, unless
        another thread already replaced it."""
        with self._lock:
            if refused is not None:
                if not self._value or self._value == refused:
                    self._store(self._fetch())
            elif not self._value or self._clock() >= self._renew_at:
                self._store(self._fetch())
            return self._value

    def put(self, token: Token) -> None:
        """Keep a token obtained another way (e.g. restored from elsewhere)."""
        with self._lock:
            self._store(token)

    def clear(self) -> None:
        with self._lock:
            self._value, self._renew_at = "", 0.0

    def _store(self, token: Token) -> None:
        now = self._clock()
        if token.expires_in is None:
            renew_at = float("inf")
        else:
            lifetime = max(token.expires_in, 0.0)
            renew_at = now + lifetime - min(self._margin, lifetime * self._share)
        self._value, self._renew_at = token.value, renew_at


def with_headers(request: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
    """`request` (keyword arguments for `requests.Session.request`) with `headers` added."""
    return {**request, "headers": {**(request.get("headers") or {}), **headers}}


# --- The adapter -----------------------------------------------------------------------------


class MarketplaceAdapter:
    """Base class: owns the session, the transport, the credential and the error wrapping.

    Subclasses implement `_create_refund` and friends by calling the platform through
    `_request` (or `_authorized`, which adds the credential) and raising TransientError /
    PermanentError; the public methods below turn those into results, so callers never see an
    exception for a platform answer. A subclass tells the transport about its platform with
    `_classify` (its business errors, from its mapping.py) and `transport_messages` (its
    wording of timeouts and the like); a platform with a token or a login session implements
    `_fetch_token` and `_attach_token`."""

    key: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    # webhook name (the last part of /<key>/webhooks/<name>) -> allowed HTTP methods
    webhook_endpoints: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # The platform signs nothing: the intake hands `parse_webhook` an `origin` (WebhookOrigin:
    # the URL's secret token, /<key>/<token>/webhooks/<name>, and the client's address).
    webhook_uses_origin: ClassVar[bool] = False
    # integrations.http code -> staff message template (see http.DEFAULT_MESSAGES).
    transport_messages: ClassVar[Mapping[str, str]] = {}
    # Renew the credential this many seconds before it expires, at most this share of its
    # lifetime (see TokenCache).
    token_renew_margin: ClassVar[float] = 30.0
    token_renew_share: ClassVar[float] = 1.0

    def __init__(self, account: AccountConfig, session: requests.Session | None = None):
        self.account = account
        self.session = session or build_session(account)
        self.tokens = TokenCache(
            self._fetch_token, margin=self.token_renew_margin, share=self.token_renew_share
        )

    # --- transport ----------------------------------------------------------------------------
    def _classify(self, response: requests.Response) -> MarketplaceError | None:
        """The platform's own reading of an answer (see integrations.http.Classifier)."""
        return None

    def _request(
        self, method: str, url: str, *, classify: Classifier | None = None, **kwargs: Any
    ) -> requests.Response:
        """One call through the transport (integrations.http.send): a success, or it raises."""
        return send(
            self.session,
            method,
            url,
            label=self.label,
            classify=classify or self._classify,
            messages=self.transport_messages,
            **kwargs,
        )

    def _fetch_token(self) -> Token:
        """Obtain a new credential from the platform (raise TransientError/PermanentError)."""
        raise NotImplementedError(f"{type(self).__name__} does not authenticate")

    def _attach_token(self, token: str, request: dict[str, Any]) -> dict[str, Any]:
        """`request` (keyword arguments for the session) carrying the credential."""
        raise NotImplementedError(f"{type(self).__name__} does not authenticate")

    def _authorized(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """A call with the credential; when the platform answers 401, renew the credential once
        and repeat the call (a second 401 is the platform's answer, classified as any other)."""
        token = self.tokens.get()
        response = self._request(
            method, url, unchecked=(401,), **self._attach_token(token, dict(kwargs))
        )
        if response.status_code != 401:
            return response
        token = self.tokens.get(refused=token)
        return self._request(method, url, **self._attach_token(token, dict(kwargs)))

    # Public API: each returns a Result and never raises for a platform's answer.
    def create_refund(self, refund: RefundData) -> Result:
        return self._wrap(self._create_refund, refund)

    def cancel_refund(self, refund: RefundData) -> Result:
        return self._wrap(self._cancel_refund, refund)

    def approve_return(self, refund: RefundData) -> Result:
        return self._wrap(self._approve_return, refund)

    def deny_refund(self, refund: RefundData) -> Result:
        return self._wrap(self._deny_refund, refund)

    def send_return_shipment(self, refund: RefundData) -> Result:
        return self._wrap(self._send_return_shipment, refund)

    def read_refund_status(self, refund: RefundData) -> Result:
        return self._wrap(self._read_refund_status, refund)

    def perform(self, kind: OutboundKind | str, refund: RefundData) -> Result:
        handler = {
            OutboundKind.CREATE_REFUND: self.create_refund,
            OutboundKind.CANCEL_REFUND: self.cancel_refund,
            OutboundKind.APPROVE_RETURN: self.approve_return,
            OutboundKind.DENY_REFUND: self.deny_refund,
            OutboundKind.SEND_RETURN_SHIPMENT: self.send_return_shipment,
            OutboundKind.READ_STATUS: self.read_refund_status,
        }[OutboundKind(kind)]
        return handler(refund)

    def list_refunds(self, *, since: dt.datetime | None = None) -> list[RemoteRefund]:
        """Refunds changed or created on the platform since `since`. Raises MarketplaceError."""
        return []

    def read_order(self, order_external_number: str) -> OrderData | None:
        """The order as the platform shows it, for an order a webhook or a polled refund names
        that Refund Desk does not have (it is then mirrored, refunds.delivery.mirror). None when
        the platform has no order API (this default) or does not know the order. Raises
        MarketplaceError when the platform could not be asked."""
        return None

    def webhooks_configured(self) -> bool:
        """Whether this account can verify inbound webhooks at all (the intake skips it
        otherwise): by default, when it has a webhook secret."""
        return bool(self.account.webhook_secret)

    def parse_webhook(
        self,
        *,
        name: str,
        method: str,
        headers: Mapping[str, str],
        body: bytes,
        verified: bool = False,
    ) -> WebhookMessage:
        """Verify (constant-time) and parse an inbound webhook; raise WebhookRejected.
        `verified=True` parses a stored event that was verified when it arrived (its stored
        headers are redacted, so its signature can no longer be checked): parse only.
        Adapters with `webhook_uses_origin` also take `origin: WebhookOrigin | None`."""
        raise WebhookRejected("This marketplace sends no webhooks", status=404)

    # Subclasses override these. By default an action the platform has no API for is done
    # for good with nothing to send (e.g. approving a return on a platform that never hears of
    # returns).
    def _create_refund(self, refund: RefundData) -> Result:
        raise NotImplementedError

    def _cancel_refund(self, refund: RefundData) -> Result:
        return Rejected(
            code="unsupported",
            message=f"{self.label} refunds cannot be cancelled once sent.",
        )

    def _approve_return(self, refund: RefundData) -> Result:
        return Confirmed(message=f"{self.label} is not told about approved returns.")

    def _deny_refund(self, refund: RefundData) -> Result:
        return Confirmed(message=f"{self.label} is not told about denied refunds.")

    def _send_return_shipment(self, refund: RefundData) -> Result:
        return Confirmed(message=f"{self.label} is not told about return shipments.")

    def _read_refund_status(self, refund: RefundData) -> Result:
        return Accepted(message="No status API; waiting for the platform's webhook.")

    def _wrap(self, call: Callable[[RefundData], Result], refund: RefundData) -> Result:
        try:
            return call(refund)
        except TransientError as exc:
            return FailedForNow(
                message=exc.message,
                retry_after=exc.retry_after,
                code=exc.code,
                raw=exc.raw,
                may_have_acted=may_have_acted(exc),
            )
        except PermanentError as exc:
            return Rejected(code=exc.code or "rejected", message=exc.message, raw=exc.raw)
