"""The staff back office, one module per screen: the refund queue with its bulk actions
(`queue`), the CSV export (`export`), a refund's page with its actions (`detail`), a new refund
on a customer's behalf (`new_refund`) and the dashboard (`dashboard`).

Views parse input and render; their queries are in `refunds.selectors`, what a person may do now
is `refunds.rules`, and every write goes through `refunds.services`, whose RefundError is shown
beside the field it names and changes nothing.
"""

from .dashboard import DashboardView
from .detail import RefundActionView, RefundDetailView
from .export import RefundExportView
from .new_refund import NewRefundView, RefundPreviewView
from .queue import RefundBulkActionView, RefundQueueView

__all__ = [
    "DashboardView",
    "NewRefundView",
    "RefundActionView",
    "RefundBulkActionView",
    "RefundDetailView",
    "RefundExportView",
    "RefundPreviewView",
    "RefundQueueView",
]
