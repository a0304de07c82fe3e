"""Refund API input and output, in seed 003's camelCase. Money is a decimal string (never a
float) with its currency beside it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from refunds.models import ReasonCode, Refund, RequesterRole, StatusChoices

from .common import MAX_ID
from .fields import MoneyField


class RefundLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    orderLineId = serializers.IntegerField(source="order_line_id")
    sku = serializers.CharField(source="order_line.sku")
    quantity = serializers.IntegerField()
    amount = MoneyField(currency="refund.currency")
    receivedQuantity = serializers.IntegerField(source="received_quantity")


def _blank_as_null(value: str) -> str | None:
    return value or None


class RefundOut(serializers.Serializer):
    id = serializers.IntegerField()
    order = serializers.IntegerField(source="order_id")
    orderNumber = serializers.CharField(source="order.external_number")
    createdAt = serializers.DateTimeField(source="created_at")
    updatedAt = serializers.DateTimeField(source="updated_at")
    requester = serializers.SerializerMethodField(
        help_text="Username of the requester; a customer is told a role for anyone else "
        '("Our support team", "The marketplace"), never a staff member\'s name.'
    )
    requestReason = serializers.ChoiceField(source="reason_code", choices=ReasonCode.choices)
    explanation = serializers.CharField(source="customer_explanation")
    responseReason = serializers.SerializerMethodField()
    confirmedAt = serializers.DateTimeField(source="confirmed_at", allow_null=True)
    issuedAt = serializers.DateTimeField(source="issued_at", allow_null=True)
    amount = MoneyField(source="total")
    currency = serializers.CharField()
    status = serializers.ChoiceField(choices=StatusChoices.choices)
    trackingId = serializers.SerializerMethodField()
    carrierName = serializers.SerializerMethodField()
    refundOnly = serializers.BooleanField(source="refund_only")
    valid = serializers.BooleanField(source="is_valid")
    lines = RefundLineOut(many=True)

    @extend_schema_field(serializers.CharField())
    def get_requester(self, refund: Refund) -> str:
        viewer = self.context.get("viewer")
        if (viewer is not None and viewer.is_staff) or (
            refund.requester_role == RequesterRole.CUSTOMER
        ):
            return refund.requester_name  # staff, or the customer's own username
        return refund.requester_for_customer

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_responseReason(self, refund: Refund) -> str | None:
        return _blank_as_null(refund.response_reason)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_trackingId(self, refund: Refund) -> str | None:
        return _blank_as_null(refund.return_tracking_id)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_carrierName(self, refund: Refund) -> str | None:
        return _blank_as_null(refund.return_carrier)


class RefundEnvelope(serializers.Serializer):
    data = RefundOut()


class LineIn(serializers.Serializer):
    lineId = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Order line id")
    quantity = serializers.IntegerField(min_value=0, max_value=1_000_000)


class RefundCreateIn(serializers.Serializer):
    orderId = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    reason = serializers.ChoiceField(choices=ReasonCode.choices)
    explanation = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, default=""
    )
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=3,
        required=False,
        help_text="Refund amount as a decimal string. Required without `lines`; with `lines` it "
        "must equal the amount the lines come to.",
    )
    refundOnly = serializers.BooleanField(help_text="True: the customer keeps the goods.")
    lines = LineIn(many=True, required=False, max_length=200)

    def validate(self, attrs):
        if not attrs.get("lines") and attrs.get("amount") is None:
            raise serializers.ValidationError({"amount": ["Give an amount or choose lines."]})
        return attrs


class ReceivedIn(serializers.Serializer):
    lineId = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="Refund line id")
    quantity = serializers.IntegerField(min_value=0, max_value=1_000_000)
    restock = serializers.BooleanField(default=False)


CUSTOMER_ACTIONS = ("SHIP_INIT",)
STAFF_ACTIONS = ("APPROVE", "DENY", "RECEIVE", "RETRY")


class RefundPatchIn(serializers.Serializer):
    action = serializers.ChoiceField(choices=[*CUSTOMER_ACTIONS, *STAFF_ACTIONS])
    trackingId = serializers.CharField(required=False, max_length=100, help_text="SHIP_INIT")
    carrierName = serializers.CharField(required=False, max_length=100, help_text="SHIP_INIT")
    responseReason = serializers.CharField(required=False, max_length=2000, help_text="DENY")
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    received = ReceivedIn(
        many=True,
        required=False,
        max_length=200,
        help_text="RECEIVE: units back per refund line; omitted, everything came back.",
    )

    def validate(self, attrs):
        needed = {"SHIP_INIT": ("trackingId", "carrierName"), "DENY": ("responseReason",)}
        missing = {
            name: ["This field is required for this action."]
            for name in needed.get(attrs["action"], ())
            if not attrs.get(name)
        }
        if missing:
            raise serializers.ValidationError(missing)
        return attrs
