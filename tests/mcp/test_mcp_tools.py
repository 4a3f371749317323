"""tools/list and tools/call through the official MCP client over real HTTP.

The tools are the tool export (`GET /api/v1/gpts/{id}/tools/`) of the GPT's callable actions,
with annotations; calls run through the runtime as the token's user and are recorded as the MCP
channel; approvals are asked with elicitation when the client can, and by URL when it can not.
What the upstream API received (`api.log`) proves what was, and was not, sent.
"""

import asyncio
import json

import mcp_types as types
from rest_framework.test import APIClient

from actions.models import Consent, Invocation, InvocationStatus, PendingApproval
from tests.mcp.support import issue_token, mcp_session


def received(api):
    return [request for request, _response in api.log]


def tools_of(url, token):
    async def go():
        async with mcp_session(url, token) as session:
            return (await session.list_tools()).tools

    return asyncio.run(go())


def call(url, token, name, arguments, *, answer=None, **options):
    """One tools/call; `answer` is what the person says to an elicitation (None: the client
    declares no elicitation capability)."""
    asked = []

    async def elicit(context, params):
        asked.append(params)
        if answer == "cancel":
            return types.ElicitResult(action="cancel")
        if answer == "reject":
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content={"decision": answer})

    if answer is not None:
        options["elicitation_callback"] = elicit

    async def go():
        async with mcp_session(url, token, **options) as session:
            return await session.call_tool(name, arguments)

    return asyncio.run(go()), asked


def test_tools_are_the_tool_export_with_annotations(world):
    token = issue_token(world["member"])
    tools = {tool.name: tool for tool in tools_of(world["url"], token)}

    client = APIClient()
    client.force_authenticate(world["member"])
    exported = client.get(f"/api/v1/gpts/{world['gpt'].pk}/tools/").json()
    exported = exported.get("tools", exported) if isinstance(exported, dict) else exported
    assert set(tools) == {"getWeather", "createNote"}
    for item in exported:
        function = item["function"]
        tool = tools[function["name"]]
        assert tool.description == function["description"]
        assert tool.input_schema == function["parameters"]
    weather, note = tools["getWeather"].annotations, tools["createNote"].annotations
    assert weather.read_only_hint is True and weather.destructive_hint is False
    assert weather.idempotent_hint is True
    assert note.read_only_hint is False and note.destructive_hint is True
    assert note.idempotent_hint is False


def test_call_with_elicitation_allowed_runs_once_as_the_user(world):
    api = world["api"]
    api.expect_request("/weather").respond_with_json({"temperature_c": 21.5})
    token = issue_token(world["member"])

    result, asked = call(world["url"], token, "getWeather", {"location": "Paris"}, answer="allow")

    assert result.is_error is False
    body = json.loads(result.content[0].text)
    assert body["status"] == 200 and json.loads(body["body"]) == {"temperature_c": 21.5}
    assert len(asked) == 1
    message = asked[0].message
    assert "127.0.0.1" in message and "GET http://127.0.0.1" in message and "Paris" in message
    choices = [c["const"] for c in asked[0].requested_schema["properties"]["decision"]["oneOf"]]
    assert choices == ["allow", "always_allow", "decline"]
    [sent] = received(api)
    assert sent.args["location"] == "Paris"
    [invocation] = Invocation.objects.all()
    assert invocation.channel == "mcp" and invocation.status == InvocationStatus.OK
    assert invocation.user == world["member"]
    assert not Consent.objects.exists()  # "allow" is for this call only


def test_always_allow_is_remembered_and_not_asked_again(world):
    api = world["api"]
    api.expect_request("/weather").respond_with_json({"ok": True})
    token = issue_token(world["member"])
    call(world["url"], token, "getWeather", {"location": "Oslo"}, answer="always_allow")
    assert Consent.objects.filter(user=world["member"], operation_id="getWeather").exists()

    result, asked = call(world["url"], token, "getWeather", {"location": "Rome"}, answer="allow")
    assert result.is_error is False and asked == []
    assert len(received(api)) == 2


def test_consequential_call_offers_no_always_allow(world):
    api = world["api"]
    api.expect_request("/notes", method="POST").respond_with_json({"id": 1}, status=201)
    token = issue_token(world["member"])
    result, asked = call(
        world["url"], token, "createNote", {"requestBody": {"title": "hi"}}, answer="allow"
    )
    assert result.is_error is False
    choices = [c["const"] for c in asked[0].requested_schema["properties"]["decision"]["oneOf"]]
    assert choices == ["allow", "decline"]
    assert '"title": "hi"' in asked[0].message or '"title":"hi"' in asked[0].message


def test_elicitation_declined_sends_nothing(world):
    api = world["api"]
    token = issue_token(world["member"])
    for answer in ("decline", "reject", "cancel"):
        result, asked = call(world["url"], token, "getWeather", {"location": "X"}, answer=answer)
        assert result.is_error is True
        assert "declined" in result.content[0].text
        assert len(asked) == 1
    assert received(api) == []
    assert Invocation.objects.filter(status=InvocationStatus.DECLINED, channel="mcp").count() == 3


def test_without_elicitation_the_approval_url_approves_that_call_once(world, client):
    api = world["api"]
    api.expect_request("/weather").respond_with_json({"temperature_c": 3})
    member = world["member"]
    token = issue_token(member)

    result, _ = call(world["url"], token, "getWeather", {"location": "Paris"})
    assert result.is_error is True
    text = result.content[0].text
    assert "consent_required" in text and "Nothing was sent" in text
    url = next(word for word in text.split() if "/me/approvals/" in word)
    assert url.startswith(world["site"])
    assert received(api) == []
    path = url[len(world["site"]) :]

    # Someone else's link is a 404; the owner of the call sees what will be sent.
    client.force_login(world["owner"])
    assert client.get(path).status_code == 404
    client.force_login(member)
    page = client.get(path)
    assert page.status_code == 200
    assert b"127.0.0.1" in page.content and b"location=Paris" in page.content

    # Other arguments are another call: still not approved.
    other, _ = call(world["url"], token, "getWeather", {"location": "Rome"})
    assert "consent_required" in other.content[0].text

    assert client.post(path, {"decision": "allow"}).status_code == 200
    assert client.post(path, {"decision": "allow"}).status_code == 409  # decided once

    done, _ = call(world["url"], token, "getWeather", {"location": "Paris"})
    assert done.is_error is False
    assert len(received(api)) == 1
    again, _ = call(world["url"], token, "getWeather", {"location": "Paris"})
    assert "consent_required" in again.content[0].text  # single use
    assert len(received(api)) == 1
    assert PendingApproval.objects.filter(used_at__isnull=False).count() == 1


def test_approval_page_refuses_always_allow_for_consequential_and_expired(world, client):
    token = issue_token(world["member"])
    result, _ = call(world["url"], token, "createNote", {"requestBody": {"title": "x"}})
    url = next(word for word in result.content[0].text.split() if "/me/approvals/" in word)
    path = url[len(world["site"]) :]
    client.force_login(world["member"])
    assert client.post(path, {"decision": "always_allow"}).status_code == 400
    assert client.post(path, {"decision": "<script>"}).status_code == 400
    PendingApproval.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert client.post(path, {"decision": "allow"}).status_code == 410
    assert client.get("/me/approvals/not-a-real-token-at-all-000").status_code == 404


def test_runtime_refusals_are_tool_errors(world):
    token = issue_token(world["member"])
    result, _ = call(world["url"], token, "getWeather", {"nope": 1}, answer="allow")
    assert result.is_error is True and "invalid_arguments" in result.content[0].text
    result, _ = call(world["url"], token, "noSuchTool", {}, answer="allow")
    assert result.is_error is True and "unknown_tool" in result.content[0].text
    assert received(world["api"]) == []


def test_policy_change_applies_at_once(world):
    from workspaces.services import domain_policy_update

    token = issue_token(world["member"])
    assert len(tools_of(world["url"], token)) == 2
    domain_policy_update(
        workspace=world["acme"], actor=world["owner"], allow_all=False, allowed=["example.com"]
    )
    assert tools_of(world["url"], token) == []
    result, asked = call(world["url"], token, "getWeather", {"location": "P"}, answer="allow")
    assert result.is_error is True and "domain_not_allowed" in result.content[0].text
    assert asked == [] and received(world["api"]) == []


def test_a_missing_oauth_connection_answers_the_connect_url(world):
    from actions.services import action_create
    from tests.factories import make_gpt
    from tests.mcp.support import schema_for

    port = world["api"].port
    gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    action = action_create(
        gpt=gpt,
        acting_user=world["builder"],
        schema=schema_for(port),
        auth={
            "type": "oauth",
            "client_id": "client-1",
            "client_secret": "client-secret-1",
            "authorization_url": f"http://127.0.0.1:{port}/authorize",
            "token_url": f"http://127.0.0.1:{port}/token",
            "scope": "read",
        },
    )
    token = issue_token(world["member"])
    url = f"{world['site']}/mcp/gpts/{gpt.pk}"
    result, asked = call(url, token, "getWeather", {"location": "Paris"}, answer="allow")
    assert result.is_error is True
    text = result.content[0].text
    assert "oauth_required" in text
    assert f"{world['site']}/actions/{action.pk}/oauth/start" in text
    assert len(asked) == 1  # approved first; then the connection is what is missing
    assert received(world["api"]) == []


def test_hostile_requests_are_4xx_never_500(world):
    import httpx2

    token = issue_token(world["member"])
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }

    async def go():
        statuses = []
        async with httpx2.AsyncClient(timeout=30) as http:
            for body in (b"{not json", b"\x00\xff", b"[]", b'{"jsonrpc":"2.0"}'):
                response = await http.post(world["url"], content=body, headers=headers)
                statuses.append(response.status_code)
            big = (
                b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"x":"'
                + (b"a" * (5 * 1024 * 1024))
                + b'"}}'
            )
            response = await http.post(world["url"], content=big, headers=headers)
            statuses.append(response.status_code)
            no_accept = {**headers, "Accept": "text/html"}
            response = await http.post(world["url"], content=b"{}", headers=no_accept)
            statuses.append(response.status_code)
            response = await http.post(
                world["url"], content=b"{}", headers={**headers, "Host": "evil.example"}
            )
            statuses.append(response.status_code)
        return statuses

    statuses = asyncio.run(go())
    assert all(400 <= status < 500 for status in statuses), statuses
    assert statuses[-1] == 400  # a Host outside ALLOWED_HOSTS


def test_arguments_of_the_wrong_shape_are_tool_errors(world):
    """Refused before anything is built or asked: no question, nothing sent, no crash."""
    token = issue_token(world["member"])
    for arguments in ({"location": 5}, {"location": ["a"]}, {"location": "x" * 100_000}):
        result, asked = call(world["url"], token, "getWeather", arguments, answer="allow")
        assert result.is_error is True
        assert result.content[0].text.startswith("invalid_arguments: "), arguments
        assert asked == []
    assert received(world["api"]) == []
    assert Invocation.objects.filter(channel="mcp", status="error").count() == 3


def test_an_always_allow_the_question_did_not_offer_is_refused_by_the_runtime(world):
    """A host answering outside the offered choices gets the runtime's refusal in its words
    (actions.governance decides what is offered), nothing sent, nothing remembered."""
    token = issue_token(world["member"])
    result, asked = call(
        world["url"], token, "createNote", {"requestBody": {"title": "x"}}, answer="always_allow"
    )
    assert len(asked) == 1
    assert result.is_error is True
    assert result.content[0].text.startswith(
        "always_allow_not_offered: createNote is consequential"
    )
    result, _ = call(world["url"], token, "createNote", {"requestBody": {"title": "x"}}, answer="?")
    assert result.is_error is True and "declined" in result.content[0].text
    assert received(world["api"]) == [] and not Consent.objects.exists()
