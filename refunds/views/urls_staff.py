"""The staff back office, mounted at /staff/ under the "staff" namespace."""

from django.urls import path

from . import evidence, staff

urlpatterns = [
    path("", staff.RefundQueueView.as_view(), name="index"),
    path("refunds/", staff.RefundQueueView.as_view(), name="refund-queue"),
    path("refunds/export.csv", staff.RefundExportView.as_view(), name="refund-export"),
    path("refunds/statuses/", staff.RefundStatusesView.as_view(), name="refund-statuses"),
    path("refunds/bulk/", staff.RefundBulkActionView.as_view(), name="refund-bulk"),
    path("refunds/<int:pk>/", staff.RefundDetailView.as_view(), name="refund-detail"),
    path("refunds/<int:pk>/live/", staff.RefundLiveView.as_view(), name="refund-live"),
    path(
        "refunds/<int:pk>/photos/<int:photo_pk>/",
        evidence.StaffEvidenceFileView.as_view(),
        name="refund-photo",
    ),
    path("refunds/<int:pk>/<slug:action>/", staff.RefundActionView.as_view(), name="refund-action"),
    path("orders/<int:pk>/refund/", staff.NewRefundView.as_view(), name="refund-new"),
    path(
        "orders/<int:pk>/refund/preview/",
        staff.RefundPreviewView.as_view(),
        name="refund-preview",
    ),
    path("orders/", staff.OrderListView.as_view(), name="order-list"),
    path("dashboard/", staff.DashboardView.as_view(), name="dashboard"),
    path("dashboard/live/", staff.DashboardLiveView.as_view(), name="dashboard-live"),
]
