"""Hostile input to the chat API: wrong JSON types, oversized and unstorable text, nesting, and
other people's conversations. Every refusal is a 4xx with `{"code", "detail"}` (checked against
/api/v1/schema/ by the autouse fixture), names the field where there is one, writes nothing and
never reaches the model."""

import json

import pytest
from rest_framework.test import APIClient

from chat.models import Conversation, Message
from tests.factories import add_member, make_gpt
from tests.openapi_responses import problems

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def raw_post(client, url: str, text: str):
    """A body sent as written (json.dumps would refuse some of these, APIClient too)."""
    return client.post(url, data=text.encode("utf-8"), content_type="application/json")


@pytest.fixture
def chat(world, script):
    client = client_for(world["member"])
    response = client.post(f"/api/v1/gpts/{world['gpt'].pk}/conversations/", {}, format="json")
    assert response.status_code == 201, response.content
    return client, response.json()["id"]


def assert_invalid(response, field: str | None):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid", body
    if field is not None:
        # A serializer's refusal lists the fields; a service's names its one field.
        if "fields" in body:
            assert field in body["fields"], body
            assert body["detail"].startswith(f"{field}:"), body
        else:
            assert body.get("field") == field, body


@pytest.mark.parametrize(
    "body",
    [
        {"content": 5},
        {"content": None},
        {"content": True},
        {"content": ["hello"]},
        {"content": {"text": "hello"}},
        {"content": ""},
        {"content": "   "},
        {"content": "x" * 20_001},
        {"text": "hello"},
    ],
    ids=["int", "null", "bool", "list", "object", "empty", "blank", "too-long", "missing"],
)
def test_messages_refuse_wrong_types_and_sizes(chat, script, body):
    client, cid = chat
    response = client.post(f"/api/v1/conversations/{cid}/messages/", body, format="json")
    assert_invalid(response, "content")
    assert Message.objects.count() == 0
    assert script.requests == []
    assert Conversation.objects.get(pk=cid).state == "idle"


@pytest.mark.parametrize(
    "text",
    [
        '{"content": "half \\ud800 a pair"}',
        '{"content": "low \\udfff half"}',
        '{"content": "nul \\u0000"}',
        '{"content": "ok", "\\ud800": 1}',
    ],
    ids=["high-surrogate", "low-surrogate", "nul", "surrogate-key"],
)
def test_messages_refuse_unstorable_text(chat, script, text):
    client, cid = chat
    response = raw_post(client, f"/api/v1/conversations/{cid}/messages/", text)
    assert_invalid(response, None)
    assert "surrogate" in response.json()["detail"]
    assert Message.objects.count() == 0
    assert script.requests == []


@pytest.mark.parametrize(
    "text",
    ["[1]", '"hello"', "5", "null", "{", '{"content": "x"', "[" * 5000 + "]" * 5000],
    ids=["list", "string", "number", "null", "truncated", "unterminated", "deep"],
)
def test_messages_refuse_bodies_that_are_not_an_object(chat, script, text):
    client, cid = chat
    response = raw_post(client, f"/api/v1/conversations/{cid}/messages/", text)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("invalid", "parse_error")
    assert Message.objects.count() == 0


def test_an_oversized_body_is_413_before_anything_runs(chat, script, settings):
    settings.REQUEST_MAX_BYTES = 4096
    client, cid = chat
    response = client.post(
        f"/api/v1/conversations/{cid}/messages/", {"content": "x" * 5000}, format="json"
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tool_call_id": 5, "consent": "allow"}, "tool_call_id"),
        ({"tool_call_id": ["c1"], "consent": "allow"}, "tool_call_id"),
        ({"tool_call_id": "c" * 129, "consent": "allow"}, "tool_call_id"),
        ({"consent": "allow"}, "tool_call_id"),
        ({"tool_call_id": "c1", "consent": 1}, "consent"),
        ({"tool_call_id": "c1", "consent": None}, "consent"),
        ({"tool_call_id": "c1", "consent": True}, "consent"),
        ({"tool_call_id": "c1", "consent": "maybe"}, "consent"),
        ({"tool_call_id": "c1"}, "consent"),
    ],
    ids=[
        "id-int",
        "id-list",
        "id-too-long",
        "id-missing",
        "consent-int",
        "consent-null",
        "consent-bool",
        "consent-unknown",
        "consent-missing",
    ],
)
def test_consent_refuses_wrong_types(chat, script, api, body, field):
    script.tool("getWeather", {"location": "Paris"}, "c1")
    client, cid = chat
    stopped = client.post(
        f"/api/v1/conversations/{cid}/messages/", {"content": "weather?"}, format="json"
    )
    assert stopped.json()["status"] == "consent_required"
    response = client.post(f"/api/v1/conversations/{cid}/consent", body, format="json")
    assert_invalid(response, field)
    # Still waiting for the same approval; nothing was sent.
    conversation = Conversation.objects.get(pk=cid)
    assert conversation.state == "consent_required"
    assert conversation.pending["tool_call_id"] == "c1"
    assert api.log == []


@pytest.mark.parametrize(
    "body",
    [{"channel": 5}, {"channel": None}, {"channel": "admin"}, {"channel": ["chat"]}],
    ids=["int", "null", "unknown", "list"],
)
def test_create_refuses_wrong_channels(world, body):
    client = client_for(world["builder"])
    response = client.post(f"/api/v1/gpts/{world['gpt'].pk}/conversations/", body, format="json")
    assert_invalid(response, "channel")
    assert Conversation.objects.count() == 0


def test_create_refuses_a_body_that_is_not_an_object(world):
    client = client_for(world["member"])
    response = raw_post(client, f"/api/v1/gpts/{world['gpt'].pk}/conversations/", "[]")
    assert_invalid(response, None)
    assert Conversation.objects.count() == 0


def test_another_users_conversation_is_404_everywhere(world, chat, script):
    _, cid = chat
    before = Message.objects.count()
    for user in (add_member(world["acme"]), world["owner"], world["stranger"]):
        other = client_for(user)
        base = f"/api/v1/conversations/{cid}"
        assert other.get(f"{base}/").status_code == 404
        # Hostile bodies too: the 404 comes first, nothing is parsed for a stranger.
        for body in ({"content": "x"}, {"content": 5}):
            assert other.post(f"{base}/messages/", body, format="json").status_code == 404
        answer = {"tool_call_id": "c1", "consent": "allow"}
        assert other.post(f"{base}/consent", answer, format="json").status_code == 404
        assert other.post(f"{base}/resume", {}, format="json").status_code == 404
        # Their list of conversations with the GPT does not show it.
        listed = other.get(f"/api/v1/gpts/{world['gpt'].pk}/conversations/")
        if listed.status_code == 200:
            assert cid not in [c["id"] for c in listed.json()["results"]]
        else:
            assert listed.status_code == 404
    assert Message.objects.count() == before
    assert script.requests == []
    # Ids that exist nowhere are the same 404.
    client, _ = chat
    assert client.get("/api/v1/conversations/987654321/").status_code == 404
    assert client.get("/api/v1/gpts/987654321/conversations/").status_code == 404


def test_another_workspaces_gpt_has_no_conversations(world):
    theirs = make_gpt(world["globex"], created_by=world["stranger"], visibility="workspace")
    client = client_for(world["member"])
    url = f"/api/v1/gpts/{theirs.pk}/conversations/"
    assert client.get(url).status_code == 404
    for body in ({}, {"channel": "preview"}, {"channel": "chat"}):
        assert client.post(url, body, format="json").status_code == 404
    assert Conversation.objects.count() == 0


def test_the_stream_refuses_unstorable_text_too(chat, script):
    client, cid = chat
    response = raw_post(
        client, f"/chat/conversations/{cid}/stream", '{"content": "half \\ud800 a pair"}'
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Message.objects.count() == 0
    assert Conversation.objects.get(pk=cid).state == "idle"


def test_the_document_check_sees_an_undocumented_field(chat, script):
    """The autouse check is not vacuous for the chat API: a turn's body with one field more,
    or one field of the wrong type, does not match the document."""
    script.text("Hi")
    client, cid = chat
    response = client.post(
        f"/api/v1/conversations/{cid}/messages/", {"content": "hello"}, format="json"
    )
    body = response.json()
    path, kind = f"/api/v1/conversations/{cid}/messages/", "application/json"
    assert problems(path, "post", 200, kind, json.dumps(body).encode()) == []
    extra = {**body, "debug": True}
    assert problems(path, "post", 200, kind, json.dumps(extra).encode())
    message_extra = {**body, "messages": [{**body["messages"][0], "secret": "x"}]}
    assert problems(path, "post", 200, kind, json.dumps(message_extra).encode())
    wrong = {**body, "status": "finished"}
    assert problems(path, "post", 200, kind, json.dumps(wrong).encode())
