"""refunds.client_address: X-Forwarded-For is believed only as far as trusted proxies wrote it."""

import pytest
from django.test import RequestFactory

from refunds.client_address import client_address


def _request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        # No trusted proxies (the default): the connecting address, whatever the header says.
        ([], "203.0.113.7", "198.51.100.1", "203.0.113.7"),
        # A peer that is not trusted cannot choose its address.
        (["10.0.0.1"], "203.0.113.7", "198.51.100.1", "203.0.113.7"),
        # One trusted proxy: the address it saw connect.
        (["10.0.0.1"], "10.0.0.1", "198.51.100.1", "198.51.100.1"),
        # The client's own entries (left) are skipped: right to left, first untrusted wins.
        (["10.0.0.1"], "10.0.0.1", "1.2.3.4, 198.51.100.1", "198.51.100.1"),
        # Two trusted hops (a CIDR and an address), then the client.
        (["10.0.0.0/8", "192.0.2.10"], "10.1.2.3", "198.51.100.1, 192.0.2.10", "198.51.100.1"),
        # IPv6, and ports written by some proxies.
        (
            ["2001:db8::/32"],
            "2001:db8::1",
            "[2001:db8:ffff::5]:443, 203.0.113.9:5000",
            "203.0.113.9",
        ),
        # Every hop trusted: the left-most one.
        (["10.0.0.0/8"], "10.0.0.1", "10.0.0.2, 10.0.0.3", "10.0.0.2"),
        # A garbled entry: stop at the last address a trusted proxy vouched for.
        (["10.0.0.1"], "10.0.0.1", "198.51.100.1, not-an-ip", "10.0.0.1"),
        # A trusted proxy that sent no header.
        (["10.0.0.1"], "10.0.0.1", None, "10.0.0.1"),
    ],
)
def test_client_address(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_address(_request(remote, forwarded)) == expected


def test_no_request_or_address_is_unknown(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    assert client_address(None) == "unknown"
    assert client_address(_request("")) == "unknown"
