"""Every answer the API gives in a test is checked against the API's own document.

`check_response` finds the operation of /api/v1/schema/ that a response answers (path template
and method), and fails when its status is not declared there or its JSON body does not match
the declared schema ($refs resolved, OpenAPI 3.0 `nullable` understood). Success bodies are
checked closed: an object schema with `properties` and no `additionalProperties` admits no other
field, so an undocumented field fails as surely as a missing required one. Error bodies keep
the open shape the document promises (`{"code", "detail", ...}` with fields that vary by code).

`install(monkeypatch)` makes every request of Django's test client (and DRF's APIClient, which
goes through it) check its response; the API test packages turn it on in their conftest.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache

from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from openapi_schema_validator import OAS30Validator

API_PREFIX = "/api/v1/"
# The document itself and its HTML viewer are not operations of the document.
NOT_OPERATIONS = ("/api/v1/schema/", "/api/v1/docs/")
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


@cache
def document() -> dict:
    """The document as /api/v1/schema/ serves it (JSON round trip: plain types only)."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


def _closed(schema):
    """A copy of `schema` in which every object with listed properties admits no others."""
    if isinstance(schema, dict):
        schema = {key: _closed(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


@cache
def _closed_components() -> dict:
    return _closed(copy.deepcopy(document().get("components", {})))


@cache
def _operations() -> list[tuple[re.Pattern, str, dict]]:
    found = []
    for template, item in document()["paths"].items():
        pattern = re.compile(
            "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        )
        for method, operation in item.items():
            if method in HTTP_METHODS:
                found.append((pattern, method, operation))
    return found


def find_operation(path: str, method: str) -> tuple[bool, dict | None]:
    """(whether any operation has this path, the operation for this method or None)."""
    path_known = False
    for pattern, op_method, operation in _operations():
        if pattern.match(path):
            path_known = True
            if op_method == method:
                return True, operation
    return path_known, None


def problems(path: str, method: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with a response, as sentences; empty when it matches the document."""
    method = method.lower()
    if not path.startswith(API_PREFIX) or path.startswith(NOT_OPERATIONS):
        return []
    if method not in HTTP_METHODS:
        return []  # HEAD and OPTIONS are answered by DRF itself, not by an operation
    path_known, operation = find_operation(path, method)
    if operation is None:
        # An unknown path is the URL resolver's 404; a known path without this method is 405.
        if (not path_known and status == 404) or (path_known and status == 405):
            return []
        return [f"{method.upper()} {path} answered {status} but the document has no such operation"]
    declared = operation.get("responses", {})
    response = declared.get(str(status)) or declared.get("default")
    if response is None:
        return [
            f"{method.upper()} {path} answered {status}, which the document does not declare "
            f"(declared: {sorted(declared)})"
        ]
    content = response.get("content")
    if not content:
        if body:
            return [f"{method.upper()} {path} {status}: no body is declared, got {body[:200]!r}"]
        return []
    media = content_type.split(";")[0].strip()
    if media not in content:
        return [f"{method.upper()} {path} {status}: content type {media!r} is not declared"]
    schema = content[media].get("schema")
    if schema is None or media != "application/json":
        return []
    try:
        data = json.loads(body)
    except ValueError:
        return [f"{method.upper()} {path} {status}: the body is not JSON: {body[:200]!r}"]
    success = 200 <= status < 300
    components = _closed_components() if success else document().get("components", {})
    root = {**(_closed(schema) if success else schema), "components": components}
    validator = OAS30Validator(root)
    return [
        f"{method.upper()} {path} {status}: {'/'.join(map(str, error.absolute_path)) or '(body)'}:"
        f" {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
    ]


def check_response(response) -> None:
    request = response.request
    found = problems(
        request["PATH_INFO"],
        request["REQUEST_METHOD"],
        response.status_code,
        response.get("Content-Type", ""),
        b"" if getattr(response, "streaming", False) else response.content,
    )
    assert not found, "The answer does not match /api/v1/schema/:\n" + "\n".join(found)


def install(monkeypatch) -> None:
    """Check every response of Django's test client (and so of DRF's APIClient)."""
    from django.test import Client

    original = Client.request

    def request(self, **kwargs):
        response = original(self, **kwargs)
        check_response(response)
        return response

    monkeypatch.setattr(Client, "request", request)
