"""Orders, customers and marketplace accounts in the managers' admin. Orders come from the
marketplaces (orders.services.order_upsert), so they are read-only here; account secrets are
write-only and shown masked. Filters, columns and labels use people's words: the platform by the
name people know it by (integrations.registry), never its adapter key."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from integrations.registry import ADAPTERS, adapter_choices
from orders.money import format_money

from .models import Customer, MarketplaceAccount, Order, OrderLine, PaymentLine

MASK = "••••••••"


def when(value) -> str:
    """A moment as people read it, in the site's time zone: "7 Dec 2026, 14:05"."""
    return date_format(timezone.localtime(value), "j M Y, H:i") if value else "—"


def platform_label(adapter_key: str) -> str:
    """The marketplace's name (HepsiGlobal, LLZW shop...) for its adapter key."""
    entry = ADAPTERS.get(adapter_key)
    return entry.label if entry else adapter_key


def titled(filter_class, title: str):
    """A field's list filter under a title in people's words (instead of the field's name)."""

    class Titled(filter_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.title = title

    Titled.__name__ = f"Titled{filter_class.__name__}"
    return Titled


class MarketplaceFilter(admin.SimpleListFilter):
    """The platform, by the name people know it by (integrations.registry), not its key.
    `field_path` is where the adapter key sits from the listed model; `marketplace_filter`
    makes one for another path."""

    title = "Marketplace"
    parameter_name = "marketplace"
    field_path = "account__adapter_key"

    def lookups(self, request, model_admin):
        return adapter_choices()

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field_path: self.value()})
        return queryset


def marketplace_filter(field_path: str) -> type[MarketplaceFilter]:
    return type("MarketplaceFilter", (MarketplaceFilter,), {"field_path": field_path})


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    verbose_name = "order line"
    verbose_name_plural = "Items"
    fields = (
        "marketplace_line_id",
        "sku",
        "name",
        "quantity",
        "unit_price_money",
        "discount_money",
        "tax_money",
        "fulfilled",
        "cancelled",
    )
    readonly_fields = fields

    @admin.display(description="Line id at the marketplace")
    def marketplace_line_id(self, obj):
        return obj.external_id

    @admin.display(description="Fulfilled")
    def fulfilled(self, obj):
        return obj.fulfilled_quantity

    @admin.display(description="Cancelled")
    def cancelled(self, obj):
        return obj.cancelled_quantity

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
    verbose_name = "payment"
    verbose_name_plural = "Payments"
    fields = ("marketplace_payment_id", "payment_method", "amount_money")
    readonly_fields = fields

    @admin.display(description="Payment id at the marketplace")
    def marketplace_payment_id(self, obj):
        return obj.external_id

    @admin.display(description="Method")
    def payment_method(self, obj):
        return obj.method

    @admin.display(description="Amount")
    def amount_money(self, obj):
        return format_money(obj.amount, obj.order.currency)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "order_number",
        "seller_account",
        "customer",
        "status",
        "grand_total_money",
        "placed",
        "new_refund_link",
    )
    list_filter = (
        ("status", titled(admin.ChoicesFieldListFilter, "Status")),
        MarketplaceFilter,
        ("account", titled(admin.RelatedFieldListFilter, "Seller account")),
        ("currency", titled(admin.AllValuesFieldListFilter, "Currency")),
    )
    search_fields = ("external_number", "customer__email")
    search_help_text = "The order number or the customer's e-mail."
    list_select_related = ("account", "customer")
    date_hierarchy = "placed_at"
    inlines = (OrderLineInline, PaymentLineInline)
    # Every field read-only; money shown with its currency's decimals (a JPY column still
    # holds two).
    fields = (
        "seller_account",
        "order_number",
        "customer",
        "status",
        "currency",
        "placed",
        "paid",
        "items_total_money",
        "shipping_total_money",
        "tip_total_money",
        "additional_total_money",
        "grand_total_money",
        "imported",
        "last_updated",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    @admin.display(description="Order number", ordering="external_number")
    def order_number(self, obj):
        return obj.external_number

    @admin.display(description="Seller account", ordering="account__name")
    def seller_account(self, obj):
        return f"{obj.account.name} ({platform_label(obj.account.adapter_key)})"

    @admin.display(description="Placed", ordering="placed_at")
    def placed(self, obj):
        return when(obj.placed_at)

    @admin.display(description="Paid")
    def paid(self, obj):
        return when(obj.paid_at)

    @admin.display(description="Imported")
    def imported(self, obj):
        return when(obj.created_at)

    @admin.display(description="Last updated")
    def last_updated(self, obj):
        return when(obj.updated_at)

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

    def has_change_permission(self, request, obj=None):
        # Orders come from the marketplaces: the page is view-only, with no Save buttons that
        # would pretend to change one.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Refund")
    def new_refund_link(self, obj):
        return format_html(
            '<a href="{}">New refund</a>', reverse("staff:refund-new", args=[obj.pk])
        )


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ("email", "name", "user")
        labels = {"email": "E-mail", "user": "Portal sign-in"}
        help_texts = {"user": "The login this customer uses on the portal, if any."}


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    form = CustomerForm
    list_display = ("customer_email", "name", "portal_sign_in")
    search_fields = ("email", "name")
    search_help_text = "Part of the e-mail or the name."
    list_select_related = ("user",)
    raw_id_fields = ("user",)

    @admin.display(description="E-mail", ordering="email")
    def customer_email(self, obj):
        return obj.email

    @admin.display(description="Portal sign-in", ordering="user__username")
    def portal_sign_in(self, obj):
        return obj.user.get_username() if obj.user else "—"


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
        labels = {
            "adapter_key": "Marketplace",
            "base_url": "API address",
            "options": "Options",
            "rate_limit_per_second": "Requests per second at most",
            "is_enabled": "Enabled",
        }
        help_texts = {
            "base_url": "Where Refund Desk calls this account's marketplace.",
            "options": "Settings that are not secret, as a JSON object "
            '(such as {"merchant_email": "..."}).',
            "rate_limit_per_second": "Empty means no limit.",
            "is_enabled": "Refund Desk talks to this account only while it is enabled.",
        }

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
        "marketplace",
        "api_address",
        "enabled",
        "credentials_masked",
        "added",
    )
    list_filter = (
        marketplace_filter("adapter_key"),
        ("is_enabled", titled(admin.BooleanFieldListFilter, "Enabled")),
    )
    search_fields = ("name",)
    search_help_text = "Part of the account's name."
    readonly_fields = ("credentials_masked", "webhook_secret_masked", "added", "return_policy_link")
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
        ("Returns", {"fields": ("return_policy_link",)}),
        (None, {"fields": ("added",)}),
    )

    @admin.display(description="Return policy")
    def return_policy_link(self, obj):
        # The policy's own page (registered by the refunds app, whose reasons it lists).
        if obj is None or obj.pk is None:
            return "Save the account first, then add its return policy."
        policy = getattr(obj, "return_policy", None)
        if policy is None:
            url = reverse("admin:orders_returnpolicy_add") + f"?account={obj.pk}"
            return format_html('<a href="{}">Add a return policy</a>', url)
        days = policy.window_days
        summary = f"returns within {days} days" if days is not None else "no time limit"
        url = reverse("admin:orders_returnpolicy_change", args=[policy.pk])
        return format_html('<a href="{}">Change the return policy</a> ({})', url, summary)

    @admin.display(description="Marketplace", ordering="adapter_key")
    def marketplace(self, obj):
        return platform_label(obj.adapter_key)

    @admin.display(description="API address", ordering="base_url")
    def api_address(self, obj):
        return obj.base_url

    @admin.display(description="Enabled", boolean=True, ordering="is_enabled")
    def enabled(self, obj):
        return obj.is_enabled

    @admin.display(description="Added", ordering="created_at")
    def added(self, obj):
        return when(obj.created_at) if obj else "—"

    @admin.display(description="Credentials")
    def credentials_masked(self, obj):
        return _masked(obj.credentials) if obj else "—"

    @admin.display(description="Webhook secret")
    def webhook_secret_masked(self, obj):
        return MASK if obj and obj.webhook_secret else "—"
