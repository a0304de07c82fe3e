"""/api/v2/refunds: list, read, request, ship / staff actions (PATCH) and cancel (DELETE).
Every write goes through refunds.services; every queryset a customer reaches comes from a
selector that takes the customer, so another customer's refund is a 404."""

from __future__ import annotations

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from orders.models import Order
from orders.money import format_money, quantize
from refunds import services
from refunds.calculator import LineChoice, propose_refund
from refunds.models import Refund, RefundLine
from refunds.selectors import orders_for_customer, refund_queryset, refunds_for_customer

from .common import ApiView, PageSizePagination, error_responses
from .filters import RefundFilter
from .serializers import (
    STAFF_ACTIONS,
    RefundCreateIn,
    RefundEnvelope,
    RefundOut,
    RefundPatchIn,
)


def refunds_for(user):
    """Customers: their own refunds. Staff: every refund, with the view permission."""
    if user.is_staff:
        if not user.has_perm("refunds.view_refund"):
            raise PermissionDenied("You do not have permission to see refunds.")
        queryset = refund_queryset()
    else:
        queryset = refunds_for_customer(user)
    return queryset.prefetch_related(
        Prefetch("lines", queryset=RefundLine.objects.select_related("order_line"))
    )


def orders_for(user):
    if user.is_staff:
        if not user.has_perm("orders.view_order"):
            raise PermissionDenied("You do not have permission to see orders.")
        return Order.objects.select_related("account", "customer")
    return orders_for_customer(user)


def _refund_data(refund_id: int, user) -> dict:
    refund = get_object_or_404(refunds_for(user), pk=refund_id)
    return {"data": RefundOut(refund, context={"viewer": user}).data}


class RefundListView(ApiView):
    filterset_class = RefundFilter
    pagination_class = PageSizePagination
    serializer_class = RefundOut

    def get_queryset(self):
        return refunds_for(self.request.user)

    @extend_schema(
        operation_id="refunds_list",
        summary="List refunds (yours, or all for staff)",
        responses={200: RefundOut(many=True), **error_responses(400, 401, 403, 429)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(
            RefundOut(page, many=True, context={"viewer": request.user}).data
        )

    @extend_schema(
        operation_id="refunds_create",
        summary="Request a refund",
        request=RefundCreateIn,
        responses={201: RefundEnvelope, **error_responses(400, 401, 403, 404, 429)},
    )
    def post(self, request):
        data_in = RefundCreateIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        order = orders_for(request.user).filter(pk=data["orderId"]).first()
        if order is None:
            raise NotFound("No order with that id.")
        lines = [
            LineChoice(order_line_id=x["lineId"], quantity=x["quantity"])
            for x in data.get("lines", [])
        ]
        amount = data.get("amount")
        if lines and amount is not None:
            # The lines decide the amount; a different amount is a mistake, not a choice.
            proposal = propose_refund(order=order, lines=lines)
            if quantize(amount, order.currency) != amount or amount != proposal.total:
                raise ValidationError(
                    {
                        "amount": [
                            f"The lines come to {format_money(proposal.total, order.currency)}."
                        ]
                    }
                )
        refund = services.refund_request(
            actor=request.user,
            order=order,
            reason_code=data["reason"],
            refund_only=data["refundOnly"],
            lines=lines,
            amount=None if lines else amount,
            customer_explanation=data["explanation"],
            via="api",
        )
        return Response(_refund_data(refund.pk, request.user), status=status.HTTP_201_CREATED)


class RefundDetailView(ApiView):
    serializer_class = RefundOut

    def get_queryset(self):
        return refunds_for(self.request.user)

    def _refund(self, refund_id: int) -> Refund:
        return get_object_or_404(self.get_queryset(), pk=refund_id)

    @extend_schema(
        operation_id="refunds_retrieve",
        summary="One refund",
        responses={200: RefundEnvelope, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request, id: int):
        return Response(
            {"data": RefundOut(self._refund(id), context={"viewer": request.user}).data}
        )

    @extend_schema(
        operation_id="refunds_update",
        summary="Enter return tracking (SHIP_INIT) or, for staff, APPROVE / DENY / RECEIVE / RETRY",
        request=RefundPatchIn,
        responses={200: RefundEnvelope, **error_responses(400, 401, 403, 404, 409, 429)},
    )
    def patch(self, request, id: int):
        refund = self._refund(id)
        data_in = RefundPatchIn(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        action, user = data["action"], request.user
        if action in STAFF_ACTIONS and not user.is_staff:
            raise PermissionDenied(f"Only staff can {action.lower()} a refund.")
        if action == "SHIP_INIT":
            services.refund_ship(
                actor=user,
                refund=refund,
                tracking_id=data["trackingId"],
                carrier=data["carrierName"],
                via="api",
            )
        elif action == "APPROVE":
            services.refund_approve(actor=user, refund=refund, note=data["note"])
        elif action == "DENY":
            services.refund_deny(
                actor=user, refund=refund, reason=data["responseReason"], via="api"
            )
        elif action == "RECEIVE":
            if "received" in data:
                received = {
                    x["lineId"]: services.Received(x["quantity"], x["restock"])
                    for x in data["received"]
                }
            else:
                received = {
                    line.pk: services.Received(line.quantity) for line in refund.lines.all()
                }
            services.refund_receive(actor=user, refund=refund, received=received, note=data["note"])
        else:
            services.refund_retry(actor=user, refund=refund, note=data["note"])
        return Response(_refund_data(refund.pk, user))

    @extend_schema(
        operation_id="refunds_cancel",
        summary="Cancel a refund that is REQUESTED or WAITING",
        request=None,
        responses={200: RefundEnvelope, **error_responses(401, 403, 404, 409, 429)},
    )
    def delete(self, request, id: int):
        refund = self._refund(id)
        services.refund_cancel(actor=request.user, refund=refund, via="api")
        return Response(_refund_data(refund.pk, request.user))


class TokenView(ApiView):
    """Your personal API token (created on first use). Sign in with the session to get it; send
    it afterwards as `Authorization: Token <key>`."""

    @extend_schema(
        operation_id="token_create",
        summary="Get or create your API token",
        request=None,
        responses={
            200: OpenApiResponse(
                inline_serializer(
                    "TokenEnvelope",
                    {"data": inline_serializer("TokenOut", {"token": serializers.CharField()})},
                )
            ),
            **error_responses(401, 429),
        },
    )
    def post(self, request):
        token, _ = Token.objects.get_or_create(user=request.user)
        return Response({"data": {"token": token.key}})
