"""validate(): versions, product rules, and the traps of the raw openapi-spec-validator."""

from __future__ import annotations

import builtins
import copy
import gc
import json
import time
import tracemalloc

import pytest
import yaml

from actions import openapi
from actions.openapi import spec_checks
from actions.openapi.examples import EXAMPLES
from actions.openapi.spec_checks import DOWNGRADED_TO_WARNINGS


def document(**changes) -> dict:
    """A small valid 3.1 document; `changes` replace top-level keys (None removes one)."""
    base = {
        "openapi": "3.1.0",
        "info": {"title": "Pets", "version": "1.0"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/pets/{id}": {
                "get": {
                    "operationId": "getPet",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def check(doc: dict, **kwargs) -> openapi.Verdict:
    return openapi.validate(json.dumps(doc, indent=2), **kwargs)


def codes(verdict: openapi.Verdict) -> list[str]:
    return [problem.code for problem in verdict.errors]


def test_a_good_document_is_valid_and_its_operations_detected():
    verdict = check(document())
    assert verdict.valid and verdict.errors == [] and verdict.warnings == []
    assert verdict.openapi_version == "3.1.0"
    assert verdict.servers == ["https://api.example.com"]
    assert verdict.as_dict()["operations"] == [
        {
            "operation_id": "getPet",
            "method": "GET",
            "path": "/pets/{id}",
            "summary": None,
            "consequential": False,
            "tags": [],
        }
    ]
    assert set(verdict.as_dict()) == {
        "valid",
        "openapi_version",
        "servers",
        "operations",
        "errors",
        "warnings",
    }


def test_examples_weather_and_petstore_are_valid_and_blank_has_one_error():
    by_key = {example["key"]: example for example in EXAMPLES}
    assert [e["key"] for e in EXAMPLES] == ["weather", "petstore", "blank"]
    assert [e["format"] for e in EXAMPLES] == ["json", "yaml", "json"]

    weather = openapi.validate(by_key["weather"]["schema"])
    assert weather.valid and weather.warnings == []
    assert json.loads(by_key["weather"]["schema"])["info"]["title"] == "Get weather data"
    assert [(o.operation_id, o.method, o.path) for o in weather.operations] == [
        ("GetCurrentWeather", "GET", "/location")
    ]
    location = weather.operations[0].parameters[0]
    assert (location["name"], location["in"], location["required"]) == ("location", "query", True)
    assert weather.servers == ["https://weather.example.com"]

    petstore = openapi.validate(by_key["petstore"]["schema"])
    assert petstore.valid and petstore.warnings == [] and petstore.format == "yaml"
    assert petstore.openapi_version == "3.1.0"
    assert [(o.operation_id, o.method, o.path) for o in petstore.operations] == [
        ("listPets", "GET", "/pets"),
        ("createPets", "POST", "/pets"),
        ("showPetById", "GET", "/pets/{petId}"),
    ]
    assert petstore.operations[1].request_body["schema"]["required"] == ["id", "name"]

    blank = openapi.validate(by_key["blank"]["schema"])
    # Exactly what a blank deserves: the server URL is still empty. Nothing else.
    assert [(p.code, p.pointer, p.line) for p in blank.errors] == [
        ("missing_server", "/servers/0/url", 10)
    ]
    assert blank.warnings == [] and blank.operations == []
    assert json.loads(by_key["blank"]["schema"])["info"] == {
        "title": "Untitled",
        "description": "Your OpenAPI specification",
        "version": "v1.0.0",
    }


@pytest.mark.parametrize(
    ("changes", "code", "pointer"),
    [
        ({"openapi": None, "swagger": "2.0"}, "swagger_2", "/swagger"),
        ({"openapi": "3.3.0"}, "unsupported_version", "/openapi"),
        ({"openapi": "4.0.0"}, "unsupported_version", "/openapi"),
        ({"openapi": 3.1}, "unsupported_version", "/openapi"),
        ({"openapi": None}, "missing_version", ""),
    ],
)
def test_versions_other_than_3_0_3_1_3_2_get_one_clear_error(changes, code, pointer):
    verdict = check(document(**changes))
    assert [(p.code, p.pointer) for p in verdict.errors] == [(code, pointer)]
    assert verdict.errors[0].line is not None
    assert len(verdict.operations) == 1  # still listed


def test_swagger_message_is_exact():
    verdict = check({"swagger": "2.0", "info": {"title": "x", "version": "1"}, "paths": {}})
    assert verdict.errors[0].message == (
        "This is a Swagger 2.0 document; convert it to OpenAPI 3 (3.0 or 3.1) first."
    )


def test_openapi_3_0_is_validated_too():
    doc = document(openapi="3.0.3")
    assert check(doc).valid
    doc["paths"]["/pets/{id}"]["get"]["responses"]["200"] = {"content": {}}
    verdict = check(doc)
    assert [(p.code, p.pointer) for p in verdict.errors] == [
        ("meta_schema", "/paths/~1pets~1{id}/get/responses/200/description")
    ]
    assert verdict.errors[0].message == "The required field 'description' is missing."


# Servers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "code"),
    [
        (None, "missing_server"),
        ([], "missing_server"),
        ([{"url": ""}], "missing_server"),
        ([{"url": "/v1"}], "relative_server_url"),
        ([{"url": "api.example.com/v1"}], "relative_server_url"),
        ([{"url": "http://api.example.com"}], "insecure_server"),
        ([{"url": "https://api.example.com:8443"}], "insecure_server"),
        ([{"url": "ftp://api.example.com"}], "insecure_server"),
        ([{"url": "https://user:pw@api.example.com"}], "invalid_server_url"),
        ([{"url": "https://{region}.example.com"}], "server_variable"),
    ],
)
def test_server_url_rules(servers, code):
    verdict = check(document(servers=servers) if servers is not None else document(servers=None))
    assert codes(verdict) == [code]
    assert verdict.errors[0].line is not None


def test_server_variables_and_first_server_and_explicit_443():
    servers = [
        {"url": "https://{region}.example.com:443/v1", "variables": {"region": {"default": "eu"}}},
        {"url": "http://ignored.example.com"},
    ]
    verdict = check(document(servers=servers))
    assert verdict.valid
    assert verdict.servers == ["https://eu.example.com:443/v1", "http://ignored.example.com"]


def test_insecure_hosts_are_allowed_only_by_the_callers_allowlist():
    doc = document(servers=[{"url": "http://127.0.0.1:8000/api"}])
    calls = []

    def allow(host, port):
        calls.append((host, port))
        return host == "127.0.0.1"

    local = {"allow_local_hosts": True}  # an IP address: only where the deployment allows
    assert codes(check(doc, **local)) == ["insecure_server"]
    assert check(doc, allow_insecure_host=allow, **local).valid
    assert calls == [("127.0.0.1", 8000)]
    assert codes(check(doc, allow_insecure_host=lambda h, p: False, **local)) == ["insecure_server"]

    def broken(host, port):
        raise RuntimeError("allowlist unavailable")

    assert codes(check(doc, allow_insecure_host=broken, **local)) == ["insecure_server"]
    # https on 443 never asks.
    calls.clear()
    assert check(document(), allow_insecure_host=allow).valid and calls == []


# Info and operations ----------------------------------------------------------------------------


def test_info_title_and_version_are_required():
    verdict = check(document(info={"title": "", "version": ""}))
    assert sorted(codes(verdict)) == ["missing_info_version", "missing_title"]
    verdict = check(document(info={"version": "1"}))
    assert [(p.code, p.pointer) for p in verdict.errors] == [("meta_schema", "/info/title")]


def _with_operations(count: int, operation_id=lambda i: f"op{i}") -> dict:
    paths = {
        f"/r{i}": {
            "get": {"operationId": operation_id(i), "responses": {"200": {"description": "ok"}}}
        }
        for i in range(count)
    }
    return document(paths=paths)


def test_operation_id_rules():
    doc = _with_operations(4, lambda i: ["ok_1", "bad id!", "x" * 65, "ok_1"][i])
    del doc["paths"]["/r2"]["get"]["operationId"]
    verdict = check(doc)
    found = sorted((p.code, p.pointer) for p in verdict.errors)
    assert found == [
        ("duplicate_operation_id", "/paths/~1r3/get/operationId"),
        ("invalid_operation_id", "/paths/~1r1/get/operationId"),
        ("missing_operation_id", "/paths/~1r2/get"),
    ]
    assert openapi.OPERATION_ID.match("A-z_09" * 10) and not openapi.OPERATION_ID.match("")


def test_at_most_30_operations():
    assert check(_with_operations(30)).valid
    verdict = check(_with_operations(31))
    assert codes(verdict) == ["too_many_operations"]
    assert verdict.errors[0].pointer == "/paths"
    assert "31" in verdict.errors[0].message
    assert [o.parameters for o in verdict.operations][:1] == [[]]


def test_duplicate_operation_ids_across_actions_helper():
    assert openapi.duplicate_operation_ids(["a", "b", None, "a", "c", "b", None]) == ["a", "b"]


def test_long_texts_are_warnings_not_errors():
    doc = document()
    operation = doc["paths"]["/pets/{id}"]["get"]
    operation["summary"] = "s" * 301
    operation["description"] = "d" * 301
    operation["parameters"][0]["description"] = "p" * 701
    verdict = check(doc)
    assert verdict.valid
    assert sorted(p.code for p in verdict.warnings) == [
        "long_description",
        "long_parameter_description",
        "long_summary",
    ]
    operation["summary"], operation["description"] = "s" * 300, "d" * 300
    operation["parameters"][0]["description"] = "p" * 700
    assert check(doc).warnings == []


def test_problems_are_capped_at_50():
    verdict = check(_with_operations(80, lambda i: f"bad id {i}"))
    assert len(verdict.errors) == 50
    assert verdict.errors[0].code == "too_many_operations"
    assert verdict.errors[-1].code == "too_many_problems"
    assert "32 more problems" in verdict.errors[-1].message  # 81 problems, 49 shown
    lines = [p.line for p in verdict.errors[:-1]]
    assert lines == sorted(lines)  # in the order of the text
    # The insecure-host error added per call keeps the cap.
    insecure = check(
        _with_operations(80, lambda i: f"bad id {i}")
        | {"servers": [{"url": "http://x.example.com"}]}
    )
    assert len(insecure.errors) == 50 and insecure.errors[0].code == "insecure_server"
    assert "33 more problems" in insecure.errors[-1].message


# The traps of the raw validator ------------------------------------------------------------------


def _with_ref(ref: str) -> dict:
    doc = document()
    doc["paths"]["/pets/{id}"]["get"]["responses"]["200"]["content"] = {
        "application/json": {"schema": {"$ref": ref}}
    }
    return doc


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_remote_refs_are_reported_and_never_fetched(httpserver):
    httpserver.expect_request("/x.json").respond_with_json({"type": "string"})
    url = httpserver.url_for("/x.json")
    text = json.dumps(_with_ref(url), indent=2)
    verdict = openapi.validate(text)
    assert [(p.code, p.pointer) for p in verdict.errors] == [
        (
            "remote_ref",
            "/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema/$ref",
        )
    ]
    assert verdict.errors[0].line == _line_of(text, '"$ref"')
    assert httpserver.log == []


def test_the_raw_validator_does_fetch_remote_refs(httpserver):
    """The control for the test above: plain osv makes the request we must never make."""
    from openapi_spec_validator import validate as osv_validate

    httpserver.expect_request("/x.json").respond_with_json({"type": "string"})
    osv_validate(_with_ref(httpserver.url_for("/x.json")))
    assert len(httpserver.log) == 1


def test_file_refs_are_reported_and_never_opened(monkeypatch, tmp_path):
    secret = tmp_path / "secret.json"
    secret.write_text('{"type": "string", "description": "TOP-SECRET"}')
    opened = []
    real_open = builtins.open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy)
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("urlopen"))
    for ref in (f"file://{secret}", "file:///etc/passwd", "other.yaml#/Pet", "//evil/x"):
        openapi.clear_cache()
        verdict = check(_with_ref(ref))
        assert codes(verdict) == ["remote_ref"], ref
        assert "TOP-SECRET" not in json.dumps(verdict.as_dict())
    assert not [path for path in opened if "secret" in path or "passwd" in path]


def test_spec_checks_give_the_resolver_nothing_to_fetch_with():
    """Defence in depth: even a remote ref that got past the scan is not followed."""
    from actions.openapi.refs import LocalResolver, RefError

    with pytest.raises(RefError) as caught:
        LocalResolver({}).lookup("http://127.0.0.1:9/x.json")
    assert caught.value.code == "remote_ref"
    problems = spec_checks.spec_problems(
        _with_ref("http://127.0.0.1:9/x.json"), "3.1", LocalResolver({})
    )
    assert problems == []


def test_broken_and_looping_refs_are_reported_without_recursion_errors():
    doc = _with_ref("#/components/schemas/A")
    doc["components"] = {
        "schemas": {
            "A": {"$ref": "#/components/schemas/B"},
            "B": {"$ref": "#/components/schemas/A"},
            "C": {"$ref": "#/components/schemas/Nope"},
            "Tree": {
                "type": "object",
                "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
                    "self": {"$ref": "#/components/schemas/Tree"},
                },
            },
            "Loop": {"allOf": [{"$ref": "#/components/schemas/Loop"}], "required": ["x"]},
        }
    }
    verdict = check(doc)
    found = {(p.code, p.pointer) for p in verdict.errors}
    assert ("ref_cycle", "/components/schemas/A/$ref") in found
    assert ("ref_cycle", "/components/schemas/B/$ref") in found
    assert ("unresolved_ref", "/components/schemas/C/$ref") in found
    assert not any(p.pointer.startswith("/components/schemas/Tree") for p in verdict.errors)


def test_recursive_schemas_are_fine_and_detection_terminates():
    doc = _with_ref("#/components/schemas/Tree")
    doc["paths"]["/trees"] = {}
    doc["paths"]["/trees"]["post"] = {
        "operationId": "addTree",
        "requestBody": {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Tree"}}}
        },
        "responses": {"200": {"description": "ok"}},
    }
    doc["components"] = {
        "schemas": {
            "Tree": {
                "type": "object",
                "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}
                },
            }
        }
    }
    verdict = check(doc)
    assert verdict.valid
    body = verdict.operations[1].request_body
    assert body["content_type"] == "application/json"
    children = body["schema"]["properties"]["children"]
    assert children["items"] == {"$ref": "#/components/schemas/Tree"}  # left at the cycle
    json.dumps(body)


def test_validated_documents_are_not_kept_in_memory():
    """osv keeps every validated spec alive (its issue #523); the engine must not."""
    base = json.loads(EXAMPLES[1]["schema"] and json.dumps(yaml.safe_load(EXAMPLES[1]["schema"])))
    base["components"]["schemas"]["Filler"] = {
        "type": "object",
        "properties": {f"p{i}": {"type": "string", "description": "x" * 200} for i in range(150)},
    }

    def variant(i: int) -> str:
        doc = copy.deepcopy(base)
        doc["info"]["title"] = f"Pets {i}"
        return json.dumps(doc)

    for i in range(20):  # warm up: imports, compiled validators
        openapi.validate(variant(-i - 1))
    openapi.clear_cache()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(200):
        openapi.validate(variant(i))
    openapi.clear_cache()  # the verdict LRU is bounded anyway; what remains would be a leak
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # 200 documents of ~40 KB (~8 MB of text) went through; a retained document is ~0.5 MB.
    assert grown < 3 * 1024 * 1024, grown


def test_the_verdict_cache_is_bounded_and_per_text():
    text = json.dumps(document())
    first = openapi.validate(text)
    second = openapi.validate(text)
    assert first == second and first is not second
    second.errors.append(openapi.Problem("mutated"))
    assert openapi.validate(text).errors == []  # callers can not corrupt the cache
    from actions.openapi.engine import CACHE_ENTRIES, _cache

    for i in range(CACHE_ENTRIES + 10):
        openapi.validate(json.dumps(document(info={"title": f"T{i}", "version": "1"})))
    assert len(_cache.data) <= CACHE_ENTRIES


# Downgrades --------------------------------------------------------------------------------------


def test_the_downgrade_list_is_exactly_default_mismatch():
    assert set(DOWNGRADED_TO_WARNINGS) == {"default_mismatch"}
    assert all(reason for reason in DOWNGRADED_TO_WARNINGS.values())


def test_a_default_that_does_not_match_is_a_warning_with_its_place():
    doc = document()
    doc["paths"]["/pets/{id}"]["get"]["parameters"].append(
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "default": "20 - incident_summary"},
        }
    )
    text = json.dumps(doc, indent=2)
    verdict = openapi.validate(text)
    assert verdict.valid
    assert [(p.code, p.pointer, p.severity) for p in verdict.warnings] == [
        ("default_mismatch", "/paths/~1pets~1{id}/get/parameters/1/schema/default", "warning")
    ]
    assert verdict.warnings[0].line == _line_of(text, '"default"')
    assert "integer" in verdict.warnings[0].message


def test_an_invalid_schema_object_stays_an_error():
    doc = document()
    doc["components"] = {"schemas": {"Bad": {"type": "object", "required": "a"}}}
    verdict = check(doc)
    assert [(p.code, p.pointer) for p in verdict.errors] == [
        ("schema_invalid", "/components/schemas/Bad/required")
    ]
    # A name repeated in `required` changes nothing: a warning (DELIBERATE_DIFFERENCES).
    doc["components"] = {"schemas": {"Bad": {"type": "object", "required": ["a", "a"]}}}
    verdict = check(doc)
    assert verdict.valid
    assert [(p.code, p.pointer) for p in verdict.warnings] == [
        ("required_repeated", "/components/schemas/Bad/required")
    ]


def test_a_hostile_pattern_does_not_hang_the_default_check():
    doc = document()
    doc["components"] = {
        "schemas": {"S": {"type": "string", "pattern": "^(a+)+$", "default": "a" * 40 + "!"}}
    }
    started = time.perf_counter()
    verdict = check(doc)
    assert time.perf_counter() - started < 2
    assert [p.code for p in verdict.warnings] == ["default_mismatch"]


# Never raises ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "\x00\x01",
        "- a\n- b",
        "openapi: 3.1.0\n" * 3,
        "a: &a [*a]",
        b"\xff\xfe",
        "openapi: 3.1.0\npaths: {'/a}': {get: {}}}\n",
        '{"openapi": "3.1.0", "paths": []}',
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
        "      parameters: [{}, 3, {name: [1], in: {}}]\n      responses: {'200': 7}\n",
        "openapi: 3.1.0\ncomponents: {schemas: {A: {allOf: 3, properties: [], default: 1}}}\n",
    ],
)
def test_any_text_gets_a_verdict(text):
    verdict = openapi.validate(text)
    assert verdict.valid is False and verdict.errors
    json.dumps(verdict.as_dict())


def test_an_internal_failure_becomes_a_problem(monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr("actions.openapi.engine.spec_problems", explode)
    openapi.clear_cache()
    verdict = check(document())
    assert codes(verdict) == ["internal_error"]
    openapi.clear_cache()
