"""Sign-in lockout and password-reset limits.

Sign-ins: django-axes (AxesStandaloneBackend + AxesMiddleware, settings AXES_* in
config/settings/base.py) with this module's handler, which keeps our two limits: after
LOGIN_LOCKOUT_ATTEMPTS failed sign-ins an account, and after LOGIN_LOCKOUT_ADDRESS_ATTEMPTS a
client address, is refused for LOGIN_LOCKOUT_SECONDS, whichever door it knocks on (portal
sign-in, admin). Axes alone has one limit for both. Password-reset requests are limited here,
per e-mail address and per client address. Counters live in the cache (CACHE_URL, required in
production, shares them between processes); addresses come from refunds.client_address
(TRUSTED_PROXIES)."""

from __future__ import annotations

import datetime as dt
import hashlib

from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_client_ip_address, get_client_username, make_cache_key_list
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

from .client_address import client_address

LOCKED_OUT_MESSAGE = "Too many failed sign-ins"


def _key(kind: str, value: str, prefix: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"{prefix}:{kind}:{digest}"


# --- sign-in (django-axes) ---------------------------------------------------------------------


def sign_in_username(request, credentials) -> str | None:
    """AXES_USERNAME_CALLABLE: the account a sign-in names, case and spaces ignored (e-mail
    addresses are usernames: ALICE@example.com is alice@example.com)."""
    field = str(settings.AXES_USERNAME_FORM_FIELD)
    value = (credentials or {}).get(field)
    if value is None and request is not None:
        value = request.POST.get(field)
    value = (value or "").strip().lower()
    return value or None


def account_failure_limit(request, credentials) -> int:
    """AXES_FAILURE_LIMIT (read when called, so LOGIN_LOCKOUT_ATTEMPTS may change at run time)."""
    return settings.LOGIN_LOCKOUT_ATTEMPTS


def cool_off(request) -> dt.timedelta:
    """AXES_COOLOFF_TIME: LOGIN_LOCKOUT_SECONDS after the last counted failure."""
    return dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)


def lockout_response(request, original_response, credentials):
    """AXES_LOCKOUT_CALLABLE: the sign-in page as the view rendered it (the portal form says
    "Too many failed sign-ins", the admin form refuses), not Axes' own page."""
    if original_response is not None:
        return original_response
    return HttpResponse(LOCKED_OUT_MESSAGE, status=429, content_type="text/plain")


class SignInLockoutHandler(AxesCacheHandler):
    """Axes' cache handler with a limit per account and another per address (Axes compares the
    larger of the two counts with one limit). A success clears the account's count only: one
    good password must not reset the count of an address trying many accounts."""

    @staticmethod
    def _keys(request, credentials) -> tuple[str | None, str]:
        username = get_client_username(request, credentials)
        address = get_client_ip_address(request) or "unknown"
        (address_key,) = make_cache_key_list([{"ip_address": address}])
        if not username:
            return None, address_key
        (account_key,) = make_cache_key_list([{"username": username}])
        return account_key, address_key

    def get_failures(self, request, credentials=None) -> int:
        account_key, address_key = self._keys(request, credentials)
        account = self.cache.get(account_key, 0) if account_key else 0
        return max(account, self.cache.get(address_key, 0))

    def is_locked(self, request, credentials=None) -> bool:
        account_key, address_key = self._keys(request, credentials)
        if account_key and self.cache.get(account_key, 0) >= settings.LOGIN_LOCKOUT_ATTEMPTS:
            return True
        return self.cache.get(address_key, 0) >= settings.LOGIN_LOCKOUT_ADDRESS_ATTEMPTS

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        account_key, _ = self._keys(
            request, {str(settings.AXES_USERNAME_FORM_FIELD): user.get_username()}
        )
        if account_key:
            self.cache.delete(account_key)


def is_locked_out(request, username: str) -> bool:
    """Whether a sign-in as `username` from this request's address would be refused now."""
    from axes.handlers.proxy import AxesProxyHandler

    return not AxesProxyHandler.is_allowed(
        request, {str(settings.AXES_USERNAME_FORM_FIELD): username or None}
    )


# --- password reset ----------------------------------------------------------------------------


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
