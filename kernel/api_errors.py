"""Every API error has the shape {"code": "...", "detail": "...", ...}."""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from kernel.errors import RuleViolation


class ApiError(exceptions.APIException):
    """A product rule refused the request; `extra` fields are merged into the body."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, code: str, detail: str, *, status_code: int | None = None, **extra):
        super().__init__(detail=detail, code=code)
        self.code = code
        self.extra = extra
        if status_code is not None:
            self.status_code = status_code


def exception_handler(exc, context):
    if isinstance(exc, RuleViolation):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, ApiError):
        return Response(
            {"code": exc.code, "detail": str(exc.detail), **exc.extra}, status=exc.status_code
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "code": "invalid",
            "detail": _first_message(exc.detail),
            "fields": exc.detail,
        }
    elif isinstance(exc, exceptions.NotAuthenticated) and _sent_bearer_token(context):
        # A token was sent but matched none (unknown, expired, revoked): DRF still says
        # "credentials were not provided", which sends people looking for a missing header.
        response.data = {
            "code": "invalid_token",
            "detail": INVALID_TOKEN_DETAIL,
        }
    else:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else "error"
        response.data = {
            "code": codes if isinstance(codes, str) else "error",
            "detail": str(getattr(exc, "detail", exc)),
        }
    return response


INVALID_TOKEN_DETAIL = (
    "The bearer token is invalid or has expired (or was revoked): ask for a new token."
)


def _sent_bearer_token(context) -> bool:
    request = (context or {}).get("request")
    header = request.META.get("HTTP_AUTHORIZATION", "") if request is not None else ""
    scheme, _, token = header.strip().partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _first_message(detail, path: str = "") -> str:
    """The first message of a (nested) DRF error, named by its field's dotted path
    ("auth.type: ..."), as the services name fields."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            if field == "non_field_errors":
                name = path
            else:
                name = f"{path}.{field}" if path else str(field)
            message = _first_message(value, name)
            if message:
                return message
        return ""
    if isinstance(detail, list):
        for item in detail:
            message = _first_message(item, path)
            if message:
                return message
        return ""
    return f"{path}: {detail}" if path else str(detail)
