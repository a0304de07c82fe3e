"""Mounted at /accounts/ before django.contrib.auth.urls: the sign-in view with lockout."""

from django.urls import path

from .portal import PortalLoginView

urlpatterns = [
    path("login/", PortalLoginView.as_view(), name="login"),
]
