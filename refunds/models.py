"""Refunds, their lines, their evidence photos and their append-only audit trail."""

import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.db import models
from django.db.models import F, Q

from orders.models import MONEY, Order, OrderLine

from .states import STATUS_LABELS, RefundStatus

StatusChoices = models.TextChoices(
    "StatusChoices", [(s.value, (s.value, STATUS_LABELS[s])) for s in RefundStatus]
)


class RefundSource(models.TextChoices):
    PORTAL = "portal", "Customer portal"
    STAFF = "staff", "Staff"
    MARKETPLACE = "marketplace", "Marketplace"


class RequesterRole(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Refund agent"
    MANAGER = "manager", "Refund manager"
    MARKETPLACE = "marketplace", "Marketplace"


# What a customer is shown instead of the person who acted (staff names stay with staff).
YOU, SUPPORT_TEAM, THE_MARKETPLACE = "You", "Our support team", "The marketplace"
CUSTOMER_FACING_ROLE = {
    RequesterRole.CUSTOMER: YOU,
    RequesterRole.AGENT: SUPPORT_TEAM,
    RequesterRole.MANAGER: SUPPORT_TEAM,
    RequesterRole.MARKETPLACE: THE_MARKETPLACE,
}


class ReasonCode(models.TextChoices):
    DAMAGED = "damaged", "Arrived damaged"
    DEFECTIVE = "defective", "Defective or not working"
    INCORRECT_ORDER = "incorrect_order", "Wrong item sent"
    INCOMPATIBILITY = "incompatibility_issues", "Not compatible"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    CHANGED_MIND = "changed_mind", "Changed mind"
    LATE_DELIVERY = "late_delivery", "Arrived too late"
    NOT_RECEIVED = "not_received", "Never arrived"
    OUT_OF_STOCK = "out_of_stock", "Cancelled: out of stock"
    OTHER = "other", "Other"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    status = models.CharField(
        max_length=12,
        choices=StatusChoices.choices,
        default=RefundStatus.REQUESTED,
        db_index=True,
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refunds_requested",
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refunds_assigned",
        help_text="The staff member working on this refund (set through the assignment service).",
    )
    requester_role = models.CharField(max_length=12, choices=RequesterRole.choices)
    requester_name = models.CharField(
        max_length=150, blank=True, help_text="Username or e-mail of the person who asked."
    )
    source = models.CharField(max_length=12, choices=RefundSource.choices)
    reason_code = models.CharField(max_length=40, choices=ReasonCode.choices)
    customer_explanation = models.TextField(blank=True, max_length=2000)
    response_reason = models.TextField(blank=True, max_length=2000)
    refund_only = models.BooleanField(
        default=False, help_text="The customer keeps the goods; nothing comes back."
    )
    covers_cancellation = models.BooleanField(
        default=False,
        help_text="Refunds units the seller cancelled; they count as cancelled, not returned.",
    )
    return_tracking_id = models.CharField(max_length=100, blank=True)
    return_carrier = models.CharField(max_length=100, blank=True)
    lines_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    shipping_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    additional_amount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    total = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    is_valid = models.BooleanField(default=True)
    # The marketplace's ids for this refund (its refund id, and its request id where it has one).
    external_id = models.CharField(max_length=120, blank=True, default="")
    external_request_id = models.CharField(max_length=120, blank=True, default="")
    needs_attention = models.BooleanField(default=False)
    attention_message = models.TextField(blank=True)
    # Sending the refund got no answer, so the marketplace may have paid it: never denied or
    # sent under a new key until the marketplace (or a person checking it) says what happened.
    outcome_unknown = models.BooleanField(default=False)
    has_drift = models.BooleanField(default=False)
    drift_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("approve_refund", "Can approve refunds"),
            ("approve_large_refund", "Can approve refunds above the approval limit"),
            ("deny_refund", "Can deny refunds"),
            ("receive_refund", "Can record returned goods"),
            ("cancel_refund", "Can cancel refunds"),
            ("retry_refund", "Can retry a failed marketplace delivery"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total__gt=0), name="refund_total_positive"),
            models.CheckConstraint(
                condition=Q(lines_amount__gte=0)
                & Q(shipping_amount__gte=0)
                & Q(additional_amount__gte=0),
                name="refund_parts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(
                    total=F("lines_amount") + F("shipping_amount") + F("additional_amount")
                ),
                name="refund_total_is_sum_of_parts",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in RefundStatus]), name="refund_status_valid"
            ),
            models.UniqueConstraint(
                fields=["order", "external_id"],
                condition=~Q(external_id=""),
                name="refund_external_id_unique_per_order",
            ),
            models.UniqueConstraint(
                fields=["external_request_id"],
                condition=~Q(external_request_id=""),
                name="refund_external_request_id_unique",
            ),
        ]
        indexes = [
            # The lists' orders, ending on the id as their sorting does: a page's ids are an
            # index-only scan at any depth (refunds.pagination, migration 0012).
            models.Index(fields=["-created_at", "-id"], name="refund_created_id_idx"),
            models.Index(
                fields=["status", "-created_at", "-id"], name="refund_status_created_id_idx"
            ),
            # The queue's default view ("Needs a decision", oldest first): its pages and its
            # counts read this index alone, however many refunds are closed.
            models.Index(
                fields=["created_at", "id"],
                include=["status", "needs_attention", "has_drift"],
                condition=Q(status=RefundStatus.REQUESTED) | Q(needs_attention=True),
                name="refund_decision_idx",
            ),
            # ... and its tab counts, one status at a time (the index above would be read
            # whole, to find no WAITING refund among a million requested ones).
            models.Index(
                fields=["status"],
                condition=Q(status=RefundStatus.REQUESTED) | Q(needs_attention=True),
                name="refund_decision_status_idx",
            ),
            models.Index(fields=["return_tracking_id"], name="refund_tracking_idx"),
            models.Index(fields=["external_id"], name="refund_external_id_idx"),
            # Only the few flagged refunds are indexed: the "Needs attention" and drift counts
            # and filters read these, and unflagged writes never touch them.
            models.Index(
                fields=["created_at"],
                condition=Q(needs_attention=True),
                name="refund_attention_idx",
            ),
            models.Index(
                fields=["created_at"], condition=Q(has_drift=True), name="refund_drift_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"

    @property
    def number(self) -> str:
        return f"RD-{self.pk}"

    @property
    def status_enum(self) -> RefundStatus:
        return RefundStatus(self.status)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[RefundStatus(self.status)]

    @property
    def requester_for_customer(self) -> str:
        """Who asked for the refund, as its customer is told: a role, never a staff member."""
        return CUSTOMER_FACING_ROLE.get(self.requester_role, SUPPORT_TEAM)


class RefundLine(models.Model):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refund_lines")
    # Units refunded; 0 for an amount-only adjustment of the line.
    quantity = models.PositiveIntegerField()
    amount = models.DecimalField(**MONEY)
    restock = models.BooleanField(default=False)
    received_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0) & (Q(quantity__gt=0) | Q(amount__gt=0)),
                name="refund_line_amount_or_quantity_positive",
            ),
            models.CheckConstraint(
                condition=Q(received_quantity__lte=F("quantity")),
                name="refund_line_received_within_quantity",
            ),
            models.UniqueConstraint(fields=["refund", "order_line"], name="refund_line_once"),
        ]

    def __str__(self) -> str:
        return f"{self.order_line.sku} × {self.quantity}: {self.amount}"


class RefundEvent(models.Model):
    """Append-only audit trail: who did what to a refund, when, and what changed."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refund_events",
    )
    actor_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.actor_label}: {self.action} {self.from_status}→{self.to_status}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Refund events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Refund events are append-only and cannot be deleted.")

    def actor_for_customer(self, customer_user_id: int | None) -> str:
        """Who acted, as the refund's customer is told: themselves, our support team, or the
        marketplace (no person acts for the system: webhooks, polls, imports)."""
        if self.actor_id is None:
            return THE_MARKETPLACE
        return YOU if self.actor_id == customer_user_id else SUPPORT_TEAM


def evidence_storage():
    """The storage of evidence photos (STORAGES["evidence"]): private, never under a public URL;
    refunds/views/evidence.py serves each file to those who may see its refund."""
    return storages["evidence"]


def evidence_upload_to(instance: "RefundEvidence", filename: str) -> str:
    """A random path that says nothing about the refund, the customer or the file's own name
    (kept apart as `original_name`, for display); the extension is the one we encoded."""
    extension = ".png" if filename.lower().endswith(".png") else ".jpg"
    return f"evidence/{secrets.token_urlsafe(24)}{extension}"


class RefundEvidence(models.Model):
    """A photo a customer (or staff) attached to a refund, re-encoded by refunds.evidence (no
    metadata kept) and stored through `evidence_storage`. Written by
    refunds.services.refund_add_evidence and refund_request only."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="evidence")
    file = models.FileField(upload_to=evidence_upload_to, storage=evidence_storage, max_length=200)
    original_name = models.CharField(
        max_length=200, help_text="The file's name on the customer's device, for display only."
    )
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField(help_text="Bytes stored (after re-encoding).")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="refund_evidence",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "evidence photo"
        verbose_name_plural = "evidence photos"

    def __str__(self) -> str:
        return f"{self.original_name} (photo on RD-{self.refund_id})"


class GuestAccessLink(models.Model):
    """A one-time sign-in link to one order, e-mailed to the order's address (the portal's "Find
    my order"). Only a SHA-256 of the token is kept: the database alone opens nothing."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="guest_links")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    created_from_address = models.CharField(max_length=45, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["order", "-created_at"], name="guest_link_order_idx")]

    def __str__(self) -> str:
        return f"Guest link for {self.order} ({self.email})"


# The delivery models live in their own module; importing them here registers them with the
# refunds app (Django loads only <app>.models).
from .delivery.models import (  # noqa: E402, F401
    OutboundAction,
    OutboundAttempt,
    OutboundState,
    RateBucket,
    WebhookEvent,
    WebhookState,
)
