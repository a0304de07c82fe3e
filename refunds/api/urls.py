"""/api/v2/... (refunds and orders), /api/schema/ and /api/docs/."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny

from . import (
    common,  # noqa: F401 - registers the "rdid" path converter
    orders,
    views,
)

app_name = "api"

v2 = [
    path("refunds", views.RefundListView.as_view(), name="refund-list"),
    path("refunds/<rdid:id>", views.RefundDetailView.as_view(), name="refund-detail"),
    path("token", views.TokenView.as_view(), name="token"),
    path("orders", orders.OrderListView.as_view(), name="order-list"),
    path("orders/<rdid:id>", orders.OrderDetailView.as_view(), name="order-detail"),
]

urlpatterns = [
    path("v2/", include(v2)),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    # The split view serves its start-up script as a file (?script), not inline: the
    # Content-Security-Policy allows no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", permission_classes=[AllowAny]),
        name="docs",
    ),
]
