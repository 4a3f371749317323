"""The sandbox's demo model, served by the live server and called by the real `openai` client:
the whole loop offline, as `make run` shows it (the seeded To-do helper: "List my to-dos" asks
for approval, then for a connection, then answers with the list)."""

import json
from datetime import timedelta

import openai
import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model
from rest_framework.test import APIClient

from actions.models import ConnectedAccount
from sandbox import llm as demo
from sandbox.models import Todo
from tests.actions.oauth_support import add_operations, sandbox_world

pytestmark = pytest.mark.django_db(transaction=True)


def tools_of(*functions):
    return [{"type": "function", "function": f} for f in functions]


LIST = {"name": "listTodos", "description": "List your to-dos", "parameters": {"type": "object"}}
CREATE = {
    "name": "createTodo",
    "description": "Add a to-do",
    "parameters": {
        "type": "object",
        "properties": {
            "requestBody": {
                "type": "object",
                "properties": {"title": {"type": "string"}},
                "required": ["title"],
            }
        },
        "required": ["requestBody"],
    },
}
WEATHER = {
    "name": "GetCurrentWeather",
    "description": "Get the weather for a location",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


@pytest.mark.parametrize(
    ("text", "name", "arguments"),
    [
        ("list my to-dos", "listTodos", {}),
        (
            "Add a to-do: water the plants",
            "createTodo",
            {"requestBody": {"title": "water the plants"}},
        ),
        ("What's the weather in Paris?", "GetCurrentWeather", {"location": "Paris"}),
    ],
)
def test_the_demo_model_picks_the_tool_and_fills_its_arguments(text, name, arguments):
    reply = demo._reply([{"role": "user", "content": text}], tools_of(LIST, CREATE, WEATHER))
    assert reply["tool_call"]["name"] == name
    assert json.loads(reply["tool_call"]["arguments"]) == arguments


def test_the_demo_model_summarises_a_result():
    body = json.dumps({"todos": [{"title": "Water the plants"}, {"title": "Call Bob"}]})
    content = json.dumps({"status": 200, "body": body})
    reply = demo._reply([{"role": "tool", "content": content}], [])
    assert "Water the plants" in reply["content"] and "Call Bob" in reply["content"]


def test_the_todo_helper_approves_connects_and_answers(live_server, settings):
    world = sandbox_world(live_server, settings)
    add_operations(world)
    world.gpt.instructions = "Use listTodos to answer."
    world.gpt.save()
    settings.LLM_BASE_URL = f"{world.site}/sandbox/llm/v1"
    settings.LLM_API_KEY = ""
    Todo.objects.create(owner=world.user, title="Water the plants")
    client = APIClient()
    client.force_login(world.user)
    cid = client.post(f"/api/v1/gpts/{world.gpt.pk}/conversations/", {}, format="json").json()["id"]

    asked = client.post(
        f"/api/v1/conversations/{cid}/messages/", {"content": "list my to-dos"}, format="json"
    ).json()
    assert asked["status"] == "consent_required", asked
    assert asked["pending"]["operation_id"] == "listTodos"
    connect = client.post(
        f"/api/v1/conversations/{cid}/consent",
        {"tool_call_id": asked["pending"]["tool_call_id"], "consent": "always_allow"},
        format="json",
    ).json()
    assert connect["status"] == "oauth_required", connect
    assert "/oauth/start?next=" in connect["pending"]["authorize_url"]

    # Connected (as the OAuth flow would store it; the flow itself is tests/browser's business).

    token = get_access_token_model().objects.create(
        user=world.user,
        application=world.application,
        token="sandbox-access-token-for-chat-0001",
        expires=timezone.now() + timedelta(hours=1),
        scope="todos",
    )
    ConnectedAccount.objects.create(
        user=world.user,
        action=world.action,
        gpt=world.gpt,
        workspace=world.acme,
        access_token=token.token,
        scopes="todos",
    )
    done = client.post(f"/api/v1/conversations/{cid}/resume", {}, format="json").json()
    assert done["status"] == "done", done
    assert "Water the plants" in done["messages"][-1]["content"]


def test_the_demo_model_streams_through_the_openai_client(live_server, settings):
    client = openai.OpenAI(
        base_url=f"{live_server.url.replace('localhost', '127.0.0.1')}/sandbox/llm/v1",
        api_key="unused",
        max_retries=0,
        timeout=5,
    )
    chunks = list(
        client.chat.completions.create(
            model="sandbox-demo",
            messages=[{"role": "user", "content": "Add a to-do: buy milk"}],
            tools=tools_of(LIST, CREATE),
            stream=True,
        )
    )
    pieces = [
        c.choices[0].delta.tool_calls[0]
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    ]
    assert pieces[0].function.name == "createTodo" and len(pieces) > 2
    arguments = "".join(p.function.arguments or "" for p in pieces)
    assert json.loads(arguments) == {"requestBody": {"title": "buy milk"}}
    plain = client.chat.completions.create(
        model="sandbox-demo", messages=[{"role": "user", "content": "hi"}]
    )
    assert "sandbox demo model" in plain.choices[0].message.content
