"""Answers instead of stack traces: a lost database (503), bad input at the door (400, 413).

A dropped PostgreSQL connection mid-request raises OperationalError/InterfaceError; the request's
transaction is rolled back by the database, so answering 503 leaves no partial write behind.
"""

import logging
import re

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.http.response import HttpResponseBase
from django.template.response import SimpleTemplateResponse

logger = logging.getLogger(__name__)

DETAIL = "The database is unavailable right now. Nothing was saved; please try again shortly."


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("database unavailable: %s", type(exception).__name__)
        response: HttpResponseBase
        if request.path.startswith("/api/"):
            response = JsonResponse({"code": "database_unavailable", "detail": DETAIL}, status=503)
        else:
            page = SimpleTemplateResponse("503.html", {"detail": DETAIL}, status=503)
            response = page.render()
        response["Retry-After"] = "5"
        return response


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def body_too_large(request) -> bool:
    length = request.META.get("CONTENT_LENGTH") or "0"
    return length.isdigit() and int(length) > settings.REQUEST_MAX_BYTES


def too_large_detail() -> str:
    return (
        f"The request body is over {_mb(settings.REQUEST_MAX_BYTES)}, the largest accepted "
        f"(a schema may be up to {_mb(settings.SCHEMA_MAX_BYTES)}, SCHEMA_MAX_BYTES)."
    )


_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable(text: str) -> str | None:
    """Why PostgreSQL could not store `text` (nor could the page echo it back), or None."""
    if "\x00" in text:
        return "a NUL character"
    if _SURROGATE.search(text):  # not a per-character loop: a schema form field is MBs
        return "text that is not valid Unicode (a lone surrogate)"
    return None


class RequestLimitsMiddleware:
    """Bad input refused at the door, the same way for every page and endpoint.

    - a body over REQUEST_MAX_BYTES: 413 naming the limit, before the body is read (Django's
      own limit would answer a bare HTML 400 from wherever the body happens to be read);
    - NUL or a lone surrogate in the path, the query string or a form field: 400 naming the
      field. PostgreSQL text can hold neither, and a page can not even echo a lone surrogate
      back (the response can not be encoded), so each was a 500 somewhere (`?next=` of the
      OAuth start, the editor's forms). JSON bodies are the API's business (api/base.py).

    Under /api/ (and the sandbox API) the answer is the API's JSON error; elsewhere a page.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if body_too_large(request):
            return _refuse(request, 413, "request_too_large", too_large_detail())
        problem = _unstorable_input(request)
        if problem:
            return _refuse(request, 400, "invalid", problem)
        return self.get_response(request)


def _unstorable_input(request) -> str | None:
    why = unstorable(request.path)
    if why:
        return f"The address contains {why}."
    sources = [("query parameter", request.GET)]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sources.append(("form field", request.POST))
    for kind, data in sources:
        for key, values in data.lists():
            for text in (key, *values):
                why = unstorable(text)
                if why:
                    name = key.encode("utf-8", "replace").decode().replace("\x00", "\\0")[:100]
                    return f"The {kind} {name!r} contains {why}; nothing was saved."
    return None


def _refuse(request, status: int, code: str, detail: str):
    if request.path.startswith(("/api/", "/sandbox/api/")):
        return JsonResponse({"code": code, "detail": detail}, status=status)
    response = SimpleTemplateResponse(
        "problem.html", {"status": status, "detail": detail}, status=status
    )
    return response.render()
