"""The outbox and the webhook inbox in the managers' admin: read-only rows; "retry" sends a
refund whose delivery failed once more through the refund service. Filters, columns and labels
use people's words: the platform by its name (integrations.registry), never its adapter key."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from orders.admin import MarketplaceFilter, marketplace_filter, platform_label, titled, when
from refunds import services
from refunds.errors import RefundError

from .models import OutboundAction, OutboundAttempt, WebhookEvent


class OutboundAttemptInline(admin.TabularInline):
    model = OutboundAttempt
    extra = 0
    can_delete = False
    verbose_name = "attempt"
    verbose_name_plural = "Attempts"
    fields = ("number", "started", "finished", "outcome", "message", "response")
    readonly_fields = fields

    @admin.display(description="Started")
    def started(self, obj):
        return when(obj.started_at)

    @admin.display(description="Finished")
    def finished(self, obj):
        return when(obj.finished_at)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutboundAction)
class OutboundActionAdmin(admin.ModelAdmin):
    # Fits a 1366 px screen beside the filters: the refund's number links to the action, with
    # when it was written under it.
    list_display = (
        "refund_created",
        "seller_account",
        "what",
        "state",
        "attempts",
        "next_try",
        "last_error",
    )
    list_display_links = ("refund_created",)
    list_filter = (
        ("state", titled(admin.ChoicesFieldListFilter, "State")),
        ("kind", titled(admin.ChoicesFieldListFilter, "What")),
        MarketplaceFilter,
        ("account", titled(admin.RelatedFieldListFilter, "Seller account")),
    )
    search_fields = ("=refund__id", "idempotency_key", "refund__order__external_number")
    search_help_text = "A refund's id, its order number or the key the marketplace received."
    list_select_related = ("refund", "account")
    inlines = (OutboundAttemptInline,)
    actions = ("retry_selected",)
    fields = (
        "refund_number",
        "seller_account",
        "what",
        "state",
        "attempts",
        "next_try",
        "held_until",
        "last_error",
        "key_sent",
        "payload",
        "response",
        "created",
        "last_changed",
        "completed",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="Refund · created", ordering="created_at")
    def refund_created(self, obj):
        return format_html(
            '{} <span class="rd-sub">{}</span>', obj.refund.number, when(obj.created_at)
        )

    @admin.display(description="Refund")
    def refund_number(self, obj):
        return f"{obj.refund.number} ({obj.refund.status_label})"

    @admin.display(description="Seller account", ordering="account__name")
    def seller_account(self, obj):
        return f"{obj.account.name} ({platform_label(obj.account.adapter_key)})"

    @admin.display(description="What", ordering="kind")
    def what(self, obj):
        return obj.get_kind_display()

    @admin.display(description="Next try", ordering="next_attempt_at")
    def next_try(self, obj):
        return when(obj.next_attempt_at) if obj.state in ("pending", "in_flight") else "—"

    @admin.display(description="Being sent by a worker until")
    def held_until(self, obj):
        return when(obj.claimed_until)

    @admin.display(description="Key sent to the marketplace (the same on every try)")
    def key_sent(self, obj):
        return obj.idempotency_key

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj):
        return when(obj.created_at)

    @admin.display(description="Last changed")
    def last_changed(self, obj):
        return when(obj.updated_at)

    @admin.display(description="Completed")
    def completed(self, obj):
        return when(obj.completed_at)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("refunds.retry_refund")

    @admin.action(description="Retry the refunds of the selected actions", permissions=["retry"])
    def retry_selected(self, request, queryset):
        done, refund_ids = 0, []
        for action in queryset.select_related("refund").order_by("id"):
            if action.refund_id in refund_ids:
                continue
            refund_ids.append(action.refund_id)
            try:
                services.refund_retry(
                    actor=request.user,
                    refund=action.refund,
                    note=f"retried from outbound action {action.pk}",
                )
            except RefundError as exc:
                self.message_user(request, f"{action.refund.number}: {exc.message}", messages.ERROR)
            else:
                done += 1
                self.message_user(request, f"{action.refund.number}: sent again", messages.SUCCESS)
        self.message_user(request, f"{done} of {len(refund_ids)} refunds sent again", messages.INFO)


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "marketplace",
        "seller_account",
        "webhook",
        "topic",
        "state",
        "refund_number",
        "received",
        "processed",
    )
    list_filter = (
        ("state", titled(admin.ChoicesFieldListFilter, "State")),
        marketplace_filter("adapter_key"),
        ("name", titled(admin.AllValuesFieldListFilter, "Webhook")),
        ("account", titled(admin.RelatedFieldListFilter, "Seller account")),
    )
    search_fields = ("delivery_key", "=refund__id", "topic")
    search_help_text = "The marketplace's delivery id, a refund's id or a topic."
    list_select_related = ("account", "refund")
    date_hierarchy = "received_at"
    fields = (
        "marketplace",
        "seller_account",
        "webhook",
        "topic",
        "delivery_id",
        "state",
        "refund_number",
        "error",
        "failed_attempts",
        "next_try",
        "received",
        "processed",
        "headers",
        "body",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="Marketplace", ordering="adapter_key")
    def marketplace(self, obj):
        return platform_label(obj.adapter_key)

    @admin.display(description="Seller account", ordering="account__name")
    def seller_account(self, obj):
        return obj.account.name

    @admin.display(description="Webhook", ordering="name")
    def webhook(self, obj):
        return obj.name

    @admin.display(description="Refund", ordering="refund_id")
    def refund_number(self, obj):
        return f"{obj.refund.number} ({obj.refund.status_label})" if obj.refund else "—"

    @admin.display(description="Delivery id from the marketplace")
    def delivery_id(self, obj):
        return obj.delivery_key

    @admin.display(description="Failed processing attempts")
    def failed_attempts(self, obj):
        return obj.processing_attempts

    @admin.display(description="Next processing try")
    def next_try(self, obj):
        return when(obj.next_attempt_at)

    @admin.display(description="Received", ordering="received_at")
    def received(self, obj):
        return when(obj.received_at)

    @admin.display(description="Processed", ordering="processed_at")
    def processed(self, obj):
        return when(obj.processed_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
