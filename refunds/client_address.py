"""The address of the person behind a request, for the sign-in lockout, the password-reset
limit and the API throttle. Behind a reverse proxy every request connects from the proxy, so
X-Forwarded-For is read, but only as far as it was written by a proxy we trust: from the right,
skipping the addresses in TRUSTED_PROXIES, the first one left is the client. Anything further
left was sent by the client itself and could be anything, so it is never used."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_networks() -> tuple[Network, ...]:
    """TRUSTED_PROXIES (IPs or CIDRs) as networks; a bad entry raises ValueError (the settings
    check reports it at start-up)."""
    return _networks(tuple(settings.TRUSTED_PROXIES))


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:443"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _is_trusted(address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_address(request) -> str:
    """The client's IP address as a string ("unknown" without a request or address)."""
    if request is None:
        return "unknown"
    remote = request.META.get("REMOTE_ADDR", "") or ""
    networks = trusted_networks()
    current = _parse(remote)
    if current is None or not networks or not _is_trusted(current, networks):
        return remote or "unknown"
    hops = [
        hop
        for header in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if (hop := header.strip())
    ]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:  # a garbled entry: stop at the last address we could trust
            break
        current = address
        if not _is_trusted(address, networks):
            break
    return str(current)
