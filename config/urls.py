from django.contrib import admin
from django.urls import include, path

from . import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/", include("refunds.views.urls_accounts")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("staff/", include(("refunds.views.urls_staff", "staff"))),
    path("portal/", include(("refunds.views.urls_portal", "portal"))),
    path("api/", include("refunds.api.urls")),
    path("", include("refunds.delivery.urls")),
]
