"""No schema can stall or flood the engine: patterns, YAML aliases, long numbers, surrogates,
and the server-host rules that validate and save share."""

import json

import jsonschema._keywords
import jsonschema._legacy_keywords
import jsonschema._utils
import pytest

from actions import openapi
from actions.openapi import parsing, regex
from actions.openapi.parsing import MAX_INT_DIGITS
from actions.runtime.request import _check_value
from kernel.errors import RuleViolation

EVIL = "^(a+)+$"
EVIL_TEXT = "a" * 27 + "!"  # Python's re: seconds; doubling per extra "a"


@pytest.fixture(autouse=True)
def _fresh_cache():
    openapi.clear_cache()
    yield
    openapi.clear_cache()


@pytest.fixture
def no_python_regex(monkeypatch):
    """Any regex jsonschema would run with Python's backtracking `re` fails the test."""

    class Refuse:
        def __getattr__(self, name):
            raise AssertionError(f"python re.{name} called on a document's pattern")

    for module in (jsonschema._keywords, jsonschema._utils, jsonschema._legacy_keywords):
        monkeypatch.setattr(module, "re", Refuse())


def document(schema=None, *, servers=None, version="3.1.0", **extra) -> dict:
    doc = {
        "openapi": version,
        "info": {"title": "T", "version": "1"},
        "servers": servers if servers is not None else [{"url": "https://api.example.com"}],
        "paths": {
            "/a": {
                "get": {
                    "operationId": "getA",
                    "parameters": [
                        {"name": "q", "in": "query", "schema": schema or {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            }
        },
    }
    doc.update(extra)
    return doc


def check(doc: dict, **kwargs) -> openapi.Verdict:
    return openapi.validate(json.dumps(doc, indent=2), **kwargs)


def warning_codes(verdict) -> list[str]:
    return [p.code for p in verdict.warnings]


# 1a. Patterns run on RE2 ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
def test_a_catastrophic_pattern_in_a_default_gets_a_verdict_without_python_re(
    no_python_regex, version
):
    schema = {"type": "string", "pattern": EVIL, "default": EVIL_TEXT}
    verdict = check(document(schema, version=version))
    assert verdict.valid
    [mismatch] = [p for p in verdict.warnings if p.code == "default_mismatch"]
    assert mismatch.pointer == "/paths/~1a/get/parameters/0/schema/default"
    assert "does not match" in mismatch.message
    matching = {"type": "string", "pattern": EVIL, "default": "a" * 40}
    assert "default_mismatch" not in warning_codes(check(document(matching, version=version)))


def test_pattern_properties_and_the_keywords_built_on_them_use_re2(no_python_regex):
    key = EVIL_TEXT
    cases = [
        # patternProperties alone: the key does not match, nothing to check under it.
        ({"type": "object", "patternProperties": {EVIL: {"type": "string"}}}, {key: 1}, False),
        ({"type": "object", "patternProperties": {"^a+$": {"type": "string"}}}, {"aa": 1}, True),
        # additionalProperties next to patternProperties: find_additional_properties.
        (
            {"type": "object", "patternProperties": {EVIL: {}}, "additionalProperties": False},
            {key: 1},
            True,
        ),
        (
            {"type": "object", "patternProperties": {EVIL: {}}, "additionalProperties": False},
            {"aaa": 1},
            False,
        ),
        # unevaluatedProperties: find_evaluated_property_keys_by_schema (3.1 only).
        (
            {
                "type": "object",
                "allOf": [{"patternProperties": {EVIL: {}}}],
                "unevaluatedProperties": False,
            },
            {key: 1},
            True,
        ),
        # propertyNames with a pattern goes through the pattern keyword.
        ({"type": "object", "propertyNames": {"pattern": EVIL}}, {key: 1}, True),
    ]
    for schema, default, mismatch in cases:
        verdict = check(document({**schema, "default": default}))
        assert ("default_mismatch" in warning_codes(verdict)) is mismatch, (schema, default)


def test_patterns_re2_can_not_run_are_not_checked_and_say_so(no_python_regex):
    for pattern in [r"^(a)\1$", "^(?=a)a$", "^(?!x)a$", "a++"]:
        schema = {"type": "string", "pattern": pattern, "default": "zzz"}
        verdict = check(document(schema))
        assert verdict.valid, pattern
        [warning] = [p for p in verdict.warnings if p.code == "pattern_not_checked"]
        assert warning.pointer == "/paths/~1a/get/parameters/0/schema/pattern"
        assert warning.line and warning.column
        assert "not checked" in warning.message
        assert "default_mismatch" not in warning_codes(verdict)  # skipped, not guessed
    schema = {"type": "object", "patternProperties": {r"(x)\1": {}}, "default": {"xx": 1}}
    verdict = check(document(schema))
    [warning] = [p for p in verdict.warnings if p.code == "pattern_not_checked"]
    assert warning.pointer.endswith("/schema/patternProperties/(x)\\1")


def test_the_regex_helpers():
    assert regex.search(EVIL, EVIL_TEXT) is False
    assert regex.search(EVIL, "aaaa") is True
    assert regex.search(r"(a)\1", "aa") is None
    assert regex.search("a", "\ud800") is None  # not UTF-8: can not tell, never a crash
    assert regex.compile_linear("(" * 10_000) is None
    assert regex.compile_linear("((a{1000}){1000}){1000}") is None  # over the memory cap


def test_run_arguments_are_checked_with_re2_too(no_python_regex):
    schema = {"type": "string", "pattern": EVIL}
    with pytest.raises(RuleViolation):
        _check_value("q", EVIL_TEXT, schema, openapi_version="3.1.0", document={})
    _check_value("q", "aaaa", schema, openapi_version="3.0.3", document={})
    # Not runnable on RE2: not checked (accepted), never handed to a backtracking engine.
    _check_value(
        "q", "ab", {"type": "string", "pattern": r"^(a)\1$"}, openapi_version="3.1", document={}
    )


# 1b. YAML aliases: the expanded size is budgeted -----------------------------------------------


def _alias_flood(size: int, uses: int) -> str:
    return (
        "openapi: 3.1.0\n"
        f"info: {{title: T, version: '1', description: &s \"{'x' * size}\"}}\n"
        "servers: [{url: 'https://api.example.com'}]\n"
        "paths: {}\n"
        "x-flood: [" + ", ".join(["*s"] * uses) + "]\n"
    )


def test_aliases_of_a_long_text_are_refused_by_expanded_size_with_a_place():
    text = _alias_flood(100_000, 1_000)  # 100 KB in, 100 MB out before
    assert len(text) < 110_000
    with pytest.raises(openapi.SchemaParseError) as caught:
        openapi.format_schema(text)
    [problem] = caught.value.problems
    assert problem.code == "yaml_alias"
    assert problem.pointer.startswith("/x-flood/")
    assert problem.line == 5 and problem.column > 1
    assert "too large" in problem.message and "$ref" in problem.message
    verdict = openapi.validate(text)
    assert not verdict.valid and [p.code for p in verdict.errors] == ["yaml_alias"]


def test_the_alias_budget_follows_the_size_limit():
    text = _alias_flood(10_000, 60)  # about 600 KB expanded
    assert parsing.parse(text).document["x-flood"][59] == "x" * 10_000
    with pytest.raises(openapi.SchemaParseError):
        parsing.parse(text, max_bytes=500_000)
    # Formatting writes the aliases out, within the same budget.
    assert len(openapi.format_schema(_alias_flood(1_000, 50))) > 50_000


def test_nested_aliases_are_measured_once_each():
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in "bcdefghijklmnop":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
    with pytest.raises(openapi.SchemaParseError) as caught:
        parsing.parse("\n".join(lines) + "\n")
    assert caught.value.problems[0].code == "yaml_alias"
    assert caught.value.problems[0].line is not None


# 3. Long numbers and lone surrogates -------------------------------------------------------------

BASE = (
    '{"openapi": "3.1.0", "info": {"title": "T", "version": "1"}, '
    '"servers": [{"url": "https://api.example.com"}], "paths": {}, "x-value": %s}'
)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("1e999999", "parse_error"),
        ("-1e999999", "parse_error"),
        ("1" * 100_000, "parse_error"),
        ("-" + "9" * 5_000, "parse_error"),
        ('"\\ud800"', "invalid_unicode"),
        ('["ok", "\\udfff"]', "invalid_unicode"),
        ('{"\\udc00": 1}', "invalid_unicode"),
        ('"\\ud800\\ud800\\udc00"', "invalid_unicode"),
    ],
)
def test_json_numbers_and_surrogates_get_a_verdict(value, code):
    text = BASE % value
    verdict = openapi.validate(text)
    assert not verdict.valid
    [problem] = verdict.errors
    assert problem.code == code and problem.line == 1 and problem.column
    json.dumps(verdict.as_dict()).encode("utf-8")  # can be sent
    with pytest.raises(openapi.SchemaParseError):
        openapi.format_schema(text)


def test_numbers_up_to_the_limit_and_surrogate_pairs_are_fine():
    assert openapi.parse(BASE % ("9" * MAX_INT_DIGITS)).document["x-value"] > 0
    assert openapi.parse(BASE % '"\\ud83d\\udc4d \\\\ud800"').document["x-value"] == "👍 \\ud800"


@pytest.mark.parametrize(
    "value", ["1" * 100_000, "0x" + "f" * 5_000, "!!int " + "9" * 5_000, '"\\ud800"']
)
def test_yaml_numbers_and_surrogates_get_a_verdict(value):
    text = f"openapi: 3.1.0\ninfo: {{title: T, version: '1'}}\npaths: {{}}\nx-value: {value}\n"
    verdict = openapi.validate(text)
    assert [p.code for p in verdict.errors] == ["parse_error"]
    assert verdict.errors[0].line == 4
    assert len(verdict.errors[0].message) < 300
    with pytest.raises(openapi.SchemaParseError):
        openapi.format_schema(text)


# 2. The server host: what save accepts, validate accepts ---------------------------------------


@pytest.mark.parametrize(
    ("servers", "code", "hint"),
    [
        ([{"url": "https://127.1"}], "invalid_server_host", "neither a valid IP"),
        ([{"url": "https://0x7f.1/v1"}], "invalid_server_host", "domain name"),
        ([{"url": "https://<subdomain>.example.com"}], "server_placeholder", "<subdomain>"),
        ([{"url": "https://[tenant].example.com"}], "server_placeholder", "[tenant]"),
        ([{"url": "https://{instance}.example.com"}], "server_variable", "{instance}"),
        (
            [{"url": "https://{instance}.example.com", "variables": {"other": {"default": "x"}}}],
            "server_variable",
            "variables",
        ),
        ([{"url": "https://your_instance.service-now.com"}], "server_placeholder", "your_inst"),
        ([{"url": "https://YOUR-DOMAIN.atlassian.net"}], "server_placeholder", "YOUR-DOMAIN"),
        ([{"url": "https://yourcompany.example.com/api"}], "server_placeholder", "yourcompany"),
        ([{"url": "https://api_x.example.com"}], "invalid_server_host", "domain name"),
        ([{"url": "https://exa mple.com"}], "invalid_server_host", "spaces"),
        ([{"url": "https://10.0.0.1/v1"}], "invalid_server_host", "IP address"),
        ([{"url": "https://[::1]/v1"}], "invalid_server_host", "IP address"),
        ([{"url": "https://intranet/v1"}], "invalid_server_host", "without a domain"),
    ],
)
def test_server_hosts_that_can_not_be_saved_are_errors_at_the_url(servers, code, hint):
    text = json.dumps(document(servers=servers), indent=2)
    verdict = openapi.validate(text)
    assert not verdict.valid and verdict.domain is None
    [problem] = verdict.errors
    assert (problem.code, problem.pointer) == (code, "/servers/0/url")
    assert hint in problem.message
    lines = text.splitlines()
    line = next(i for i, t in enumerate(lines, 1) if '"url": ' in t)
    # A placeholder is pointed at itself, inside the URL (issue 16); other problems at the url.
    placeholder = {
        "<subdomain>",
        "[tenant]",
        "{instance}",
        "variables",
        "your_inst",
        "YOUR-DOMAIN",
        "yourcompany",
    }
    focus = {"variables": "{instance}", "your_inst": "your_instance"}.get(hint, hint)
    column = lines[line - 1].index(focus if hint in placeholder else '"url"') + 1
    assert (problem.line, problem.column) == (line, column)


def test_ip_and_one_label_hosts_where_the_deployment_allows_them():
    doc = document(servers=[{"url": "https://10.0.0.1/v1"}])
    verdict = check(doc, allow_local_hosts=True)
    assert verdict.valid and verdict.domain == "10.0.0.1"
    assert check(document(servers=[{"url": "https://intranet"}]), allow_local_hosts=True).valid


def test_the_verdict_carries_the_domain_save_uses():
    from workspaces.domains import host_from_url

    servers = [{"url": "https://API.Bücher.example/v1"}]
    verdict = check(document(servers=servers))
    assert verdict.valid
    assert (
        verdict.domain
        == host_from_url("https://API.Bücher.example/v1")
        == ("api.xn--bcher-kva.example")
    )
    servers = [{"url": "https://{r}.example.com", "variables": {"r": {"default": "eu"}}}]
    assert check(document(servers=servers)).domain == "eu.example.com"


def test_ip_hosts_the_deployment_reaches_as_private_destinations_are_fine():
    doc = document(servers=[{"url": "http://127.0.0.1:8000/api"}])
    allowed = check(doc, allow_insecure_host=lambda host, port: (host, port) == ("127.0.0.1", 8000))
    assert allowed.valid and allowed.domain == "127.0.0.1"
    refused = check(doc, allow_insecure_host=lambda host, port: False)
    assert sorted(p.code for p in refused.errors) == ["insecure_server", "invalid_server_host"]


def test_references_to_a_long_text_are_expanded_within_a_text_budget():
    from actions.openapi.detect import EXPANSION_CHARS

    properties = {f"p{i}": {"$ref": "#/components/schemas/Long"} for i in range(1_000)}
    doc = document()
    doc["paths"]["/a"]["post"] = {
        "operationId": "postA",
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "object", "properties": properties}}
            }
        },
        "responses": {"200": {"description": "OK"}},
    }
    doc["components"] = {"schemas": {"Long": {"type": "string", "description": "x" * 20_000}}}
    text = json.dumps(doc)
    assert len(text) < 70_000  # 20 MB once every reference is written out
    verdict = openapi.validate(text)
    assert verdict.valid
    [post] = [op for op in verdict.operations if op.operation_id == "postA"]
    stored = json.dumps(post.request_body)
    assert len(stored) < EXPANSION_CHARS + 100_000
    expanded = post.request_body["schema"]["properties"]
    assert expanded["p0"] == {"type": "string", "description": "x" * 20_000}
    assert expanded["p999"] == {"$ref": "#/components/schemas/Long"}  # past the budget
