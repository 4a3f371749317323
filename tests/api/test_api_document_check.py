"""The check every API test runs on its answers (tests/openapi_responses.py) can fail: an
undocumented field, a missing required field, an undeclared status, a wrong error shape."""

import copy
import json

import pytest

from tests.openapi_responses import problems

pytestmark = pytest.mark.django_db

URL = "/api/v1/workspaces/"


def check(status, body, *, method="GET", path=URL, content_type="application/json"):
    return problems(path, method, status, content_type, json.dumps(body).encode())


def test_a_real_answer_matches(world, api):
    response = api(world["builder"]).get(URL)
    assert check(200, response.json()) == []


def test_undocumented_and_missing_fields_fail(world, api):
    body = api(world["builder"]).get(URL).json()
    body["results"][0]["extra"] = 1
    assert any("'extra' was unexpected" in p for p in check(200, body))
    del body["results"][0]["role"]
    assert any("'role' is a required property" in p for p in check(200, body))


def test_undeclared_status_and_bad_error_shape_fail(world):
    assert "does not declare" in check(418, {})[0]
    assert check(403, {"code": "permission_denied", "detail": "No."}) == []
    assert check(403, {"code": 1})


def test_unknown_operations_fail_but_router_answers_pass(world):
    assert check(404, {"code": "not_found", "detail": "Not found."}, path="/api/v1/nope/") == []
    assert check(200, {}, path="/api/v1/nope/")
    assert check(405, {"code": "method_not_allowed", "detail": "x"}, method="PUT") == []


def test_a_body_where_none_is_declared_fails(world):
    gpt_path = "/api/v1/gpts/1/"
    assert check(204, {"x": 1}, method="DELETE", path=gpt_path)
    assert problems(gpt_path, "DELETE", 204, "", b"") == []


def test_the_test_client_checks_every_answer(world, api, monkeypatch):
    """With `role` taken out of the document, a real answer carrying it fails the request."""
    from tests import openapi_responses

    drifted = copy.deepcopy(openapi_responses.document())
    workspace = drifted["components"]["schemas"]["Workspace"]
    del workspace["properties"]["role"]
    workspace["required"].remove("role")
    cached = (openapi_responses._closed_components, openapi_responses._operations)
    monkeypatch.setattr(openapi_responses, "document", lambda: drifted)
    for function in cached:
        function.cache_clear()
    try:
        with pytest.raises(AssertionError, match="'role' was unexpected"):
            api(world["builder"]).get(URL)
    finally:
        for function in cached:
            function.cache_clear()
