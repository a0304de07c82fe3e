"""The one way to build a requests.Session for a marketplace account: connect and read timeouts
on every call, and a JSON log line per call with secrets redacted."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import urllib.request
from typing import TYPE_CHECKING

import requests
from django.conf import settings

if TYPE_CHECKING:
    from .base import AccountConfig

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


def redact_headers(headers) -> dict[str, str]:
    """Headers with credentials replaced and signatures reduced to a fingerprint: what our
    outbound logs show and what is stored of an inbound webhook."""
    return {k: redact_header(k, v) for k, v in dict(headers).items()}


def redact_text(text: str) -> str:
    """A JSON or form body with the values of secret-looking keys replaced, whole (no cut):
    what is stored of an inbound webhook."""
    text = SECRET_KEYS.sub(rf'\1"{REDACTED}"', text)
    return SECRET_FORM_FIELDS.sub(rf"\1{REDACTED}", text)


def redact_body(body) -> str:
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

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.default_timeout)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self.default_timeout
        started = time.monotonic()
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:
            entry = {"account": self.account_name, "method": method, "url": url}
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


def build_session(account: AccountConfig) -> MarketplaceSession:
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
