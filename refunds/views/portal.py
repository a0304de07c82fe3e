"""The customer portal: own orders and refunds only (every queryset from a selector that takes
the customer), refund requests, a status timeline, return tracking and cancelling. Writes go
through refunds.services; a RefundError becomes a form error beside its field. Also the sign-in
view with a lockout after repeated failures per account and per address."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import LoginView
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views import View
from django.views.generic import ListView, TemplateView

from refunds import rules, services
from refunds.calculator import LineChoice, unpaid_order_error
from refunds.errors import RefundError
from refunds.lockout import is_locked_out
from refunds.models import ReasonCode, RefundLine
from refunds.selectors import order_refundable, orders_for_customer, refunds_for_customer
from refunds.states import Action

# --- sign-in with lockout --------------------------------------------------------------------


class LockoutAuthenticationForm(AuthenticationForm):
    """Sign in with e-mail and password; says so when the account or address is locked out.
    (Usernames are e-mail addresses; a CharField still lets an odd staff username in.)"""

    username = forms.CharField(
        label="E-mail",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That e-mail and password do not match an account.",
        "locked_out": "Too many failed sign-ins. Try again in %(minutes)s minutes or reset "
        "your password.",
    }

    def clean(self):
        # The backend enforces the lockout and counts failures; this only says why.
        if is_locked_out(self.request, self.cleaned_data.get("username") or ""):
            raise forms.ValidationError(
                self.error_messages["locked_out"],
                code="locked_out",
                params={"minutes": max(settings.LOGIN_LOCKOUT_SECONDS // 60, 1)},
            )
        return super().clean()


class PortalLoginView(LoginView):
    form_class = LockoutAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


# --- forms -----------------------------------------------------------------------------------

KEEP, SEND_BACK = "keep", "send_back"


class RefundRequestForm(forms.Form):
    reason_code = forms.ChoiceField(
        label="Reason", choices=[("", "Choose a reason"), *ReasonCode.choices]
    )
    customer_explanation = forms.CharField(
        label="Tell us what happened",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    goods = forms.ChoiceField(
        label="The goods",
        choices=[(SEND_BACK, "I will send them back"), (KEEP, "I keep them")],
        widget=forms.RadioSelect,
        initial=SEND_BACK,
    )

    def __init__(self, *args, refundable, **kwargs):
        super().__init__(*args, **kwargs)
        self.line_fields = []
        for info in refundable.lines.values():
            name = f"line_{info.line.pk}"
            self.fields[name] = forms.IntegerField(
                label=f"{info.line.name} ({info.line.sku})",
                min_value=0,
                max_value=info.units,
                initial=0,
                required=False,
                help_text=f"Up to {info.units} of {info.line.quantity}",
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )
            self.line_fields.append((name, info))

    def bound_lines(self):
        return [(self[name], info) for name, info in self.line_fields]

    def line_choices(self) -> list[LineChoice]:
        return [
            LineChoice(order_line_id=info.line.pk, quantity=self.cleaned_data[name])
            for name, info in self.line_fields
            if self.cleaned_data.get(name)
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.line_choices():
            raise forms.ValidationError("Choose at least one item and how many to refund.")
        return cleaned


class ShipForm(forms.Form):
    carrier = forms.CharField(label="Carrier", max_length=100)
    tracking_id = forms.CharField(label="Tracking number", max_length=100)


def _add_refund_error(form: forms.Form, exc: RefundError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


# --- pages -----------------------------------------------------------------------------------


class PortalHomeView(LoginRequiredMixin, TemplateView):
    template_name = "portal/home.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            orders=orders_for_customer(user)[:20],
            refunds=refunds_for_customer(user)[:10],
            **kwargs,
        )


class OrderListView(LoginRequiredMixin, ListView):
    template_name = "portal/order_list.html"
    context_object_name = "orders"
    paginate_by = 20

    def get_queryset(self):
        return orders_for_customer(self.request.user)


class OrderDetailView(LoginRequiredMixin, TemplateView):
    template_name = "portal/order_detail.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        order = get_object_or_404(
            orders_for_customer(user).prefetch_related("lines", "payments"), pk=kwargs["pk"]
        )
        room = order_refundable(order)
        return super().get_context_data(
            order=order,
            refundable=room,
            can_request=order.status in ("paid", "fulfilled")
            and room.total > 0
            and any(info.units for info in room.lines.values()),
            refunds=refunds_for_customer(user).filter(order=order),
            **kwargs,
        )


class RefundRequestView(LoginRequiredMixin, TemplateView):
    template_name = "portal/refund_request.html"

    def _order(self):
        return get_object_or_404(orders_for_customer(self.request.user), pk=self.kwargs["pk"])

    def _render(self, order, form, status=200):
        return self.render_to_response({"order": order, "form": form}, status=status)

    def get(self, request, pk):
        order = self._order()
        return self._render(order, RefundRequestForm(refundable=order_refundable(order)))

    def post(self, request, pk):
        order = self._order()
        refundable = order_refundable(order)
        form = RefundRequestForm(request.POST, refundable=refundable)
        if not refundable.is_paid:
            form.is_valid()
            _add_refund_error(form, unpaid_order_error(order))
        elif form.is_valid():
            try:
                refund = services.refund_request(
                    actor=request.user,
                    order=order,
                    reason_code=form.cleaned_data["reason_code"],
                    refund_only=form.cleaned_data["goods"] == KEEP,
                    lines=form.line_choices(),
                    customer_explanation=form.cleaned_data["customer_explanation"],
                    via="portal",
                )
            except RefundError as exc:
                _add_refund_error(form, exc)
            else:
                messages.success(request, f"Refund {refund.number} requested.")
                return HttpResponseRedirect(reverse("portal:refund-detail", args=[refund.pk]))
        return self._render(order, form, status=400)


class RefundListView(LoginRequiredMixin, ListView):
    template_name = "portal/refund_list.html"
    context_object_name = "refunds"
    paginate_by = 20

    def get_queryset(self):
        return refunds_for_customer(self.request.user)


class RefundDetailView(LoginRequiredMixin, TemplateView):
    template_name = "portal/refund_detail.html"

    def _refund(self):
        return get_object_or_404(
            refunds_for_customer(self.request.user).prefetch_related(
                Prefetch("lines", queryset=RefundLine.objects.select_related("order_line")),
                "events",
            ),
            pk=self.kwargs["pk"],
        )

    def get_context_data(self, **kwargs):
        refund = kwargs.pop("refund", None) or self._refund()
        ship_form = kwargs.pop("ship_form", None) or ShipForm(
            initial={"carrier": refund.return_carrier, "tracking_id": refund.return_tracking_id}
        )
        return super().get_context_data(
            refund=refund,
            # Who acted, as a role: a customer never sees a staff member's name or e-mail.
            events=[
                (e, e.actor_for_customer(self.request.user.pk))
                for e in refund.events.all()
                if e.from_status != e.to_status
            ],
            # The services' own rule: a form is offered only when its service would accept it.
            can_ship=rules.decide(self.request.user, refund, Action.SHIP).allowed,
            can_cancel=rules.decide(self.request.user, refund, Action.CANCEL).allowed,
            ship_form=ship_form,
            **kwargs,
        )


class RefundShipView(LoginRequiredMixin, View):
    def post(self, request, pk):
        refund = get_object_or_404(refunds_for_customer(request.user), pk=pk)
        form = ShipForm(request.POST)
        if form.is_valid():
            try:
                services.refund_ship(
                    actor=request.user,
                    refund=refund,
                    tracking_id=form.cleaned_data["tracking_id"],
                    carrier=form.cleaned_data["carrier"],
                    via="portal",
                )
            except RefundError as exc:
                _add_refund_error(form, exc)
            else:
                messages.success(request, "Return tracking saved. Thank you!")
                return HttpResponseRedirect(reverse("portal:refund-detail", args=[pk]))
        view = RefundDetailView(request=request, kwargs={"pk": pk}, args=())
        return view.render_to_response(view.get_context_data(pk=pk, ship_form=form), status=400)


class RefundCancelView(LoginRequiredMixin, View):
    def post(self, request, pk):
        refund = get_object_or_404(refunds_for_customer(request.user), pk=pk)
        try:
            services.refund_cancel(actor=request.user, refund=refund, via="portal")
        except RefundError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("portal:refund-detail", args=[pk]))
        messages.success(request, f"Refund {refund.number} cancelled.")
        return HttpResponseRedirect(reverse("portal:refund-detail", args=[pk]))
