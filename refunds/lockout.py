"""Sign-in lockout: after repeated failed sign-ins an account, or an address, is refused for a
while, whichever door it knocks on (portal sign-in, admin). Enforced in the authentication
backend so no login form can skip it; counters live in the cache (set CACHE_URL to share them
between processes)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login-failures:{kind}:{digest}"


def client_address(request) -> str:
    return (request.META.get("REMOTE_ADDR", "") if request is not None else "") or "unknown"


def _limits(request, username: str) -> list[tuple[str, int]]:
    return [
        (_key("account", username), settings.LOGIN_LOCKOUT_ATTEMPTS),
        (_key("address", client_address(request)), settings.LOGIN_LOCKOUT_ADDRESS_ATTEMPTS),
    ]


def is_locked_out(request, username: str) -> bool:
    return any(cache.get(key, 0) >= limit for key, limit in _limits(request, username or ""))


def record_failure(request, username: str) -> None:
    for key, _ in _limits(request, username or ""):
        cache.add(key, 0, settings.LOGIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def clear_account(username: str) -> None:
    cache.delete(_key("account", username or ""))


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
