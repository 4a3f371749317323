"""The chat API end to end: the real `openai` client → the fake provider on 127.0.0.1, tool
calls run through the real runtime → the test API server on 127.0.0.1. What the provider and the
API server received is the proof of what was, or was not, sent.
"""

import json
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from actions.models import ConnectedAccount, Invocation
from chat.loop import MAX_TOOL_ROUNDS
from chat.models import Conversation, Message, ToolCall
from tests.chat.conftest import INSTRUCTIONS, LLM_KEY
from tests.factories import add_member, make_gpt

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def start(client, gpt, **body) -> int:
    response = client.post(f"/api/v1/gpts/{gpt.pk}/conversations/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["messages"] == [] and data["gpt"] == gpt.pk
    return data["id"]


def say(client, conversation_id, content):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/messages/", {"content": content}, format="json"
    )


def consent(client, conversation_id, tool_call_id, choice="allow"):
    return client.post(
        f"/api/v1/conversations/{conversation_id}/consent",
        {"tool_call_id": tool_call_id, "consent": choice},
        format="json",
    )


def weather_reply(api):
    api.expect_request("/weather").respond_with_json({"location": "Paris", "sky": "sunny"})


def test_a_turn_with_approval_runs_the_call_and_answers(world, script, api, provider):
    weather_reply(api)
    script.tool("getWeather", {"location": "Paris"}, call_id="call_w1").text("Sunny in Paris.")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])

    first = say(client, cid, "What's the weather in Paris?")
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["status"] == "consent_required"
    pending = body["pending"]
    assert pending["tool_call_id"] == "call_w1"
    assert pending["operation_id"] == "getWeather"
    assert pending["domain"] == "127.0.0.1"
    assert set(pending["choices"]) == {"allow", "always_allow", "decline"}
    assert "location=Paris" in pending["request"]["url"]
    assert api.log == []  # nothing is sent before approval
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["user", "assistant"]
    assert body["messages"][1]["tool_calls"][0]["status"] == "consent_required"

    # The model saw the instructions as the system message and the exported tools.
    sent = provider.script.requests[0]
    assert sent["messages"][0] == {"role": "system", "content": INSTRUCTIONS}
    assert sent["messages"][-1] == {"role": "user", "content": "What's the weather in Paris?"}
    tools = client.get(f"/api/v1/gpts/{world['gpt'].pk}/tools/").json()
    assert sent["tools"] == tools
    assert sent["model"] == world["gpt"].model

    second = consent(client, cid, "call_w1", "allow")
    assert second.status_code == 200, second.content
    done = second.json()
    assert done["status"] == "done" and done["pending"] is None
    assert len(api.log) == 1
    assert [m["role"] for m in done["messages"]] == ["assistant", "tool", "assistant"]
    call = done["messages"][0]["tool_calls"][0]
    assert call["status"] == "ok" and call["arguments"] == {"location": "Paris"}
    assert call["response"]["status"] == 200
    assert done["messages"][-1]["content"] == "Sunny in Paris."

    # The tool result went back to the model as a tool message: status and body.
    tool_message = provider.script.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_w1"
    assert json.loads(tool_message["content"])["status"] == 200
    assert "sunny" in json.loads(tool_message["content"])["body"]

    invocation = Invocation.objects.get()
    assert invocation.channel == "chat" and invocation.status == "ok"
    assert invocation.user == world["member"]
    # The run endpoint's own calls stay on the "api" channel.
    weather_reply(api)
    run = client.post(
        f"/api/v1/actions/{world['action'].pk}/operations/getWeather/run",
        {"arguments": {"location": "Paris"}, "consent": "allow"},
        format="json",
    )
    assert run.status_code == 200
    assert Invocation.objects.latest("id").channel == "api"

    whole = client.get(f"/api/v1/conversations/{cid}/").json()
    assert whole["state"] == "idle"
    assert [m["role"] for m in whole["messages"]] == ["user", "assistant", "tool", "assistant"]


def test_preview_channel_is_recorded_and_always_allow_is_remembered(world, script, api):
    weather_reply(api)
    weather_reply(api)
    script.tool("getWeather", {"location": "Paris"}, "c1").text("Sunny.")
    script.tool("getWeather", {"location": "Paris"}, "c2").text("Still sunny.")
    client = client_for(world["builder"])
    cid = start(client, world["gpt"], channel="preview")
    assert say(client, cid, "weather?").json()["status"] == "consent_required"
    assert consent(client, cid, "c1", "always_allow").json()["status"] == "done"
    again = say(client, cid, "and now?").json()
    assert again["status"] == "done"  # remembered: no second question
    assert Invocation.objects.filter(channel="preview").count() == 2


def test_decline_is_told_to_the_model_and_nothing_is_sent(world, script, api, provider):
    script.tool("getWeather", {"location": "Paris"}, "c1").text("OK, I will not.")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    say(client, cid, "weather?")
    done = consent(client, cid, "c1", "decline").json()
    assert done["status"] == "done"
    assert api.log == []
    told = provider.script.requests[1]["messages"][-1]
    assert told["role"] == "tool" and "declined" in told["content"]
    assert done["messages"][0]["tool_calls"][0]["status"] == "declined"


def test_consequential_call_offers_no_always_allow(world, script, api):
    script.tool("createNote", {"requestBody": {"title": "hi"}}, "n1")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    pending = say(client, cid, "note").json()["pending"]
    assert pending["choices"] == ["allow", "decline"]
    refused = consent(client, cid, "n1", "always_allow")
    assert refused.status_code == 400
    assert refused.json()["code"] == "always_allow_not_offered"


def test_unknown_tool_and_bad_arguments_are_errors_for_the_model(world, script, api, provider):
    script.tools(
        [
            ("noSuchTool", {}, "u1"),
            ("getWeather", "{not json", "u2"),
            ("getWeather", {"location": 5, "extra": 1}, "u3"),
        ]
    ).text("Sorry.")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    done = say(client, cid, "weather?").json()
    assert done["status"] == "done", done
    told = [m for m in provider.script.requests[1]["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in told] == ["u1", "u2", "u3"]
    assert "no tool named 'noSuchTool'" in told[0]["content"]
    assert "JSON object" in told[1]["content"]
    assert told[2]["content"].startswith("Error invalid_arguments")
    assert api.log == []
    statuses = [c["status"] for c in done["messages"][1]["tool_calls"]]
    assert statuses == ["error", "error", "error"]


def test_at_most_ten_tool_rounds(world, script, api, provider):
    for _ in range(MAX_TOOL_ROUNDS + 2):
        script.tool("noSuchTool", {})
    script.text("Giving up.")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    done = say(client, cid, "loop forever").json()
    requests = provider.script.requests
    assert len(requests) == MAX_TOOL_ROUNDS + 1
    assert all("tools" in r for r in requests[:MAX_TOOL_ROUNDS])
    assert "tools" not in requests[MAX_TOOL_ROUNDS]  # the last call must answer in words
    # The script's 11th reply was another tool call: refused and told, not run.
    assert done["status"] == "error"
    assert "10 rounds" in done["messages"][-1]["content"]
    assert Conversation.objects.get(pk=cid).state == "idle"


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda s: s.status(429, headers={"Retry-After": "7"}), "retry after 7"),
        (lambda s: s.status(500), "failed (HTTP 500)"),
        (lambda s: s.status(503), "failed (HTTP 503)"),
        (
            lambda s: s.status(401, json.dumps({"error": {"message": f"bad key {LLM_KEY}"}})),
            "LLM_API_KEY",
        ),
        (
            lambda s: s.status(400, json.dumps({"error": {"message": f"echo {LLM_KEY}"}})),
            "refused the request (HTTP 400)",
        ),
        (lambda s: s.garbage(), "not a chat completion"),
        (lambda s: s.garbage('{"choices": "nope"}'), "not a chat completion"),
        (lambda s: s.sleep(3), "did not answer within 1 seconds"),
    ],
    ids=["429", "500", "503", "401", "400-echo", "html", "bad-shape", "timeout"],
)
def test_provider_failures_are_words_in_the_conversation(
    world, script, settings, caplog, setup, words
):
    settings.LLM_TIMEOUT = 1
    setup(script)
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    with caplog.at_level(logging.DEBUG):
        response = say(client, cid, "hello")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "error"
    last = body["messages"][-1]
    assert last["role"] == "assistant" and last["error"] is True
    assert words in last["content"]
    # The key appears nowhere: answers, stored messages, logs.
    assert LLM_KEY not in response.content.decode()
    assert not Message.objects.filter(content__contains=LLM_KEY).exists()
    assert LLM_KEY not in caplog.text
    assert Conversation.objects.get(pk=cid).state == "idle"
    # The failure is not sent back to the model next time.
    script.text("Hello!")
    say(client, cid, "again")
    assert all(
        not m.get("content", "").startswith("The model") for m in script.requests[-1]["messages"]
    )


def test_the_key_is_sent_to_the_provider_only_as_the_bearer(world, script):
    script.text("Hi")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    response = say(client, cid, "hello")
    assert response.json()["status"] == "done"
    assert script.authorizations[-1] == f"Bearer {LLM_KEY}"
    assert LLM_KEY not in response.content.decode()


def test_no_model_configured_says_so(world, script, settings):
    settings.LLM_BASE_URL = ""
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    body = say(client, cid, "hello").json()
    assert body["status"] == "error"
    assert "No model is configured" in body["messages"][-1]["content"]
    assert script.requests == []


def test_catalogue_from_llm_models(world, script, settings):
    settings.LLM_MODELS = "fast=provider-fast-7b,big-pro=provider-big"
    client = client_for(world["builder"])
    keys = [m["key"] for m in client.get(f"/api/v1/gpts/{world['gpt'].pk}/models/").json()]
    assert keys == ["fast"]  # the GPT has actions: no Pro model
    patched = client.patch(f"/api/v1/gpts/{world['gpt'].pk}/", {"model": "fast"}, format="json")
    assert patched.status_code == 200, patched.content
    refused = client.patch(f"/api/v1/gpts/{world['gpt'].pk}/", {"model": "big-pro"}, format="json")
    assert refused.status_code == 400
    script.text("Hi")
    member = client_for(world["member"])
    cid = start(member, world["gpt"])
    say(member, cid, "hello")
    assert script.requests[-1]["model"] == "provider-fast-7b"


def test_oauth_required_stops_and_resume_retries(world, script, api, provider):
    from actions.models import AuthType

    action = world["action"]
    action.auth_type = AuthType.OAUTH
    action.oauth_client_id = "client"
    action.oauth_client_secret = "client-secret-value"
    action.authorization_url = f"http://127.0.0.1:{api.port}/authorize"
    action.token_url = f"http://127.0.0.1:{api.port}/token"
    action.save()
    weather_reply(api)
    script.tool("getWeather", {"location": "Paris"}, "o1").text("Sunny, with your account.")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    assert say(client, cid, "weather?").json()["status"] == "consent_required"
    stopped = consent(client, cid, "o1", "allow").json()
    assert stopped["status"] == "oauth_required", stopped
    url = stopped["pending"]["authorize_url"]
    assert url.startswith(f"http://platform.test/actions/{action.pk}/oauth/start?next=")
    assert f"%3Fc%3D{cid}%26resume%3D1" in url
    assert api.log == []

    not_yet = client.post(f"/api/v1/conversations/{cid}/resume", {}, format="json").json()
    assert not_yet["status"] == "oauth_required"  # still not connected: same stop

    ConnectedAccount.objects.create(
        user=world["member"],
        action=action,
        gpt=world["gpt"],
        workspace=world["acme"],
        access_token="user-access-token-123",
        scopes="",
    )
    resumed = client.post(f"/api/v1/conversations/{cid}/resume", {}, format="json")
    assert resumed.status_code == 200, resumed.content
    body = resumed.json()
    assert body["status"] == "done", body
    request, _ = api.log[0]
    assert request.headers["Authorization"] == "Bearer user-access-token-123"
    assert "user-access-token-123" not in resumed.content.decode()  # masked in the request
    assert body["messages"][-1]["content"] == "Sunny, with your account."


def test_a_new_message_instead_of_an_answer_cancels_the_call(world, script, api, provider):
    script.tool("getWeather", {"location": "Paris"}, "w1").text("Never mind then.")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    say(client, cid, "weather?")
    body = say(client, cid, "forget it").json()
    assert body["status"] == "done"
    assert api.log == []
    assert ToolCall.objects.get(call_id="w1").status == "cancelled"
    sent = provider.script.requests[-1]["messages"]
    assert [m["role"] for m in sent[1:]] == ["user", "assistant", "tool", "user"]


def test_hostile_input(world, script):
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    base = f"/api/v1/conversations/{cid}"
    for bad in (
        {},
        {"content": ""},
        {"content": 5},
        {"content": "x" * 20_001},
        {"content": "nul\x00"},
    ):
        response = client.post(f"{base}/messages/", bad, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["code"] == "invalid"
    assert client.post(f"{base}/messages/", [1], format="json").status_code == 400
    assert client.post(f"{base}/messages/", "x", content_type="text/plain").status_code == 415
    nothing = consent(client, cid, "nope", "allow")
    assert nothing.status_code == 409 and nothing.json()["code"] == "nothing_pending"
    assert consent(client, cid, "nope", "maybe").status_code == 400
    assert client.post(f"{base}/resume", {}, format="json").status_code == 409
    assert script.requests == []
    assert Message.objects.count() == 0

    script.tool("getWeather", {"location": "Paris"}, "w1")
    say(client, cid, "weather?")
    wrong = consent(client, cid, "w2", "allow")
    assert wrong.status_code == 409 and wrong.json()["code"] == "unknown_tool_call"


def test_conversations_belong_to_their_user_and_workspace(world, script):
    script.text("Hi")
    owner_client = client_for(world["member"])
    cid = start(owner_client, world["gpt"])
    say(owner_client, cid, "hello")
    colleague = add_member(world["acme"])
    for user in (colleague, world["stranger"], world["owner"]):
        client = client_for(user)
        base = f"/api/v1/conversations/{cid}"
        assert client.get(f"{base}/").status_code == 404
        assert client.post(f"{base}/messages/", {"content": "x"}, format="json").status_code == 404
        assert consent(client, cid, "x", "allow").status_code == 404
        assert client.post(f"{base}/resume", {}, format="json").status_code == 404
        assert (
            client.post(
                f"/chat/conversations/{cid}/stream",
                {"content": "x"},
                content_type="application/json",
            ).status_code
            == 404
        )
    # Another workspace's GPT: no conversation with it.
    stranger_gpt = make_gpt(world["globex"], created_by=world["stranger"], visibility="workspace")
    response = owner_client.post(
        f"/api/v1/gpts/{stranger_gpt.pk}/conversations/", {}, format="json"
    )
    assert response.status_code == 404
    assert Conversation.objects.filter(gpt=stranger_gpt).count() == 0
    # A member who left the workspace loses the conversation too.
    world["member"].memberships.all().delete()
    assert owner_client.get(f"/api/v1/conversations/{cid}/").status_code == 404


def test_visibility_decides_who_may_chat(world):
    acme, globex = world["acme"], world["globex"]
    private = make_gpt(acme, created_by=world["builder"], visibility="only_me")
    public = make_gpt(acme, created_by=world["builder"], visibility="link")
    member, stranger = client_for(world["member"]), client_for(world["stranger"])
    url = "/api/v1/gpts/{}/conversations/"
    assert member.post(url.format(private.pk), {}, format="json").status_code == 404
    assert (
        client_for(world["builder"]).post(url.format(private.pk), {}, format="json").status_code
        == 201
    )
    assert stranger.post(url.format(world["gpt"].pk), {}, format="json").status_code == 404
    assert stranger.post(url.format(public.pk), {}, format="json").status_code == 201
    # The editor's Preview follows the editor's rule: only people of the workspace.
    assert (
        stranger.post(url.format(public.pk), {"channel": "preview"}, format="json").status_code
        == 404
    )
    assert globex  # two workspaces, always


def _long_conversation(world, client, script, api, turns: int) -> int:
    cid = start(client, world["gpt"])
    for n in range(turns):
        script.text(f"answer {n}")
        say(client, cid, f"question {n}")
    return cid


def test_query_count_does_not_grow_with_the_conversation(world, script, api):
    from actions.models import Consent

    Consent.objects.create(
        user=world["member"],
        gpt=world["gpt"],
        action=world["action"],
        workspace=world["acme"],
        operation_id="getWeather",
    )
    client = client_for(world["member"])
    counts = []
    for turns in (1, 12):
        cid = _long_conversation(world, client, script, api, turns)
        weather_reply(api)
        script.tool("getWeather", {"location": "Paris"}).text("Sunny.")
        with CaptureQueriesContext(connection) as queries:
            assert say(client, cid, "weather?").json()["status"] == "done"
        counts.append(len(queries))
        with CaptureQueriesContext(connection) as reads:
            client.get(f"/api/v1/conversations/{cid}/")
        counts.append(len(reads))
    assert counts[0] <= 30, counts  # measured: 29 (bench/README.md quotes it)
    assert counts[0] == counts[2], counts  # a turn with one tool round
    assert counts[1] == counts[3], counts  # reading the conversation


def test_one_turn_stays_within_a_query_budget(world, script, api, django_assert_max_num_queries):
    client = client_for(world["member"])
    cid = _long_conversation(world, client, script, api, 5)
    script.text("plain answer")
    with django_assert_max_num_queries(21):
        say(client, cid, "hello")


def test_provider_down_is_said_plainly(world, script, settings):
    settings.LLM_BASE_URL = "http://127.0.0.1:1/v1"  # nothing listens on port 1
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    body = say(client, cid, "hello").json()
    assert body["status"] == "error"
    assert "could not be reached" in body["messages"][-1]["content"]


def test_a_tool_result_stays_within_the_limit(world, script, api, provider):
    from actions.models import Consent

    Consent.objects.create(
        user=world["member"],
        gpt=world["gpt"],
        action=world["action"],
        workspace=world["acme"],
        operation_id="getWeather",
    )
    # Under the runtime's 100,000-character body limit, but every quote doubles when the body
    # is put in the JSON tool message.
    api.expect_request("/weather").respond_with_data('"' * 99_000, content_type="text/plain")
    script.tool("getWeather", {"location": "Paris"}).text("That was long.")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    assert say(client, cid, "weather?").json()["status"] == "done"
    told = provider.script.requests[-1]["messages"][-1]
    assert told["role"] == "tool"
    assert len(told["content"]) <= 100_000
    assert told["content"].endswith("[truncated: the result is over 100,000 characters]")


def test_the_callers_conversations_with_a_gpt(world, script):
    member = client_for(world["member"])
    first, second = start(member, world["gpt"]), start(member, world["gpt"])
    start(client_for(world["owner"]), world["gpt"])  # someone else's
    listed = member.get(f"/api/v1/gpts/{world['gpt'].pk}/conversations/").json()
    assert [c["id"] for c in listed["results"]] == [second, first]
    assert listed["results"][0]["state"] == "idle"
    stranger = client_for(world["stranger"])
    assert stranger.get(f"/api/v1/gpts/{world['gpt'].pk}/conversations/").status_code == 404


def test_a_connection_that_needs_reconnecting_asks_to_sign_in_again(world, script, api):
    """Issue 15.6: a lapsed connection stops the turn with the "Sign in to <domain>" card
    (oauth_required, the domain and the authorize URL back to this conversation), sends
    nothing, and the call goes on once the person has reconnected."""
    from actions.models import AuthType, ConnectionReason, ConnectionStatus, Consent

    action = world["action"]
    action.auth_type = AuthType.OAUTH
    action.oauth_client_id = "client"
    action.oauth_client_secret = "client-secret-value"
    action.authorization_url = f"http://127.0.0.1:{api.port}/authorize"
    action.token_url = f"http://127.0.0.1:{api.port}/token"
    action.save()
    account = ConnectedAccount.objects.create(
        user=world["member"],
        action=action,
        gpt=world["gpt"],
        workspace=world["acme"],
        access_token="revoked-access-token",
        refresh_token="refused-refresh-token",
        scopes="",
        status=ConnectionStatus.NEEDS_RECONNECT,
        status_reason=ConnectionReason.REFRESH_REFUSED,
    )
    Consent.objects.create(
        user=world["member"],
        gpt=world["gpt"],
        action=action,
        workspace=world["acme"],
        operation_id="getWeather",
    )
    script.tool("getWeather", {"location": "Paris"}, "r1").text("Sunny again.")
    client = client_for(world["member"])
    cid = start(client, world["gpt"])
    stopped = say(client, cid, "weather?").json()
    assert stopped["status"] == "oauth_required", stopped
    pending = stopped["pending"]
    assert (pending["tool_call_id"], pending["operation_id"], pending["domain"]) == (
        "r1",
        "getWeather",
        "127.0.0.1",
    )
    assert "reconnect" in pending["detail"]
    assert pending["authorize_url"].startswith(
        f"http://platform.test/actions/{action.pk}/oauth/start?next="
    )
    assert f"%3Fc%3D{cid}%26resume%3D1" in pending["authorize_url"]
    assert api.log == []  # neither the API nor the provider's token endpoint was called
    assert "revoked-access-token" not in json.dumps(stopped)
    whole = client.get(f"/api/v1/conversations/{cid}/").json()
    assert whole["state"] == "oauth_required" and whole["pending"] == pending  # the page's card
    invocation = Invocation.objects.get()
    assert (invocation.error_code, invocation.channel) == ("oauth_required", "chat")

    # Reconnected (the OAuth flow replaces the tokens and makes the connection active again).
    account.access_token = "fresh-access-token"
    account.status, account.status_reason = ConnectionStatus.ACTIVE, ""
    account.save()
    weather_reply(api)
    body = client.post(f"/api/v1/conversations/{cid}/resume", {}, format="json").json()
    assert body["status"] == "done", body
    request, _ = api.log[0]
    assert request.headers["Authorization"] == "Bearer fresh-access-token"
