"""What the read paths need from a schema is stored when it is saved (actions.services._save):
the resolved server URL, info.title and the components leftover `$ref`s point into, beside the
operations' resolved parameters and bodies. Runs, the tool export and the connections page then
never parse schema text: here they work with the text replaced by garbage and every parser
patched to fail, at the same query counts as ever.
"""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import pytest
import yaml
from django.apps import apps
from django.test import Client
from django.utils import timezone
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from actions import openapi
from actions.models import Action, ConnectedAccount
from actions.openapi import engine, parsing
from actions.services import action_create, action_update
from kernel.errors import RuleViolation
from tests.factories import add_member, make_gpt, make_workspace
from workspaces.models import Plan, Role
from workspaces.services import domain_policy_update

NODE = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
    },
}


def schema_for(port: int, *, title="Family trees") -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": title, "version": "1"},
            "servers": [
                {
                    "url": "http://127.0.0.1:{port}/{base}/",
                    "variables": {"port": {"default": str(port)}, "base": {"default": "v1"}},
                },
                {"url": "https://ignored.example.com"},
            ],
            "paths": {
                "/trees": {
                    "post": {
                        "operationId": "plantTree",
                        "x-openai-isConsequential": False,
                        "requestBody": {
                            "required": True,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Node"}
                                }
                            },
                        },
                        "responses": {"200": {"description": "OK"}},
                    }
                }
            },
            "components": {"schemas": {"Node": NODE}},
        }
    )


@pytest.fixture(scope="module")
def server():
    httpd = HTTPServer(host="127.0.0.1", port=0)
    httpd.start()
    yield httpd
    httpd.clear()
    if httpd.is_running():
        httpd.stop()


@pytest.fixture
def world(db, settings, server):
    server.clear()
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{server.port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    make_workspace("Globex")
    owner = add_member(acme, role=Role.OWNER)
    member = add_member(acme, role=Role.MEMBER)
    domain_policy_update(workspace=acme, actor=owner, allow_all=False, allowed=["127.0.0.1"])
    gpt = make_gpt(acme, created_by=owner, visibility="workspace")
    action = action_create(gpt=gpt, acting_user=owner, schema=schema_for(server.port))
    return {"acme": acme, "owner": owner, "member": member, "gpt": gpt, "action": action}


# Stored at save ----------------------------------------------------------------------------


def test_save_stores_server_url_title_and_components(world, server):
    action = Action.objects.get(pk=world["action"].pk)
    assert action.server_url == f"http://127.0.0.1:{server.port}/v1/"
    assert action.title == "Family trees"
    assert action.components == {"schemas": {"Node": NODE}}
    body = action.operations.get().request_body
    assert "$ref" in json.dumps(body)  # the recursion the components are kept for


def test_components_are_not_stored_when_nothing_refers_to_them(world, server):
    document = json.loads(schema_for(server.port))
    document["paths"]["/trees"]["post"]["requestBody"]["content"]["application/json"] = {
        "schema": {"type": "object"}
    }
    action = action_update(
        action=world["action"], acting_user=world["owner"], schema=json.dumps(document)
    )
    assert Action.objects.get(pk=action.pk).components == {}


def test_a_new_schema_replaces_what_was_stored_and_no_schema_is_refused(world, server):
    action = action_update(
        action=world["action"],
        acting_user=world["owner"],
        schema=schema_for(server.port, title="  Orchards  "),
    )
    assert Action.objects.get(pk=action.pk).title == "Orchards"
    with pytest.raises(RuleViolation) as caught:
        action_update(action=action, acting_user=world["owner"], schema="")
    assert caught.value.code == "schema_required"
    stored = Action.objects.get(pk=action.pk)
    assert (stored.server_url, stored.title) == (f"http://127.0.0.1:{server.port}/v1/", "Orchards")
    assert stored.components == {"schemas": {"Node": NODE}}


def test_a_server_url_too_long_to_store_is_refused(world):
    document = json.loads(schema_for(1))
    document["servers"] = [{"url": "https://api.example.com/" + "a" * 2100}]
    with pytest.raises(RuleViolation) as caught:
        action_update(
            action=world["action"], acting_user=world["owner"], schema=json.dumps(document)
        )
    assert caught.value.code == "invalid_schema"
    assert Action.objects.get(pk=world["action"].pk).title == "Family trees"  # unchanged


def test_the_migration_fills_existing_actions_by_parsing_once(world, server):
    migration = importlib.import_module("actions.migrations.0006_action_stored_schema_parts")
    yaml_action = Action.objects.create(
        gpt=make_gpt(world["acme"]),
        workspace=world["acme"],
        domain="yaml.example.com",
        schema="openapi: 3.1.0\ninfo:\n  title: From YAML\n  version: '1'\n"
        "servers:\n  - url: https://yaml.example.com/api\npaths: {}\n",
    )
    Action.objects.update(server_url="", title="", components={})
    empty = Action.objects.create(gpt=make_gpt(world["acme"]), workspace=world["acme"])

    migration.fill(apps, None)

    action = Action.objects.get(pk=world["action"].pk)
    assert action.server_url == f"http://127.0.0.1:{server.port}/v1/"
    assert action.title == "Family trees"
    assert action.components == {"schemas": {"Node": NODE}}
    assert Action.objects.filter(pk=yaml_action.pk).values_list(
        "server_url", "title", "components"
    ).get() == ("https://yaml.example.com/api", "From YAML", {})
    assert Action.objects.filter(pk=empty.pk).values_list("server_url", "title").get() == ("", "")


# Read paths never parse ----------------------------------------------------------------------


class ParsedAgain(AssertionError):
    pass


@pytest.fixture
def no_parsing(world, monkeypatch):
    """Every stored schema text becomes garbage, and every schema parser fails loudly."""
    Action.objects.update(schema="{this is not the schema any more")

    def refuse(*args, **kwargs):
        raise ParsedAgain("a read path parsed schema text")

    for target, name in [
        (openapi, "parse"),
        (openapi, "validate"),
        (engine, "validate"),
        (parsing, "parse"),
        (yaml, "safe_load"),
        (yaml, "load"),
    ]:
        monkeypatch.setattr(target, name, refuse)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_run_needs_no_parsing(world, server, no_parsing, django_assert_max_num_queries):
    server.expect_request("/v1/trees", method="POST").respond_with_json({"ok": True})
    tree = {"name": "oak", "children": [{"name": "acorn", "children": []}]}
    url = f"/api/v1/actions/{world['action'].pk}/operations/plantTree/run"
    with django_assert_max_num_queries(6):
        response = api(world["member"]).post(
            url, {"arguments": {"requestBody": tree}, "consent": "allow"}, format="json"
        )
    assert response.status_code == 200, response.json()
    assert response.json()["response"]["status"] == 200
    (request, _), *_ = server.log
    assert json.loads(request.get_data()) == tree

    # The stored components still check the recursive body: a bad grandchild is refused.
    bad = {"name": "oak", "children": [{"children": []}]}
    response = api(world["member"]).post(
        url, {"arguments": {"requestBody": bad}, "consent": "allow"}, format="json"
    )
    assert response.status_code == 400
    assert "requestBody['children'][0]" in response.json()["detail"]


def test_the_tool_export_needs_no_parsing(world, no_parsing, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):
        response = api(world["member"]).get(f"/api/v1/gpts/{world['gpt'].pk}/tools/")
    assert response.status_code == 200
    (tool,) = response.json()
    assert tool["function"]["name"] == "plantTree"
    assert "requestBody" in tool["function"]["parameters"]["properties"]


def test_the_connections_page_needs_no_parsing(world, no_parsing, django_assert_max_num_queries):
    ConnectedAccount.objects.create(
        user=world["member"],
        action=world["action"],
        gpt=world["gpt"],
        workspace=world["acme"],
        access_token="secret-access",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    client = Client()
    client.force_login(world["member"])
    with django_assert_max_num_queries(6):
        response = client.get("/me/connections/")
    assert response.status_code == 200
    assert "Family trees" in response.content.decode()
