"""The managers' admin for refunds. Refunds are read-only here: approving and denying go through
the same services (and permission checks) as the staff pages, one message per refund."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.template.response import TemplateResponse
from django.utils.html import format_html

from orders.money import format_money
from refunds.delivery.models import OutboundAction

from . import rules, services
from .delivery import admin as _delivery_admin  # noqa: F401 (registers the outbox and webhook pages)
from .errors import RefundError
from .filters import search_refunds
from .models import Refund, RefundEvent, RefundLine
from .states import Action


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RefundLineInline(ReadOnlyInline):
    model = RefundLine
    fields = ("order_line", "quantity", "amount_money", "received_quantity", "restock")
    readonly_fields = fields

    @admin.display(description="Amount")
    def amount_money(self, obj):
        return format_money(obj.amount, obj.refund.currency)


class RefundEventInline(ReadOnlyInline):
    model = RefundEvent
    fields = ("created_at", "actor_label", "action", "from_status", "to_status", "note", "changes")
    readonly_fields = fields


class OutboundActionInline(ReadOnlyInline):
    model = OutboundAction
    fields = (
        "created_at",
        "kind",
        "state",
        "attempts",
        "idempotency_key",
        "last_error",
        "completed_at",
    )
    readonly_fields = fields


class DenyReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        label="Reason (the customer reads it)",
    )


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = (
        "number_link",
        "status_badge",
        "order_number",
        "account_name",
        "customer_email",
        "amount",
        "reason_code",
        "needs_attention",
        "has_drift",
        "created_at",
    )
    list_filter = (
        "status",
        "order__account__adapter_key",
        "order__account",
        "reason_code",
        "needs_attention",
        "has_drift",
        "source",
        "requester_role",
        "created_at",
    )
    search_fields = (
        "=id",
        "order__external_number",
        "order__customer__email",
        "return_tracking_id",
        "external_id",
    )
    search_help_text = (
        "Exact order number, customer e-mail, refund id (42 or RD-42), return tracking id or "
        "the marketplace's refund id."
    )
    list_select_related = ("order", "order__account", "order__customer")
    # No date_hierarchy: its drill-down runs SELECT DISTINCT date_trunc(...) over every refund on
    # each page view (BENCHMARKS.md, Lists); the created_at list filter covers the same need.
    list_per_page = 50
    show_full_result_count = False  # a filtered page does not also count every refund
    inlines = (RefundLineInline, RefundEventInline, OutboundActionInline)
    actions = ("approve_selected", "deny_selected")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "order",
                    "status",
                    "reason_code",
                    "customer_explanation",
                    "response_reason",
                    "refund_only",
                    "covers_cancellation",
                )
            },
        ),
        (
            "Amounts",
            {
                "fields": (
                    "lines_money",
                    "shipping_money",
                    "additional_money",
                    "total_money",
                )
            },
        ),
        ("Requester", {"fields": ("requested_by", "requester_role", "requester_name", "source")}),
        ("Return", {"fields": ("return_carrier", "return_tracking_id", "received_at")}),
        (
            "Marketplace",
            {
                "fields": (
                    "external_id",
                    "external_request_id",
                    "needs_attention",
                    "attention_message",
                    "has_drift",
                    "drift_note",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "updated_at", "confirmed_at", "issued_at")}),
    )

    def get_search_results(self, request, queryset, search_term):
        # The staff queue's search: exact matches that each use an index, instead of the admin's
        # icontains across three joins (a scan of every refund: BENCHMARKS.md, Lists).
        return search_refunds(queryset, search_term), False

    def get_readonly_fields(self, request, obj=None):
        money = ["lines_money", "shipping_money", "additional_money", "total_money"]
        return [f.name for f in Refund._meta.fields] + money

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request):
        return rules.staff_may(request.user, Action.APPROVE)

    def has_deny_permission(self, request):
        return rules.staff_may(request.user, Action.DENY)

    @admin.display(description="Refund", ordering="id")
    def number_link(self, obj):
        return obj.number

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="rd-badge rd-{}">{}</span>', obj.status.lower(), obj.status_label
        )

    @admin.display(description="Order", ordering="order__external_number")
    def order_number(self, obj):
        return obj.order.external_number

    @admin.display(description="Account", ordering="order__account__name")
    def account_name(self, obj):
        return obj.order.account.name

    @admin.display(description="Customer", ordering="order__customer__email")
    def customer_email(self, obj):
        return obj.order.customer.email

    @admin.display(description="Amount", ordering="total")
    def amount(self, obj):
        return format_money(obj.total, obj.currency)

    @admin.display(description="Lines")
    def lines_money(self, obj):
        return format_money(obj.lines_amount, obj.currency)

    @admin.display(description="Shipping")
    def shipping_money(self, obj):
        return format_money(obj.shipping_amount, obj.currency)

    @admin.display(description="Additional charges")
    def additional_money(self, obj):
        return format_money(obj.additional_amount, obj.currency)

    @admin.display(description="Total")
    def total_money(self, obj):
        return format_money(obj.total, obj.currency)

    def _each(self, request, queryset: QuerySet, verb: str, call) -> None:
        done = 0
        refunds = list(queryset.order_by("id"))
        for refund in refunds:
            try:
                refund = call(refund)
            except RefundError as exc:
                self.message_user(request, f"{refund.number}: {exc.message}", messages.ERROR)
            else:
                done += 1
                self.message_user(
                    request, f"{refund.number}: {verb}, now {refund.status_label}", messages.SUCCESS
                )
        self.message_user(request, f"{done} of {len(refunds)} refunds {verb}", messages.INFO)

    @admin.action(description="Approve selected refunds", permissions=["approve"])
    def approve_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            "approved",
            lambda refund: services.refund_approve(actor=request.user, refund=refund),
        )

    @admin.action(description="Deny selected refunds…", permissions=["deny"])
    def deny_selected(self, request, queryset):
        form = DenyReasonForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._each(
                request,
                queryset,
                "denied",
                lambda refund: services.refund_deny(
                    actor=request.user, refund=refund, reason=reason
                ),
            )
            return None
        refunds = queryset.select_related("order__account", "order__customer")
        return TemplateResponse(
            request,
            "admin/refunds/refund/deny_selected.html",
            {
                **self.admin_site.each_context(request),
                "title": "Deny refunds",
                "opts": self.model._meta,
                # Each refund with the rule's decision, so the page says beforehand which ones
                # the service will refuse, and why.
                "rows": [
                    (refund, rules.decide(request.user, refund, Action.DENY)) for refund in refunds
                ],
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )
