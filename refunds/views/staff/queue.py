"""The refund queue: views of the work (needs a decision, awaiting a manager, assigned to me,
overdue, all), tabs per status counted under the same search and filters, a due time per row,
sorting, paging, and approving or denying many refunds at once."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from ... import rules, services
from ...due import due_for
from ...errors import RefundError
from ...filters import (
    VIEW_ALL,
    VIEW_CHOICES,
    VIEW_DECISION,
    RefundQueueFilter,
    search_is_broad,
)
from ...forms import BulkActionForm
from ...models import Refund
from ...pagination import (
    IdsFirstPaginator,
    count_or_estimate,
    exact_count_limit,
    round_estimate,
)
from ...selectors import (
    TabCounts,
    refund_queue_queryset,
    refund_status_counts,
)
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


# The tab counts and the page's count follow every filter but these: the status tabs themselves
# (status, attention), and what only orders or pages the list.
TAB_PARAMS = ("status", "attention")
NOT_FILTERS = ("sort", "page", "per_page", "page_size")


def effective_view(params) -> str:
    """The view asked for; without one, "Needs a decision" on the bare queue, and "All" once a
    search or filter is given without a view (a link from the Orders page or the dashboard
    lists every refund it counted, as before views existed)."""
    view = params.get("view", "")
    if view in dict(VIEW_CHOICES):
        return view
    if any(params.get(key) for key in params if key not in NOT_FILTERS):
        return VIEW_ALL
    return VIEW_DECISION


def _known_count(filterset, counts: TabCounts) -> tuple[int, str] | None:
    """The number of refunds the page lists and how it is known ("exact", "capped": more than
    the limit, "estimated"), when the tab counts already tell it (they count under every filter
    but the status tabs); None when the page has to count."""
    if not filterset.is_valid():
        return None
    data = filterset.form.cleaned_data
    statuses = set(data.get("status") or [])
    attention = bool(data.get("attention"))
    if statuses and attention:
        return None
    keys = ["attention"] if attention else sorted(statuses) or ["all"]
    if any(counts.get(key) is None for key in keys):
        return None
    n = sum(counts[key] for key in keys)
    if any(key in counts.estimated for key in keys):
        return n, "estimated"
    if any(key in counts.capped for key in keys):
        return max(n, exact_count_limit() + 1), "capped"
    return n, "exact"


def _count(queryset, *, broad: bool) -> tuple[int, str]:
    n, exact = count_or_estimate(queryset, broad=broad)
    return n, "exact" if exact else "estimated"


def _count_label(n: int, how: str) -> str:
    if how == "estimated":
        return round_estimate(n).capitalize()
    if how == "capped":
        return f"More than {exact_count_limit():,}"
    return f"{n:,}"


def _narrows(filterset) -> bool:
    """Whether the filters (view included) leave out any refund."""
    if not filterset.is_valid():
        return True
    return any(
        value not in (None, "", [], False) and not (name == "view" and value == VIEW_ALL)
        for name, value in filterset.form.cleaned_data.items()
        if name != "sort"
    )


def _due(refund: Refund, now):
    return due_for(refund.status, refund.status_since, now)


class RefundQueueView(StaffPermissionMixin, TemplateView):
    template_name = "staff/queue.html"

    def get_context_data(self, **kwargs):
        request = self.request
        view = effective_view(request.GET)
        data = request.GET.copy()
        data["view"] = view
        filterset = RefundQueueFilter(data, queryset=refund_queue_queryset(), request=request)
        queryset = filterset.qs
        # The same filters but the status tabs, on the bare table: what each tab would list.
        tab_data = data.copy()
        for key in TAB_PARAMS:
            tab_data.pop(key, None)
        tab_filterset = RefundQueueFilter(tab_data, queryset=Refund.objects.all(), request=request)
        search = tab_filterset.form.cleaned_data.get("q") if tab_filterset.is_valid() else ""
        broad = search_is_broad(search)  # walked and estimated, not collected and counted
        counts = refund_status_counts(
            tab_filterset.qs if _narrows(tab_filterset) else None,  # None: the indexes' counts
            limit=exact_count_limit(),
            searched=bool(search),
            broad=broad,
        )
        try:
            per_page = int(
                request.GET.get("per_page") or request.GET.get("page_size") or DEFAULT_PAGE_SIZE
            )
        except ValueError:
            per_page = DEFAULT_PAGE_SIZE
        if per_page not in PAGE_SIZES:
            per_page = DEFAULT_PAGE_SIZE
        paginator = IdsFirstPaginator(queryset, per_page)
        # A cached_property: the tab counts spare a COUNT(*); a count past the limit pages
        # open-ended (Previous / Next, no last page).
        paginator.count, how = _known_count(filterset, counts) or _count(queryset, broad=broad)
        paginator.count_is_exact = how == "exact"
        page = paginator.get_page(request.GET.get("page"))
        status_now = request.GET.getlist("status")
        attention_now = request.GET.get("attention") in ("on", "true", "True", "1")
        tabs = [
            {
                "label": "All",
                "count": counts["all"],
                "count_label": counts.label("all"),
                "query": "",
                "active": not status_now and not attention_now,
            },
            {
                "label": "Needs attention",
                "count": counts["attention"],
                "count_label": counts.label("attention"),
                "query": "attention=on",
                "active": attention_now,
                "tone": "attention",
            },
        ] + [
            {
                "label": s.label,
                "count": counts[s.value],
                "count_label": counts.label(s.value),
                "query": f"status={s.value}",
                "active": status_now == [s.value] and not attention_now,
                "tone": s.value.lower(),
            }
            for s in RefundStatus
        ]
        # Status tabs stay in the view and keep the search and filters.
        keep = data.copy()
        for key in ("page", *TAB_PARAMS):
            keep.pop(key, None)
        keep_query = keep.urlencode()
        # Views keep the search and filters; each starts on its "All" tab.
        views_keep = keep.copy()
        views_keep.pop("view", None)
        views = [
            {
                "value": value,
                "label": label,
                "query": "&".join(filter(None, [f"view={value}", views_keep.urlencode()])),
                "active": value == view,
            }
            for value, label in VIEW_CHOICES
        ]
        # The search box above the tabs sends the other filters along as they are.
        search_keep = [
            (key, value)
            for key, values in request.GET.lists()
            if key not in ("q", "page")
            for value in values
        ]
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
                    "due": _due(refund, now),
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
        export = request.GET.copy()
        export["view"] = view
        context = super().get_context_data(**kwargs)
        context.update(
            filterset=filterset,
            search_field=filterset.form["q"],
            panel_fields=[f for f in filterset.form if f.name not in ("q", "view")],
            page=page,
            rows=rows,
            tabs=tabs,
            views=views,
            view=view,
            view_label=dict(VIEW_CHOICES)[view],
            explicit_view=view if request.GET.get("view") == view else "",
            keep_query=keep_query,
            search_keep=search_keep,
            paging_query=paging.urlencode(),
            per_page=per_page,
            count_label=_count_label(paginator.count, how),
            page_sizes=PAGE_SIZES,
            export_query=export.urlencode(),
            can_approve=rules.staff_may(request.user, Action.APPROVE),
            can_deny=rules.staff_may(request.user, Action.DENY),
            current_url=request.get_full_path(),
            sort_links=sort_links,
            is_filtered=any(request.GET.get(key) for key in request.GET if key not in NOT_FILTERS),
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
