"""A header parameter named like the action's authentication header is refused at save.

Otherwise the model fills `Authorization` (or the custom key header) and the runtime fills it
too: one silently wins, and a prompt-injected model could choose the credential sent upstream.
Tried through the API and the editor, in every spelling and every place a parameter can hide.
"""

import json

import pytest
from django.test import Client

from actions.models import Action

pytestmark = pytest.mark.django_db


def schema_with_header(port: int, name: str, *, level: str = "operation", ref: bool = False):
    parameter = {"name": name, "in": "header", "schema": {"type": "string"}}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "T", "version": "1"},
        "servers": [{"url": f"http://127.0.0.1:{port}"}],
        "paths": {
            "/weather": {
                "get": {
                    "operationId": "getWeather",
                    "responses": {"200": {"description": "OK"}},
                }
            }
        },
    }
    if ref:
        document["components"] = {"parameters": {"Sneaky": parameter}}
        parameter = {"$ref": "#/components/parameters/Sneaky"}
    if level == "path":
        document["paths"]["/weather"]["parameters"] = [parameter]
    else:
        document["paths"]["/weather"]["get"]["parameters"] = [parameter]
    return json.dumps(document, indent=2)


@pytest.fixture
def owner(world):
    client = Client()
    client.force_login(world.a.owner)
    return client


def patch(client, action, body):
    return client.patch(
        f"/api/v1/actions/{action.pk}/", json.dumps(body), content_type="application/json"
    )


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
@pytest.mark.parametrize(("level", "ref"), [("operation", False), ("path", False), ("path", True)])
def test_a_bearer_actions_schema_may_not_declare_authorization(world, owner, name, level, ref):
    action = world.a.action  # API key, bearer
    before = action.schema
    response = patch(
        owner, action, {"schema": schema_with_header(world.port, name, level=level, ref=ref)}
    )
    assert response.status_code == 400, response.json()
    answer = response.json()
    assert answer["code"] == "header_collides_with_auth"
    assert answer["parameter"] == name and answer["operation_id"] == "getWeather"
    assert name in answer["detail"] and "getWeather" in answer["detail"]
    assert Action.objects.get(pk=action.pk).schema == before


def test_switching_auth_to_a_custom_header_the_schema_uses_is_refused(world, owner):
    action = world.a.action
    assert (
        patch(owner, action, {"schema": schema_with_header(world.port, "X-Api-Key")}).status_code
        == 200
    )
    response = patch(
        owner,
        action,
        {"auth": {"type": "api_key", "auth_type": "custom", "custom_header": "x-api-KEY"}},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "header_collides_with_auth"
    assert Action.objects.get(pk=action.pk).custom_header == ""


def test_oauth_and_basic_send_authorization_too(world, owner):
    schema = schema_with_header(world.port, "Authorization")
    response = patch(
        owner, world.a.action, {"schema": schema, "auth": {"type": "api_key", "auth_type": "basic"}}
    )
    assert response.status_code == 400
    response = patch(owner, world.a.oauth_action, {"schema": schema})
    assert response.status_code == 400
    assert response.json()["code"] == "header_collides_with_auth"


def test_without_auth_or_with_another_name_the_header_is_fine(world, owner):
    assert (
        patch(
            owner, world.a.action, {"schema": schema_with_header(world.port, "X-Trace")}
        ).status_code
        == 200
    )
    response = patch(
        owner,
        world.a.action,
        {"schema": schema_with_header(world.port, "Authorization"), "auth": {"type": "none"}},
    )
    assert response.status_code == 200, response.json()


def test_the_editor_shows_the_refusal_at_the_schema(world, owner):
    action = world.a.action
    response = owner.post(
        f"/editor/actions/{action.pk}/",
        {
            "schema": schema_with_header(world.port, "authorization"),
            "auth_type": "api_key",
            "api_key_auth_type": "bearer",
            "privacy_policy_url": "https://example.com/privacy",
        },
    )
    assert response.status_code in (200, 400)
    assert "header parameter" in response.content.decode()
    assert Action.objects.get(pk=action.pk).schema == action.schema
