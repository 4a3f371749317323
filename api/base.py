"""What every API view shares: authentication, roles, JSON-only bodies, size limits, input
and output through serializers, pagination."""

import codecs
import re
from collections.abc import Callable
from typing import Any

import orjson
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import ParseError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.utils import json  # DRF's own: strict_constant, as its JSONParser
from rest_framework.views import APIView

from api.permissions import RolePermission
from api.scopes import TokenScopeRequired
from kernel.errors import RuleViolation
from workspaces.selectors import Access

# No request of this API nests deeper than a run's arguments, which follow an operation's
# schema; the schema engine refuses documents nested deeper than 64 levels.
MAX_BODY_DEPTH = 100

_BRACKETS_ONLY = bytes(range(256)).translate(None, b"[]{}")  # every other byte
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")


class DepthLimitedJSONParser(JSONParser):
    """DRF's JSONParser, after a linear scan that refuses bodies nested too deeply.

    `json.loads` recurses once per level of nesting: a body of 100,000 `[` ends in a
    RecursionError, which is not a ValueError, so DRF's parser lets it escape as a 500 (before
    authentication has even answered, since the body is parsed on first access). Catching the
    RecursionError afterwards would still let each request drive the decoder to the
    interpreter's recursion limit, and where that limit is reached depends on how deep the
    stack already is. So the depth is measured first, without recursion and in time linear
    in the body (already capped at settings.REQUEST_MAX_BYTES): see `_depth`. The limit is far
    below the interpreter's, so the answer is the same in every thread and at every stack depth.

    Most bodies take a faster way to that same answer (`_fast`): orjson, whose nesting limit
    is its own fixed counter (1,024 levels), not the interpreter's stack. Measured on 1.3-4.5 MB
    schemas sent as `{"schema": "..."}` (best of 5): depth scan + decode + json.loads 23-44 ms,
    orjson and the depth check of the result 1-10 ms.
    """

    max_depth = MAX_BODY_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        raw = stream.read() if stream is not None else b""
        if isinstance(raw, str):  # pragma: no cover - Django streams give bytes
            raw = raw.encode("utf-8")
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        fast = _fast(raw, encoding, self.max_depth)
        if fast is not _SLOW:
            return fast
        if _depth(raw, self.max_depth) > self.max_depth:
            raise ParseError(
                f"The request body is nested too deeply (more than {self.max_depth} levels).",
                code="invalid",
            )
        try:
            text = codecs.decode(raw, encoding)
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, LookupError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}", code="invalid") from None


_SLOW = object()


def _fast(raw: bytes, encoding: str, limit: int) -> Any:
    """What the exact path (depth scan, then `json.loads`) returns for `raw`, or _SLOW.

    orjson agrees with `json.loads` on every document it accepts except in numbers: it turns
    an integer beyond 64 bits into a float, and may round floats differently. So a result
    holding a float, one nested deeper than `limit`, a body orjson refuses (bad JSON, lone
    surrogates, NaN: the exact path words the error) and another charset all go the exact way.
    """
    try:
        if codecs.lookup(encoding).name != "utf-8":
            return _SLOW
        data = orjson.loads(raw)
    except (LookupError, orjson.JSONDecodeError):
        return _SLOW
    level = [data]
    depth = 0
    while level:
        containers = []
        for node in level:
            kind = type(node)
            if kind is float:
                return _SLOW
            if kind is dict or kind is list:
                containers.append(node)
        if not containers:
            return data
        depth += 1
        if depth > limit:
            return _SLOW
        level = []
        for node in containers:
            level += node.values() if type(node) is dict else node
    return data


def _depth(raw: bytes, limit: int) -> int:
    """Deepest nesting of brackets outside JSON strings, at most about `limit` + 1.

    Only C-speed bytes operations, each linear, no regex (a regex for JSON strings can be
    driven quadratic by an unterminated one): escapes are dropped (backslash pairs first, as
    the decoder pairs them), so the quotes left delimit strings and every other piece of a
    split on quotes is outside them; the brackets left are paired off innermost first, one
    level per pass, for at most `limit` passes. What cannot be paired (`]]][[[`, invalid JSON)
    still counts: an unclosed `[` makes the decoder recurse as deep as a closed one.
    """
    outside = b"".join(raw.replace(b"\\\\", b"").replace(b'\\"', b"").split(b'"')[::2])
    brackets = outside.translate(_AS_SQUARE, _BRACKETS_ONLY)
    passes = 0
    while brackets and passes <= limit:
        paired = brackets.replace(b"[]", b"")
        if len(paired) == len(brackets):
            break
        brackets = paired
        passes += 1
    return passes + brackets.count(b"[")


class Pagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200


class ApiView(APIView):
    # Base of every endpoint: JSON in, JSON out, bodies capped before parsing. (A comment, not
    # a docstring: drf-spectacular would show a docstring as every operation's description.)

    parser_classes = [DepthLimitedJSONParser]
    permission_classes = [IsAuthenticated, TokenScopeRequired, RolePermission]
    # The role layer (api/permissions.py): the selector that resolves the view's object for the
    # caller, what each method needs beyond the defaults, and the sentence of a refusal. The
    # resolved Access is `self.access` in the handlers.
    access_selector: Callable[..., Access[Any]] | None = None
    access: Access[Any]
    access_needs: dict[str, str] = {}
    access_denied = "Your role in this workspace does not allow this."
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

    def validated(self, serializer_class) -> dict:
        """The JSON body checked by the view's InputSerializer (a 400 `invalid` naming the
        field otherwise): only the fields sent, with their JSON types."""
        serializer = serializer_class(data=self.body())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def paginated(self, queryset, serializer_class, prepare=None, **context):
        """One page of `queryset` through `serializer_class`; `prepare(page)`, when given,
        loads what the serializer reads for the page's rows."""
        paginator = Pagination()
        page: list[Any] | None = paginator.paginate_queryset(queryset, self.request, view=self)
        if prepare is not None and page:
            page = prepare(page)
        return paginator.get_paginated_response(
            serializer_class(page, many=True, context=context).data
        )

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
        return any(
            _contains_nul(k, depth + 1) or _contains_nul(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_contains_nul(item, depth + 1) for item in value)
    return False
