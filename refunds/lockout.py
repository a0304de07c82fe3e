"""Sign-in lockout: after repeated failed sign-ins an account, or an address, is refused for a
while, whichever door it knocks on (portal sign-in, admin). Enforced in the authentication
backend so no login form can skip it. Password-reset requests are limited the same way, per
e-mail address and per client address. Counters live in the cache (set CACHE_URL to share them
between processes); addresses come from refunds.client_address (TRUSTED_PROXIES)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from .client_address import client_address


def _key(kind: str, value: str, prefix: str = "login-failures") -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"{prefix}:{kind}:{digest}"


def _limits(request, username: str) -> list[tuple[str, int]]:
    return [
        (_key("account", username), settings.LOGIN_LOCKOUT_ATTEMPTS),
        (_key("address", client_address(request)), settings.LOGIN_LOCKOUT_ADDRESS_ATTEMPTS),
    ]


def is_locked_out(request, username: str) -> bool:
    return any(cache.get(key, 0) >= limit for key, limit in _limits(request, username or ""))


def record_failure(request, username: str) -> None:
    for key, _ in _limits(request, username or ""):
        _count(key, settings.LOGIN_LOCKOUT_SECONDS)


def clear_account(username: str) -> None:
    cache.delete(_key("account", username or ""))


def _count(key: str, seconds: int) -> int:
    """Add one to a counter that lives `seconds` from its first hit; the new value."""
    cache.add(key, 0, seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds)
        return 1


def password_reset_refusal(request, email: str) -> str:
    """Count a password-reset request per e-mail address and per client address; why no e-mail
    may be sent for it ("" when one may). Every request counts, sent or not, so that hammering
    one address from many clients, or many addresses from one client, stays limited."""
    seconds = settings.PASSWORD_RESET_WINDOW_SECONDS
    address = client_address(request)
    per_email = _count(_key("email", email or "", "password-resets"), seconds)
    per_address = _count(_key("address", address, "password-resets"), seconds)
    if per_email > settings.PASSWORD_RESET_EMAIL_LIMIT:
        return f"{per_email} requests for this e-mail address in {seconds} s"
    if per_address > settings.PASSWORD_RESET_ADDRESS_LIMIT:
        return f"{per_address} requests from {address} in {seconds} s"
    return ""


class LockoutModelBackend(ModelBackend):
    """ModelBackend that refuses locked-out accounts and addresses and counts failures."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field(), "")
        if is_locked_out(request, username or ""):
            raise PermissionDenied("Too many failed sign-ins")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            if username and password is not None:
                record_failure(request, username)
        else:
            clear_account(username)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
