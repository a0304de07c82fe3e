"""A new refund on a customer's behalf, with the calculator's proposal as the user types (htmx)
or on "Preview" without JavaScript."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views import View

from orders.models import Order
from orders.money import format_money

from ... import policy, services
from ...calculator import propose_refund, unpaid_order_error
from ...errors import RefundError
from ...forms import NewRefundForm, PreviewForm, add_refund_error
from ...selectors import order_for_refund_queryset, order_refundable
from ._common import StaffPermissionMixin


def _order_for_refund(pk: int) -> Order:
    return get_object_or_404(order_for_refund_queryset(), pk=pk)


def _eligibility(order: Order) -> dict:
    return policy.order_eligibility(order, lines=order.lines.all())


def _policy_breaches(form: PreviewForm, order: Order) -> list[tuple[str, str]]:
    """(SKU, why not) for each chosen line the return policy does not allow: the preview says so
    as the lines are chosen, before the create asks for the override note."""
    if not form.is_valid():
        return []
    eligibility = _eligibility(order)
    lines = {line.pk: line for line in order.lines.all()}
    return [
        (lines[choice.order_line_id].sku, eligibility[choice.order_line_id].reason)
        for choice in form.line_choices()
        if choice.order_line_id in eligibility
        and not eligibility[choice.order_line_id].is_returnable
    ]


def _preview(form: PreviewForm, order: Order):
    """The calculator's proposal for the form's input, or the error it gives."""
    if not form.is_valid():
        return None, "Correct the highlighted fields to see the amount."
    try:
        proposal = propose_refund(
            order=order,
            lines=form.line_choices(),
            shipping_amount=form.cleaned_data.get("shipping_amount"),
            additional_amount=form.cleaned_data.get("additional_amount"),
        )
    except RefundError as exc:
        return None, exc.message
    return proposal, ""


class NewRefundView(StaffPermissionMixin, View):
    permission_required = ("refunds.view_refund", "refunds.add_refund")

    def get(self, request, pk: int):
        order = _order_for_refund(pk)
        refundable = order_refundable(order)
        form = NewRefundForm(refundable=refundable, eligibility=_eligibility(order))
        return self._render(request, order, refundable, form)

    def post(self, request, pk: int):
        order = _order_for_refund(pk)
        refundable = order_refundable(order)
        if "create" not in request.POST:
            # Without JavaScript the "Preview" button posts here and gets the page back.
            form = PreviewForm(request.POST, refundable=refundable, eligibility=_eligibility(order))
            proposal, error = _preview(form, order)
            return self._render(request, order, refundable, form, proposal, error)
        form = NewRefundForm(request.POST, refundable=refundable, eligibility=_eligibility(order))
        if not refundable.is_paid:
            # Every line allows 0 units; say why rather than only "at most 0".
            form.is_valid()
            add_refund_error(form, unpaid_order_error(order))
        elif form.is_valid():
            data = form.cleaned_data
            try:
                refund = services.refund_request(
                    actor=request.user,
                    order=order,
                    reason_code=data["reason_code"],
                    refund_only=data["refund_only"],
                    lines=form.line_choices(),
                    shipping_amount=data.get("shipping_amount"),
                    additional_amount=data.get("additional_amount"),
                    customer_explanation=data["customer_explanation"],
                    note=data["note"],
                    policy_override_note=data["policy_override_note"],
                )
            except RefundError as exc:
                add_refund_error(form, exc)
            else:
                messages.success(
                    request,
                    f"{refund.number} requested for {format_money(refund.total, refund.currency)}.",
                )
                return HttpResponseRedirect(reverse("staff:refund-detail", args=[refund.pk]))
        messages.error(request, "Nothing was created: see the form below.")
        return self._render(request, order, refundable, form, status=400)

    def _render(self, request, order, refundable, form, proposal=None, error="", status=200):
        return render(
            request,
            "staff/new_refund.html",
            {
                "order": order,
                "refundable": refundable,
                "form": form,
                "proposal": proposal,
                "preview_error": error,
                "policy_breaches": _policy_breaches(form, order) if proposal else [],
                "rows": form.bound_rows(),
                "policy_rows": form.policy_rows(),
            },
            status=status,
        )


class RefundPreviewView(StaffPermissionMixin, View):
    """htmx: the amount the calculator proposes for the form as it is now."""

    permission_required = ("refunds.view_refund", "refunds.add_refund")

    def post(self, request, pk: int):
        order = _order_for_refund(pk)
        form = PreviewForm(request.POST, refundable=order_refundable(order))
        proposal, error = _preview(form, order)
        return render(
            request,
            "staff/_preview.html",
            {
                "proposal": proposal,
                "preview_error": error,
                "policy_breaches": _policy_breaches(form, order) if proposal else [],
                "order": order,
            },
        )
