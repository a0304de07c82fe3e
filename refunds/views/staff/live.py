"""Statuses of the refunds a list shows, for `static/js/live.js`: the queue's rows of refunds
being delivered change their badge without a reload. One indexed query for up to MAX_IDS ids."""

from __future__ import annotations

from django.http import JsonResponse
from django.views import View

from ...models import Refund
from ...states import STATUS_LABELS, RefundStatus
from ._common import StaffPermissionMixin

MAX_IDS = 200


def _refused(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=400)


class RefundStatusesView(StaffPermissionMixin, View):
    """GET ?ids=12,13 → {"refunds": [{"id", "number", "status", "label", "moving",
    "needs_attention"}]}; ids that do not exist are left out. `moving` is true while the
    refund is with the workers and the marketplace (processing, nothing for a person to do),
    the only time its status changes by itself."""

    def get(self, request):
        raw = [part.strip() for part in request.GET.get("ids", "").split(",") if part.strip()]
        if not raw:
            return _refused("Give the refunds to read as ids=12,13 (their numbers without RD-).")
        if not all(part.isdigit() and len(part) <= 18 for part in raw):
            return _refused("ids must be refund numbers separated by commas, e.g. ids=12,13.")
        ids = sorted({int(part) for part in raw})
        if len(ids) > MAX_IDS:
            return _refused(f"At most {MAX_IDS} refunds at a time; {len(ids)} were asked for.")
        rows = (
            Refund.objects.filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "status", "needs_attention")
        )
        refunds = [
            {
                "id": pk,
                "number": f"RD-{pk}",
                "status": status,
                "label": STATUS_LABELS.get(RefundStatus(status), status),
                "needs_attention": attention,
                "moving": status == RefundStatus.PROCESSING and not attention,
            }
            for pk, status, attention in rows
        ]
        response = JsonResponse({"refunds": refunds})
        response["Cache-Control"] = "no-store"
        return response
