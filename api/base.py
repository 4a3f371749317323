"""What every API view shares: authentication, JSON-only bodies, size limits, pagination."""

from rest_framework import status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from kernel.errors import RuleViolation

MAX_BODY_BYTES = 6 * 1024 * 1024  # a 5 MB schema, JSON-escaped, still fits


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class ApiView(APIView):
    # Base of every endpoint: JSON in, JSON out, bodies capped before parsing. (A comment, not
    # a docstring: drf-spectacular would show a docstring as every operation's description.)

    parser_classes = [JSONParser]
    # PostgreSQL text can not hold NUL, so bodies with one are refused up front (a clear 400
    # rather than a database error); stateless endpoints that only inspect text opt out.
    accepts_nul = False

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise RuleViolation(
                "request_too_large",
                f"The request body is over {MAX_BODY_BYTES // (1024 * 1024)} MB.",
                status=413,
            )
        super().initial(request, *args, **kwargs)

    def body(self) -> dict:
        """The JSON body, which must be an object."""
        data = self.request.data
        if not isinstance(data, dict):
            raise RuleViolation("invalid", "The request body must be a JSON object.")
        if not self.accepts_nul and _contains_nul(data):
            raise RuleViolation("invalid", "Text may not contain NUL (\\u0000) characters.")
        return data

    def paginated(self, queryset, serialize):
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response([serialize(obj) for obj in page])

    @staticmethod
    def created(data) -> Response:
        return Response(data, status=status.HTTP_201_CREATED)


def _contains_nul(value, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 100:  # JSON this deep is refused elsewhere; do not recurse without end
        return False
    if isinstance(value, dict):
        return any(
            _contains_nul(k, depth + 1) or _contains_nul(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_contains_nul(item, depth + 1) for item in value)
    return False
