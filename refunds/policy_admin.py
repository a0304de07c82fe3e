"""Return policies in the managers' admin (orders.ReturnPolicy). Registered from the refunds app
because the reasons are refund reasons (refunds.models.ReasonCode), which the orders app does not
import; the marketplace account's page links here."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from integrations.registry import ADAPTERS
from orders.models import ReturnPolicy

from .models import ReasonCode


def _reasons_field(label: str, help_text: str) -> forms.TypedMultipleChoiceField:
    return forms.TypedMultipleChoiceField(
        choices=ReasonCode.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=label,
        help_text=help_text,
    )


class ReturnPolicyForm(forms.ModelForm):
    reasons_needing_explanation = _reasons_field(
        "Reasons that need an explanation",
        "The customer must say what happened when they choose one of these.",
    )
    reasons_needing_photo = _reasons_field(
        "Reasons that need a photo",
        "The customer must attach a photo when they choose one of these.",
    )

    class Meta:
        model = ReturnPolicy
        fields = (
            "account",
            "window_days",
            "non_returnable_skus",
            "non_returnable_categories",
            "reasons_needing_explanation",
            "reasons_needing_photo",
            "return_address",
            "return_instructions",
        )
        labels = {"account": "Seller account"}
        widgets = {
            "non_returnable_skus": forms.Textarea(attrs={"rows": 4, "cols": 40}),
            "non_returnable_categories": forms.Textarea(attrs={"rows": 4, "cols": 40}),
            "return_address": forms.Textarea(attrs={"rows": 4, "cols": 40}),
            "return_instructions": forms.Textarea(attrs={"rows": 4, "cols": 60}),
        }

    def _one_per_line(self, name: str) -> str:
        """Tidy the list as people paste it: one entry a line, no blanks, no repeats."""
        entries = [e.strip() for e in (self.cleaned_data.get(name) or "").splitlines()]
        return "\n".join(dict.fromkeys(e for e in entries if e))

    def clean_non_returnable_skus(self) -> str:
        return self._one_per_line("non_returnable_skus")

    def clean_non_returnable_categories(self) -> str:
        return self._one_per_line("non_returnable_categories")


@admin.register(ReturnPolicy)
class ReturnPolicyAdmin(admin.ModelAdmin):
    form = ReturnPolicyForm
    list_display = ("seller_account", "return_window", "final_sale", "needs_explanation")
    list_select_related = ("account",)
    search_fields = ("account__name",)
    search_help_text = "Part of the seller account's name."
    fieldsets = (
        (None, {"fields": ("account",)}),
        (
            "What can be returned",
            {"fields": ("window_days", "non_returnable_skus", "non_returnable_categories")},
        ),
        (
            "What the customer must give",
            {"fields": ("reasons_needing_explanation", "reasons_needing_photo")},
        ),
        ("Sending the goods back", {"fields": ("return_address", "return_instructions")}),
    )

    @admin.display(description="Seller account", ordering="account__name")
    def seller_account(self, obj):
        entry = ADAPTERS.get(obj.account.adapter_key)
        return f"{obj.account.name} ({entry.label if entry else obj.account.adapter_key})"

    @admin.display(description="Return window")
    def return_window(self, obj):
        if obj.window_days is None:
            return "No time limit"
        return f"{obj.window_days} day{'s' if obj.window_days != 1 else ''} after delivery"

    @admin.display(description="Final sale")
    def final_sale(self, obj):
        skus = [s for s in obj.non_returnable_skus.splitlines() if s.strip()]
        categories = [c for c in obj.non_returnable_categories.splitlines() if c.strip()]
        parts = []
        if skus:
            parts.append(f"{len(skus)} SKU{'s' if len(skus) != 1 else ''}")
        if categories:
            parts.append(", ".join(categories))
        return "; ".join(parts) or "—"

    @admin.display(description="Reasons that need an explanation")
    def needs_explanation(self, obj):
        labels = dict(ReasonCode.choices)
        codes = obj.reasons_needing_explanation or []
        return ", ".join(str(labels.get(code, code)) for code in codes) or "—"
