"""Staff forms. They only parse input; every decision is the services' (a RefundError is shown
beside its field with `add_refund_error`)."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from orders.money import minor_unit

from .calculator import LineChoice
from .errors import RefundError
from .models import ReasonCode
from .services import Received

BULK_LIMIT = 100


def add_refund_error(form: forms.Form, error: RefundError) -> None:
    """Show a refused action beside the field it names, or above the form."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class NoteForm(forms.Form):
    """Approve, cancel and retry: an optional note for the audit trail."""

    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Note (optional)",
    )


class DenyForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Reason (the customer reads it)",
    )


class ShipForm(forms.Form):
    carrier = forms.CharField(max_length=100)
    tracking_id = forms.CharField(max_length=100, label="Tracking number")


class ReceiveForm(forms.Form):
    """One quantity and one restock box per refund line."""

    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Note (optional)",
    )

    def __init__(self, *args, refund_lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.refund_lines = list(refund_lines)
        self.rows = []
        for line in self.refund_lines:
            qty = f"received_{line.pk}"
            restock = f"restock_{line.pk}"
            self.fields[qty] = forms.IntegerField(
                min_value=0,
                max_value=line.quantity,
                initial=line.quantity,
                label=f"{line.order_line.sku} received (of {line.quantity})",
            )
            self.fields[restock] = forms.BooleanField(
                required=False, initial=line.restock, label="Restock"
            )
            self.rows.append((line, qty, restock))

    def bound_rows(self):
        return [(line, self[qty], self[restock]) for line, qty, restock in self.rows]

    def received(self) -> dict[int, Received]:
        return {
            line.pk: Received(quantity=self.cleaned_data[qty], restock=self.cleaned_data[restock])
            for line, qty, restock in self.rows
        }


class NewRefundForm(forms.Form):
    """A refund on a customer's behalf: quantities per order line, shipping, additional charges,
    reason and note. Amounts are Decimal; the calculator decides what is allowed."""

    shipping_amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        label="Shipping to refund",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
    )
    additional_amount = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        label="Additional charges to refund",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0"}),
    )
    reason_code = forms.ChoiceField(
        choices=[("", "Choose a reason"), *ReasonCode.choices], label="Reason"
    )
    refund_only = forms.BooleanField(
        required=False, label="Refund only (the customer keeps the goods)"
    )
    customer_explanation = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="What the customer said",
    )
    note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Internal note",
    )
    policy_override_note = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why override the return policy",
        help_text="Needed when you refund an item the return policy excludes; it goes in the "
        "refund's history.",
    )

    def __init__(self, *args, refundable=None, eligibility=None, **kwargs):
        super().__init__(*args, **kwargs)
        # refunds.policy per order line: staff see why a line is outside the return policy, and
        # the override note is offered only when the order has such a line.
        self.eligibility = eligibility or {}
        self.has_policy_breach = any(not e.is_returnable for e in self.eligibility.values())
        if refundable is not None:
            # The inputs step by the order currency's minor unit: 1 for JPY, 0.001 for KWD.
            step = f"{minor_unit(refundable.order.currency):f}"
            for name in ("shipping_amount", "additional_amount"):
                self.fields[name].widget.attrs["step"] = step
        self.rows = []
        for info in refundable.lines.values() if refundable else ():
            name = f"qty_{info.line.pk}"
            self.fields[name] = forms.IntegerField(
                required=False,
                min_value=0,
                max_value=info.units,
                initial=0,
                label=f"{info.line.sku} quantity",
                widget=forms.NumberInput(attrs={"min": "0", "max": str(info.units)}),
            )
            self.rows.append((info, name))

    def bound_rows(self):
        return [(info, self[name]) for info, name in self.rows]

    def policy_rows(self):
        """(line refundable, quantity field, its eligibility or None) for the template."""
        return [(info, self[name], self.eligibility.get(info.line.pk)) for info, name in self.rows]

    def line_choices(self) -> list[LineChoice]:
        return [
            LineChoice(order_line_id=info.line.pk, quantity=self.cleaned_data[name])
            for info, name in self.rows
            if self.cleaned_data.get(name)
        ]


class PreviewForm(NewRefundForm):
    """The live preview needs no reason yet."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].required = False


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("approve", "Approve"), ("deny", "Deny")])
    refund_ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), label="Refunds")
    reason = forms.CharField(required=False, max_length=2000, label="Reason for denial")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id is acceptable here; the services decide, refund by refund.
        values = self.data.getlist("refund_ids") if hasattr(self.data, "getlist") else []
        self.fields["refund_ids"].choices = [(v, v) for v in values if str(v).isdigit()]

    def clean_refund_ids(self):
        ids = list(dict.fromkeys(self.cleaned_data["refund_ids"]))
        if len(ids) > BULK_LIMIT:
            raise forms.ValidationError(f"Choose at most {BULK_LIMIT} refunds at a time")
        return ids

    def clean(self):
        data = super().clean()
        if data.get("action") == "deny" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Give the customer a reason for the denial")
        return data
