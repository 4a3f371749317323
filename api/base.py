"""What every API view shares: authentication, JSON-only bodies, size limits, pagination."""

import re

from django.conf import settings
from rest_framework import status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api.scopes import TokenScopeRequired
from kernel.errors import RuleViolation


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class ApiView(APIView):
    # Base of every endpoint: JSON in, JSON out, bodies capped before parsing. (A comment, not
    # a docstring: drf-spectacular would show a docstring as every operation's description.)

    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, TokenScopeRequired]
    # PostgreSQL text can not hold NUL nor a lone surrogate (JSON can spell both), so bodies
    # with one are refused up front (a clear 400 rather than a database error); stateless
    # endpoints that only inspect text opt out.
    accepts_nul = False

    def initial(self, request, *args, **kwargs):
        # config.middleware.RequestLimitsMiddleware refuses these first, with the same answer;
        # this holds for a view reached some other way.
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.REQUEST_MAX_BYTES:
            raise RuleViolation(
                "request_too_large",
                f"The request body is over {settings.REQUEST_MAX_BYTES / 2**20:g} MB, the "
                f"largest accepted (a schema may be up to {settings.SCHEMA_MAX_BYTES / 2**20:g} "
                "MB, SCHEMA_MAX_BYTES).",
                status=413,
            )
        super().initial(request, *args, **kwargs)

    def body(self) -> dict:
        """The JSON body, which must be an object."""
        data = self.request.data
        if not isinstance(data, dict):
            raise RuleViolation("invalid", "The request body must be a JSON object.")
        if not self.accepts_nul and _contains_nul(data):
            raise RuleViolation(
                "invalid",
                "Text may not contain NUL (\\u0000) characters or lone surrogates "
                "(\\ud800-\\udfff, half of a UTF-16 pair).",
            )
        return data

    def paginated(self, queryset, serialize):
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response([serialize(obj) for obj in page])

    @staticmethod
    def created(data) -> Response:
        return Response(data, status=status.HTTP_201_CREATED)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _contains_nul(value, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value or _SURROGATE.search(value) is not None
    if depth > 100:  # JSON this deep is refused elsewhere; do not recurse without end
        return False
    if isinstance(value, dict):
        return any(_contains_nul(k, depth + 1) or _contains_nul(v, depth + 1)
                   for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item, depth + 1) for item in value)
    return False
