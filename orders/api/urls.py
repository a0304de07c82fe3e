from django.urls import path

from . import views

urlpatterns = [
    path("orders", views.OrderListView.as_view(), name="order-list"),
    path("orders/<rdid:id>", views.OrderDetailView.as_view(), name="order-detail"),
]
