"""E-mails sent after a refund changes (always after commit, never inside a transaction).
Inside `muted()` none are sent (demo data, `seed_demo`: history nobody is to be told about)."""

from __future__ import annotations

import contextlib
import contextvars
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, send_mail
from django.db.models import Prefetch
from django.template.loader import render_to_string

from orders.money import format_money

from . import customer_status
from .models import Refund, RefundLine
from .states import STATUS_LABELS, RefundStatus

logger = logging.getLogger(__name__)

_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("refund_mail_muted", default=False)


@contextlib.contextmanager
def muted():
    """Send no refund e-mails for what is done inside this block, including the ones due when
    a transaction committed inside it commits. For writing demo data (`seed_demo`)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def status_changed(refund_id: int, old: str, new: str) -> None:
    """The customer's e-mail for one status change: a plain-text part and an HTML part in the
    portal's look (templates/email/refund_status.*), with the headline of
    `refunds.customer_status`, the items and amounts, and the link back to the refund."""
    if _muted.get():
        return
    refund = (
        Refund.objects.select_related("order__customer")
        .prefetch_related(
            Prefetch("lines", queryset=RefundLine.objects.select_related("order_line")), "events"
        )
        .filter(pk=refund_id)
        .first()
    )
    if refund is None or not new:
        return
    status = RefundStatus(new)
    refund.status = status  # the e-mail tells of this change, even if the refund moved on since
    link = f"{settings.REFUND_DESK_BASE_URL}/portal/refunds/{refund.pk}/"
    items = [
        {
            "name": line.order_line.name,
            "sku": line.order_line.sku,
            "quantity": line.quantity,
            "amount": format_money(line.amount, refund.currency),
        }
        for line in refund.lines.all()
        if line.quantity
    ]
    context = {
        "refund": refund,
        "customer_name": refund.order.customer.name or refund.order.customer.email,
        "status_label": STATUS_LABELS[status],
        "headline": customer_status.headline(refund, refund.events.all()),
        "total": format_money(refund.total, refund.currency),
        "items": items,
        "link": link,
        "asks_for_tracking": status == RefundStatus.WAITING and not refund.refund_only,
        "reason": refund.response_reason if status == RefundStatus.DENIED else "",
    }
    message = EmailMultiAlternatives(
        subject=f"Refund {refund.number}: {context['headline'].label}",
        body=render_to_string("email/refund_status.txt", context),
        to=[refund.order.customer.email],
    )
    message.attach_alternative(render_to_string("email/refund_status.html", context), "text/html")
    try:
        message.send()
    except OSError:
        logger.exception("Could not send the status e-mail for refund %s", refund_id)


def needs_attention(refund_id: int) -> None:
    if _muted.get():
        return
    refund = Refund.objects.select_related("order__account").filter(pk=refund_id).first()
    if refund is None:
        return
    recipients = list(
        get_user_model()
        .objects.filter(is_active=True, is_staff=True, groups__name="Refund manager")
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return
    try:
        send_mail(
            subject=f"Refund {refund.number} needs attention",
            message=f"{refund.attention_message}\n\n"
            f"{settings.REFUND_DESK_BASE_URL}/staff/refunds/{refund.pk}/",
            from_email=None,
            recipient_list=recipients,
        )
    except OSError:
        logger.exception("Could not notify staff about refund %s", refund_id)
