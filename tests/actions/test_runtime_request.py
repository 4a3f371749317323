"""Request building (actions/runtime/request.py): validation first, then OpenAPI serialisation.

Pure functions: stand-in operation and action objects, no database, no network.
"""

import datetime
import json
from types import SimpleNamespace

import pytest

from actions import openapi
from actions.runtime.request import (
    BODY_KEY,
    MAX_BODY_CHARS,
    build_request,
    operation_arguments,
    server_url,
)
from kernel.errors import RuleViolation

DOC = {
    "openapi": "3.1.0",
    "info": {"title": "T", "version": "1"},
    "servers": [{"url": "https://api.example.com/v1/"}],
    "paths": {},
}


def action_for(document=None, version="3.1.0", *, text=None):
    """A stand-in action carrying what `_save` stores: the server URL as the engine resolves
    it, and the components the leftover `$ref`s point into."""
    document = document or DOC
    text = text if text is not None else json.dumps(document)
    servers = openapi.validate(text).servers
    return SimpleNamespace(
        pk=id(document),
        updated_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        schema=text,
        server_url=servers[0] if servers else "",
        components=document.get("components") or {},
        openapi_version=version,
    )


def op(path="/items", method="get", parameters=(), request_body=None):
    return SimpleNamespace(
        operation_id="op",
        method=method,
        path=path,
        parameters=list(parameters),
        request_body=request_body,
    )


def param(name, location, schema=None, **extra):
    return {"name": name, "in": location, "schema": schema or {}, **extra}


def build(operation, arguments, *, action=None):
    return build_request(action=action or action_for(), operation=operation, arguments=arguments)


def refusal(operation, arguments, *, action=None) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        build(operation, arguments, action=action)
    return caught.value


# Style values: the table of the OpenAPI Specification (3.0.3 and 3.1, "Style Examples").
BLUE = "blue"
COLORS = ["blue", "black", "brown"]
RGB = {"R": 100, "G": 200, "B": 150}

PATH_CASES = [
    ("simple", False, BLUE, "blue"),
    ("simple", False, COLORS, "blue,black,brown"),
    ("simple", False, RGB, "R,100,G,200,B,150"),
    ("simple", True, RGB, "R=100,G=200,B=150"),
    ("label", False, BLUE, ".blue"),
    ("label", False, COLORS, ".blue,black,brown"),
    ("label", True, COLORS, ".blue.black.brown"),
    ("label", False, RGB, ".R,100,G,200,B,150"),
    ("label", True, RGB, ".R=100.G=200.B=150"),
    ("matrix", False, BLUE, ";color=blue"),
    ("matrix", False, COLORS, ";color=blue,black,brown"),
    ("matrix", True, COLORS, ";color=blue;color=black;color=brown"),
    ("matrix", False, RGB, ";color=R,100,G,200,B,150"),
    ("matrix", True, RGB, ";R=100;G=200;B=150"),
]


@pytest.mark.parametrize(("style", "explode", "value", "expected"), PATH_CASES)
def test_path_styles(style, explode, value, expected):
    operation = op(
        path="/paint/{color}",
        parameters=[param("color", "path", {}, style=style, explode=explode, required=True)],
    )
    built = build(operation, {"color": value})
    assert built.url == f"https://api.example.com/v1/paint/{expected}"


QUERY_CASES = [
    ("form", True, BLUE, "color=blue"),
    ("form", False, COLORS, "color=blue,black,brown"),
    ("form", True, COLORS, "color=blue&color=black&color=brown"),
    ("form", False, RGB, "color=R,100,G,200,B,150"),
    ("form", True, RGB, "R=100&G=200&B=150"),
    ("spaceDelimited", False, COLORS, "color=blue%20black%20brown"),
    ("spaceDelimited", False, RGB, "color=R%20100%20G%20200%20B%20150"),
    ("pipeDelimited", False, COLORS, "color=blue|black|brown"),
    ("pipeDelimited", False, RGB, "color=R|100|G|200|B|150"),
    ("deepObject", True, RGB, "color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150"),
]


@pytest.mark.parametrize(("style", "explode", "value", "expected"), QUERY_CASES)
def test_query_styles(style, explode, value, expected):
    operation = op(parameters=[param("color", "query", {}, style=style, explode=explode)])
    assert build(operation, {"color": value}).url == f"https://api.example.com/v1/items?{expected}"


def test_form_explodes_by_default_and_other_styles_do_not():
    operation = op(parameters=[param("tag", "query", {"type": "array"})])
    assert build(operation, {"tag": ["a", "b"]}).url.endswith("?tag=a&tag=b")


def test_values_are_percent_encoded_in_path_and_query():
    operation = op(
        path="/files/{name}",
        parameters=[param("name", "path", {"type": "string"}), param("q", "query")],
    )
    built = build(operation, {"name": "a/b c?", "q": "x&y=z#é"})
    assert built.url == ("https://api.example.com/v1/files/a%2Fb%20c%3F?q=x%26y%3Dz%23%C3%A9")


def test_allow_reserved_keeps_reserved_characters_but_not_query_delimiters():
    operation = op(parameters=[param("next", "query", {}, allowReserved=True)])
    assert build(operation, {"next": "/a/b?c:d&e"}).url.endswith("?next=/a/b?c:d%26e")


def test_primitives_are_written_as_json_text():
    operation = op(
        parameters=[
            param("flag", "query", {"type": "boolean"}),
            param("n", "query", {"type": "number"}),
            param("k", "query", {"type": "integer"}),
        ]
    )
    assert build(operation, {"flag": False, "n": 1.5, "k": 3}).url.endswith("?flag=false&n=1.5&k=3")


def test_headers_and_cookies():
    operation = op(
        parameters=[
            param("X-Trace", "header", {"type": "array"}),
            param("X-Pos", "header", {"type": "object"}, explode=True),
            param("session", "cookie", {"type": "string"}),
            param("ids", "cookie", {"type": "array"}, explode=False),
        ]
    )
    built = build(
        operation,
        {"X-Trace": ["a", "b"], "X-Pos": {"x": 1, "y": 2}, "session": "s 1", "ids": [3, 4]},
    )
    assert built.headers["X-Trace"] == "a,b"
    assert built.headers["X-Pos"] == "x=1,y=2"
    assert built.headers["Cookie"] == "session=s%201; ids=3,4"


def test_header_values_can_not_carry_line_breaks():
    operation = op(parameters=[param("X-Note", "header", {"type": "string"})])
    error = refusal(operation, {"X-Note": "a\r\nX-Injected: 1"})
    assert error.code == "invalid_arguments"
    assert error.extra["argument"] == "X-Note"


def test_authorization_and_framing_headers_are_not_parameters():
    """OpenAPI ignores Accept/Content-Type/Authorization header parameters; the runtime also
    keeps Host, Cookie and framing headers for itself."""
    operation = op(
        parameters=[
            param("Authorization", "header"),
            param("Host", "header"),
            param("X-Ok", "header"),
        ]
    )
    assert [a.key for a in operation_arguments(operation)] == ["X-Ok"]
    error = refusal(operation, {"Authorization": "Bearer stolen"})
    assert error.extra["argument"] == "Authorization"
    assert "Unknown argument" in error.detail


def test_a_name_used_in_two_places_gets_a_location_prefix_the_second_time():
    operation = op(
        path="/items/{id}",
        parameters=[param("id", "path", {"type": "integer"}), param("id", "header")],
    )
    assert [a.key for a in operation_arguments(operation)] == ["id", "header.id"]
    built = build(operation, {"id": 7, "header.id": "h"})
    assert built.url.endswith("/items/7")
    assert built.headers["id"] == "h"


def test_parameter_described_by_content_is_sent_as_json():
    operation = op(
        parameters=[
            {
                "name": "filter",
                "in": "query",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        ]
    )
    built = build(operation, {"filter": {"a": 1}})
    assert built.url.endswith("?filter=%7B%22a%22%3A1%7D")


# Server URL ---------------------------------------------------------------------------------


def test_server_variables_take_their_defaults():
    document = dict(
        DOC,
        servers=[
            {
                "url": "https://{region}.example.com:{port}/{base}",
                "variables": {
                    "region": {"default": "eu", "enum": ["eu", "us"]},
                    "port": {"default": "8443"},
                    "base": {"default": "v2"},
                },
            },
            {"url": "https://ignored.example.com"},
        ],
    )
    action = action_for(document)
    assert server_url(action) == "https://eu.example.com:8443/v2"
    assert build(op(path="/x"), {}, action=action).url == "https://eu.example.com:8443/v2/x"


def test_yaml_schema_is_read_too():
    action = action_for(text="openapi: 3.1.0\nservers:\n  - url: https://yaml.example.com\n")
    assert server_url(action) == "https://yaml.example.com"


@pytest.mark.parametrize("stored", ["", "https://{region}.example.com"])
def test_a_missing_or_unresolved_server_url_is_refused(stored):
    action = action_for()
    action.server_url = stored
    with pytest.raises(RuleViolation) as caught:
        build(op(path="/x"), {}, action=action)
    assert caught.value.code == "invalid_schema"


def test_the_schema_text_is_not_read():
    action = action_for()
    action.schema = "{not a schema at all"
    assert build(op(path="/x"), {}, action=action).url == "https://api.example.com/v1/x"


# Bodies -------------------------------------------------------------------------------------

ITEM = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string"}, "tags": {"type": "array"}},
}


def test_json_body():
    operation = op(
        method="post",
        request_body={"content_type": "application/json", "schema": ITEM, "required": True},
    )
    built = build(operation, {BODY_KEY: {"name": "Rex", "tags": ["a"]}})
    assert built.method == "POST"
    assert built.headers["Content-Type"] == "application/json"
    assert json.loads(built.body) == {"name": "Rex", "tags": ["a"]}


def test_openapi_request_body_object_prefers_json():
    operation = op(
        method="post",
        request_body={
            "required": True,
            "content": {
                "application/xml": {"schema": {}},
                "application/json": {"schema": ITEM},
            },
        },
    )
    built = build(operation, {BODY_KEY: {"name": "Rex"}})
    assert built.headers["Content-Type"] == "application/json"


def test_form_body():
    operation = op(
        method="post",
        request_body={"content_type": "application/x-www-form-urlencoded", "schema": ITEM},
    )
    built = build(operation, {BODY_KEY: {"name": "R x&y", "tags": ["a", "b"]}})
    assert built.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert built.body == b"name=R%20x%26y&tags=a&tags=b"


def test_multipart_body_has_one_part_per_field():
    operation = op(
        method="post", request_body={"content_type": "multipart/form-data", "schema": ITEM}
    )
    built = build(operation, {BODY_KEY: {"name": "Rex"}})
    boundary = built.headers["Content-Type"].split("boundary=")[1]
    assert built.body.decode() == (
        f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nRex\r\n'
        f"--{boundary}--\r\n"
    )


def test_body_over_the_limit_is_refused_before_sending():
    operation = op(method="post", request_body={"content_type": "text/plain", "schema": {}})
    error = refusal(operation, {BODY_KEY: "x" * (MAX_BODY_CHARS + 1)})
    assert (error.code, error.status, error.extra["argument"]) == (
        "request_body_too_large",
        413,
        BODY_KEY,
    )
    assert build(operation, {BODY_KEY: "x" * MAX_BODY_CHARS}).body == b"x" * MAX_BODY_CHARS


def test_binary_request_bodies_are_refused():
    operation = op(
        method="post", request_body={"content_type": "application/octet-stream", "schema": {}}
    )
    assert refusal(operation, {BODY_KEY: "AAAA"}).extra["argument"] == BODY_KEY


# Validation ---------------------------------------------------------------------------------


def test_missing_required_argument_is_named():
    operation = op(parameters=[param("location", "query", {"type": "string"}, required=True)])
    error = refusal(operation, {})
    assert (error.code, error.status) == ("invalid_arguments", 400)
    assert error.extra["argument"] == "location"
    assert "location" in error.detail


def test_wrong_type_is_named_with_its_path():
    operation = op(
        method="post",
        request_body={"content_type": "application/json", "schema": ITEM, "required": True},
    )
    error = refusal(operation, {BODY_KEY: {"name": "Rex", "tags": "not-a-list"}})
    assert error.extra["argument"] == BODY_KEY
    assert "requestBody['tags']" in error.detail
    assert "array" in error.detail


def test_required_body_property_is_checked():
    operation = op(
        method="post",
        request_body={"content_type": "application/json", "schema": ITEM, "required": True},
    )
    error = refusal(operation, {BODY_KEY: {}})
    assert "'name' is a required property" in error.detail
    assert refusal(operation, {}).extra["argument"] == BODY_KEY


def test_unknown_argument_and_non_object_arguments():
    operation = op(parameters=[param("a", "query")])
    error = refusal(operation, {"a": "1", "zzz": 2})
    assert error.extra["argument"] == "zzz"
    assert "this operation takes a" in error.detail
    assert refusal(operation, ["a"]).extra["argument"] == "arguments"


def test_empty_path_value_is_refused():
    operation = op(path="/items/{id}", parameters=[param("id", "path", {"type": "string"})])
    assert refusal(operation, {"id": ""}).extra["argument"] == "id"


@pytest.mark.parametrize(
    ("style", "value"), [("simple", ".."), ("simple", "."), ("label", ".")]  # label adds a "."
)
def test_a_path_argument_never_makes_a_dot_segment(style, value):
    # "/files/{name}" with name=".." would reach /files/.. = / on most servers, carrying the
    # builder's credentials to a path the schema never offered.
    parameter = param("name", "path", {"type": "string"}, style=style)
    operation = op(path="/files/{name}/content", parameters=[parameter])
    error = refusal(operation, {"name": value})
    assert error.extra["argument"] == "name"
    assert "parent or current directory" in error.detail


def test_dots_inside_a_path_segment_and_encoded_percent_signs_are_sent():
    operation = op(path="/files/{name}", parameters=[param("name", "path", {"type": "string"})])
    assert build(operation, {"name": "..."}).url.endswith("/files/...")
    assert build(operation, {"name": "a..b"}).url.endswith("/files/a..b")
    # A literal "%2e%2e" is sent as the text it is (%252e%252e), never as a dot segment.
    assert build(operation, {"name": "%2e%2e"}).url.endswith("/files/%252e%252e")


def test_enum_minimum_and_pattern():
    operation = op(
        parameters=[
            param("unit", "query", {"type": "string", "enum": ["C", "F"]}),
            param("days", "query", {"type": "integer", "minimum": 1, "maximum": 10}),
            param("zip", "query", {"type": "string", "pattern": "^[0-9]{5}$"}),
        ]
    )
    assert refusal(operation, {"unit": "K"}).extra["argument"] == "unit"
    assert refusal(operation, {"days": 0}).extra["argument"] == "days"
    assert refusal(operation, {"days": 1.5}).extra["argument"] == "days"
    assert refusal(operation, {"zip": "1234"}).extra["argument"] == "zip"
    assert build(operation, {"unit": "C", "days": 3, "zip": "12345"}).url.endswith(
        "?unit=C&days=3&zip=12345"
    )


def test_openapi_30_nullable_and_exclusive_bounds():
    action = action_for(dict(DOC, openapi="3.0.3"), version="3.0.3")
    operation = op(
        parameters=[
            param("note", "query", {"type": "string", "nullable": True}),
            param("size", "query", {"type": "number", "minimum": 0, "exclusiveMinimum": True}),
            param("name", "query", {"type": "string"}),
        ]
    )
    assert build(operation, {"note": None}, action=action).url.endswith("?note=")
    assert refusal(operation, {"size": 0}, action=action).extra["argument"] == "size"
    assert refusal(operation, {"name": None}, action=action).extra["argument"] == "name"


def test_openapi_30_read_only_property_is_not_accepted_in_a_request():
    action = action_for(dict(DOC, openapi="3.0.3"), version="3.0.3")
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer", "readOnly": True}, "name": {"type": "string"}},
    }
    operation = op(
        method="post", request_body={"content_type": "application/json", "schema": schema}
    )
    assert (
        refusal(operation, {BODY_KEY: {"id": 1, "name": "x"}}, action=action).extra["argument"]
        == BODY_KEY
    )
    assert build(operation, {BODY_KEY: {"name": "x"}}, action=action).body == b'{"name":"x"}'


def test_openapi_31_type_list_with_null():
    operation = op(parameters=[param("note", "query", {"type": ["string", "null"]})])
    assert build(operation, {"note": None}).url.endswith("?note=")
    assert refusal(operation, {"note": 3}).extra["argument"] == "note"


def test_a_recursive_ref_left_by_the_engine_resolves_against_the_components():
    document = dict(
        DOC,
        components={
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                    },
                }
            }
        },
    )
    action = action_for(document)
    schema = document["components"]["schemas"]["Node"]
    operation = op(
        method="post", request_body={"content_type": "application/json", "schema": schema}
    )
    tree = {"name": "a", "children": [{"name": "b", "children": []}]}
    assert json.loads(build(operation, {BODY_KEY: tree}, action=action).body) == tree
    error = refusal(operation, {BODY_KEY: {"children": [{"name": 5}]}}, action=action)
    assert "requestBody['children'][0]['name']" in error.detail


def test_a_broken_pattern_is_a_clear_refusal_not_a_crash():
    operation = op(parameters=[param("x", "query", {"type": "string", "pattern": "(unclosed"})])
    error = refusal(operation, {"x": "a"})
    assert error.code == "invalid_schema"
    assert error.extra["argument"] == "x"
