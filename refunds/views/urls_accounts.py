"""Mounted at /accounts/ before django.contrib.auth.urls: the sign-in view with lockout and the
password reset with its limits."""

from django.urls import path

from .accounts import LimitedPasswordResetView
from .portal import PortalLoginView

urlpatterns = [
    path("login/", PortalLoginView.as_view(), name="login"),
    path("password_reset/", LimitedPasswordResetView.as_view(), name="password_reset"),
]
