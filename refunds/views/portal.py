"""The customer portal: own orders and refunds only (every queryset from a selector that takes
the customer), refund requests, a status timeline, return tracking and cancelling. Writes go
through refunds.services; a RefundError becomes a form error beside its field. Also the sign-in
view with a lockout after repeated failures per account and per address.

The pages serve a signed-in customer and a guest whose one-time link (views/portal_guest.py)
bound the session to one order alike: `PortalViewerMixin` (views/portal_access.py) resolves who
looks, the viewer selectors scope every queryset (a guest's other URLs answer 404), and a guest
acts as `services.guest_access.guest_actor` says (the order's customer's user; nobody for a
staff user, who then may look but not act)."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.db.models import Prefetch
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views import View
from django.views.generic import ListView, TemplateView

from orders.money import format_money
from refunds import customer_status, policy, rules, services
from refunds.amounts import refund_breakdown
from refunds.calculator import LineChoice, propose_refund, unpaid_order_error
from refunds.errors import RefundError
from refunds.lockout import is_locked_out
from refunds.models import ReasonCode, RefundLine
from refunds.policy import LineEligibility
from refunds.selectors import (
    LineRefundable,
    order_refundable,
    orders_for_viewer,
    refunds_for_viewer,
)
from refunds.states import FINAL_STATUSES, Action, RefundStatus

from .evidence import PhotosField, portal_evidence_context, request_photos_help
from .portal_access import PortalViewerMixin

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
TOTAL = "total"  # posted by the running total (htmx) and the no-JavaScript "Update the total"


@dataclass(frozen=True)
class RequestLine:
    """One order line on the request form: what is left of it, whether the return policy lets
    the customer return it (refunds/policy.py), and its quantity input when it does."""

    info: LineRefundable
    eligibility: LineEligibility
    field: forms.BoundField | None

    @property
    def is_returnable(self) -> bool:
        return self.field is not None


class RefundRequestForm(forms.Form):
    """Quantities per order line, reason, explanation, the goods. A line the return policy does
    not let the customer return has no input; a quantity posted for it anyway is refused with the
    policy's reason. `for_total` parses only what the running total needs."""

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
    # Checked and re-encoded as the form is cleaned (refunds.evidence): a file we do not take is
    # refused beside this field before anything is written.
    photos = PhotosField()

    def __init__(self, *args, refundable, eligibility=None, for_total=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.refundable = refundable
        self.fields["photos"].help_text = request_photos_help(refundable.order.account)
        self.for_total = for_total
        if for_total:
            self.fields["reason_code"].required = False
            self.fields["goods"].required = False
        # Say up front which reasons the account's return policy wants an explanation for.
        needing = [
            f"“{label}”"
            for code, label in ReasonCode.choices
            if policy.reason_needs_explanation(refundable.order.account, code)
        ]
        if needing:
            self.fields[
                "customer_explanation"
            ].help_text = f"Required when the reason is {' or '.join(needing)}."
        currency = refundable.order.currency
        eligibility = eligibility or {}
        self.line_fields = []
        self._eligibility = {}
        self._ineligible = []
        for info in refundable.lines.values():
            pk = info.line.pk
            name = f"line_{pk}"
            allowed = eligibility.get(pk) or LineEligibility(pk, True)
            self._eligibility[pk] = allowed
            if not allowed.is_returnable:
                self._ineligible.append((name, info, allowed))
                continue
            help_parts = [
                f"{format_money(info.line.unit_price, currency)} each",
                f"up to {info.units} of {info.line.quantity}",
            ]
            self.fields[name] = forms.IntegerField(
                label=f"{info.line.name} ({info.line.sku})",
                min_value=0,
                max_value=info.units,
                initial=0,
                required=False,
                help_text=" · ".join(help_parts) + (f". {allowed.note}" if allowed.note else ""),
                widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0"}),
            )
            self.line_fields.append((name, info))

    def bound_lines(self):
        return [(self[name], info) for name, info in self.line_fields]

    def rows(self) -> list[RequestLine]:
        """Every line in the order's order, with its input or the reason it has none."""
        names = {info.line.pk: name for name, info in self.line_fields}
        return [
            RequestLine(
                info,
                self._eligibility[info.line.pk],
                self[names[info.line.pk]] if info.line.pk in names else None,
            )
            for info in self.refundable.lines.values()
        ]

    def total_params(self) -> str:
        """The inputs the running total is computed from (htmx `hx-params`): the quantities and
        the CSRF token, never the rest of the form (no photos sent on every keystroke)."""
        return ",".join(["csrfmiddlewaretoken", TOTAL, *(name for name, _ in self.line_fields)])

    def line_choices(self) -> list[LineChoice]:
        return [
            LineChoice(order_line_id=info.line.pk, quantity=self.cleaned_data[name])
            for name, info in self.line_fields
            if self.cleaned_data.get(name)
        ]

    def forged_lines(self) -> list[str]:
        """Why each line without an input that was posted a quantity anyway cannot be asked for."""
        forged = []
        for name, info, allowed in self._ineligible:
            value = str(self.data.get(name, "") or "").strip()
            if value not in ("", "0"):
                forged.append(f"{info.line.name} ({info.line.sku}): {allowed.reason}")
        return forged

    def clean(self):
        cleaned = super().clean()
        for message in self.forged_lines():
            self.add_error(None, message)
        if not self.for_total and not self.errors and not self.line_choices():
            raise forms.ValidationError("Choose at least one item and how many to refund.")
        return cleaned


class ShipForm(forms.Form):
    carrier = forms.CharField(label="Carrier", max_length=100)
    tracking_id = forms.CharField(label="Tracking number", max_length=100)


def _add_refund_error(form: forms.Form, exc: RefundError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def _allowed(actor, refund, action: Action) -> bool:
    return actor is not None and rules.decide(actor, refund, action).allowed


NO_GUEST_ACTOR = "Sign in to your account to do this."


# --- pages -----------------------------------------------------------------------------------


class PortalHomeView(PortalViewerMixin, TemplateView):
    template_name = "portal/home.html"

    def get(self, request, *args, **kwargs):
        if self.viewer.is_guest:  # a guest has one order: its page is their home
            order_id = self.viewer.guest_order_id
            return HttpResponseRedirect(reverse("portal:order-detail", args=[order_id]))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            orders=orders_for_viewer(self.viewer)[:20],
            refunds=refunds_for_viewer(self.viewer)[:10],
            **kwargs,
        )


class OrderListView(PortalViewerMixin, ListView):
    template_name = "portal/order_list.html"
    context_object_name = "orders"
    paginate_by = 20

    def get_queryset(self):
        return orders_for_viewer(self.viewer)


class OrderDetailView(PortalViewerMixin, TemplateView):
    template_name = "portal/order_detail.html"

    def get_context_data(self, **kwargs):
        order = get_object_or_404(
            orders_for_viewer(self.viewer).prefetch_related("lines", "payments"), pk=kwargs["pk"]
        )
        room = order_refundable(order)
        eligibility = policy.order_eligibility(order, lines=order.lines.all())
        return super().get_context_data(
            order=order,
            refundable=room,
            lines=[(info, eligibility[pk]) for pk, info in room.lines.items()],
            can_request=order.status in ("paid", "fulfilled")
            and room.total > 0
            and any(info.units and eligibility[pk].is_returnable for pk, info in room.lines.items())
            and self.actor_for(order) is not None,
            refunds=refunds_for_viewer(self.viewer).filter(order=order),
            **kwargs,
        )


def request_total(order, form: RefundRequestForm):
    """The running total of a request form: the calculator's proposal for its quantities (what
    refund_request will compute from the same lines), or why there is none yet."""
    if not form.is_bound:
        return None, ""
    form.is_valid()
    forged = form.forged_lines()
    if forged:
        return None, forged[0]
    if any(form[name].errors for name, _ in form.line_fields):
        return None, "Correct the quantities to see your refund."
    choices = form.line_choices()
    if not choices:
        return None, ""
    try:
        return propose_refund(order=order, lines=choices), ""
    except RefundError as exc:
        return None, exc.message


def _total_context(order, refundable, proposal, error: str) -> dict:
    """What the running total's block shows: each proposed line with its item, shipping apart."""
    return {
        "order": order,
        "currency": order.currency,
        "proposal": proposal,
        "total_error": error,
        "total_lines": [
            (refundable.lines[p.order_line_id].line, p)
            for p in (proposal.lines if proposal else ())
        ],
    }


class RefundRequestView(PortalViewerMixin, TemplateView):
    """The request form. A POST with `total` (the htmx running total, or "Update the total"
    without JavaScript) only computes the amount; htmx gets the total's block alone."""

    template_name = "portal/refund_request.html"

    def _order(self):
        return get_object_or_404(
            orders_for_viewer(self.viewer).prefetch_related("lines"), pk=self.kwargs["pk"]
        )

    def _form(self, order, refundable, data=None, **kwargs):
        eligibility = policy.order_eligibility(order, lines=order.lines.all())
        return RefundRequestForm(data, refundable=refundable, eligibility=eligibility, **kwargs)

    def _render(self, order, form, status=200, proposal=None, total_error=""):
        return self.render_to_response(
            {"form": form, **_total_context(order, form.refundable, proposal, total_error)},
            status=status,
        )

    def get(self, request, pk):
        order = self._order()
        return self._render(order, self._form(order, order_refundable(order)))

    def post(self, request, pk):
        order = self._order()
        refundable = order_refundable(order)
        if TOTAL in request.POST:
            form = self._form(order, refundable, request.POST, for_total=True)
            proposal, error = request_total(order, form)
            if request.headers.get("HX-Request"):
                return render(
                    request,
                    "portal/_request_total.html",
                    _total_context(order, refundable, proposal, error),
                )
            return self._render(order, form, proposal=proposal, total_error=error)
        form = self._form(order, refundable, request.POST, files=request.FILES)
        actor = self.actor_for(order)
        if not refundable.is_paid:
            form.is_valid()
            _add_refund_error(form, unpaid_order_error(order))
        elif actor is None:  # never actor=None: that is the system, not this person
            form.is_valid()
            form.add_error(None, NO_GUEST_ACTOR)
        elif form.is_valid():
            try:
                refund = services.refund_request(
                    actor=actor,
                    order=order,
                    reason_code=form.cleaned_data["reason_code"],
                    refund_only=form.cleaned_data["goods"] == KEEP,
                    lines=form.line_choices(),
                    customer_explanation=form.cleaned_data["customer_explanation"],
                    photos=form.cleaned_data.get("photos") or (),
                    via="portal",
                    # A guest's request is recorded under the order's e-mail.
                    requester_name=order.customer.email if self.viewer.is_guest else "",
                )
            except RefundError as exc:
                _add_refund_error(form, exc)
            else:
                messages.success(request, f"Refund {refund.number} requested.")
                return HttpResponseRedirect(reverse("portal:refund-detail", args=[refund.pk]))
        proposal, error = request_total(
            order, self._form(order, refundable, request.POST, for_total=True)
        )
        return self._render(order, form, status=400, proposal=proposal, total_error=error)


class RefundListView(PortalViewerMixin, ListView):
    template_name = "portal/refund_list.html"
    context_object_name = "refunds"
    paginate_by = 20

    def get_queryset(self):
        return refunds_for_viewer(self.viewer)


class RefundDetailView(PortalViewerMixin, TemplateView):
    template_name = "portal/refund_detail.html"

    def _refund(self):
        return get_object_or_404(
            refunds_for_viewer(self.viewer).prefetch_related(
                Prefetch("lines", queryset=RefundLine.objects.select_related("order_line")),
                "events",
                "evidence",
            ),
            pk=self.kwargs["pk"],
        )

    def get_context_data(self, **kwargs):
        refund = kwargs.pop("refund", None) or self._refund()
        photo_form = kwargs.pop("photo_form", None)
        ship_form = kwargs.pop("ship_form", None) or ShipForm(
            initial={"carrier": refund.return_carrier, "tracking_id": refund.return_tracking_id}
        )
        return super().get_context_data(
            refund=refund,
            # The services' own rule: a form is offered only when its service would accept it.
            can_ship=_allowed(self.actor_for(refund.order), refund, Action.SHIP),
            can_cancel=_allowed(self.actor_for(refund.order), refund, Action.CANCEL),
            ship_form=ship_form,
            **portal_evidence_context(refund, self.actor_for(refund.order), photo_form),
            breakdown=refund_breakdown(refund),
            **{k: v for k, v in _progress(refund).items() if k != "refund"},
            **return_instructions(refund.order.account),
            **kwargs,
        )


def _progress(refund) -> dict:
    """The refund's headline and steps in the customer's words; `live` while it can still move."""
    events = list(refund.events.all())
    return {
        "refund": refund,
        "headline": customer_status.headline(refund, events),
        "steps": customer_status.steps(refund, events),
        "live": RefundStatus(refund.status) not in FINAL_STATUSES,
    }


class RefundProgressView(PortalViewerMixin, View):
    """The progress block, asked for every 5 s by the refund's page (htmx). When the status
    itself changed the whole page is drawn again (HX-Refresh), since what the customer can do
    (send the goods back, cancel) changed with it; otherwise only the block is replaced."""

    def get(self, request, pk):
        refund = get_object_or_404(
            refunds_for_viewer(self.viewer).prefetch_related("events"), pk=pk
        )
        shown = request.GET.get("status")  # the status the page was drawn with
        response = render(request, "portal/_refund_progress.html", _progress(refund))
        if shown and shown != refund.status:
            response["HX-Refresh"] = "true"
        response["Cache-Control"] = "no-store"
        return response


class RefundShipView(PortalViewerMixin, View):
    def post(self, request, pk):
        refund = get_object_or_404(refunds_for_viewer(self.viewer), pk=pk)
        actor = self.actor_for(refund.order)
        if actor is None:
            raise Http404(NO_GUEST_ACTOR)
        form = ShipForm(request.POST)
        if form.is_valid():
            try:
                services.refund_ship(
                    actor=actor,
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
        view.viewer = self.viewer
        return view.render_to_response(view.get_context_data(pk=pk, ship_form=form), status=400)


class RefundCancelView(PortalViewerMixin, View):
    def post(self, request, pk):
        refund = get_object_or_404(refunds_for_viewer(self.viewer), pk=pk)
        actor = self.actor_for(refund.order)
        if actor is None:
            raise Http404(NO_GUEST_ACTOR)
        try:
            services.refund_cancel(actor=actor, refund=refund, via="portal")
        except RefundError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(reverse("portal:refund-detail", args=[pk]))
        messages.success(request, f"Refund {refund.number} cancelled.")
        return HttpResponseRedirect(reverse("portal:refund-detail", args=[pk]))


def return_instructions(account) -> dict:
    """Where and how the goods go back: the account's return policy when it names an address and
    instructions (orders' ReturnPolicy), otherwise what every return needs."""
    policy = getattr(account, "return_policy", None) if account is not None else None
    address = (getattr(policy, "return_address", "") or "").strip()
    instructions = (getattr(policy, "return_instructions", "") or "").strip()
    return {
        "return_address": address,
        "return_instructions": instructions
        or "Pack the items securely with this slip inside the parcel, post it with a tracked "
        "service and enter the carrier and tracking number on your refund's page.",
    }


class RefundReturnSlipView(PortalViewerMixin, TemplateView):
    """A printable page for the parcel: the refund number as text and as a QR code (for the
    drop-off point or the warehouse to scan), the items to pack, the return address. Only while
    the goods are to be sent back; otherwise 404."""

    template_name = "portal/return_slip.html"

    def get_context_data(self, **kwargs):
        refund = get_object_or_404(
            refunds_for_viewer(self.viewer)
            .select_related("order__account")
            .prefetch_related(
                Prefetch("lines", queryset=RefundLine.objects.select_related("order_line"))
            ),
            pk=self.kwargs["pk"],
        )
        if refund.refund_only or refund.status != RefundStatus.WAITING:
            raise Http404("No parcel to send back for this refund")
        qr = segno.make(refund.number, error="m")
        return super().get_context_data(
            refund=refund,
            qr_svg=mark_safe(qr.svg_inline(omitsize=True, title=f"QR code of {refund.number}")),  # noqa: S308 - segno's own SVG of our refund number
            **return_instructions(refund.order.account),
            **kwargs,
        )
