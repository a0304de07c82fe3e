"""The staff back office, one module per screen: the refund queue with its bulk actions
(`queue`), the CSV export (`export`), a refund's page with its actions (`detail`), a new refund
on a customer's behalf (`new_refund`), the orders to start one from (`orders`) and the
dashboard (`dashboard`).

Views parse input and render; their queries are in `refunds.selectors`, what a person may do now
is `refunds.rules`, and every write goes through `refunds.services`, whose RefundError is shown
beside the field it names and changes nothing.
"""

from .dashboard import DashboardLiveView, DashboardView
from .detail import RefundActionView, RefundDetailView, RefundLiveView
from .export import RefundExportView
from .live import RefundStatusesView
from .new_refund import NewRefundView, RefundPreviewView
from .orders import OrderListView
from .queue import RefundBulkActionView, RefundQueueView

__all__ = [
    "DashboardLiveView",
    "DashboardView",
    "NewRefundView",
    "OrderListView",
    "RefundActionView",
    "RefundBulkActionView",
    "RefundDetailView",
    "RefundExportView",
    "RefundLiveView",
    "RefundPreviewView",
    "RefundQueueView",
    "RefundStatusesView",
]
