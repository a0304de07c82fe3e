"""Orders, customers and marketplace accounts in the managers' admin. Orders come from the
marketplaces (orders.services.order_upsert), so they are read-only here; account secrets are
write-only and shown masked."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from orders.money import format_money

from .models import Customer, MarketplaceAccount, Order, OrderLine, PaymentLine

MASK = "••••••••"


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "external_id",
        "sku",
        "name",
        "quantity",
        "unit_price_money",
        "discount_money",
        "tax_money",
        "fulfilled_quantity",
        "cancelled_quantity",
    )
    readonly_fields = fields

    @admin.display(description="Unit price")
    def unit_price_money(self, obj):
        return format_money(obj.unit_price, obj.order.currency)

    @admin.display(description="Discount")
    def discount_money(self, obj):
        return format_money(obj.discount, obj.order.currency)

    @admin.display(description="Tax")
    def tax_money(self, obj):
        return format_money(obj.tax, obj.order.currency)


class PaymentLineInline(ReadOnlyInline):
    model = PaymentLine
    fields = ("external_id", "method", "amount_money")
    readonly_fields = fields

    @admin.display(description="Amount")
    def amount_money(self, obj):
        return format_money(obj.amount, obj.order.currency)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "external_number",
        "account",
        "customer",
        "status",
        "grand_total_money",
        "placed_at",
        "new_refund_link",
    )
    list_filter = ("status", "account__adapter_key", "account", "currency")
    search_fields = ("external_number", "customer__email")
    list_select_related = ("account", "customer")
    date_hierarchy = "placed_at"
    inlines = (OrderLineInline, PaymentLineInline)
    # Every field read-only; money shown with its currency's decimals (a JPY column still
    # holds two).
    fields = (
        "account",
        "external_number",
        "customer",
        "status",
        "currency",
        "placed_at",
        "paid_at",
        "items_total_money",
        "shipping_total_money",
        "tip_total_money",
        "additional_total_money",
        "grand_total_money",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="Items total")
    def items_total_money(self, obj):
        return format_money(obj.items_total, obj.currency)

    @admin.display(description="Shipping total")
    def shipping_total_money(self, obj):
        return format_money(obj.shipping_total, obj.currency)

    @admin.display(description="Tip total")
    def tip_total_money(self, obj):
        return format_money(obj.tip_total, obj.currency)

    @admin.display(description="Additional total")
    def additional_total_money(self, obj):
        return format_money(obj.additional_total, obj.currency)

    @admin.display(description="Grand total", ordering="grand_total")
    def grand_total_money(self, obj):
        return format_money(obj.grand_total, obj.currency)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Refund")
    def new_refund_link(self, obj):
        return format_html(
            '<a href="{}">New refund</a>', reverse("staff:refund-new", args=[obj.pk])
        )


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "user")
    search_fields = ("email", "name")
    list_select_related = ("user",)
    raw_id_fields = ("user",)


def _masked(mapping) -> str:
    return ", ".join(f"{key}: {MASK}" for key in sorted(mapping or {})) or "—"


class MarketplaceAccountForm(forms.ModelForm):
    """Secrets can be replaced but never read back: empty inputs keep what is stored."""

    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60, "autocomplete": "off"}),
        label="Replace credentials",
        help_text='A JSON object such as {"client_id": "...", "client_secret": "..."}. '
        "Leave empty to keep the stored credentials.",
    )
    new_webhook_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        label="Replace webhook secret",
        help_text="Leave empty to keep the stored secret.",
        max_length=200,
    )

    class Meta:
        model = MarketplaceAccount
        fields = (
            "adapter_key",
            "name",
            "base_url",
            "options",
            "rate_limit_per_second",
            "is_enabled",
        )

    def clean_new_credentials(self):
        text = self.cleaned_data["new_credentials"].strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError("Enter a JSON object") from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise forms.ValidationError("Enter a JSON object of text keys and text values")
        return value

    def save(self, commit=True):
        account = super().save(commit=False)
        if self.cleaned_data.get("new_credentials") is not None:
            account.credentials = self.cleaned_data["new_credentials"]
        if self.cleaned_data.get("new_webhook_secret"):
            account.webhook_secret = self.cleaned_data["new_webhook_secret"]
        if commit:
            account.save()
        return account


@admin.register(MarketplaceAccount)
class MarketplaceAccountAdmin(admin.ModelAdmin):
    form = MarketplaceAccountForm
    list_display = (
        "name",
        "adapter_key",
        "base_url",
        "is_enabled",
        "credentials_masked",
        "created_at",
    )
    list_filter = ("adapter_key", "is_enabled")
    search_fields = ("name",)
    readonly_fields = ("credentials_masked", "webhook_secret_masked", "created_at")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "adapter_key",
                    "name",
                    "base_url",
                    "is_enabled",
                    "rate_limit_per_second",
                    "options",
                )
            },
        ),
        (
            "Secrets (write-only)",
            {
                "fields": (
                    "credentials_masked",
                    "new_credentials",
                    "webhook_secret_masked",
                    "new_webhook_secret",
                )
            },
        ),
        (None, {"fields": ("created_at",)}),
    )

    @admin.display(description="Credentials")
    def credentials_masked(self, obj):
        return _masked(obj.credentials) if obj else "—"

    @admin.display(description="Webhook secret")
    def webhook_secret_masked(self, obj):
        return MASK if obj and obj.webhook_secret else "—"
