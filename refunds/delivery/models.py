"""The outbox (what we must tell a marketplace) and the inbox (what a marketplace told us).

Models of the refunds app (registered by refunds/models.py); their tables keep the names they
had in the integrations app (migrations refunds 0005 / integrations 0004 moved only the state)."""

from django.db import models
from django.db.models import Q

from integrations.base import OutboundKind
from integrations.registry import ADAPTERS


class OutboundState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (refused by the marketplace)"
    DEAD = "dead", "Dead (gave up after retries; the platform never took it)"
    # Gave up without an answer while the platform may have acted (a read timeout, a dropped
    # connection): not a refusal. The refund is checked with the platform or by a person.
    UNKNOWN = "unknown", "Outcome unknown (no answer; the platform may have acted)"


class OutboundAction(models.Model):
    """One call a marketplace must receive, written in the same transaction as the state change
    that needs it. The idempotency key is fixed at creation and sent on every attempt; a
    refund's later create actions (a staff retry) carry the key of its first one, so the platform
    can recognise the same refund. At most one open (pending or in-flight) action holds a key."""

    refund = models.ForeignKey(
        "refunds.Refund", on_delete=models.PROTECT, related_name="outbound_actions"
    )
    account = models.ForeignKey(
        "orders.MarketplaceAccount", on_delete=models.PROTECT, related_name="outbound_actions"
    )
    kind = models.CharField(
        max_length=32, choices=[(k.value, k.value.replace("_", " ")) for k in OutboundKind]
    )
    idempotency_key = models.CharField(max_length=120, db_index=True)
    payload = models.JSONField(help_text="Snapshot of the refund when the action was written.")
    state = models.CharField(
        max_length=12, choices=OutboundState.choices, default=OutboundState.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "integrations_outboundaction"  # the table kept its name when the model moved
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbound_due_idx",
                condition=Q(state__in=["pending", "in_flight"]),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(state__in=["pending", "in_flight"]),
                name="outbound_key_open_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for refund {self.refund_id} ({self.state})"


class OutboundAttempt(models.Model):
    action = models.ForeignKey(OutboundAction, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # accepted, confirmed, rejected, failed (known not to have reached the platform), unknown
    # (no answer: the platform may have acted), crashed (our worker stopped during the call)
    outcome = models.CharField(max_length=20)
    message = models.TextField(blank=True)
    response = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "integrations_outboundattempt"
        ordering = ["action", "number"]
        constraints = [
            models.UniqueConstraint(fields=["action", "number"], name="outbound_attempt_once")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.outcome}"


class WebhookState(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored"
    FAILED = "failed", "Failed"


class WebhookEvent(models.Model):
    """A verified inbound webhook, stored raw before it is processed; the delivery key makes a
    second delivery of the same event a no-op."""

    account = models.ForeignKey(
        "orders.MarketplaceAccount", on_delete=models.PROTECT, related_name="webhook_events"
    )
    adapter_key = models.CharField(max_length=32)
    name = models.CharField(max_length=60, help_text="The webhook endpoint, e.g. order-cancel.")
    delivery_key = models.CharField(max_length=200)
    topic = models.CharField(max_length=40, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    state = models.CharField(
        max_length=12, choices=WebhookState.choices, default=WebhookState.RECEIVED, db_index=True
    )
    refund = models.ForeignKey(
        "refunds.Refund",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_events",
    )
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    processing_attempts = models.PositiveIntegerField(
        default=0,
        help_text="Processing attempts that failed; the event fails for good after"
        " WEBHOOK_MAX_RETRIES of them.",
    )
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the event's next processing message is due (its retry, or the sweeper's"
        " last send); the sweeper sends it again only once this is well past.",
    )

    class Meta:
        db_table = "integrations_webhookevent"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["adapter_key", "delivery_key"], name="webhook_delivery_once"
            )
        ]

    def __str__(self) -> str:
        # Shown as the admin page's heading: the platform's name, not its adapter key.
        entry = ADAPTERS.get(self.adapter_key)
        platform = entry.label if entry else self.adapter_key
        return f"{platform} {self.name} ({self.delivery_key})"


class RateBucket(models.Model):
    """One marketplace account's rate limit, shared by every worker process: the generic cell
    rate algorithm's "theoretical arrival time" of the next call (refunds.delivery.ratelimit),
    one bucket for starting delivery attempts and one for the HTTP requests they make."""

    class Scope(models.TextChoices):
        ATTEMPTS = "attempts", "Delivery attempts"
        REQUESTS = "requests", "HTTP requests"

    account = models.ForeignKey(
        "orders.MarketplaceAccount", on_delete=models.CASCADE, related_name="+"
    )
    scope = models.CharField(max_length=10, choices=Scope.choices)
    next_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "scope"], name="rate_bucket_once")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.scope}: next at {self.next_at}"
