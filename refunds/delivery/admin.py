"""The outbox and the webhook inbox in the managers' admin: read-only rows; "retry" sends a
refund whose delivery failed once more through the refund service."""

from __future__ import annotations

from django.contrib import admin, messages

from refunds import services
from refunds.errors import RefundError

from .models import OutboundAction, OutboundAttempt, WebhookEvent


class OutboundAttemptInline(admin.TabularInline):
    model = OutboundAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "finished_at", "outcome", "message", "response")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutboundAction)
class OutboundActionAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "refund",
        "account",
        "kind",
        "state",
        "attempts",
        "next_attempt_at",
        "last_error",
        "created_at",
    )
    list_filter = ("state", "kind", "account__adapter_key", "account")
    search_fields = ("=refund__id", "idempotency_key", "refund__order__external_number")
    list_select_related = ("refund", "account")
    inlines = (OutboundAttemptInline,)
    actions = ("retry_selected",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in OutboundAction._meta.fields]

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
        "adapter_key",
        "account",
        "name",
        "topic",
        "state",
        "refund",
        "received_at",
        "processed_at",
    )
    list_filter = ("state", "adapter_key", "name", "account")
    search_fields = ("delivery_key", "=refund__id", "topic")
    list_select_related = ("account", "refund")
    date_hierarchy = "received_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in WebhookEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
