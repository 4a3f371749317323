"""GET /api/v1/gpts/{id}/tools/: a GPT's operations as function-calling tool definitions."""

import json

import pytest
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from actions.runtime.request import build_request
from actions.services import action_create
from tests.factories import make_gpt
from tests.openapi_responses import install
from tests.world import people
from workspaces.services import domain_policy_update

PETS_30 = {
    "openapi": "3.0.3",
    "info": {"title": "Pets", "version": "1"},
    "servers": [{"url": "https://pets.example.com/v1"}],
    "components": {
        "schemas": {
            "NewPet": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "id": {"type": "integer", "readOnly": True},
                    "name": {"type": "string", "description": "The pet's name"},
                    "tag": {"type": "string", "nullable": True},
                    "weight": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
                },
            }
        }
    },
    "paths": {
        "/pets/{petId}": {
            "parameters": [
                {
                    "name": "petId",
                    "in": "path",
                    "required": True,
                    "description": "The id of the pet",
                    "schema": {"type": "string"},
                }
            ],
            "get": {
                "operationId": "showPetById",
                "summary": "Info for a specific pet",
                "parameters": [
                    {
                        "name": "fields",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                        "x-internal": "dropped",
                    }
                ],
                "responses": {"200": {"description": "OK"}},
            },
        },
        "/pets": {
            "post": {
                "operationId": "createPets",
                "summary": "Create a pet",
                "description": "Adds a pet to the store.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                    },
                },
                "responses": {"201": {"description": "Created"}},
            }
        },
    },
}

WEATHER_31 = {
    "openapi": "3.1.0",
    "info": {"title": "Get weather data", "version": "v1.0.0"},
    "servers": [{"url": "https://weather.example.com"}],
    "paths": {
        "/location": {
            "get": {
                "operationId": "GetCurrentWeather",
                "summary": "Get temperature for a specific location",
                "parameters": [
                    {
                        "name": "location",
                        "in": "query",
                        "required": True,
                        "description": "The city and state to retrieve the weather for",
                        "schema": {"type": ["string", "null"]},
                    }
                ],
                "responses": {"200": {"description": "OK"}},
            }
        }
    },
}


@pytest.fixture
def world(db):
    world = people()  # the shared cast (tests/world.py)
    acme, globex = world["acme"], world["globex"]
    owner, member, stranger = world["owner"], world["member"], world["stranger"]
    gpt = make_gpt(acme, created_by=owner, visibility="workspace")
    pets = action_create(gpt=gpt, acting_user=owner, schema=json.dumps(PETS_30))
    weather = action_create(gpt=gpt, acting_user=owner, schema=json.dumps(WEATHER_31))
    other_gpt = make_gpt(globex, created_by=stranger, visibility="workspace")
    return {
        "acme": acme,
        "owner": owner,
        "member": member,
        "stranger": stranger,
        "gpt": gpt,
        "pets": pets,
        "weather": weather,
        "other_gpt": other_gpt,
    }


def tools_of(user, gpt_id):
    client = APIClient()
    client.force_authenticate(user)
    return client.get(f"/api/v1/gpts/{gpt_id}/tools/")


def by_name(tools):
    return {tool["function"]["name"]: tool for tool in tools}


def test_every_operation_becomes_a_function_tool(world):
    response = tools_of(world["member"], world["gpt"].pk)
    assert response.status_code == 200
    tools = by_name(response.json())
    assert list(tools) == ["showPetById", "createPets", "GetCurrentWeather"]
    for tool in tools.values():
        assert tool["type"] == "function"
        assert set(tool["function"]) == {"name", "description", "parameters"}
        Draft202012Validator.check_schema(tool["function"]["parameters"])

    show = tools["showPetById"]["function"]
    assert show["description"] == "Info for a specific pet"
    assert show["parameters"] == {
        "type": "object",
        "properties": {
            "petId": {"type": "string", "description": "The id of the pet"},
            "fields": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["petId"],
        "additionalProperties": False,
    }


def test_openapi_30_body_becomes_plain_json_schema_under_request_body(world):
    create = by_name(tools_of(world["member"], world["gpt"].pk).json())["createPets"]["function"]
    assert create["description"] == "Create a pet\n\nAdds a pet to the store."
    params = create["parameters"]
    assert params["required"] == ["requestBody"]
    body = params["properties"]["requestBody"]
    assert body["required"] == ["name"]
    assert "id" not in body["properties"]  # readOnly: never sent in a request
    assert body["properties"]["tag"] == {"type": ["string", "null"]}
    assert body["properties"]["weight"] == {"type": "number", "exclusiveMinimum": 0}
    assert "nullable" not in json.dumps(params)


def test_openapi_31_schemas_pass_through(world):
    weather = by_name(tools_of(world["member"], world["gpt"].pk).json())["GetCurrentWeather"]
    assert weather["function"]["parameters"]["properties"]["location"] == {
        "type": ["string", "null"],
        "description": "The city and state to retrieve the weather for",
    }


def test_arguments_valid_for_the_tool_are_accepted_by_the_runtime(world):
    """The export and the runtime agree: what a model sends for the tool builds a request."""
    tools = by_name(tools_of(world["member"], world["gpt"].pk).json())
    arguments = {"requestBody": {"name": "Rex", "tag": None, "weight": 3.5}}
    Draft202012Validator(tools["createPets"]["function"]["parameters"]).validate(arguments)
    action = world["pets"]
    operation = action.operations.get(operation_id="createPets")
    built = build_request(action=action, operation=operation, arguments=arguments)
    assert built.url == "https://pets.example.com/v1/pets"
    assert json.loads(built.body) == arguments["requestBody"]

    show = action.operations.get(operation_id="showPetById")
    built = build_request(
        action=action, operation=show, arguments={"petId": "7", "fields": ["a", "b"]}
    )
    assert built.url == "https://pets.example.com/v1/pets/7?fields=a&fields=b"


def test_actions_the_policy_forbids_are_left_out(world):
    domain_policy_update(
        workspace=world["acme"], actor=world["owner"], allow_all=False, allowed=["example.com"]
    )
    assert len(tools_of(world["member"], world["gpt"].pk).json()) == 3
    domain_policy_update(
        workspace=world["acme"], actor=world["owner"], allowed=["pets.example.com"]
    )
    assert list(by_name(tools_of(world["member"], world["gpt"].pk).json())) == [
        "showPetById",
        "createPets",
    ]


def test_another_workspaces_gpt_is_a_404(world):
    assert tools_of(world["stranger"], world["gpt"].pk).status_code == 404
    assert tools_of(world["member"], world["other_gpt"].pk).status_code == 404
    assert tools_of(world["member"], 999_999).status_code == 404


def test_query_count_does_not_grow_with_operations(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = tools_of(world["member"], world["gpt"].pk)
    assert len(response.json()) == 3


@pytest.fixture(autouse=True)
def _answers_match_the_document(monkeypatch):
    """API answers here are checked against /api/v1/schema/ too (tests/openapi_responses.py)."""
    install(monkeypatch)
