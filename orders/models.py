"""Orders as the marketplaces report them: accounts, customers, orders, lines and payments."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from integrations.registry import adapter_choices
from orders.money import format_money


class AdapterKey(models.TextChoices):
    """The built-in keys, for code that names one; the field takes its choices from the registry."""

    HEPSIGLOBAL = "hepsiglobal", "HepsiGlobal"
    NOVENTIQ = "noventiq", "Noventiq Checkout"
    LLZW = "llzw", "LLZW shop"
    SHOPLAZZA = "shoplazza", "Shoplazza"


class MarketplaceAccount(models.Model):
    """One seller account on one marketplace; several per marketplace are allowed."""

    adapter_key = models.CharField(max_length=32, choices=adapter_choices, db_index=True)
    name = models.CharField(max_length=120, unique=True)
    base_url = models.URLField(max_length=300)
    # Secrets: client id/secret, username/password or access token, as the platform needs.
    credentials = models.JSONField(default=dict, blank=True)
    webhook_secret = models.CharField(max_length=200, blank=True)
    # Non-secret per-account options (merchant e-mail for Noventiq, API version for Shoplazza...).
    options = models.JSONField(default=dict, blank=True)
    rate_limit_per_second = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Most requests per second this account may send; empty means no limit.",
    )
    is_enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _default_reasons_needing_explanation() -> list[str]:
    return ["other"]


def _default_reasons_needing_photo() -> list[str]:
    return ["damaged"]


class ReturnPolicy(models.Model):
    """What a marketplace account's customers may return and how (refunds/policy.py applies it).
    Reasons are refund reason codes (refunds.models.ReasonCode); this app does not import them."""

    account = models.OneToOneField(
        MarketplaceAccount, on_delete=models.CASCADE, related_name="return_policy"
    )
    window_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="Return window (days)",
        help_text="Days after delivery (or fulfilment, when there is no delivery date) in which "
        "items can be returned. Empty means no time limit.",
    )
    non_returnable_skus = models.TextField(
        blank=True,
        verbose_name="SKUs that cannot be returned",
        help_text="One SKU per line (final sale items).",
    )
    non_returnable_categories = models.TextField(
        blank=True,
        verbose_name="Categories that cannot be returned",
        help_text="One category per line, as the marketplace names it (such as Underwear).",
    )
    reasons_needing_explanation = models.JSONField(
        default=_default_reasons_needing_explanation,
        blank=True,
        verbose_name="Reasons that need an explanation",
    )
    reasons_needing_photo = models.JSONField(
        default=_default_reasons_needing_photo,
        blank=True,
        verbose_name="Reasons that need a photo",
    )
    return_address = models.TextField(
        blank=True, help_text="Where customers send the goods back, as it goes on the parcel."
    )
    return_instructions = models.TextField(
        blank=True,
        help_text="How to pack and send a return; empty shows the portal's general instructions.",
    )

    class Meta:
        verbose_name = "return policy"
        verbose_name_plural = "return policies"

    def __str__(self) -> str:
        return f"Return policy of {self.account}"


class Customer(models.Model):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customer",
    )

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending payment"
    PAID = "paid", "Paid"
    FULFILLED = "fulfilled", "Fulfilled"
    CANCELLED = "cancelled", "Cancelled"


MONEY = {"max_digits": 14, "decimal_places": 2}


class Order(models.Model):
    account = models.ForeignKey(MarketplaceAccount, on_delete=models.PROTECT, related_name="orders")
    external_number = models.CharField(max_length=100)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PAID)
    currency = models.CharField(max_length=3, default="USD")
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # When the marketplace reports them: the return window counts from delivery, else from
    # fulfilment (refunds/policy.py).
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    items_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    shipping_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tip_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    additional_total = models.DecimalField(
        **MONEY, default=Decimal("0.00"), help_text="Additional charges such as gift wrapping."
    )
    grand_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_number"], name="order_number_unique_per_account"
            ),
            models.CheckConstraint(
                condition=Q(items_total__gte=0)
                & Q(shipping_total__gte=0)
                & Q(tip_total__gte=0)
                & Q(additional_total__gte=0)
                & Q(grand_total__gte=0),
                name="order_totals_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["external_number"], name="order_external_number_idx"),
            # The staff Orders page lists and pages by keyset in this order (newest placed first).
            models.Index(fields=["-placed_at", "-id"], name="order_placed_idx"),
        ]

    def __str__(self) -> str:
        return f"Order {self.external_number}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    external_id = models.CharField(max_length=120)
    sku = models.CharField(max_length=100)
    name = models.CharField(max_length=250)
    # The product's category as the marketplace names it (a return policy can exclude one).
    category = models.CharField(max_length=120, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)
    discount = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tax = models.DecimalField(**MONEY, default=Decimal("0.00"))
    fulfilled_quantity = models.PositiveIntegerField(default=0)
    cancelled_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="order_line_unique_id"),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="order_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0) & Q(discount__gte=0) & Q(tax__gte=0),
                name="order_line_money_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_quantity__lte=F("quantity"))
                & Q(fulfilled_quantity__lte=F("quantity")),
                name="order_line_quantities_within_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} × {self.quantity}"

    @property
    def paid_amount(self) -> Decimal:
        """What the customer paid for the whole line: price × quantity − discount + tax."""
        return self.unit_price * self.quantity - self.discount + self.tax


class PaymentLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    external_id = models.CharField(max_length=120)
    method = models.CharField(max_length=60)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="payment_line_unique_id"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        # Money is shown with its currency's decimals and code ("card 1500 JPY").
        return f"{self.method} {format_money(self.amount, self.order.currency)}"
