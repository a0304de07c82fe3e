"""The one transport (integrations.http): redaction and logging, Retry-After in both forms, the
mapping of every failure to TransientError / PermanentError with one set of codes, and the
credential cache with its single renewal on a 401 (integrations.base). A real HTTP server on
a local socket plays the platform."""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from integrations.base import (
    AccountConfig,
    Capabilities,
    FailedForNow,
    MarketplaceAdapter,
    PermanentError,
    RefundData,
    Rejected,
    ResultDelivery,
    Token,
    TokenCache,
    TransientError,
    may_have_acted,
    with_headers,
)
from integrations.http import (
    MarketplaceSession,
    never_reached,
    parse_retry_after,
    redact_body,
    redact_headers,
    redact_text,
    send,
)

# --- a platform on a local socket ---------------------------------------------------------


class Platform:
    """Answers by path: /ok, /status/<n> (JSON body, optional Retry-After from the query),
    /drop (reads the request, closes without answering), /hang (answers only when released),
    /loop (redirects to itself), /auth (200 for the token "good", else 401)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[dict[str, Any]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None):
                payload = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                platform.seen.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                path, _, query = self.path.partition("?")
                if path == "/ok":
                    return self._answer(200, {"ok": True})
                if path.startswith("/status/"):
                    status = int(path.rsplit("/", 1)[1])
                    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                    headers = {}
                    if "retry_after" in params:
                        headers["Retry-After"] = requests.utils.unquote(params["retry_after"])
                    if "text" in params:
                        return self._answer(status, b"<html>busy</html>", headers)
                    return self._answer(status, {"code": params.get("code", "")}, headers)
                if path == "/drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return None
                if path == "/hang":
                    platform.release.wait(10)
                    return self._answer(200, {"late": True})
                if path == "/loop":
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if path == "/auth":
                    if self.headers.get("X-Token") == "good":
                        return self._answer(200, {"ok": True})
                    return self._answer(401, {"code": "expired"})
                return self._answer(404, {"code": "nope"})

            do_GET = do_POST = _serve

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()


@pytest.fixture
def platform() -> Iterator[Platform]:
    platform = Platform()
    yield platform
    platform.release.set()
    platform.server.shutdown()


def session(read_timeout: float = 5.0) -> MarketplaceSession:
    return MarketplaceSession(account_name="Test shop", timeout=(2.0, read_timeout))


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raised(call) -> Exception:
    with pytest.raises((TransientError, PermanentError)) as info:
        call()
    return info.value


# --- redaction and logging ----------------------------------------------------------------


def test_headers_lose_credentials_and_keep_a_fingerprint_of_signatures():
    redacted = redact_headers(
        {
            "Authorization": "Bearer abc",
            "AuthorizationJWT": "Bearer x.y.z",
            "Access-Token": "tok",
            "Cookie": "JSESSIONID=1",
            "X-Shoplazza-Hmac-Sha256": "c2lnbmF0dXJl",
            "Content-Type": "application/json",
        }
    )

    assert redacted == {
        "Authorization": "***",
        "AuthorizationJWT": "***",
        "Access-Token": "***",
        "Cookie": "***",
        "X-Shoplazza-Hmac-Sha256": "*** (sha256 5b46b2821536)",
        "Content-Type": "application/json",
    }


def test_bodies_lose_secret_values_whole_in_json_and_forms():
    assert redact_text('{"client_secret": "s3\\"cr", "amount": 5, "access_token": "t"}') == (
        '{"client_secret": "***", "amount": 5, "access_token": "***"}'
    )
    assert redact_text("username=demo&password=hunter2&x=1") == "username=demo&password=***&x=1"
    assert redact_body(b'{"note": "' + b"a" * 3000 + b'"}') == '{"note": "' + "a" * 1990
    assert redact_body(None) == ""


def test_every_call_is_logged_as_json_with_secrets_redacted(platform, caplog):
    caplog.set_level(logging.INFO, logger="integrations.http")

    send(
        session(),
        "POST",
        f"{platform.url}/ok",
        label="Test shop",
        json={"password": "hunter2", "amount": "5.00"},
        headers={"Authorization": "Bearer secret-token"},
    )

    (record,) = [r for r in caplog.records if r.name == "integrations.http"]
    entry = json.loads(record.getMessage())
    assert entry["account"] == "Test shop"
    assert (entry["method"], entry["url"], entry["status"]) == ("POST", f"{platform.url}/ok", 200)
    assert entry["request_headers"]["Authorization"] == "***"
    assert entry["request_body"] == '{"password": "***", "amount": "5.00"}'
    assert entry["response_body"] == '{"ok": true}'
    assert "hunter2" not in record.getMessage()
    assert "secret-token" not in record.getMessage()


def test_a_call_that_fails_is_logged_with_the_error_name(caplog):
    caplog.set_level(logging.INFO, logger="integrations.http")
    url = f"http://127.0.0.1:{closed_port()}/x"

    raised(lambda: send(session(), "GET", url, label="Test shop"))

    (record,) = [r for r in caplog.records if r.name == "integrations.http"]
    assert record.levelno == logging.WARNING
    entry = json.loads(record.getMessage())
    assert (entry["account"], entry["url"], entry["error"]) == ("Test shop", url, "ConnectionError")


# --- Retry-After ----------------------------------------------------------------------------

NOW = dt.datetime(2026, 12, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("Tue, 01 Dec 2026 12:00:30 GMT", 30.0),  # an HTTP date, 30 s ahead
        ("Tuesday, 01-Dec-26 12:01:00 GMT", 60.0),  # the obsolete RFC 850 form
        ("Tue Dec  1 12:00:05 2026", 5.0),  # asctime, read as GMT
        ("Tue, 01 Dec 2026 11:00:00 GMT", 0.0),  # already past: go now
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value, seconds):
    assert parse_retry_after(value, now=NOW) == seconds


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "nan", "inf", "12 seconds", "Tue, 99"])
def test_retry_after_that_cannot_be_read_is_none(value):
    assert parse_retry_after(value, now=NOW) is None


# --- error mapping: no answer ---------------------------------------------------------------


def test_read_timeout_is_transient_and_may_have_acted(platform):
    error = raised(lambda: send(session(0.2), "GET", f"{platform.url}/hang", label="Test shop"))
    platform.release.set()

    assert isinstance(error, TransientError)
    assert (error.code, error.message) == (
        "timeout",
        "Test shop did not answer in time; the call will be retried.",
    )
    assert error.may_have_acted is True
    assert isinstance(error.__cause__, requests.ReadTimeout)


def test_connection_refused_is_transient_and_never_reached_the_platform():
    url = f"http://127.0.0.1:{closed_port()}/x"

    error = raised(lambda: send(session(), "POST", url, label="Test shop"))

    assert isinstance(error, TransientError)
    assert (error.code, error.message) == (
        "connection",
        "Could not reach Test shop (connection failed); the call will be retried.",
    )
    assert error.may_have_acted is False
    assert may_have_acted(error) is False


def test_connection_dropped_after_sending_may_have_acted(platform):
    error = raised(lambda: send(session(), "POST", f"{platform.url}/drop", label="Test shop"))

    assert isinstance(error, TransientError)
    assert error.code == "connection"
    assert error.may_have_acted is True
    assert [call["path"] for call in platform.seen] == ["/drop"]


def test_other_request_failures_are_transient_never_escaping(platform):
    looping = session()
    looping.max_redirects = 3

    redirected = raised(lambda: send(looping, "GET", f"{platform.url}/loop", label="Test shop"))
    unbuildable = raised(lambda: send(session(), "GET", "http://", label="Test shop"))

    assert isinstance(redirected, TransientError)
    assert (redirected.code, redirected.message) == (
        "request",
        "Calling Test shop failed (TooManyRedirects); the call will be retried.",
    )
    assert redirected.may_have_acted is True  # requests went out
    assert isinstance(unbuildable, TransientError)
    assert (unbuildable.code, unbuildable.may_have_acted) == ("request", False)


def test_a_vendor_words_the_failures_its_own_way(platform):
    messages = {"timeout": "{label} was too slow ({error})."}

    error = raised(
        lambda: send(
            session(0.2), "GET", f"{platform.url}/hang", label="Test shop", messages=messages
        )
    )
    platform.release.set()

    assert (error.code, error.message) == ("timeout", "Test shop was too slow (ReadTimeout).")


def test_which_requests_exceptions_prove_the_platform_never_saw_the_call():
    assert never_reached(requests.ConnectTimeout("connect timed out")) is True
    refused = requests.ConnectionError("NewConnectionError: Connection refused")
    assert never_reached(refused) is True
    assert never_reached(requests.exceptions.MissingSchema("no scheme")) is True
    assert never_reached(requests.ReadTimeout("read timed out")) is False
    dropped = requests.ConnectionError("('Connection aborted.', RemoteDisconnected())")
    assert never_reached(dropped) is False
    assert never_reached(requests.exceptions.ChunkedEncodingError("cut")) is False


# --- error mapping: answers -----------------------------------------------------------------


def test_429_is_rate_limited_with_retry_after_in_seconds(platform):
    url = f"{platform.url}/status/429?retry_after=7"

    error = raised(lambda: send(session(), "POST", url, label="Test shop"))

    assert isinstance(error, TransientError)
    assert (error.code, error.retry_after, error.may_have_acted) == ("rate_limited", 7.0, False)
    assert error.message == (
        "Test shop is rate limiting Refund Desk (HTTP 429); the call will be retried."
    )
    assert error.raw == {"code": ""}


def test_429_with_an_http_date_waits_until_that_date(platform):
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    date = requests.utils.quote(when.strftime("%a, %d %b %Y %H:%M:%S GMT"))

    error = raised(
        lambda: send(
            session(), "POST", f"{platform.url}/status/429?retry_after={date}", label="Test shop"
        )
    )

    assert error.code == "rate_limited"
    assert 110 < error.retry_after <= 120


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_a_server_error_that_may_have_acted(platform, status):
    error = raised(
        lambda: send(session(), "POST", f"{platform.url}/status/{status}", label="Test shop")
    )

    assert isinstance(error, TransientError)
    assert (error.code, error.may_have_acted, error.retry_after) == ("server_error", True, None)
    assert error.message == (
        f"Test shop had a server error (HTTP {status}); the call will be retried."
    )


def test_503_with_retry_after_and_a_body_that_is_not_json(platform):
    url = f"{platform.url}/status/503?retry_after=30&text=1"

    error = raised(lambda: send(session(), "GET", url, label="Test shop"))

    assert (error.code, error.retry_after) == ("server_error", 30.0)
    assert error.raw == {"status": 503, "text": "<html>busy</html>"}


def test_other_4xx_nobody_classified_is_refused_for_good(platform):
    error = raised(lambda: send(session(), "GET", f"{platform.url}/status/418", label="Test shop"))

    assert isinstance(error, PermanentError)
    assert (error.code, error.message) == ("http_418", "Test shop refused the call (HTTP 418).")


def test_success_is_returned(platform):
    response = send(session(), "GET", f"{platform.url}/ok", label="Test shop")

    assert (response.status_code, response.json()) == (200, {"ok": True})


def _business(response: requests.Response):
    """A vendor's classifier: its code "refused" is a refusal even on a 500, "slow" a transient
    error of its own; anything else is left to the transport."""
    code = response.json().get("code") if response.content else ""
    if code == "refused":
        return PermanentError("The vendor refuses: business rule.", code="vendor_refused")
    if code == "slow":
        return TransientError("The vendor asks to wait.", code="vendor_slow")
    return None


def test_the_vendor_classifies_business_errors_before_the_transport(platform):
    refused = raised(
        lambda: send(
            session(),
            "POST",
            f"{platform.url}/status/500?code=refused",
            label="Test shop",
            classify=_business,
        )
    )
    unclaimed = raised(
        lambda: send(
            session(), "POST", f"{platform.url}/status/500", label="Test shop", classify=_business
        )
    )

    assert isinstance(refused, PermanentError)
    assert (refused.code, refused.message) == (
        "vendor_refused",
        "The vendor refuses: business rule.",
    )
    assert isinstance(unclaimed, TransientError)
    assert unclaimed.code == "server_error"


def test_a_vendor_transient_error_gets_retry_after_and_whether_the_platform_acted(platform):
    limited = raised(
        lambda: send(
            session(),
            "POST",
            f"{platform.url}/status/429?code=slow&retry_after=4",
            label="Test shop",
            classify=_business,
        )
    )
    failed = raised(
        lambda: send(
            session(),
            "POST",
            f"{platform.url}/status/409?code=slow",
            label="Test shop",
            classify=_business,
        )
    )

    assert (limited.code, limited.retry_after, limited.may_have_acted) == (
        "vendor_slow",
        4.0,
        False,
    )
    assert (failed.code, failed.retry_after, failed.may_have_acted) == ("vendor_slow", None, True)


def test_unchecked_statuses_are_returned_to_the_caller(platform):
    response = send(
        session(), "GET", f"{platform.url}/status/401", label="Test shop", unchecked=(401,)
    )

    assert response.status_code == 401


def test_our_own_rate_limiter_wait_passes_through_unchanged():
    """A session whose request raises TransientError itself (refunds.delivery.ratelimit's wait
    for a request slot) is not re-mapped."""
    waiting = session()
    wait = TransientError("over its rate limit", code="rate_limited", retry_after=0.5)

    def request(*args, **kwargs):
        raise wait

    waiting.request = request  # type: ignore[method-assign]

    assert raised(lambda: send(waiting, "GET", "http://127.0.0.1:1/x", label="Test shop")) is wait
    assert may_have_acted(wait) is False


# --- the credential cache -------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    def __init__(self, expires_in: float | None) -> None:
        self.expires_in = expires_in
        self.issued = 0

    def __call__(self) -> Token:
        self.issued += 1
        return Token(f"t{self.issued}", expires_in=self.expires_in)


def test_a_token_is_fetched_once_and_renewed_a_margin_before_it_expires():
    clock, issuer = Clock(), Issuer(expires_in=600)
    cache = TokenCache(issuer, margin=60, share=0.1, clock=clock)

    assert [cache.get(), cache.get()] == ["t1", "t1"]
    clock.now += 539
    assert cache.get() == "t1"
    clock.now += 1  # 540 s: 60 s before its expiry
    assert cache.get() == "t2"
    assert issuer.issued == 2


def test_the_margin_is_at_most_a_share_of_a_short_lifetime():
    clock, issuer = Clock(), Issuer(expires_in=10)
    cache = TokenCache(issuer, margin=30, share=0.25, clock=clock)

    assert cache.get() == "t1"
    clock.now += 7.4
    assert cache.get() == "t1"
    clock.now += 0.1  # 7.5 s: a quarter of 10 s before its expiry
    assert cache.get() == "t2"


def test_a_token_shorter_than_a_flat_margin_is_renewed_at_every_use():
    clock, issuer = Clock(), Issuer(expires_in=10)
    cache = TokenCache(issuer, margin=30, share=1.0, clock=clock)

    assert [cache.get(), cache.get()] == ["t1", "t2"]


def test_a_token_without_a_lifetime_is_kept_until_refused():
    clock, issuer = Clock(), Issuer(expires_in=None)
    cache = TokenCache(issuer, clock=clock)

    assert cache.get() == "t1"
    clock.now += 10**8
    assert cache.get() == "t1"
    assert cache.get(refused="t1") == "t2"
    assert issuer.issued == 2


def test_a_token_another_thread_already_renewed_is_not_renewed_again():
    issuer = Issuer(expires_in=None)
    cache = TokenCache(issuer, clock=Clock())
    stale = cache.get()
    assert cache.get(refused=stale) == "t2"  # the first thread to see the 401 renews

    assert cache.get(refused=stale) == "t2"  # the second finds the new one
    assert issuer.issued == 2


def test_threads_share_one_fetch():
    release = threading.Event()
    issued = []

    def slow_issuer() -> Token:
        issued.append(1)
        release.wait(5)
        return Token("shared", expires_in=None)

    cache = TokenCache(slow_issuer)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get())) for _ in range(5)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(5)

    assert results == ["shared"] * 5
    assert issued == [1]


# --- renewal on 401, in the adapter base ----------------------------------------------------


class ExampleAdapter(MarketplaceAdapter):
    """A platform whose token goes in X-Token; its issuer hands out the tokens given."""

    key = "example"
    label = "Example shop"
    capabilities = Capabilities(
        partial_refund_by_line=False,
        partial_amount_refund=True,
        shipping_refund=False,
        additional_charges_refund=False,
        multiple_payments=False,
        cancel_after_creation=False,
        return_shipment=False,
        result_delivery=ResultDelivery.IMMEDIATE,
    )

    def __init__(self, account, tokens: list[str]):
        self.to_issue = list(tokens)
        self.fetched = 0
        super().__init__(account, session=session())

    def _fetch_token(self) -> Token:
        self.fetched += 1
        return Token(self.to_issue.pop(0), expires_in=None)

    def _attach_token(self, token: str, request: dict[str, Any]) -> dict[str, Any]:
        return with_headers(request, {"X-Token": token})

    def _create_refund(self, refund: RefundData):
        self._authorized("POST", f"{self.account.base_url}/auth")
        raise AssertionError("unreachable in these tests")


def _example(platform, tokens) -> ExampleAdapter:
    config = AccountConfig(
        account_id=1, adapter_key="example", name="Example", base_url=platform.url, credentials={}
    )
    return ExampleAdapter(config, tokens)


def test_a_401_renews_the_token_once_and_repeats_the_call(platform):
    adapter = _example(platform, ["stale", "good"])

    response = adapter._authorized("POST", f"{platform.url}/auth", json={"n": 1})
    again = adapter._authorized("POST", f"{platform.url}/auth", json={"n": 2})

    assert (response.status_code, again.status_code) == (200, 200)
    assert adapter.fetched == 2
    assert [(c["headers"]["X-Token"], c["body"]) for c in platform.seen] == [
        ("stale", b'{"n": 1}'),
        ("good", b'{"n": 1}'),
        ("good", b'{"n": 2}'),
    ]


def test_a_second_401_is_the_platforms_answer_never_a_loop(platform):
    adapter = _example(platform, ["stale", "also-stale", "never-asked"])

    error = raised(lambda: adapter._authorized("POST", f"{platform.url}/auth"))

    assert isinstance(error, PermanentError)
    assert (error.code, error.raw) == ("http_401", {"code": "expired"})
    assert adapter.fetched == 2
    assert len(platform.seen) == 2


def test_the_public_methods_turn_transport_errors_into_results(platform):
    adapter = _example(platform, ["stale", "also-stale"])
    refund = RefundData(
        refund_id=1,
        idempotency_key="RD1-create-refund-1",
        order_external_number="1",
        currency="USD",
        total=1,
        lines_amount=1,
        shipping_amount=0,
        additional_amount=0,
        reason_code="other",
        customer_explanation="",
        refund_only=True,
        requested_at=NOW,
    )

    refused = adapter.create_refund(refund)
    platform.server.shutdown()
    platform.server.server_close()
    unreachable = _example(platform, ["good"]).create_refund(refund)

    assert refused == Rejected(
        code="http_401",
        message="Example shop refused the call (HTTP 401).",
        raw={"code": "expired"},
    )
    assert unreachable == FailedForNow(
        message="Could not reach Example shop (connection failed); the call will be retried.",
        code="connection",
        may_have_acted=False,
    )
