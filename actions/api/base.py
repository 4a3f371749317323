"""What every API view shares: authentication, JSON-only bodies, size limits, pagination."""

from rest_framework import status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import RuleViolation

MAX_BODY_BYTES = 6 * 1024 * 1024  # a 5 MB schema, JSON-escaped, still fits


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class ApiView(APIView):
    # Base of every endpoint: JSON in, JSON out, bodies capped before parsing. (A comment, not
    # a docstring: drf-spectacular would show a docstring as every operation's description.)

    parser_classes = [JSONParser]

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
        return data

    def paginated(self, queryset, serialize):
        paginator = Pagination()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response([serialize(obj) for obj in page])

    @staticmethod
    def created(data) -> Response:
        return Response(data, status=status.HTTP_201_CREATED)
