"""What every staff screen shares: who may see it, and where a form may send the user back."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin, PermissionRequiredMixin
from django.utils.http import url_has_allowed_host_and_scheme


class StaffPermissionMixin(LoginRequiredMixin, PermissionRequiredMixin):
    """Signed-in, active staff with the view's model permissions. Anonymous users are sent to
    the sign-in page; signed-in users without the rights get 403."""

    permission_required: tuple[str, ...] = ("refunds.view_refund",)

    def has_permission(self) -> bool:
        user = self.request.user
        return user.is_active and user.is_staff and super().has_permission()


def safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
