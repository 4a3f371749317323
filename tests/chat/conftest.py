"""The chat tests' world: two workspaces, a GPT whose action points at a pytest-httpserver on
127.0.0.1 (the "external API"), and the fake model provider (tests/chat/provider.py) behind the
real `openai` client."""

import json

import pytest
from pytest_httpserver import HTTPServer

from actions.services import action_create
from tests.chat.provider import FakeProvider
from tests.factories import add_member, make_gpt, make_workspace
from tests.openapi_responses import install
from workspaces.models import Plan, Role
from workspaces.services import domain_policy_update

LLM_KEY = "sk-provider-secret-0123456789abcdef"
INSTRUCTIONS = "You are the weather helper. Use getWeather."


def api_schema(port: int) -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": "Chat test API", "version": "1.0.0"},
            "servers": [{"url": f"http://127.0.0.1:{port}"}],
            "paths": {
                "/weather": {
                    "get": {
                        "operationId": "getWeather",
                        "summary": "Current weather for a place",
                        "parameters": [
                            {
                                "name": "location",
                                "in": "query",
                                "required": True,
                                "schema": {"type": "string"},
                            }
                        ],
                        "responses": {"200": {"description": "OK"}},
                    }
                },
                "/notes": {
                    "post": {
                        "operationId": "createNote",
                        "summary": "Write a note",
                        "requestBody": {
                            "required": True,
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["title"],
                                        "properties": {"title": {"type": "string"}},
                                    }
                                }
                            },
                        },
                        "responses": {"201": {"description": "Created"}},
                    }
                },
            },
        }
    )


@pytest.fixture(scope="module")
def provider():
    fake = FakeProvider()
    yield fake
    fake.close()


@pytest.fixture(scope="module")
def api_httpd():
    httpd = HTTPServer(host="127.0.0.1", port=0)
    httpd.start()
    yield httpd
    httpd.clear()
    if httpd.is_running():
        httpd.stop()


@pytest.fixture
def api(api_httpd):
    api_httpd.clear()
    yield api_httpd
    api_httpd.clear()


@pytest.fixture
def script(provider):
    return provider.reset()


@pytest.fixture
def world(db, settings, provider, api):
    settings.LLM_BASE_URL = provider.base_url
    settings.LLM_API_KEY = LLM_KEY
    settings.LLM_TIMEOUT = 2
    settings.LLM_MAX_RETRIES = 0
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{api.port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    settings.SITE_URL = "http://platform.test"
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    globex = make_workspace("Globex", plan=Plan.TEAM)
    owner = add_member(acme, role=Role.OWNER)
    builder = add_member(acme, role=Role.BUILDER)
    member = add_member(acme, role=Role.MEMBER)
    stranger = add_member(globex, role=Role.OWNER)
    domain_policy_update(workspace=acme, actor=owner, allow_all=False, allowed=["127.0.0.1"])
    gpt = make_gpt(
        acme,
        created_by=builder,
        visibility="workspace",
        instructions=INSTRUCTIONS,
        conversation_starters=["Weather in Paris?"],
    )
    action = action_create(
        gpt=gpt, acting_user=builder, schema=api_schema(api.port), auth={"type": "none"}
    )
    assert action.is_valid, action.errors
    return {
        "acme": acme,
        "globex": globex,
        "owner": owner,
        "builder": builder,
        "member": member,
        "stranger": stranger,
        "gpt": gpt,
        "action": action,
    }


@pytest.fixture(autouse=True)
def _answers_match_the_document(monkeypatch):
    """Every chat API answer a chat test gets is checked against /api/v1/schema/ (status
    declared, body valid, no undocumented field): see tests/openapi_responses.py."""
    install(monkeypatch)
