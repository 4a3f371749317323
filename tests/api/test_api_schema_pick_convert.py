"""POST /api/v1/schema/select and /api/v1/schema/convert (DESIGN §4), and the fixes validate
hands out, on real corpus documents (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from actions import openapi
from actions.openapi.fixes import apply_fix

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "openapi"
BIG = [
    "stripe-openapi__spec3-2023-09-12.yaml",
    "openai-openapi__openapi.yaml",
    "PagerDuty-api-schema__REST.json",
    "sentry-api-schema__openapi-derefed.json",
]


def corpus(name: str) -> str:
    return (CORPUS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", BIG)
def test_select_keeps_the_named_operations_and_what_they_reference(world, api, name):
    text = corpus(name)
    operations = openapi.detect_operations(
        openapi.parse(text, max_bytes=8 * 1024 * 1024).document, resolve=False
    )
    picked = operations[3:8]
    names = [op.operation_id for op in picked[:3]] + [
        f"{op.method.lower()} {op.path}" for op in picked[3:]
    ]
    response = api(world["builder"]).post(
        "/api/v1/schema/select", {"schema": text, "operations": names}, format="json"
    )
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert [(o["method"], o["path"]) for o in body["operations"]] == [
        (op.method, op.path) for op in picked
    ]
    kept = body["schema"]
    assert len(kept) < len(text) / 3
    # Same format out as in.
    if name.endswith(".json"):
        json.loads(kept)
    else:
        assert not kept.lstrip().startswith("{")
        yaml.safe_load(kept)
    verdict = openapi.validate(kept)
    # Every reference still resolves: no unresolved_ref, and the few operations are all there.
    assert not [p for p in verdict.errors if p.code in ("unresolved_ref", "too_many_operations")]
    assert len(verdict.operations) == 5


def test_select_drops_unreferenced_components_and_keeps_transitive_ones():
    document = {
        "openapi": "3.0.3",
        "info": {"title": "T", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "tags": [{"name": "a"}, {"name": "b"}],
        "paths": {
            "/a": {
                "get": {
                    "operationId": "getA",
                    "tags": ["a"],
                    "security": [{"key": []}],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/A"}}
                            },
                        }
                    },
                }
            },
            "/b": {
                "get": {
                    "operationId": "getB",
                    "tags": ["b"],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/B"}}
                            },
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "A": {
                    "type": "object",
                    "properties": {"inner": {"$ref": "#/components/schemas/C"}},
                },
                "B": {"type": "string"},
                "C": {
                    "oneOf": [{"$ref": "#/components/schemas/D"}],
                    "discriminator": {
                        "propertyName": "kind",
                        "mapping": {"d": "#/components/schemas/E"},
                    },
                },
                "D": {"type": "object"},
                "E": {"type": "object"},
            },
            "securitySchemes": {
                "key": {"type": "apiKey", "name": "k", "in": "header"},
                "other": {"type": "apiKey", "name": "o", "in": "header"},
            },
        },
    }
    from actions.openapi.select import select_document

    kept = select_document(document, ["getA"])
    assert list(kept["paths"]) == ["/a"]
    assert set(kept["components"]["schemas"]) == {"A", "C", "D", "E"}
    assert set(kept["components"]["securitySchemes"]) == {"key"}
    assert kept["tags"] == [{"name": "a"}]


def test_select_names_unknown_operations_in_a_400(world, api):
    text = corpus("OAI-OpenAPI-Specification__v3.0-petstore.yaml")
    response = api(world["builder"]).post(
        "/api/v1/schema/select",
        {"schema": text, "operations": ["listPets", "nope", "GET /nowhere"]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_operations"
    assert body["operations"] == ["nope", "GET /nowhere"]
    assert "'nope'" in body["detail"] and "'GET /nowhere'" in body["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        {"schema": "{", "operations": ["a"]},
        {"schema": "openapi: 3.0.0", "operations": []},
        {"schema": "openapi: 3.0.0", "operations": "a"},
        {"schema": 5, "operations": ["a"]},
        {"operations": ["a"]},
        {"schema": "- a\n- b", "operations": ["a"]},
    ],
)
def test_select_hostile_input_is_a_4xx(world, api, payload):
    response = api(world["builder"]).post("/api/v1/schema/select", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"]


@pytest.mark.parametrize(
    "name",
    [
        "OAI-OpenAPI-Specification__v2.0-petstore.json",
        "OAI-OpenAPI-Specification__v2.0-uber.yaml",
        "openapi-spec-validator__bench-docker.yaml",
        "slack-api-specs__slack_web_openapi_v2.json",
    ],
)
def test_convert_swagger_2_to_openapi_3(world, api, name):
    text = corpus(name)
    response = api(world["builder"]).post("/api/v1/schema/convert", {"schema": text}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["from"] == "2.0"
    converted = body["schema"]
    document = json.loads(converted) if name.endswith(".json") else yaml.safe_load(converted)
    assert document["openapi"] == "3.0.3" and "swagger" not in document
    assert "definitions" not in document and "#/definitions/" not in converted
    verdict = openapi.validate(converted)
    assert verdict.openapi_version == "3.0.3"
    source = openapi.parse(text, max_bytes=8 * 1024 * 1024).document
    assert len(verdict.operations) == len(openapi.detect_operations(source, resolve=False))
    if "host" not in source:
        assert any("no host" in note for note in body["notes"])


def test_converted_petstore_passes_osv_and_keeps_its_calls():
    from openapi_spec_validator.shortcuts import get_validator_cls

    from actions.openapi.convert import convert

    converted, notes = convert(corpus("OAI-OpenAPI-Specification__v2.0-petstore.json"))
    document = json.loads(converted)
    assert not list(get_validator_cls(document)(document).iter_errors())
    assert document["servers"] == [{"url": "http://petstore.swagger.io/v1"}]
    list_pets = document["paths"]["/pets"]["get"]
    assert list_pets["parameters"][0]["schema"] == {"type": "integer", "format": "int32"}
    assert "$ref" in json.dumps(list_pets["responses"]["200"]["content"]["application/json"])
    assert notes == []


def test_convert_body_form_and_security():
    from actions.openapi.convert import convert_document

    document, _ = convert_document(
        {
            "swagger": "2.0",
            "info": {"title": "T", "version": "1"},
            "host": "api.example.com",
            "schemes": ["http", "https"],
            "consumes": ["application/json"],
            "securityDefinitions": {
                "o": {
                    "type": "oauth2",
                    "flow": "accessCode",
                    "authorizationUrl": "https://a.example.com/auth",
                    "tokenUrl": "https://a.example.com/token",
                    "scopes": {"read": "r"},
                },
                "b": {"type": "basic"},
            },
            "paths": {
                "/things": {
                    "post": {
                        "operationId": "createThing",
                        "parameters": [
                            {
                                "name": "body",
                                "in": "body",
                                "required": True,
                                "schema": {"$ref": "#/definitions/Thing"},
                            },
                            {
                                "name": "tags",
                                "in": "query",
                                "type": "array",
                                "items": {"type": "string"},
                                "collectionFormat": "multi",
                            },
                        ],
                        "responses": {
                            "201": {
                                "description": "made",
                                "schema": {"$ref": "#/definitions/Thing"},
                            }
                        },
                    }
                },
                "/upload": {
                    "post": {
                        "operationId": "upload",
                        "parameters": [
                            {"name": "file", "in": "formData", "type": "file", "required": True}
                        ],
                        "responses": {"200": {"description": "ok"}},
                    }
                },
            },
            "definitions": {"Thing": {"type": "object", "x-nullable": True}},
        }
    )
    assert document["servers"][0]["url"] == "https://api.example.com"
    create = document["paths"]["/things"]["post"]
    assert create["requestBody"]["required"] is True
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"
    }
    assert create["parameters"][0]["style"] == "form" and create["parameters"][0]["explode"]
    upload = document["paths"]["/upload"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"] == {
        "type": "string",
        "format": "binary",
    }
    schemes = document["components"]["securitySchemes"]
    assert schemes["b"] == {"type": "http", "scheme": "basic"}
    assert schemes["o"]["flows"]["authorizationCode"]["tokenUrl"] == "https://a.example.com/token"
    assert document["components"]["schemas"]["Thing"]["nullable"] is True


def test_convert_refuses_what_is_not_swagger_2(world, api):
    client = api(world["builder"])
    for text, code in [
        (corpus("OAI-OpenAPI-Specification__v3.0-petstore.yaml"), "not_swagger_2"),
        ("{", "unparseable_schema"),
        ("", "unparseable_schema"),
    ]:
        response = client.post("/api/v1/schema/convert", {"schema": text}, format="json")
        assert response.status_code == 400, text[:40]
        assert response.json()["code"] == code


def test_validate_hands_out_fixes_that_apply(world, api):
    text = (
        "openapi: 3.0.3\ninfo:\n  title: T\n  version: '1'\nservers:\n"
        "  - url: https://api.example.com\npaths:\n  /things:\n    get:\n"
        "      operationId: listThings\n      parameters:\n        - name: sort\n"
        "          in: query\n          constant: 5\n          enum: [asc, desc]\n"
        "          schema:\n            type: string\n"
        "      responses:\n        '200':\n          description: ok\n"
    )
    client = api(world["builder"])
    body = client.post("/api/v1/schema/validate", {"schema": text}, format="json").json()
    assert body["valid"] is True and body["errors"] == []
    by_code = {w["code"]: w for w in body["warnings"]}
    unknown = by_code["parameter_unknown_field"]
    assert unknown["pointer"].endswith("/constant")
    assert unknown["line"] == 14  # the key's own line, not the parameter's first line
    fixed = apply_fix(text, unknown["fix"])
    assert "constant" not in fixed
    fixed = apply_fix(
        fixed,
        client.post("/api/v1/schema/validate", {"schema": fixed}, format="json").json()["warnings"][
            0
        ]["fix"],
    )
    after = openapi.validate(fixed)
    assert after.valid and not after.warnings
    assert yaml.safe_load(fixed)["paths"]["/things"]["get"]["parameters"][0]["schema"] == {
        "type": "string",
        "enum": ["asc", "desc"],
    }
