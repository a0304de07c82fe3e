"""The refund queue: tabs per status, filters, sorting, paging, and approving or denying many
refunds at once."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from ... import rules, services
from ...errors import RefundError
from ...filters import RefundQueueFilter
from ...forms import BulkActionForm
from ...models import Refund
from ...selectors import refund_queue_queryset, refund_status_counts
from ...states import FINAL_STATUSES, Action, RefundStatus
from ._common import StaffPermissionMixin, safe_next

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25
SORT_COLUMNS = {
    "created": "created",
    "total": "total",
    "status": "status",
    "order": "order",
}


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
            request.GET or None, queryset=refund_queue_queryset(), request=request
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
        counts = refund_status_counts()
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
            can_approve=rules.staff_may(request.user, Action.APPROVE),
            can_deny=rules.staff_may(request.user, Action.DENY),
            current_url=request.get_full_path(),
            sort_links=sort_links,
        )
        return context


class RefundBulkActionView(StaffPermissionMixin, View):
    """Approve or deny many refunds: each goes through its service on its own, and each gets its
    own message, so one refusal does not hide the others' results."""

    def post(self, request):
        form = BulkActionForm(request.POST)
        back = safe_next(request, reverse("staff:refund-queue"))
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
                        actor=request.user,
                        refund=refund,
                        reason=form.cleaned_data["reason"],
                    )
            except RefundError as exc:
                messages.error(request, f"{refund.number}: {exc.message}")
            else:
                done += 1
                messages.success(request, f"{refund.number}: {action}d, now {refund.status_label}")
        verb = "approved" if action == "approve" else "denied"
        messages.info(request, f"{done} of {len(ids)} refunds {verb}")
        return HttpResponseRedirect(back)
