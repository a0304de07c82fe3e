"""E-mails sent after a refund changes (always after commit, never inside a transaction).
Inside `muted()` none are sent (demo data, `seed_demo`: history nobody is to be told about)."""

from __future__ import annotations

import contextlib
import contextvars
import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Prefetch

from orders.money import format_money

from .models import Refund, RefundLine
from .states import STATUS_LABELS, RefundStatus

logger = logging.getLogger(__name__)

CUSTOMER_TEXT = {
    RefundStatus.REQUESTED: "We received your refund request and will review it shortly.",
    RefundStatus.WAITING: "Your refund was approved. Please send the goods back and enter the "
    "tracking number in the portal.",
    RefundStatus.PROCESSING: "Your refund is being processed by the marketplace.",
    RefundStatus.ISSUED: "Your refund has been issued.",
    RefundStatus.DENIED: "Your refund request was denied.",
    RefundStatus.CANCELLED: "Your refund request was cancelled.",
}


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
    if _muted.get():
        return
    refund = (
        Refund.objects.select_related("order__customer")
        .prefetch_related(
            Prefetch("lines", queryset=RefundLine.objects.select_related("order_line"))
        )
        .filter(pk=refund_id)
        .first()
    )
    if refund is None or not new:
        return
    status = RefundStatus(new)
    link = f"{settings.REFUND_DESK_BASE_URL}/portal/refunds/{refund.pk}/"
    lines = [
        f"Hello {refund.order.customer.name or refund.order.customer.email},",
        "",
        f"Refund {refund.number} for order {refund.order.external_number} "
        f"({format_money(refund.total, refund.currency)}) is now: {STATUS_LABELS[status]}.",
        CUSTOMER_TEXT[status],
    ]
    if status == RefundStatus.DENIED and refund.response_reason:
        lines.append(f"Reason: {refund.response_reason}")
    items = [
        f"  - {line.order_line.name} ({line.order_line.sku}) x {line.quantity}: "
        f"{format_money(line.amount, refund.currency)}"
        for line in refund.lines.all()
        if line.quantity
    ]
    if items:
        lines += ["", "Items:", *items]
    if status == RefundStatus.WAITING and not refund.refund_only:
        lines += ["", f"Enter the carrier and tracking number here once it is posted: {link}"]
    else:
        lines += ["", f"Follow it at {link}"]
    try:
        send_mail(
            subject=f"Refund {refund.number}: {STATUS_LABELS[status]}",
            message="\n".join(lines),
            from_email=None,
            recipient_list=[refund.order.customer.email],
        )
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
