"""/api/v2/orders: list and read (customers: their own), and the staff importer (POST)."""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from orders.models import Order, OrderStatus
from orders.services import order_upsert

from ..selectors import order_refundable
from .common import ApiView, PageSizePagination, error_responses
from .order_serializers import OrderCreateIn, OrderDetailOut, OrderEnvelope, OrderOut
from .views import orders_for


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    number = django_filters.CharFilter(field_name="external_number", max_length=100)

    class Meta:
        model = Order
        fields = ["status", "number"]


def order_detail_data(order: Order) -> dict:
    """An order with its lines, payments and what is still refundable."""
    room = order_refundable(order)
    lines = []
    for line_id, info in room.lines.items():
        line = info.line
        line.refundable = info
        line.id = line_id
        lines.append(line)
    order.refundable_lines = lines
    order.refundable_summary = room
    return {"data": OrderDetailOut(order).data}


class OrderListView(ApiView):
    filterset_class = OrderFilter
    pagination_class = PageSizePagination
    serializer_class = OrderOut

    def get_queryset(self):
        return orders_for(self.request.user)

    @extend_schema(
        operation_id="orders_list",
        summary="List orders (yours, or all for staff)",
        responses={200: OrderOut(many=True), **error_responses(400, 401, 403, 429)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(OrderOut(page, many=True).data)

    @extend_schema(
        operation_id="orders_create",
        summary="Import an order (staff with the add order permission)",
        request=OrderCreateIn,
        responses={201: OrderEnvelope, **error_responses(400, 401, 403, 429)},
    )
    def post(self, request):
        user = request.user
        if not (user.is_staff and user.has_perm("orders.add_order")):
            raise PermissionDenied("Only staff importers can create orders.")
        data_in = OrderCreateIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        order = order_upsert(data=data_in.to_import())
        order = Order.objects.select_related("account", "customer").get(pk=order.pk)
        return Response(order_detail_data(order), status=status.HTTP_201_CREATED)


class OrderDetailView(ApiView):
    serializer_class = OrderDetailOut

    def get_queryset(self):
        return orders_for(self.request.user)

    @extend_schema(
        operation_id="orders_retrieve",
        summary="One order with its lines, payments and what is still refundable",
        responses={200: OrderEnvelope, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request, id: int):
        return Response(order_detail_data(get_object_or_404(self.get_queryset(), pk=id)))
