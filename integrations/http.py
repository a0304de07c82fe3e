"""The one transport for marketplace calls.

- `build_session`: the one way to build a requests.Session for a marketplace account: connect
  and read timeouts on every call, and a JSON log line per call with secrets redacted.
- `send`: one call through that session. Whatever goes wrong on the wire ends as a
  TransientError with one of the codes below (no `requests` exception escapes); an answer is
  first shown to the vendor's classifier (its business errors, from its mapping.py), and only
  then are 429 and 5xx turned into TransientError, with Retry-After parsed (`parse_retry_after`:
  seconds or an HTTP date).

Every TransientError raised here says whether the platform may have acted (`may_have_acted`):
not when the connection was never made, the request could not even be built, or the platform
turned it away unread (429); otherwise (read timeouts, dropped connections, 5xx) it may have.

This module imports only `integrations.errors` of ours (never `integrations.base`), so the
adapter base can build on it without a file circle.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import math
import os
import re
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

import requests
import urllib3.exceptions
from django.conf import settings

from .errors import MarketplaceError, PermanentError, TransientError

logger = logging.getLogger("integrations.http")

# Header names that carry a credential (Authorization, cookies, a vendor's token or key)...
SECRET_HEADER_NAMES = re.compile(r"auth|token|secret|passw|api[-_]?key|cookie|session", re.I)
# ...and those that carry a signature: kept as a fingerprint, enough to compare two deliveries,
# useless to replay or forge one.
SIGNATURE_HEADER_NAMES = re.compile(r"signature|hmac", re.I)
_CREDENTIAL_KEY_PATTERN = r"[^\"]*(?:password|secret|token|api_?key|authorization|credential)[^\"]*"
SECRET_KEYS = re.compile(
    rf'("{_CREDENTIAL_KEY_PATTERN}"\s*:\s*)"[^"\\]*(?:\\.[^"\\]*)*"',
    re.IGNORECASE,
)
SECRET_FORM_FIELDS = re.compile(
    r"((?:^|[&?])[^=&\s\"]*(?:password|secret|token|api_?key)[^=&\s\"]*=)[^&\s\"'\\]*",
    re.IGNORECASE,
)
REDACTED = "***"


def fingerprint(value: str) -> str:
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{REDACTED} (sha256 {digest[:12]})"


def redact_header(name: str, value: str) -> str:
    if SECRET_HEADER_NAMES.search(name):
        return REDACTED
    if SIGNATURE_HEADER_NAMES.search(name):
        return fingerprint(str(value))
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials replaced and signatures reduced to a fingerprint: what our
    outbound logs show and what is stored of an inbound webhook."""
    return {k: redact_header(k, v) for k, v in dict(headers).items()}


def redact_text(text: str) -> str:
    """A JSON or form body with the values of secret-looking keys replaced, whole (no cut):
    what is stored of an inbound webhook."""
    text = SECRET_KEYS.sub(rf'\1"{REDACTED}"', text)
    return SECRET_FORM_FIELDS.sub(rf"\1{REDACTED}", text)


def redact_body(body: str | bytes | None) -> str:
    """The first 2000 characters of a body, redacted: what our outbound logs show."""
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return redact_text(str(body)[:2000])


class MarketplaceSession(requests.Session):
    """A session that never calls without a timeout and logs every call."""

    def __init__(self, *, account_name: str, timeout: tuple[float, float]):
        super().__init__()
        self.account_name = account_name
        self.default_timeout = timeout

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.default_timeout)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self.default_timeout
        started = time.monotonic()
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            entry: dict[str, Any] = {"account": self.account_name, "method": method, "url": url}
            entry.update(error=type(exc).__name__, ms=round((time.monotonic() - started) * 1000))
            logger.warning(json.dumps(entry))
            raise
        if logger.isEnabledFor(logging.INFO):  # redacting and encoding cost: only when kept
            entry = {"account": self.account_name, "method": method, "url": url}
            entry.update(
                status=response.status_code,
                ms=round((time.monotonic() - started) * 1000),
                request_headers=redact_headers(response.request.headers),
                request_body=redact_body(response.request.body),
                response_body=redact_body(response.content[:2000]),
            )
            logger.info(json.dumps(entry))
        return response


def _environment_ca_bundle() -> str | None:
    """The CA bundle requests would take from the environment on each call."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None


def _environment_has_proxies_or_netrc() -> bool:
    """Whether requests would find proxy variables or a .netrc file in the environment."""
    if urllib.request.getproxies():
        return True
    netrc = os.environ.get("NETRC")
    locations = (netrc,) if netrc is not None else ("~/.netrc", "~/_netrc")
    return any(os.path.exists(os.path.expanduser(loc)) for loc in locations)


class _NamedAccount(Protocol):
    """What the session needs of an account (an `integrations.base.AccountConfig`)."""

    @property
    def name(self) -> str: ...


def build_session(account: _NamedAccount) -> MarketplaceSession:
    session = MarketplaceSession(
        account_name=account.name,
        timeout=(settings.MARKETPLACE_CONNECT_TIMEOUT, settings.MARKETPLACE_READ_TIMEOUT),
    )
    session.headers["User-Agent"] = "RefundDesk/1.0"
    # With trust_env, requests reads the proxy and CA bundle variables and looks for a .netrc
    # file on every call (about 0.4 ms of CPU each). When there are no proxies and no .netrc at
    # build time (adapters are rebuilt at least every ADAPTER_MAX_AGE), the only setting it can
    # find is the CA bundle: set it on the session once (as requests would per call) and skip
    # the rest.
    if not _environment_has_proxies_or_netrc():
        session.trust_env = False
        bundle = _environment_ca_bundle()
        if bundle:
            session.verify = bundle
    return session


# --- Retry-After ------------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Retry-After as seconds to wait (RFC 9110 section 10.2.3): a number of seconds, or an
    HTTP date (a date already past is 0). None when absent or unreadable (negative, NaN,
    infinite, garbage). `now` is the clock for dates (the current time by default)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover (Python < 3.10 returned None)
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - (now or dt.datetime.now(dt.UTC))).total_seconds(), 0.0)


# --- sending and error mapping ----------------------------------------------------------------

# The codes of the errors this transport raises, the same for every marketplace.
TIMEOUT = "timeout"  # no answer in time (connect or read)
CONNECTION = "connection"  # the connection failed or was dropped
REQUEST = "request"  # any other failure of requests (bad URL, broken body encoding...)
RATE_LIMITED = "rate_limited"  # HTTP 429
SERVER_ERROR = "server_error"  # HTTP 5xx the vendor's classifier did not claim

# Staff messages, by code. A vendor may word them its own way (`transport_messages` on its
# adapter, from its mapping.py). Fields: {label} the marketplace, {status} the HTTP status,
# {error} the name of the requests exception.
DEFAULT_MESSAGES: Mapping[str, str] = {
    TIMEOUT: "{label} did not answer in time; the call will be retried.",
    CONNECTION: "Could not reach {label} (connection failed); the call will be retried.",
    REQUEST: "Calling {label} failed ({error}); the call will be retried.",
    RATE_LIMITED: "{label} is rate limiting Refund Desk (HTTP 429); the call will be retried.",
    SERVER_ERROR: "{label} had a server error (HTTP {status}); the call will be retried.",
    "refused": "{label} refused the call (HTTP {status}).",
}

# A vendor's classifier: the error its documentation gives this answer (a business refusal, an
# expired token, a failure hidden in a 200), or None to leave the answer to the transport (a
# success, or a 429 / 5xx / other 4xx it has nothing to say about).
Classifier = Callable[[requests.Response], MarketplaceError | None]

# Raised by requests before anything was sent: the platform cannot have acted.
_BEFORE_SENDING: tuple[type[Exception], ...] = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
    requests.exceptions.InvalidJSONError,
)


def never_reached(exc: BaseException) -> bool:
    """Whether a requests exception proves the request never reached the platform: the
    connection was never made (connect timeout, refused, name not resolved) or the request could
    not be built. A read timeout or a connection dropped after sending may have reached it."""
    if isinstance(exc, (requests.ConnectTimeout, *_BEFORE_SENDING)):
        return True
    if isinstance(exc, requests.ReadTimeout) or not isinstance(exc, requests.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, urllib3.exceptions.MaxRetryError):
        reason = reason.reason
    if isinstance(reason, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


def _message(messages: Mapping[str, str], code: str, **fields: Any) -> str:
    template = messages.get(code) or DEFAULT_MESSAGES[code]
    return template.format(**fields)


def _raw(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object, else its status and the start of its text (redacted)."""
    try:
        body = json.loads(response.content or b"null")
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        return body
    return {"status": response.status_code, "text": redact_body(response.content[:500])}


def transport_error(
    exc: requests.RequestException, *, label: str, messages: Mapping[str, str] = DEFAULT_MESSAGES
) -> TransientError:
    """The TransientError for a call that got no answer."""
    if isinstance(exc, requests.Timeout):
        code = TIMEOUT
    elif isinstance(exc, requests.ConnectionError):
        code = CONNECTION
    else:
        code = REQUEST
    return TransientError(
        _message(messages, code, label=label, error=type(exc).__name__, status=""),
        code=code,
        may_have_acted=not never_reached(exc),
    )


def check(
    response: requests.Response,
    *,
    label: str,
    classify: Classifier | None = None,
    messages: Mapping[str, str] = DEFAULT_MESSAGES,
) -> requests.Response:
    """Return the response when it is a success; else raise what it means: the vendor's error
    first, then 429 (rate_limited), 5xx (server_error) and other 4xx (`http_<status>`)."""
    status = response.status_code
    error = classify(response) if classify is not None else None
    if isinstance(error, TransientError):
        if error.retry_after is None:
            error.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if error.may_have_acted is None:
            error.may_have_acted = status != 429
    if error is not None:
        raise error
    if status == 429:
        raise TransientError(
            _message(messages, RATE_LIMITED, label=label, status=status, error=""),
            code=RATE_LIMITED,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            may_have_acted=False,
            raw=_raw(response),
        )
    if status >= 500:
        raise TransientError(
            _message(messages, SERVER_ERROR, label=label, status=status, error=""),
            code=SERVER_ERROR,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            may_have_acted=True,
            raw=_raw(response),
        )
    if status >= 400:
        raise PermanentError(
            _message(messages, "refused", label=label, status=status, error=""),
            code=f"http_{status}",
            raw=_raw(response),
        )
    return response


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    label: str,
    classify: Classifier | None = None,
    messages: Mapping[str, str] = DEFAULT_MESSAGES,
    unchecked: Collection[int] = (),
    **kwargs: Any,
) -> requests.Response:
    """One call: the response when it is a success (or its status is in `unchecked`, e.g. a
    401 the caller answers by renewing its token), else raise TransientError / PermanentError
    (see `check`). `kwargs` go to `session.request`."""
    try:
        response = session.request(method, url, **kwargs)
    except requests.RequestException as exc:
        raise transport_error(exc, label=label, messages=messages) from exc
    if response.status_code in unchecked:
        return response
    return check(response, label=label, classify=classify, messages=messages)
