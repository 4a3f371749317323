"""The page's turn stream (server-sent events) over a streaming provider: text arrives in pieces,
tool calls split across chunks are put back together, and failures end the stream in words."""

import json

import pytest
from django.test import Client

from chat.models import Conversation, ToolCall
from tests.chat.conftest import LLM_KEY

pytestmark = pytest.mark.django_db


def events(response) -> list[tuple[str, dict]]:
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/event-stream"
    text = b"".join(response.streaming_content).decode()
    out = []
    for frame in text.split("\n\n"):
        if not frame.strip():
            continue
        kind = next(line[7:] for line in frame.splitlines() if line.startswith("event: "))
        data = "".join(line[6:] for line in frame.splitlines() if line.startswith("data: "))
        out.append((kind, json.loads(data)))
    return out


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def new_conversation(client, gpt, channel="chat") -> int:
    response = client.post(
        f"/api/v1/gpts/{gpt.pk}/conversations/",
        json.dumps({"channel": channel}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def stream(client, cid, body):
    return client.post(
        f"/chat/conversations/{cid}/stream", json.dumps(body), content_type="application/json"
    )


def test_text_streams_in_pieces(world, script, provider):
    script.text("It is sunny in Paris today.")
    client = page_client(world["member"])
    cid = new_conversation(client, world["gpt"])
    got = events(stream(client, cid, {"content": "weather?"}))
    deltas = [data["text"] for kind, data in got if kind == "delta"]
    assert len(deltas) > 3 and "".join(deltas) == "It is sunny in Paris today."
    assert provider.script.requests[-1]["stream"] is True
    kind, done = got[-1]
    assert kind == "done" and done["status"] == "done"
    assert done["messages"][-1]["content"] == "It is sunny in Paris today."
    assert done["messages"][0]["role"] == "user"


def test_tool_calls_split_across_chunks_run_and_stop_for_approval(world, script, api, provider):
    api.expect_request("/weather").respond_with_json({"sky": "sunny"})
    script.tools(
        [
            ("getWeather", {"location": "Paris, France"}, "s1"),
            ("getWeather", {"location": "Oslo"}, "s2"),
        ]
    ).text("Both sunny.")
    client = page_client(world["builder"])
    cid = new_conversation(client, world["gpt"], channel="preview")
    got = events(stream(client, cid, {"content": "weather in Paris and Oslo?"}))
    assistant = next(d for k, d in got if k == "message" and d["role"] == "assistant")
    calls = assistant["tool_calls"]
    assert [c["arguments"] for c in calls] == [{"location": "Paris, France"}, {"location": "Oslo"}]
    assert got[-1][1]["status"] == "consent_required"
    assert got[-1][1]["pending"]["tool_call_id"] == "s1"

    got = events(stream(client, cid, {"tool_call_id": "s1", "consent": "always_allow"}))
    # The second call is remembered now (same operation): both ran, then the model answered.
    assert got[-1][1]["status"] == "done", got[-1]
    assert [c.status for c in ToolCall.objects.order_by("id")] == ["ok", "ok"]
    assert len(api.log) == 2
    updated = [d for k, d in got if k == "tool_call"]
    assert [d["id"] for d in updated] == ["s1", "s2"]
    assert updated[0]["request"]["method"] == "GET"
    assert updated[0]["response"]["status"] == 200
    assert "".join(d["text"] for k, d in got if k == "delta") == "Both sunny."


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda s: s.status(429), "rate-limiting"),
        (lambda s: s.status(502), "failed (HTTP 502)"),
        (lambda s: s.garbage("data: {broken\n\n"), "not a chat completion"),
        (lambda s: s.sleep(3), "did not answer"),
    ],
    ids=["429", "502", "garbage", "timeout"],
)
def test_stream_failures_end_in_words(world, script, settings, setup, words):
    settings.LLM_TIMEOUT = 1
    setup(script)
    client = page_client(world["member"])
    cid = new_conversation(client, world["gpt"])
    response = stream(client, cid, {"content": "hello"})
    got = events(response)
    assert got[-1][0] == "done" and got[-1][1]["status"] == "error"
    error = [d for k, d in got if k == "message" and d["error"]]
    assert words in error[0]["content"]
    assert LLM_KEY not in json.dumps(got)
    assert Conversation.objects.get(pk=cid).state == "idle"


def test_stream_refusals_are_json_errors(world, script):
    client = page_client(world["member"])
    cid = new_conversation(client, world["gpt"])
    bad = client.post(f"/chat/conversations/{cid}/stream", "nope", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    empty = stream(client, cid, {"content": "  "})
    assert empty.status_code == 400
    nothing = stream(client, cid, {"tool_call_id": "x", "consent": "allow"})
    assert nothing.status_code == 409
    huge = stream(client, cid, {"content": "x" * 70_000})
    assert huge.status_code == 413
    assert client.get(f"/chat/conversations/{cid}/stream").status_code == 405
    assert script.requests == []


def test_a_busy_conversation_refuses_a_second_turn(world, script):
    client = page_client(world["member"])
    cid = new_conversation(client, world["gpt"])
    Conversation.objects.filter(pk=cid).update(state="running")
    busy = stream(client, cid, {"content": "hello"})
    assert busy.status_code == 409 and busy.json()["code"] == "conversation_busy"
