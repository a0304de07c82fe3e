"""The managers' admin for refunds. Refunds are read-only here (view-only: no Save buttons);
approving and denying go through the same services, rules and messages as the staff pages: Approve
and Deny on a refund's page, and the bulk actions with one message per refund. Filters, columns
and labels use people's words; audit events read as sentences (refunds.timeline)."""

from __future__ import annotations

import copy
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from orders.admin import marketplace_filter, platform_label, titled
from orders.money import format_money
from refunds.delivery.models import OutboundAction

from . import admin_users as _admin_users  # noqa: F401 (the people pages, spelled our way)
from . import policy_admin as _policy_admin  # noqa: F401 (registers the return policies)
from . import rules, services
from .delivery import admin as _delivery_admin  # noqa: F401 (registers the outbox and webhook pages)
from .errors import RefundError
from .filters import search_is_broad, search_refunds
from .forms import DenyForm, NoteForm, add_refund_error
from .models import Refund, RefundEvent, RefundEvidence, RefundLine
from .pagination import AdminPaginator
from .states import Action
from .timeline import event_sentence, pretty_json


def _when(value) -> str:
    """A moment as people read it, in the site's time zone: "7 Dec 2026, 14:05"."""
    return date_format(timezone.localtime(value), "j M Y, H:i") if value else "—"


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
    """The audit trail as sentences (refunds.timeline), each with its raw data behind a toggle."""

    model = RefundEvent
    verbose_name = "audit event"
    verbose_name_plural = "What happened"
    fields = ("when", "sentence", "raw_data")
    readonly_fields = fields

    def get_queryset(self, request):
        # The sentence names the refund's currency and the actor's role: no query per row.
        return (
            super()
            .get_queryset(request)
            .select_related("refund", "actor")
            .prefetch_related("actor__groups")
        )

    @admin.display(description="When")
    def when(self, obj):
        return _when(obj.created_at)

    @admin.display(description="What happened")
    def sentence(self, obj):
        return event_sentence(obj)

    @admin.display(description="Raw data")
    def raw_data(self, obj):
        raw = pretty_json(obj.changes)
        if not raw:
            return "—"
        return format_html(
            '<details class="rd-raw"><summary>Show raw data</summary><pre>{}</pre></details>', raw
        )


class RefundEvidenceInline(ReadOnlyInline):
    """The customer's photos as thumbnails, each linking to the full photo. The files are served
    by the staff photo view (refunds/views/evidence.py), which checks the viewer, never from a
    public URL."""

    model = RefundEvidence
    verbose_name = "photo"
    verbose_name_plural = "Photos from the customer"
    fields = ("thumbnail", "original_name", "dimensions", "uploaded_by", "added")
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        # Whoever may see the refund sees its photos (the photo view asks the same).
        return request.user.has_perm("refunds.view_refund")

    @admin.display(description="Photo")
    def thumbnail(self, obj):
        url = reverse("staff:refund-photo", args=[obj.refund_id, obj.pk])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener"><img src="{}" alt="Photo: {}" '
            'class="rd-photo-thumb" width="{}" height="{}" loading="lazy"></a>',
            url,
            url,
            obj.original_name,
            obj.width,
            obj.height,
        )

    @admin.display(description="Size")
    def dimensions(self, obj):
        return f"{obj.width}×{obj.height}, {obj.size // 1024} KB"

    @admin.display(description="Added")
    def added(self, obj):
        return _when(obj.created_at)


class OutboundActionInline(ReadOnlyInline):
    model = OutboundAction
    verbose_name = "message to the marketplace"
    verbose_name_plural = "Sent to the marketplace"
    fields = ("sent", "what", "state", "attempts", "delivery_key", "last_error", "done")
    readonly_fields = fields

    @admin.display(description="Created")
    def sent(self, obj):
        return obj.created_at

    @admin.display(description="What")
    def what(self, obj):
        return obj.get_kind_display()

    @admin.display(description="Key sent to the marketplace (the same on every try)")
    def delivery_key(self, obj):
        return obj.idempotency_key

    @admin.display(description="Finished")
    def done(self, obj):
        return obj.completed_at


class DenyReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        label="Reason (the customer reads it)",
    )


def _sentence(text: str) -> str:
    return text if text.endswith(".") else f"{text}."


# A bulk action's confirmation page lists every refund it will act on; more than this many are
# refused (a "Select all" across a long list), so the page stays one a person can read.
BULK_LIMIT = 200


def bulk_question(verb: str, refunds) -> str:
    """ "Approve 3 refunds for 24.68 USD + 500 JPY?": the count and the total per currency (in
    Decimal, each quantized to its currency), currencies in the order the refunds come."""
    totals: dict[str, Decimal] = {}
    for refund in refunds:
        totals[refund.currency] = totals.get(refund.currency, Decimal("0")) + refund.total
    money = " + ".join(format_money(amount, currency) for currency, amount in totals.items())
    count = len(refunds)
    return f"{verb} {count} {'refund' if count == 1 else 'refunds'}" + (
        f" for {money}?" if money else "?"
    )


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    """Read-only refunds (view permission semantics: no Save or Delete buttons). A manager
    decides on the change page with Approve and Deny, which post to `approve_view` and
    `deny_view`: the staff detail page's services, rules and messages."""

    # Fits a 1366 px screen beside the filters: the attention and drift marks ride in the status
    # column, the seller account under the order number.
    list_display = (
        "number_link",
        "status_badge",
        "order_number",
        "customer_email",
        "amount",
        "reason",
    )
    list_filter = (
        ("status", titled(admin.ChoicesFieldListFilter, "Status")),
        marketplace_filter("order__account__adapter_key"),
        ("order__account", titled(admin.RelatedFieldListFilter, "Seller account")),
        ("reason_code", titled(admin.ChoicesFieldListFilter, "Reason")),
        ("needs_attention", titled(admin.BooleanFieldListFilter, "Needs attention")),
        ("has_drift", titled(admin.BooleanFieldListFilter, "Differs from the marketplace")),
        ("source", titled(admin.ChoicesFieldListFilter, "Opened from")),
        ("requester_role", titled(admin.ChoicesFieldListFilter, "Requested by")),
        ("created_at", titled(admin.DateFieldListFilter, "Requested")),
    )
    search_fields = (
        "=id",
        "order__external_number",
        "order__customer__email",
        "return_tracking_id",
        "external_id",
    )
    search_help_text = (
        "Part of the order number, the customer's e-mail or name, the return tracking id or "
        "the marketplace's refund id, in any case; or a refund number (42 or RD-42)."
    )
    list_select_related = ("order", "order__account", "order__customer")
    # No date_hierarchy: its drill-down runs SELECT DISTINCT date_trunc(...) over every refund on
    # each page view (BENCHMARKS.md, Lists); the created_at list filter covers the same need.
    list_per_page = 50
    paginator = AdminPaginator  # page 500 costs what page 1 does; estimates past 10,000
    show_full_result_count = False  # a filtered page does not also count every refund
    inlines = (RefundLineInline, RefundEvidenceInline, RefundEventInline, OutboundActionInline)
    actions = ("approve_selected", "deny_selected")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "order",
                    "status",
                    "reason_label",
                    "customer_explanation",
                    "reason_given",
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
        ("Requester", {"fields": ("requested_by", "requested_as", "requested_from")}),
        ("Return", {"fields": ("return_carrier", "return_tracking_id", "received_at")}),
        (
            "Marketplace",
            {
                "fields": (
                    "marketplace",
                    "marketplace_refund_id",
                    "marketplace_request_id",
                    "needs_attention",
                    "why_attention",
                    "differs_from_marketplace",
                    "what_differs",
                )
            },
        ),
        (
            "Dates",
            {"fields": ("requested_at", "last_changed_at", "confirmed_on", "issued_on")},
        ),
    )
    change_form_template = "admin/refunds/refund/change_form.html"

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(
            request, queryset, per_page, orphans, allow_empty_first_page
        )
        # A broad search is walked, not collected: its count is the planner's estimate.
        paginator.broad = search_is_broad(request.GET.get(SEARCH_VAR, ""))
        return paginator

    def get_search_results(self, request, queryset, search_term):
        # The staff queue's search: partial matches whose branches each use an index (trigram on
        # PostgreSQL), instead of the admin's icontains OR across three joins (a scan of every
        # refund: BENCHMARKS.md, Lists).
        return search_refunds(queryset, search_term), False

    def get_readonly_fields(self, request, obj=None):
        return flatten_fieldsets(self.fieldsets)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Nothing on a refund is edited here: state changes go through the services (Approve,
        # Deny, the bulk actions). Without change permission the admin shows the refund as
        # view-only, with no Save buttons that would pretend otherwise.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request):
        return rules.staff_may(request.user, Action.APPROVE)

    def has_deny_permission(self, request):
        return rules.staff_may(request.user, Action.DENY)

    # --- the change page: Approve and Deny through the services ------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/approve/",
                self.admin_site.admin_view(self.approve_view),
                name="{}_{}_approve".format(*info),
            ),
            path(
                "<path:object_id>/deny/",
                self.admin_site.admin_view(self.deny_view),
                name="{}_{}_deny".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {})}
        refund = self.get_object(request, unquote(object_id))
        if refund is not None:
            extra_context.update(self._decision_context(request, refund, extra_context))
        return super().change_view(request, object_id, form_url, extra_context)

    def _decision_context(self, request, refund: Refund, bound: dict) -> dict:
        """The Approve and Deny forms the user may use now, and for the refusals a person can do
        something about (rules.EXPLAINED_CODES), why one is missing; as on the staff page."""
        decisions = {
            action: rules.decide(request.user, refund, action)
            for action in (Action.APPROVE, Action.DENY)
        }
        info = self.opts.app_label, self.opts.model_name
        return {
            "approve_form": (
                bound.get("approve_form") or NoteForm(prefix="approve")
                if decisions[Action.APPROVE].allowed or "approve_form" in bound
                else None
            ),
            "deny_form": (
                bound.get("deny_form") or DenyForm(prefix="deny")
                if decisions[Action.DENY].allowed or "deny_form" in bound
                else None
            ),
            "decision_notes": [
                *(_sentence(d.reason) for d in decisions.values() if d.is_explained),
                *filter(None, [rules.marketplace_pending(refund)]),
            ],
            "approve_url": reverse("admin:{}_{}_approve".format(*info), args=[refund.pk]),
            "deny_url": reverse("admin:{}_{}_deny".format(*info), args=[refund.pk]),
            "back_office_url": reverse("staff:refund-detail", args=[refund.pk]),
            "refund_total": format_money(refund.total, refund.currency),
        }

    def _refund_for_action(self, request, object_id) -> Refund:
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            raise Http404("No such refund")
        if not self.has_view_permission(request, refund):
            raise PermissionDenied
        return refund

    def _decide(self, request, object_id, *, action: Action, form_class, prefix: str, perform):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        refund = self._refund_for_action(request, object_id)
        if not rules.staff_may(request.user, action):
            raise PermissionDenied
        verb = "approved" if action is Action.APPROVE else "denied"
        form = form_class(request.POST, prefix=prefix)
        if form.is_valid():
            try:
                refund = perform(refund, form.cleaned_data)
            except RefundError as exc:
                add_refund_error(form, exc)
                problem = _sentence(exc.message)
            else:
                self.message_user(
                    request, f"{refund.number} {verb}: now {refund.status_label}.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:refunds_refund_change", args=[refund.pk])
                )
        else:
            problem = " ".join(
                f"{form[name].label}: {_sentence(error)}" if name in form.fields else error
                for name, errors in form.errors.items()
                for error in errors
            )
        self.message_user(request, f"{refund.number} was not {verb}. {problem}", messages.ERROR)
        # The change page again with the form as it was typed (and its error beside the field);
        # nothing was changed.
        page = copy.copy(request)
        page.method = "GET"
        response = self.change_view(page, object_id, extra_context={f"{prefix}_form": form})
        response.status_code = 400
        return response

    def approve_view(self, request, object_id):
        return self._decide(
            request,
            object_id,
            action=Action.APPROVE,
            form_class=NoteForm,
            prefix="approve",
            perform=lambda refund, data: services.refund_approve(
                actor=request.user, refund=refund, note=data["note"]
            ),
        )

    def deny_view(self, request, object_id):
        return self._decide(
            request,
            object_id,
            action=Action.DENY,
            form_class=DenyForm,
            prefix="deny",
            perform=lambda refund, data: services.refund_deny(
                actor=request.user, refund=refund, reason=data["reason"]
            ),
        )

    # --- columns and read-only fields in people's words ---------------------------------------

    @admin.display(description="Refund · requested", ordering="created_at")
    def number_link(self, obj):
        return format_html('{} <span class="rd-sub">{}</span>', obj.number, _when(obj.created_at))

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        marks = []
        if obj.needs_attention:
            marks.append(
                format_html('<span class="rd-mark rd-mark-{}">{}</span>', "bad", "needs attention")
            )
        if obj.has_drift:
            marks.append(
                format_html('<span class="rd-mark rd-mark-{}">{}</span>', "warn", "differs")
            )
        return format_html(
            '<span class="rd-badge rd-{}">{}</span>{}',
            obj.status.lower(),
            obj.status_label,
            format_html_join("", "{}", ((mark,) for mark in marks)),
        )

    @admin.display(description="Order · seller account", ordering="order__external_number")
    def order_number(self, obj):
        return format_html(
            '{} <span class="rd-sub">{}</span>', obj.order.external_number, obj.order.account.name
        )

    @admin.display(description="Customer", ordering="order__customer__email")
    def customer_email(self, obj):
        # A narrow column breaks a long address after its @, not in the middle of a word.
        local, at, domain = obj.order.customer.email.partition("@")
        return format_html("{}<wbr>{}{}", local, at, domain)

    @admin.display(description="Amount", ordering="total")
    def amount(self, obj):
        return format_money(obj.total, obj.currency)

    @admin.display(description="Reason", ordering="reason_code")
    def reason(self, obj):
        return obj.get_reason_code_display()

    @admin.display(description="Reason")
    def reason_label(self, obj):
        return obj.get_reason_code_display()

    @admin.display(description="Reason given to the customer")
    def reason_given(self, obj):
        return obj.response_reason or "—"

    @admin.display(description="Requested")
    def requested_at(self, obj):
        return _when(obj.created_at)

    @admin.display(description="Last changed")
    def last_changed_at(self, obj):
        return _when(obj.updated_at)

    @admin.display(description="Confirmed by the marketplace")
    def confirmed_on(self, obj):
        return _when(obj.confirmed_at)

    @admin.display(description="Issued")
    def issued_on(self, obj):
        return _when(obj.issued_at)

    @admin.display(description="Requested as")
    def requested_as(self, obj):
        name = f" ({obj.requester_name})" if obj.requester_name else ""
        return f"{obj.get_requester_role_display()}{name}"

    @admin.display(description="Opened from")
    def requested_from(self, obj):
        return obj.get_source_display()

    @admin.display(description="Marketplace")
    def marketplace(self, obj):
        return f"{platform_label(obj.order.account.adapter_key)} · {obj.order.account.name}"

    @admin.display(description="Marketplace refund id")
    def marketplace_refund_id(self, obj):
        return obj.external_id or "—"

    @admin.display(description="Marketplace request id")
    def marketplace_request_id(self, obj):
        return obj.external_request_id or "—"

    @admin.display(description="Why it needs attention")
    def why_attention(self, obj):
        return obj.attention_message or "—"

    @admin.display(description="Differs from the marketplace", boolean=True)
    def differs_from_marketplace(self, obj):
        return obj.has_drift

    @admin.display(description="What differs")
    def what_differs(self, obj):
        return obj.drift_note or "—"

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

    # --- bulk actions: a confirmation page with the count and the totals, then each refund
    # through its service, one message per refund ---------------------------------------------

    def _too_many(self, request, queryset: QuerySet, verb: str) -> bool:
        """More refunds than a person can check on one page ("Select all" across a big list):
        refused with a message, nothing changed."""
        if queryset.count() <= BULK_LIMIT:
            return False
        self.message_user(
            request,
            f"Pick at most {BULK_LIMIT} refunds to {verb} at once; nothing was changed.",
            messages.ERROR,
        )
        return True

    def _each(self, request, queryset: QuerySet, verb: str, call) -> None:
        done = 0
        refunds = list(queryset.order_by("id"))
        for refund in refunds:
            try:
                refund = call(refund)
            except RefundError as exc:
                self.message_user(
                    request, f"{refund.number} was not {verb}: {exc.message}", messages.ERROR
                )
            else:
                done += 1
                self.message_user(
                    request, f"{refund.number}: {verb}, now {refund.status_label}", messages.SUCCESS
                )
        self.message_user(request, f"{done} of {len(refunds)} refunds {verb}", messages.INFO)

    def _confirmation(self, request, queryset: QuerySet, *, action: Action, form=None):
        """The page between picking a bulk action and its taking effect (as Django's "delete
        selected" has): the question with the count and the total per currency, each refund with
        its amount and whether the rules will let it through, Confirm (posts the same ids back
        with `post`) and Cancel (back to the list as it was filtered)."""
        refunds = list(queryset.select_related("order__account", "order__customer").order_by("id"))
        verb = "Approve" if action is Action.APPROVE else "Deny"
        rows = [(refund, rules.decide(request.user, refund, action)) for refund in refunds]
        response = TemplateResponse(
            request,
            f"admin/refunds/refund/{action.value}_selected_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "title": f"{verb} refunds",
                "opts": self.model._meta,
                "question": bulk_question(verb, refunds),
                "done": "approved" if action is Action.APPROVE else "denied",
                "rows": rows,
                "refused_count": sum(1 for _, decision in rows if not decision.allowed),
                "form": form,
                "action_name": f"{action.value}_selected",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "cancel_url": request.get_full_path(),
            },
        )
        if form is not None and form.is_bound:
            response.status_code = 400  # the reason was missing or too long: nothing was done
        return response

    @admin.action(description="Approve selected refunds…", permissions=["approve"])
    def approve_selected(self, request, queryset):
        if self._too_many(request, queryset, "approve"):
            return None
        if request.POST.get("post") != "yes":
            return self._confirmation(request, queryset, action=Action.APPROVE)
        self._each(
            request,
            queryset,
            "approved",
            lambda refund: services.refund_approve(actor=request.user, refund=refund),
        )
        return None

    @admin.action(description="Deny selected refunds…", permissions=["deny"])
    def deny_selected(self, request, queryset):
        if self._too_many(request, queryset, "deny"):
            return None
        form = DenyReasonForm(request.POST if request.POST.get("post") == "yes" else None)
        if not (form.is_bound and form.is_valid()):
            return self._confirmation(request, queryset, action=Action.DENY, form=form)
        reason = form.cleaned_data["reason"]
        self._each(
            request,
            queryset,
            "denied",
            lambda refund: services.refund_deny(actor=request.user, refund=refund, reason=reason),
        )
        return None
