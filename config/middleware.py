"""Turn a lost database into a clean 503 instead of a stack trace.

A dropped PostgreSQL connection mid-request raises OperationalError/InterfaceError; the request's
transaction is rolled back by the database, so answering 503 leaves no partial write behind.
"""

import logging

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
