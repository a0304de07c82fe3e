"""The portal's "Find my order": a one-time, time-limited sign-in link to one order, e-mailed to
the order's address, for customers without an account (or without their password at hand).

- `guest_link_send` looks the order up by its number and e-mail and, only when both match,
  stores a link (a SHA-256 of the token, never the token) and e-mails it after commit. The same
  work is done when nothing matches (the lookup, a token drawn and hashed), and the caller gives
  one answer either way, so the answer says nothing of whether the order exists. The e-mail
  goes out after commit within the request, as the status e-mails and Django's password reset
  do; with a slow mail server its latency is the one difference in time left (a queued send,
  e.g. a Celery task, would remove it).
- `guest_link_open` uses a link once: under a row lock it refuses a link that is unknown, used
  or expired (writing nothing) and marks it used.
- `guest_actor` is who a guest acts as. Decision: the order's customer's user. The services and
  `refunds.rules` know customers only as users (`rules.is_owner`: the order's customer's user is
  the actor), and `actor=None` is the system (a marketplace's refund: source "marketplace", no
  capability check), so a guest acting as nobody would be recorded as the marketplace. A customer
  without an account is therefore given a passwordless user when their link is first opened
  (unusable password: it cannot sign in, and the password reset sends it nothing), linked to the
  customer; the guest's refunds are requested by it with the order's e-mail as requester name
  and the role "customer", and the rules stay as they are. The guest's session is scoped to the
  one order by the portal (refunds.views.portal_access), so the user's other orders stay out of
  reach. A customer whose user is staff (or a superuser, or disabled) gets no actor: a link must
  never act with staff permissions; such a guest may look but not act.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from orders.models import Customer, Order

from ..errors import RefundError
from ..models import GuestAccessLink

logger = logging.getLogger(__name__)

LINK_INVALID_MESSAGE = "This link has expired or was already used: ask for a new one."
# At most this many orders answer one look-up (an order number is unique per marketplace
# account, so the same number with the same e-mail on several accounts is rare).
MAX_ORDERS_PER_LOOKUP = 3


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def guest_link_send(
    *,
    order_number: str,
    email: str,
    link_for: Callable[[str], str],
    client_address: str = "",
    now: dt.datetime | None = None,
) -> int:
    """Store and e-mail (after commit) a sign-in link for each order with this number whose
    customer's e-mail is `email` (case and surrounding spaces ignored); how many were sent, for
    logs and tests only: the caller must not tell the person. `link_for(token)` is the link's
    absolute URL."""
    now = now or timezone.now()
    orders = list(
        Order.objects.select_related("customer").filter(
            external_number=order_number.strip(), customer__email__iexact=email.strip()
        )[:MAX_ORDERS_PER_LOOKUP]
    )
    if not orders:
        _new_token()  # the work a match costs, minus the e-mail
        return 0
    expires_at = now + dt.timedelta(seconds=settings.GUEST_LINK_MAX_AGE)
    with transaction.atomic():
        for order in orders:
            token, digest = _new_token()
            link = GuestAccessLink.objects.create(
                order=order,
                email=order.customer.email,
                token_hash=digest,
                created_at=now,
                expires_at=expires_at,
                created_from_address=client_address[:45],
            )
            transaction.on_commit(partial(_send_link_email, link.pk, link_for(token)))
    return len(orders)


def _send_link_email(link_id: int, url: str) -> None:
    """The link's e-mail: plain text and an HTML alternative with the link, the order number
    and when the link expires; it names this order only."""
    link = GuestAccessLink.objects.select_related("order__account").filter(pk=link_id).first()
    if link is None:
        return
    context = {
        "order": link.order,
        "link": url,
        "expires_at": link.expires_at,
        "minutes": max(settings.GUEST_LINK_MAX_AGE // 60, 1),
    }
    message = EmailMultiAlternatives(
        subject=f"Your sign-in link for order {link.order.external_number}",
        body=render_to_string("email/guest_link.txt", context),
        to=[link.email],
    )
    message.attach_alternative(render_to_string("email/guest_link.html", context), "text/html")
    try:
        message.send()
    except OSError:
        logger.exception("Could not send the guest sign-in link %s", link_id)


def guest_link_check(*, token: str, now: dt.datetime | None = None) -> GuestAccessLink:
    """The link a token opens, if it still may be used (read only, for the page that asks to
    use it); RefundError otherwise."""
    now = now or timezone.now()
    link = GuestAccessLink.objects.filter(token_hash=token_hash(token or "")).first()
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise RefundError(LINK_INVALID_MESSAGE, code="guest_link_invalid")
    return link


def guest_link_open(*, token: str, now: dt.datetime | None = None) -> GuestAccessLink:
    """Use a link: once, before it expires. Refused (RefundError, nothing written) when the
    token is unknown, used or expired. Gives the customer a passwordless user if they have none
    (see the module's docstring), in the same transaction."""
    now = now or timezone.now()
    with transaction.atomic():
        link = (
            GuestAccessLink.objects.select_for_update(of=("self",))
            .select_related("order__customer")
            .filter(token_hash=token_hash(token or ""))
            .first()
        )
        if link is None or link.used_at is not None or link.expires_at <= now:
            raise RefundError(LINK_INVALID_MESSAGE, code="guest_link_invalid")
        link.used_at = now
        link.save(update_fields=["used_at"])
        _ensure_customer_user(link.order.customer_id)
    return link


def _ensure_customer_user(customer_id: int) -> None:
    customer = Customer.objects.select_for_update().get(pk=customer_id)
    if customer.user_id is not None:
        return
    user = get_user_model()(username=f"guest-customer-{customer.pk}", email=customer.email)
    user.set_unusable_password()
    user.save()
    customer.user = user
    customer.save(update_fields=["user"])


def guest_actor(order: Order):
    """Who a guest acts as on their order: the customer's user, unless it is staff, a superuser
    or disabled (then nobody: the guest may look, not act)."""
    user = order.customer.user
    if user is None or user.is_staff or user.is_superuser or not user.is_active:
        return None
    return user
