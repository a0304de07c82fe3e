"""The filtered refund queue as CSV."""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.views import View

from orders.money import format_amount

from ...filters import RefundQueueFilter
from ...selectors import refund_queryset
from ._common import StaffPermissionMixin


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
