from django.urls import path

from refunds.api import common  # noqa: F401 - registers the "rdid" path converter

from . import evidence, portal, portal_guest

urlpatterns = [
    path("", portal.PortalHomeView.as_view(), name="home"),
    path("orders/", portal.OrderListView.as_view(), name="order-list"),
    path("orders/<rdid:pk>/", portal.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<rdid:pk>/refund/", portal.RefundRequestView.as_view(), name="refund-request"),
    path("refunds/", portal.RefundListView.as_view(), name="refund-list"),
    path("refunds/<rdid:pk>/", portal.RefundDetailView.as_view(), name="refund-detail"),
    path(
        "refunds/<rdid:pk>/progress/", portal.RefundProgressView.as_view(), name="refund-progress"
    ),
    path(
        "refunds/<rdid:pk>/return-slip/",
        portal.RefundReturnSlipView.as_view(),
        name="refund-return-slip",
    ),
    path("refunds/<rdid:pk>/ship/", portal.RefundShipView.as_view(), name="refund-ship"),
    path("refunds/<rdid:pk>/cancel/", portal.RefundCancelView.as_view(), name="refund-cancel"),
    path("refunds/<rdid:pk>/photos/", evidence.PortalEvidenceAddView.as_view(), name="photo-add"),
    path(
        "refunds/<rdid:pk>/photos/<rdid:photo_pk>/",
        evidence.PortalEvidenceFileView.as_view(),
        name="photo",
    ),
    # Find my order without an account: a one-time sign-in link to one order.
    path("find-order/", portal_guest.FindOrderView.as_view(), name="find-order"),
    path("find-order/sent/", portal_guest.FindOrderSentView.as_view(), name="find-order-sent"),
    path("guest/<str:token>/", portal_guest.GuestLinkView.as_view(), name="guest-link"),
]
