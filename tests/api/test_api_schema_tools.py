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
