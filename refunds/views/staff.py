"""The staff back office: refund queue, refund detail with its actions, new refund on a
customer's behalf, dashboard and CSV export.

Views parse input and render; every write goes through `refunds.services`, whose RefundError is
shown beside the field it names and changes nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Prefetch, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import TemplateView

from integrations.models import OutboundAction, OutboundState
from integrations.registry import ADAPTERS, adapter_class
from orders.models import Order

from .. import services
from ..calculator import propose_refund, unpaid_order_error
from ..errors import RefundError
from ..filters import RefundQueueFilter
from ..forms import (
    BulkActionForm,
    DenyForm,
    NewRefundForm,
    NoteForm,
    PreviewForm,
    ReceiveForm,
    ShipForm,
    add_refund_error,
)
from ..models import ReasonCode, Refund, RefundLine
from ..money import format_amount, format_money, quantize
from ..selectors import order_refundable, refund_queryset
from ..states import FINAL_STATUSES, LARGE_REFUND_PERMISSION, STAFF_PERMISSION, Action, RefundStatus

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
SORT_COLUMNS = {"created": "created", "total": "total", "status": "status", "order": "order"}


class StaffPermissionMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Signed-in, active staff with the view's model permissions. Anonymous users are sent to
    the sign-in page; signed-in users without the rights get 403."""

    permission_required: tuple[str, ...] = ("refunds.view_refund",)

    def has_permission(self) -> bool:
        user = self.request.user
        return user.is_active and user.is_staff and super().has_permission()


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- queue -----------------------------------------------------------------------------------


def _queue_queryset():
    # A correlated count rather than a GROUP BY keeps the page's count query simple.
    line_count = (
        RefundLine.objects.filter(refund=OuterRef("pk"))
        .order_by()
        .values("refund")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        refund_queryset()
        .annotate(line_count=Coalesce(Subquery(line_count), 0))
        .order_by("-created_at", "-id")
    )


def _status_counts() -> dict[str, int]:
    """The queue's tab counts in one query: refunds per status (an index-only scan of the status
    index), plus those needing attention and those with drift (each a scan of a partial index
    holding only the flagged refunds). "All" is the sum of the statuses."""
    per_status = (
        Refund.objects.order_by()
        .values_list("status")
        .annotate(n=Count("*"))
        .union(
            Refund.objects.order_by()
            .filter(needs_attention=True)
            .values_list(Value("attention"))
            .annotate(n=Count("*")),
            Refund.objects.order_by()
            .filter(has_drift=True)
            .values_list(Value("drift"))
            .annotate(n=Count("*")),
            all=True,
        )
    )
    counts = dict.fromkeys([s.value for s in RefundStatus] + ["attention", "drift"], 0)
    counts.update(dict(per_status))
    counts["all"] = sum(counts[s.value] for s in RefundStatus)
    return counts


def _known_count(filterset, counts: dict[str, int]) -> int | None:
    """The number of refunds the page lists, when the tab counts already tell it (no filter, or
    only statuses, or only "needs attention"); None when the page has to count."""
    if not filterset.is_bound or not filterset.is_valid():
        return counts["all"] if not filterset.is_bound else None
    active = {
        name
        for name, value in filterset.form.cleaned_data.items()
        if name != "sort" and value not in (None, "", [], False)
    }
    if not active:
        return counts["all"]
    if active == {"status"}:
        return sum(counts[s] for s in set(filterset.form.cleaned_data["status"]))
    if active == {"attention"}:
        return counts["attention"]
    return None


class RefundQueueView(StaffPermissionMixin, TemplateView):
    template_name = "staff/queue.html"

    def get_context_data(self, **kwargs):
        request = self.request
        filterset = RefundQueueFilter(
            request.GET or None, queryset=_queue_queryset(), request=request
        )
        queryset = filterset.qs if filterset.is_bound else filterset.queryset
        try:
            per_page = int(
                request.GET.get("per_page") or request.GET.get("page_size") or DEFAULT_PAGE_SIZE
            )
        except ValueError:
            per_page = DEFAULT_PAGE_SIZE
        if per_page not in PAGE_SIZES:
            per_page = DEFAULT_PAGE_SIZE
        counts = _status_counts()
        paginator = Paginator(queryset, per_page)
        known = _known_count(filterset, counts)
        if known is not None:
            paginator.count = known  # a cached_property: the tab counts spare a COUNT(*)
        page = paginator.get_page(request.GET.get("page"))
        status_now = request.GET.getlist("status")
        attention_now = request.GET.get("attention") in ("on", "true", "True", "1")
        tabs = [
            {
                "label": "All",
                "count": counts["all"],
                "query": "",
                "active": not status_now and not attention_now,
            },
            {
                "label": "Needs attention",
                "count": counts["attention"],
                "query": "attention=on",
                "active": attention_now,
                "tone": "attention",
            },
        ] + [
            {
                "label": s.label,
                "count": counts[s.value],
                "query": f"status={s.value}",
                "active": status_now == [s.value] and not attention_now,
                "tone": s.value.lower(),
            }
            for s in RefundStatus
        ]
        keep = request.GET.copy()
        for key in ("page", "status", "attention"):
            keep.pop(key, None)
        keep_query = keep.urlencode()
        paging = request.GET.copy()
        paging.pop("page", None)
        sorting = request.GET.copy()
        sorting.pop("page", None)
        current_sort = sorting.pop("sort", [""])[-1]
        sort_links = {}
        for field, name in SORT_COLUMNS.items():
            descending = current_sort == f"-{name}"
            sorting["sort"] = name if descending else f"-{name}"
            arrow = "▼" if descending else ("▲" if current_sort == name else "")
            sort_links[field] = {
                "url": "?" + sorting.urlencode(),
                "arrow": arrow,
                "aria": "descending" if descending else ("ascending" if arrow else "none"),
            }
        now = timezone.now()
        rows = []
        for refund in page.object_list:
            waited_until = refund.updated_at if refund.status in FINAL_STATUSES else now
            days = (waited_until - refund.created_at).total_seconds() / 86400
            rows.append(
                {
                    "refund": refund,
                    "is_open": refund.status not in FINAL_STATUSES,
                    "age_tone": (
                        "closed"
                        if refund.status in FINAL_STATUSES
                        else "old"
                        if days >= 3
                        else "aging"
                        if days >= 1
                        else "fresh"
                    ),
                }
            )
        context = super().get_context_data(**kwargs)
        context.update(
            filterset=filterset,
            page=page,
            rows=rows,
            tabs=tabs,
            keep_query=keep_query,
            paging_query=paging.urlencode(),
            per_page=per_page,
            page_sizes=PAGE_SIZES,
            export_query=request.GET.urlencode(),
            can_approve=request.user.has_perm(STAFF_PERMISSION[Action.APPROVE]),
            can_deny=request.user.has_perm(STAFF_PERMISSION[Action.DENY]),
            current_url=request.get_full_path(),
            sort_links=sort_links,
        )
        return context


class RefundExportView(StaffPermissionMixin, View):
    """The filtered queue as CSV. Cells that a spreadsheet would run as a formula are quoted."""

    HEADER = (
        "refund",
        "status",
        "marketplace",
        "account",
        "order",
        "customer",
        "reason",
        "total",
        "currency",
        "requested_by",
        "created_at",
        "issued_at",
        "tracking_id",
        "needs_attention",
        "drift",
    )

    def get(self, request):
        filterset = RefundQueueFilter(
            request.GET or None, queryset=refund_queryset(), request=request
        )
        queryset = filterset.qs if filterset.is_bound else filterset.queryset

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())

        def rows():
            yield writer.writerow(self.HEADER)
            for r in queryset.iterator(chunk_size=500):
                yield writer.writerow(
                    [
                        _cell(v)
                        for v in (
                            r.number,
                            r.status,
                            r.order.account.adapter_key,
                            r.order.account.name,
                            r.order.external_number,
                            r.order.customer.email,
                            r.reason_code,
                            format_amount(r.total, r.currency),
                            r.currency,
                            r.requester_name,
                            r.created_at.isoformat(),
                            r.issued_at.isoformat() if r.issued_at else "",
                            r.return_tracking_id,
                            "yes" if r.needs_attention else "no",
                            "yes" if r.has_drift else "no",
                        )
                    ]
                )

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="refunds-{stamp}.csv"'
        return response


def _cell(value) -> str:
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


class RefundBulkActionView(StaffPermissionMixin, View):
    """Approve or deny many refunds: each goes through its service on its own, and each gets its
    own message, so one refusal does not hide the others' results."""

    def post(self, request):
        form = BulkActionForm(request.POST)
        back = _safe_next(request, reverse("staff:refund-queue"))
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = "Refunds" if field == "refund_ids" else field.replace("_", " ").capitalize()
                for error in errors:
                    message = "Choose at least one refund" if field == "refund_ids" else error
                    messages.error(request, f"{label}: {message}" if field != "__all__" else error)
            return HttpResponseRedirect(back)
        action = form.cleaned_data["action"]
        ids = form.cleaned_data["refund_ids"]
        found = Refund.objects.in_bulk(ids)
        done = 0
        for refund_id in ids:
            refund = found.get(refund_id)
            if refund is None:
                messages.error(request, f"RD-{refund_id}: no such refund")
                continue
            try:
                if action == "approve":
                    refund = services.refund_approve(actor=request.user, refund=refund)
                else:
                    refund = services.refund_deny(
                        actor=request.user, refund=refund, reason=form.cleaned_data["reason"]
                    )
            except RefundError as exc:
                messages.error(request, f"{refund.number}: {exc.message}")
            else:
                done += 1
                messages.success(request, f"{refund.number}: {action}d, now {refund.status_label}")
        verb = "approved" if action == "approve" else "denied"
        messages.info(request, f"{done} of {len(ids)} refunds {verb}")
        return HttpResponseRedirect(back)


# --- detail ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    when: dt.datetime
    kind: str  # event, outbound, attempt, webhook
    title: str
    detail: str = ""
    tone: str = ""
    data: object = None


ATTEMPT_OUTCOMES = {
    "unknown": "no answer (the marketplace may have acted)",
    "failed": "not delivered (it never reached the marketplace)",
    "crashed": "the worker stopped during the call (the marketplace may have acted)",
}


def _timeline(refund: Refund) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for event in refund.events.all():
        moved = (
            f" · {event.from_status or '—'} → {event.to_status}"
            if (event.from_status != event.to_status)
            else ""
        )
        entries.append(
            TimelineEntry(
                event.created_at,
                "event",
                f"{event.actor_label}: {event.action.replace('_', ' ')}{moved}",
                event.note,
                "event",
                event.changes or None,
            )
        )
    for action in refund.outbound_actions.all():
        tone = {
            OutboundState.SUCCEEDED: "ok",
            OutboundState.FAILED: "bad",
            OutboundState.DEAD: "bad",
            OutboundState.UNKNOWN: "bad",
        }.get(action.state, "pending")
        entries.append(
            TimelineEntry(
                action.created_at,
                "outbound",
                f"To {refund.order.account.name}: {action.get_kind_display()} "
                f"({action.get_state_display().lower()})",
                action.last_error,
                tone,
                action.response or None,
            )
        )
        for attempt in action.attempt_log.all():
            entries.append(
                TimelineEntry(
                    attempt.started_at,
                    "attempt",
                    f"Attempt {attempt.number} of {action.get_kind_display()} "
                    f"(key {action.idempotency_key}): "
                    f"{ATTEMPT_OUTCOMES.get(attempt.outcome, attempt.outcome)}",
                    attempt.message,
                    "ok" if attempt.outcome in ("accepted", "confirmed") else "bad",
                    attempt.response or None,
                )
            )
    for hook in refund.webhook_events.all():
        entries.append(
            TimelineEntry(
                hook.received_at,
                "webhook",
                f"Webhook from {hook.adapter_key}: {hook.name}"
                f"{' · ' + hook.topic if hook.topic else ''} ({hook.get_state_display().lower()})",
                hook.error,
                "bad" if hook.state == "failed" else "webhook",
            )
        )
    entries.sort(key=lambda e: e.when)
    return entries


def _capabilities(adapter_key: str):
    """The adapter's declared capabilities, or None while its package is not installed."""
    try:
        return adapter_class(adapter_key).capabilities
    except (LookupError, ImportError, AttributeError):
        return None


def _detail_refund(pk: int) -> Refund:
    queryset = refund_queryset().prefetch_related(
        Prefetch("lines", queryset=RefundLine.objects.select_related("order_line")),
        "events",
        Prefetch(
            "outbound_actions", queryset=OutboundAction.objects.prefetch_related("attempt_log")
        ),
        "webhook_events",
        "order__lines",
        "order__payments",
    )
    return get_object_or_404(queryset, pk=pk)


def _available_actions(user, refund: Refund) -> tuple[set[str], list[str]]:
    """Which action forms to show now, and why some are missing. The services still decide."""
    status = refund.status_enum
    perms = {a: user.has_perm(p) for a, p in STAFF_PERMISSION.items()}
    shown: set[str] = set()
    notes: list[str] = []
    if status == RefundStatus.REQUESTED and perms[Action.APPROVE]:
        limit = quantize(settings.REFUND_APPROVAL_LIMIT, refund.currency)
        if refund.requested_by_id == user.pk:
            notes.append("You requested this refund, so someone else must approve it.")
        elif refund.total > limit and not user.has_perm(LARGE_REFUND_PERMISSION):
            notes.append(
                f"Refunds above {format_money(limit, refund.currency)} need a refund manager's "
                "approval."
            )
        else:
            shown.add("approve")
    can_deny = status in (RefundStatus.REQUESTED, RefundStatus.WAITING) or (
        status == RefundStatus.PROCESSING and refund.needs_attention
    )
    if can_deny and refund.outcome_unknown:
        notes.append(
            f"It cannot be denied while the outcome is unknown: {refund.order.account.name} "
            "may have paid it."
        )
    elif can_deny and perms[Action.DENY]:
        shown.add("deny")
    if status == RefundStatus.WAITING and not refund.refund_only:
        if perms[Action.SHIP]:
            shown.add("ship")
        if perms[Action.RECEIVE]:
            shown.add("receive")
    if status == RefundStatus.PROCESSING and refund.needs_attention and perms[Action.RETRY]:
        shown.add("retry")
    if status in (RefundStatus.REQUESTED, RefundStatus.WAITING) and perms[Action.CANCEL]:
        shown.add("cancel")
    if status == RefundStatus.PROCESSING and not refund.needs_attention:
        notes.append(f"Waiting for {refund.order.account.name} to confirm the refund.")
    return shown, notes


ACTION_FORMS = {
    "approve": NoteForm,
    "deny": DenyForm,
    "ship": ShipForm,
    "receive": ReceiveForm,
    "retry": NoteForm,
    "cancel": NoteForm,
}


def _render_detail(request, refund: Refund, *, bound: dict | None = None, status: int = 200):
    refundable = order_refundable(refund.order)
    shown, notes = _available_actions(request.user, refund)
    forms = {}
    # A refused form is shown with its error even when the action is no longer offered.
    for name in sorted(shown | set(bound or {}), key=list(ACTION_FORMS).index):
        if bound and name in bound:
            forms[name] = bound[name]
        elif name == "receive":
            forms[name] = ReceiveForm(refund_lines=refund.lines.all(), prefix="receive")
        elif name == "ship":
            forms[name] = ShipForm(
                prefix="ship",
                initial={
                    "carrier": refund.return_carrier,
                    "tracking_id": refund.return_tracking_id,
                },
            )
        else:
            forms[name] = ACTION_FORMS[name](prefix=name)
    context = {
        "refund": refund,
        "order": refund.order,
        "refundable": refundable,
        "refundable_rows": list(refundable.lines.values()),
        "timeline": _timeline(refund),
        "capabilities": _capabilities(refund.order.account.adapter_key),
        "marketplace_label": ADAPTERS.get(refund.order.account.adapter_key, (None,))[0]
        or refund.order.account.adapter_key,
        "forms": forms,
        "action_notes": notes,
    }
    return render(request, "staff/detail.html", context, status=status)


class RefundDetailView(StaffPermissionMixin, View):
    def get(self, request, pk: int):
        return _render_detail(request, _detail_refund(pk))


class RefundActionView(StaffPermissionMixin, View):
    """POST one action from the detail page. Refused: the page again with the error beside the
    field (400) and nothing changed. Done: a message and back to the detail page."""

    def post(self, request, pk: int, action: str):
        if action not in ACTION_FORMS:
            raise Http404("No such action")
        refund = get_object_or_404(Refund.objects.select_related("order"), pk=pk)
        if action == "receive":
            form = ReceiveForm(
                request.POST,
                prefix="receive",
                refund_lines=refund.lines.select_related("order_line"),
            )
        else:
            form = ACTION_FORMS[action](request.POST, prefix=action)
        if form.is_valid():
            try:
                refund = self._perform(action, refund, form)
            except RefundError as exc:
                add_refund_error(form, exc)
            else:
                messages.success(request, self._done_message(action, refund))
                return HttpResponseRedirect(reverse("staff:refund-detail", args=[refund.pk]))
        messages.error(request, "Nothing was changed: see the form below.")
        detail = _detail_refund(pk)
        if action == "receive":
            # Rebind to the freshly loaded lines so the rows render with the entered values.
            form.refund_lines = list(detail.lines.all())
        return _render_detail(request, detail, bound={action: form}, status=400)

    def _perform(self, action: str, refund: Refund, form) -> Refund:
        data, user = form.cleaned_data, self.request.user
        match action:
            case "approve":
                return services.refund_approve(actor=user, refund=refund, note=data["note"])
            case "deny":
                return services.refund_deny(actor=user, refund=refund, reason=data["reason"])
            case "ship":
                return services.refund_ship(
                    actor=user,
                    refund=refund,
                    tracking_id=data["tracking_id"],
                    carrier=data["carrier"],
                )
            case "receive":
                return services.refund_receive(
                    actor=user, refund=refund, received=form.received(), note=data["note"]
                )
            case "retry":
                return services.refund_retry(actor=user, refund=refund, note=data["note"])
            case "cancel":
                return services.refund_cancel(actor=user, refund=refund, note=data["note"])
        raise Http404("No such action")

    @staticmethod
    def _done_message(action: str, refund: Refund) -> str:
        verbs = {
            "approve": "approved",
            "deny": "denied",
            "ship": "return shipment recorded",
            "receive": "return recorded",
            "retry": "sent again",
            "cancel": "cancelled",
        }
        return f"{refund.number} {verbs[action]}: now {refund.status_label}."


# --- new refund ------------------------------------------------------------------------------


def _order_for_refund(pk: int) -> Order:
    queryset = Order.objects.select_related("account", "customer").prefetch_related(
        "lines", "payments"
    )
    return get_object_or_404(queryset, pk=pk)


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
        form = NewRefundForm(refundable=refundable)
        return self._render(request, order, refundable, form)

    def post(self, request, pk: int):
        order = _order_for_refund(pk)
        refundable = order_refundable(order)
        if "create" not in request.POST:
            # Without JavaScript the "Preview" button posts here and gets the page back.
            form = PreviewForm(request.POST, refundable=refundable)
            proposal, error = _preview(form, order)
            return self._render(request, order, refundable, form, proposal, error)
        form = NewRefundForm(request.POST, refundable=refundable)
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
                "rows": form.bound_rows(),
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
                "order": order,
            },
        )


# --- dashboard -------------------------------------------------------------------------------


def _median_hours(durations: list[dt.timedelta]) -> Decimal | None:
    if not durations:
        return None
    seconds = statistics.median(d.total_seconds() for d in durations)
    return (Decimal(str(seconds)) / 3600).quantize(Decimal("0.1"))


class DashboardView(StaffPermissionMixin, TemplateView):
    template_name = "staff/dashboard.html"
    DAYS = 30

    def get_context_data(self, **kwargs):
        today = timezone.localdate()
        since = today - dt.timedelta(days=self.DAYS - 1)
        per_day = (
            Refund.objects.filter(created_at__date__gte=since)
            .annotate(day=TruncDate("created_at"))
            .values("day", "status")
            .annotate(n=Count("pk"))
        )
        days = [since + dt.timedelta(days=i) for i in range(self.DAYS)]
        by_status: dict[str, dict] = defaultdict(dict)
        for row in per_day:
            by_status[row["status"]][row["day"]] = row["n"]
        per_day_chart = {
            "labels": [d.isoformat() for d in days],
            "datasets": [
                {
                    "label": s.label,
                    "status": s.value,
                    "data": [by_status[s.value].get(d, 0) for d in days],
                }
                for s in RefundStatus
            ],
        }
        issued = (
            Refund.objects.filter(status=RefundStatus.ISSUED)
            .values("order__account__adapter_key", "currency")
            .annotate(amount=Sum("total"), n=Count("pk"))
            .order_by("order__account__adapter_key", "currency")
        )
        per_marketplace = [
            {
                "marketplace": ADAPTERS[r["order__account__adapter_key"]].label
                if r["order__account__adapter_key"] in ADAPTERS
                else r["order__account__adapter_key"],
                "currency": r["currency"],
                # Sums come back unquantized (SQLite: 15 significant digits; JPY: two decimals).
                "amount": quantize(r["amount"], r["currency"]),
                "count": r["n"],
            }
            for r in issued
        ]
        reasons_rows = list(
            Refund.objects.values("reason_code").annotate(n=Count("pk")).order_by("-n")[:8]
        )
        labels = dict(ReasonCode.choices)
        reasons = [
            {"reason": labels.get(r["reason_code"], r["reason_code"]), "count": r["n"]}
            for r in reasons_rows
        ]
        durations = [
            issued_at - created_at
            for created_at, issued_at in Refund.objects.filter(
                status=RefundStatus.ISSUED,
                issued_at__isnull=False,
                issued_at__date__gte=today - dt.timedelta(days=90),
            ).values_list("created_at", "issued_at")
        ]
        context = super().get_context_data(**kwargs)
        context.update(
            per_day_chart=per_day_chart,
            per_marketplace=per_marketplace,
            marketplace_chart={
                "labels": [f"{r['marketplace']} ({r['currency']})" for r in per_marketplace],
                "data": [format_amount(r["amount"], r["currency"]) for r in per_marketplace],
            },
            reasons=reasons,
            reasons_chart={
                "labels": [r["reason"] for r in reasons],
                "data": [r["count"] for r in reasons],
            },
            median_hours=_median_hours(durations),
            issued_sample=len(durations),
            counts=_status_counts(),
            attention=list(refund_queryset().filter(needs_attention=True)[:10]),
            drift=list(refund_queryset().filter(has_drift=True)[:10]),
            days=self.DAYS,
        )
        return context
