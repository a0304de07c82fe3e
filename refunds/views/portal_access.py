"""Who may look at a portal page: a signed-in customer, or a guest whose session a one-time link
(refunds.views.portal_guest) bound to one order. The portal's views take their querysets from
the viewer selectors (refunds.selectors.orders_for_viewer / refunds_for_viewer) with
`self.viewer`, so a guest reaches that order and its refunds and every other order or refund
answers 404, as for a customer. Anyone else is sent to sign in, as LoginRequiredMixin does.
A guest acts (requests, ships, cancels) as `refunds.services.guest_access.guest_actor` says."""

from __future__ import annotations

from django.contrib.auth import logout
from django.contrib.auth.mixins import AccessMixin

from refunds.selectors import PortalViewer
from refunds.services.guest_access import guest_actor

GUEST_ORDER_SESSION_KEY = "portal_guest_order_id"


def portal_viewer(request) -> PortalViewer | None:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return PortalViewer(user=user)
    order_id = request.session.get(GUEST_ORDER_SESSION_KEY)
    if isinstance(order_id, int):
        return PortalViewer(guest_order_id=order_id)
    return None


def bind_guest_session(request, order_id: int) -> None:
    """Make this browser a guest of one order: whoever was signed in is signed out, and the
    session gets a new key (no fixation: a key known before the link was used opens nothing)."""
    if request.user.is_authenticated:
        logout(request)  # flushes the session: a new key, nothing of the account kept
    request.session.cycle_key()
    request.session[GUEST_ORDER_SESSION_KEY] = order_id


class PortalViewerMixin(AccessMixin):
    """Sets `self.viewer` (a PortalViewer) or sends the visitor to sign in."""

    viewer: PortalViewer

    def dispatch(self, request, *args, **kwargs):
        viewer = portal_viewer(request)
        if viewer is None:
            return self.handle_no_permission()
        self.viewer = viewer
        return super().dispatch(request, *args, **kwargs)

    def actor_for(self, order):
        """Who acts on this order for the viewer: the signed-in user, or for a guest the
        order's customer's user (None when a guest may not act)."""
        if not self.viewer.is_guest:
            return self.request.user
        return guest_actor(order)
