"""The stateless schema endpoints the editor calls as the builder types."""

import json

import pytest

from tests.api.conftest import weather_schema

pytestmark = pytest.mark.django_db


def test_validate_gives_a_verdict_for_any_text(world, api):
    client = api(world["member"])
    good = client.post("/api/v1/schema/validate", {"schema": weather_schema()}, format="json")
    assert good.status_code == 200
    assert good.json()["valid"] is True
    assert good.json()["operations"][0]["operation_id"] == "GetCurrentWeather"
    for text in ["", "{", "\x00\x01", "- a\n- b", "openapi: 3.1.0\n" * 3, "a: &a [*a]"]:
        response = client.post("/api/v1/schema/validate", {"schema": text}, format="json")
        assert response.status_code == 200, text
        assert response.json()["valid"] is False
        assert response.json()["errors"]


def test_validate_requires_text(world, api):
    response = api(world["member"]).post("/api/v1/schema/validate", {"schema": 3}, format="json")
    assert response.status_code == 400


def test_examples(world, api):
    examples = api(world["member"]).get("/api/v1/schema/examples").json()
    assert [e["key"] for e in examples] == ["weather", "petstore", "blank"]
    assert {e["format"] for e in examples} >= {"json", "yaml"}


def test_format_reindents_json(world, api):
    compact = json.dumps(json.loads(weather_schema()))
    response = api(world["member"]).post(
        "/api/v1/schema/format", {"schema": compact}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["schema"].startswith('{\n  "openapi"')
    bad = api(world["member"]).post("/api/v1/schema/format", {"schema": "{"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "unparseable_schema"


def test_own_openapi_document_and_docs(world, api):
    client = api(world["member"])
    assert client.get("/api/v1/schema/").status_code == 200
    assert client.get("/api/v1/docs/").status_code == 200


def test_a_verdict_names_operations_without_id_or_summary(world, api):
    """Checked against the document like every answer here: null is declared where it occurs."""
    broken = weather_schema().replace('"operationId": "GetCurrentWeather",', "")
    broken = broken.replace('"summary": "Get temperature for a specific location",', "")
    response = api(world["member"]).post(
        "/api/v1/schema/validate", {"schema": broken}, format="json"
    )
    assert response.status_code == 200
    operation = response.json()["operations"][0]
    assert operation["operation_id"] is None and operation["summary"] is None


# Hostile input: every answer is a verdict or a clear 400, never a 500 -------------------------

VALIDATE, FORMAT = "/api/v1/schema/validate", "/api/v1/schema/format"


@pytest.fixture
def gpt(world):
    from tests.factories import make_gpt

    return make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")


def _deep_body(depth: int) -> str:
    return '{"schema": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_request_bodies_are_refused_before_parsing(world, api, gpt, depth):
    body = _deep_body(depth)
    for user, method, url in [
        (world["member"], "post", VALIDATE),
        (world["member"], "post", FORMAT),
        (world["builder"], "post", f"/api/v1/gpts/{gpt.pk}/actions/"),
        (world["builder"], "patch", f"/api/v1/gpts/{gpt.pk}/"),
    ]:
        response = getattr(api(user), method)(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content[:200])
        assert response.json()["code"] == "invalid"
        assert "nested too deeply" in response.json()["detail"]
    for url in [VALIDATE, FORMAT, f"/api/v1/gpts/{gpt.pk}/actions/"]:
        response = api(None).post(url, body, content_type="application/json")
        assert response.status_code == 400, url  # OAuth2Authentication reads the body first
        assert response.json()["code"] == "invalid"


def test_bodies_nested_within_the_limit_and_brackets_in_strings_are_fine(world, api):
    client = api(world["member"])
    deep_text = "[" * 5_000 + "]" * 5_000  # brackets inside the schema text do not count
    response = client.post(VALIDATE, {"schema": deep_text, "x": [[[[[]]]]]}, format="json")
    assert response.status_code == 200
    assert [p["code"] for p in response.json()["errors"]] == ["too_deep"]
    response = client.post(FORMAT, {"schema": deep_text}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "unparseable_schema"
    broken = client.post(VALIDATE, '{"schema": "x"', content_type="application/json")
    assert broken.status_code == 400 and broken.json()["code"] == "invalid"


def _yaml_alias_flood() -> str:
    return (
        "openapi: 3.1.0\n"
        f"info: {{title: T, version: '1', description: &s \"{'x' * 100_000}\"}}\n"
        "servers: [{url: 'https://api.example.com'}]\n"
        "paths: {}\n"
        "x-flood: [" + ", ".join(["*s"] * 1_000) + "]\n"
    )


def _hostile_schemas() -> dict[str, tuple[str, str]]:
    base = json.loads(weather_schema())

    def with_value(value: str) -> str:
        return json.dumps(base)[:-1] + f', "x-value": {value}}}'

    return {
        "alias flood": (_yaml_alias_flood(), "yaml_alias"),
        "infinite": (with_value("1e999999"), "parse_error"),
        "long integer": (with_value("1" * 100_000), "parse_error"),
        "lone surrogate": (with_value('"\\ud800"'), "invalid_unicode"),
        "lone surrogate key": (with_value('{"\\udfff": 1}'), "invalid_unicode"),
        "yaml long integer": (
            "openapi: 3.1.0\ninfo: {title: T, version: '1'}\npaths: {}\nx: " + "7" * 5_000 + "\n",
            "parse_error",
        ),
    }


@pytest.mark.parametrize("name", list(_hostile_schemas()))
def test_hostile_schema_texts_get_a_verdict_a_clear_400_and_are_not_saved(world, api, gpt, name):
    text, code = _hostile_schemas()[name]
    client = api(world["builder"])
    verdict = client.post(VALIDATE, {"schema": text}, format="json")
    assert verdict.status_code == 200
    assert verdict.json()["valid"] is False
    [problem] = verdict.json()["errors"]
    assert problem["code"] == code and problem["line"] and problem["column"]
    formatted = client.post(FORMAT, {"schema": text}, format="json")
    assert formatted.status_code == 400
    assert formatted.json()["code"] == "unparseable_schema"
    assert formatted.json()["errors"] == verdict.json()["errors"]
    saved = client.post(f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": text}, format="json")
    assert saved.status_code == 400
    assert saved.json()["code"] == "invalid_schema"
    assert saved.json()["errors"] == verdict.json()["errors"]
    assert not gpt.actions.exists()


@pytest.mark.parametrize(
    "url",
    [
        "https://127.1",
        "https://<subdomain>.example.com",
        "https://{instance}.example.com",
        "https://your_instance.service-now.com",
        "https://YOUR-DOMAIN.atlassian.net",
        "https://10.0.0.1",
    ],
)
def test_what_save_refuses_for_the_server_validate_reports_the_same(world, api, gpt, url):
    document = json.loads(weather_schema())
    document["servers"] = [{"url": url}]
    text = json.dumps(document, indent=2)
    client = api(world["builder"])
    verdict = client.post(VALIDATE, {"schema": text}, format="json").json()
    assert verdict["valid"] is False
    [problem] = verdict["errors"]
    assert problem["pointer"] == "/servers/0/url"
    line = next(i for i, t in enumerate(text.splitlines(), 1) if '"url"' in t)
    assert problem["line"] == line and problem["column"]
    saved = client.post(f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": text}, format="json")
    assert saved.status_code == 400
    assert saved.json()["code"] == "invalid_schema"
    assert saved.json()["errors"] == verdict["errors"]


def test_catastrophic_patterns_get_a_verdict(world, api):
    document = json.loads(weather_schema())
    parameter = document["paths"]["/location"]["get"]["parameters"][0]
    parameter["schema"] = {
        "type": "object",
        "patternProperties": {"^(a+)+$": {}},
        "additionalProperties": False,
        "default": {"a" * 27 + "!": 1},
    }
    response = api(world["member"]).post(VALIDATE, {"schema": json.dumps(document)}, format="json")
    assert response.status_code == 200 and response.json()["valid"] is True
    assert "default_mismatch" in {w["code"] for w in response.json()["warnings"]}
