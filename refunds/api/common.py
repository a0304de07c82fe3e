"""What every /api/v2/ view shares: authentication (token first, so an anonymous caller gets 401
with a WWW-Authenticate header), per-user throttling, the error envelope, 0-based paging and the
id converter that keeps guessed ids inside the database's integer range."""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.urls import register_converter
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import BasePagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import exception_handler

from orders.errors import OrderError
from refunds.client_address import client_address
from refunds.errors import RefundError
from refunds.filters import search_is_broad
from refunds.pagination import count_or_estimate, page_rows

MAX_ID = 2**63 - 1


class IdConverter:
    """A database id: 1 to 18 digits, so no guessed id can overflow bigint (a 500)."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _flatten(detail, path: str = "") -> list[tuple[str, str]]:
    """DRF's nested error detail as (field path, plain message) pairs, in order: {"lines": [{},
    {"quantity": [...]}]} gives ("lines[1].quantity", "..."); a ListField's or DictField's
    {0: [...]} gives "tags[0]". "non_field_errors" belongs to the object that holds it."""
    if isinstance(detail, dict):
        pairs = []
        for key, value in detail.items():
            if key == "non_field_errors":
                sub = path
            elif isinstance(key, int):
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{camel(str(key))}" if path else camel(str(key))
            pairs += _flatten(value, sub)
        return pairs
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [(path, str(item)) for item in detail]
        pairs = []
        for index, item in enumerate(detail):  # a list serializer's errors, {} for good items
            if item:
                pairs += _flatten(item, f"{path}[{index}]")
        return pairs
    return [(path, str(detail))]


def _first_message(detail) -> str:
    pairs = _flatten(detail)
    if not pairs:
        return "Invalid input."
    path, message = pairs[0]
    return f"{path}: {message}" if path else message


def _fields(detail) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for path, message in _flatten(detail):
        if path:
            fields.setdefault(path, []).append(message)
    return fields


# RefundError codes that say who may act, not what is wrong with the input: 403, not 400.
PERMISSION_CODES = frozenset({"forbidden", "maker_checker", "approval_limit"})


def api_exception_handler(exc, context):
    """Every error as {"error": {"code", "message", "field"?, "fields"?}}, in plain text (nested
    field errors flattened to "lines[0].quantity"); domain errors become 4xx (who may act:
    forbidden, maker-checker, approval limit -> 403; a refused transition -> 409; anything else
    refused -> 400)."""
    field = None
    if isinstance(exc, RefundError):
        field = camel(exc.field) if exc.field else None
        if exc.code in PERMISSION_CODES:
            exc = exceptions.PermissionDenied(exc.message, code=exc.code)
        elif exc.code == "invalid_transition":
            exc = Conflict(exc.message, code=exc.code)
        else:
            exc = exceptions.ValidationError({"detail": exc.message}, code=exc.code)
            exc.envelope_code = exc.get_codes()["detail"]
    elif isinstance(exc, OrderError):
        field = camel(exc.field.replace(".", "_")) if exc.field else None
        exc = exceptions.ValidationError({"detail": exc.message}, code="invalid")
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(exc, exceptions.ValidationError):
        code = getattr(exc, "envelope_code", "invalid")
        if isinstance(detail, dict) and set(detail) == {"detail"}:
            message = _first_message(detail["detail"])
            fields = {}
        else:
            message = _first_message(detail)
            fields = _fields(detail)
    else:
        code = (
            exc.default_code if not hasattr(detail, "code") else (detail.code or exc.default_code)
        )
        message = _first_message(detail) if isinstance(detail, dict | list) else str(detail)
        fields = {}
    error = {"code": str(code), "message": message}
    if field:
        error["field"] = field
    if fields:
        error["fields"] = fields
    response.data = {"error": error}
    return response


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The refund is not in a status that allows this."
    default_code = "invalid_transition"


register_converter(IdConverter, "rdid")


class ErrorBody(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(required=False)
    fields = serializers.DictField(required=False)


class ErrorEnvelope(serializers.Serializer):
    error = ErrorBody()


def error_responses(*codes: int) -> dict:
    described = {
        400: "Invalid input",
        401: "Not signed in",
        403: "Not allowed",
        404: "Not found (or not yours)",
        409: "Not allowed in the refund's current status",
        429: "Too many requests",
    }
    return {code: OpenApiResponse(ErrorEnvelope, description=described[code]) for code in codes}


class PageQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=0, max_value=1_000_000, default=0)
    size = serializers.IntegerField(min_value=1, max_value=100, default=20)


class PageSizePagination(BasePagination):
    """Seed 003's paging: `page` from 0 and `size` (default 20, at most 100)."""

    def paginate_queryset(self, queryset, request, view=None):
        query = PageQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.page, self.size = query.validated_data["page"], query.validated_data["size"]
        # Past settings.LIST_EXACT_COUNT_LIMIT the total is the planner's estimate, and says
        # so: counting a million refunds would be most of the request (issue 17).
        broad = search_is_broad(request.query_params.get("q", ""))
        self.total, exact = count_or_estimate(queryset, broad=broad)
        self.estimated = not exact
        start = self.page * self.size
        stop = start + self.size if self.estimated else min(start + self.size, self.total)
        return page_rows(queryset, start, stop)

    def get_paginated_response(self, data):
        meta = {"page": self.page, "size": self.size, "total": self.total}
        meta["totalIsEstimate"] = self.estimated
        return Response({"data": data, "meta": meta})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": schema,
                "meta": {
                    "type": "object",
                    "required": ["page", "size", "total", "totalIsEstimate"],
                    "properties": {
                        "page": {"type": "integer", "minimum": 0},
                        "size": {"type": "integer", "minimum": 1},
                        "total": {"type": "integer", "minimum": 0},
                        "totalIsEstimate": {
                            "type": "boolean",
                            "description": "True when total is PostgreSQL's estimate, given "
                            "past LIST_EXACT_COUNT_LIMIT (10,000) matches instead of counting",
                        },
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page index, from 0",
                "schema": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0},
            },
            {
                "name": "size",
                "in": "query",
                "required": False,
                "description": "Page size",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            },
        ]


class ApiUserThrottle(UserRateThrottle):
    """Per user; a caller not signed in is counted by the client address that TRUSTED_PROXIES
    gives (DRF's own reading trusts any X-Forwarded-For unless NUM_PROXIES is set)."""

    def get_ident(self, request):
        return client_address(request)


class ApiView(GenericAPIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [ApiUserThrottle]

    def get_exception_handler(self):
        return api_exception_handler


ID_PARAMETER = OpenApiParameter("id", int, OpenApiParameter.PATH, description="Record id")
ID_PATTERN = re.compile(IdConverter.regex)
