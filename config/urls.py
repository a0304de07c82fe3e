from django.contrib import admin
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("accounts/", include("refunds.views.urls_accounts")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("staff/", include(("refunds.views.urls_staff", "staff"))),
    path("portal/", include(("refunds.views.urls_portal", "portal"))),
    path("api/", include("refunds.api.urls")),
    path("", include("refunds.delivery.urls")),
]
