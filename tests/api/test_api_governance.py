"""Workspace governance (DESIGN.md §7) per rule and per channel.

Channels: the run API (which the editor's Preview posts to with the session), the tools export
(GET /api/v1/gpts/{id}/tools/), and the two shared functions every other channel calls: the
runtime (`actions.runtime.run.operation_run`, chat and MCP run through it) and the tool export
(`actions.selectors.callable_actions` + `actions.runtime.tools.gpt_tools`, chat and MCP list
through them), the chat itself (a conversation through the chat API, on the GPT's chat page
and in the editor's Preview, with the model played by the protocol-faithful fake provider of
tests/chat/provider.py), and MCP (`tools/list` and `tools/call` with the official client over
HTTP, against config.asgi under uvicorn: tests/conftest.py `asgi_site`). `RUN_CHANNELS` and
`TOOL_CHANNELS` below name how each channel runs an operation and lists tools, so a new channel
adds one entry and inherits every rule's test.

Actions point at a real HTTP server on 127.0.0.1; what it received proves what was sent. What
the fake provider received (the `tools` of its request, the tool message) proves what the model
was offered and told.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from functools import partial
from itertools import product
from urllib.parse import urlsplit

import mcp_types
import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from actions.governance import (
    always_allow_offered,
    exportable_filter,
    exportable_operations,
    operation_refusal,
)
from actions.models import Consent, Invocation, Operation, OperationReview
from actions.runtime.run import operation_run
from actions.runtime.tools import gpt_tools
from actions.selectors import action_get_for_member, callable_actions
from actions.services import action_create, action_update, operation_set_state
from kernel.errors import RuleViolation
from tests.chat.provider import FakeProvider
from tests.factories import PASSWORD, add_member, make_gpt, make_user, make_workspace
from tests.mcp.support import issue_token, mcp_session
from workspaces.models import AuditEvent, AuditKind, Invitation, Membership, Plan, Role
from workspaces.services import domain_policy_update, workspace_settings_update

pytestmark = pytest.mark.django_db


def schema_for(port: int, *, weather_path: str = "/weather") -> str:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Governed API", "version": "1.0.0"},
        "servers": [{"url": f"http://127.0.0.1:{port}"}],
        "paths": {
            weather_path: {
                "get": {
                    "operationId": "getWeather",
                    "summary": "Current weather",
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
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "responses": {"201": {"description": "Created"}},
                }
            },
        },
    }
    return json.dumps(document, indent=2)


@pytest.fixture(scope="module")
def server():
    httpd = HTTPServer(host="127.0.0.1", port=0)
    httpd.start()
    yield httpd
    httpd.clear()
    if httpd.is_running():
        httpd.stop()


@pytest.fixture(scope="module")
def provider():
    """The model the chat channels talk to (an OpenAI-compatible server on 127.0.0.1)."""
    fake = FakeProvider()
    yield fake
    fake.close()


@pytest.fixture
def gov(db, settings, server, provider, request):
    server.clear()
    server.expect_request(re.compile(".*")).respond_with_json({"ok": True})
    settings.LLM_BASE_URL = provider.base_url
    settings.LLM_API_KEY = "sk-governance-test-key"
    settings.LLM_TIMEOUT = 5
    settings.LLM_MAX_RETRIES = 0
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{server.port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    settings.SITE_URL = "http://platform.test"
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("channel") == "mcp":
        # The site served for real (SITE_URL becomes its address: the MCP resource identifier).
        request.getfixturevalue("asgi_site")
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE, mcp_enabled=True)
    globex = make_workspace("Globex", plan=Plan.ENTERPRISE)
    people = {
        role: add_member(acme, role=role, username=f"acme_{role}")
        for role in ("owner", "admin", "builder", "member")
    }
    stranger = add_member(globex, role=Role.OWNER, username="globex_owner")
    domain_policy_update(
        workspace=acme, actor=people["owner"], allow_all=False, allowed=["127.0.0.1"]
    )
    gpt = make_gpt(acme, created_by=people["builder"], visibility="workspace")
    action = action_create(gpt=gpt, acting_user=people["builder"], schema=schema_for(server.port))
    yield {
        "acme": acme,
        "globex": globex,
        "stranger": stranger,
        "gpt": gpt,
        "action": action,
        "server": server,
        "provider": provider,
        **people,
    }
    server.clear()


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def op(action, operation_id) -> Operation:
    return Operation.objects.get(action=action, operation_id=operation_id)


def set_op(gov, operation_id, **state):
    return operation_set_state(
        operation=op(gov["action"], operation_id), actor=gov["admin"], **state
    )


def settings_of(gov, **changes):
    workspace_settings_update(workspace=gov["acme"], actor=gov["owner"], **changes)
    gov["acme"].refresh_from_db()


# Channels -------------------------------------------------------------------------------------
# Each: run(gov, user, operation_id, consent) -> (status, body) and tools(gov, user) -> names.


def _api_run(gov, user, operation_id, consent):
    body = {
        "arguments": {"location": "Paris"} if operation_id == "getWeather" else {"requestBody": {}},
        "consent": consent,
    }
    response = api(user).post(
        f"/api/v1/actions/{gov['action'].pk}/operations/{operation_id}/run", body, format="json"
    )
    return response.status_code, response.json()


def _preview_run(gov, user, operation_id, consent):
    """The editor's Preview: its script posts the same body with the session and CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(f"/editor/actions/{gov['action'].pk}/operations/{operation_id}/test")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    if token is None:
        client.get("/editor/")
        token = client.cookies["csrftoken"].value
    body = {
        "arguments": {"location": "Paris"} if operation_id == "getWeather" else {"requestBody": {}},
        "consent": consent,
    }
    response = client.post(
        f"/api/v1/actions/{gov['action'].pk}/operations/{operation_id}/run",
        json.dumps(body),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    return response.status_code, response.json()


def _runtime_run(gov, user, operation_id, consent):
    """What chat and MCP call: the runtime, with the action as the tool export gave it."""
    [action] = callable_actions(gpt=gov["gpt"]) or [
        action_get_for_member(action_id=gov["action"].pk, user=user)
    ]
    try:
        arguments = {"location": "Paris"} if operation_id == "getWeather" else {"requestBody": {}}
        return 200, operation_run(
            action=action,
            operation_id=operation_id,
            arguments=arguments,
            consent=consent,
            user=user,
        )
    except RuleViolation as exc:
        return exc.status, exc.as_dict()


def _api_tools(gov, user):
    response = api(user).get(f"/api/v1/gpts/{gov['gpt'].pk}/tools/")
    assert response.status_code == 200
    return [tool["function"]["name"] for tool in response.json()]


def _shared_tools(gov, user):
    """What chat and MCP list: the shared export."""
    return [
        tool["function"]["name"] for tool in gpt_tools(actions=callable_actions(gpt=gov["gpt"]))
    ]


def _shared_operations(gov, user):
    """What an MCP server iterating the callable actions' operations would offer."""
    return [o.operation_id for a in callable_actions(gpt=gov["gpt"]) for o in a.operations.all()]


def _arguments(operation_id):
    return {"location": "Paris"} if operation_id == "getWeather" else {"requestBody": {}}


def _chat_turn(gov, user, channel, script):
    """Start a conversation on `channel` and say one thing; the turn's answer."""
    client = api(user)
    started = client.post(
        f"/api/v1/gpts/{gov['gpt'].pk}/conversations/", {"channel": channel}, format="json"
    )
    assert started.status_code == 201, started.json()
    cid = started.json()["id"]
    said = client.post(
        f"/api/v1/conversations/{cid}/messages/", {"content": "Go ahead."}, format="json"
    )
    assert said.status_code == 200, said.json()
    return client, cid, said.json()


def _chat_run(gov, user, operation_id, consent, *, channel="chat"):
    """A chat turn in which the model calls the operation; the person answers the approval with
    `consent` when asked (None: the turn's question is the outcome). The outcome as the run
    endpoint would say it: the question (409, from `pending`), the account to connect (401),
    the refusal the model was told (the call's error: code, detail, status), or the result."""
    script = gov["provider"].reset()
    call_id = f"call_{uuid.uuid4().hex[:12]}"
    script.tool(operation_id, _arguments(operation_id), call_id=call_id).text("Done.")
    sent_before = len(gov["server"].log)
    client, cid, turn = _chat_turn(gov, user, channel, script)
    if turn["status"] == "consent_required" and consent is not None:
        answered = client.post(
            f"/api/v1/conversations/{cid}/consent",
            {"tool_call_id": call_id, "consent": consent},
            format="json",
        )
        if answered.status_code != 200:
            return answered.status_code, answered.json()
        turn = answered.json()
    pending = turn["pending"]
    if turn["status"] == "consent_required":
        assert pending["tool_call_id"] == call_id
        assert len(gov["server"].log) == sent_before  # a question sends nothing
        return 409, {
            "code": "consent_required",
            "detail": pending["detail"],
            "choices": pending["choices"],
            "always_allow_offered": "always_allow" in pending["choices"],
        }
    if turn["status"] == "oauth_required":
        return 401, {"code": "oauth_required", **pending}
    assert turn["status"] == "done", turn
    [call] = [c for m in turn["messages"] for c in m["tool_calls"] if c["id"] == call_id]
    # What the model was told about the call: the tool message of the provider's last request.
    [told] = [
        m["content"]
        for m in script.requests[-1]["messages"]
        if m["role"] == "tool" and m["tool_call_id"] == call_id
    ]
    if call["response"] is None:  # not run: the loop found no such tool
        return 404, {"code": "operation_not_found", "detail": told}
    error = call["response"].get("error")
    if error is not None:
        assert told == f"Error {error['code']}: {error['detail']} (the call did not succeed)."
        return error["status"], {"code": error["code"], "detail": error["detail"]}
    assert json.loads(told)["status"] == call["response"]["status"]
    return 200, {"status": call["status"], "request": call["request"], "response": call["response"]}


def _chat_tools(gov, user, *, channel="chat"):
    """The tool names the model was offered: the `tools` of the provider's request."""
    script = gov["provider"].reset()
    script.text("Hello.")
    _, _, turn = _chat_turn(gov, user, channel, script)
    assert turn["status"] == "done", turn
    [request] = script.requests
    return [tool["function"]["name"] for tool in request.get("tools", [])]


def _mcp_url(gov) -> str:
    return f"{django_settings.SITE_URL}/mcp/gpts/{gov['gpt'].pk}"


# What the run endpoint answers each refusal with. A tool result carries no HTTP status, only
# the refusal's words ("code: detail"); the codes are what the rule tests compare.
MCP_STATUSES = {
    "operation_disabled": 403,
    "operation_pending_review": 403,
    "read_only_workspace": 403,
    "domain_not_allowed": 403,
    "always_allow_not_offered": 400,
    "invalid_consent": 400,
    "invalid_arguments": 400,
    "oauth_required": 401,
    "consent_required": 409,
    "unknown_tool": 404,
}
APPROVAL_BUTTON = re.compile(r'<button type="submit" name="decision" value="([a-z_]+)"')


def _mcp_run(gov, user, operation_id, consent):
    """A `tools/call` by an MCP host with an `mcp` token of `user`. With `consent` the host
    declares elicitation and the person answers the question with it; without, the host can not
    ask, and the question is the approval URL the result names (its page's choices are the
    question's). The outcome as the run endpoint would say it: the refusal's code and detail
    from the error result's text, the question (409), or the result (200)."""
    token = issue_token(user)
    asked = []

    async def elicit(context, params):
        asked.append(params)
        return mcp_types.ElicitResult(action="accept", content={"decision": consent})

    options = {"elicitation_callback": elicit} if consent is not None else {}

    async def go():
        async with mcp_session(_mcp_url(gov), token, **options) as session:
            return await session.call_tool(operation_id, _arguments(operation_id))

    result = asyncio.run(go())
    for question in asked:
        # The elicitation offers what the workspace's rule offers: no Always allow where it
        # says so (consequential, or the workspace always asks).
        offered = [c["const"] for c in question.requested_schema["properties"]["decision"]["oneOf"]]
        operation = op(gov["action"], operation_id)
        gov["acme"].refresh_from_db()
        expected = always_allow_offered(operation, gov["acme"])
        assert offered == (
            ["allow", "always_allow", "decline"] if expected else ["allow", "decline"]
        )
    [content] = result.content
    text = content.text
    if not result.is_error:
        shown = json.loads(text)
        return 200, {"status": "ok", "response": shown}
    code, _, detail = text.partition(": ")
    if code == "declined":
        return 200, {"status": "declined", "detail": detail}
    if code == "consent_required" and consent is None:
        url = next(word for word in text.split() if "/me/approvals/" in word)
        client = Client()
        client.force_login(user)
        page = client.get(urlsplit(url).path)
        assert page.status_code == 200
        choices = APPROVAL_BUTTON.findall(page.content.decode())
        return 409, {
            "code": code,
            "detail": detail,
            "choices": choices,
            "always_allow_offered": "always_allow" in choices,
            "approval_url": url,
        }
    assert code in MCP_STATUSES, text
    return MCP_STATUSES[code], {"code": code, "detail": detail}


def _mcp_tools(gov, user):
    """The names `tools/list` returns to an MCP host with an `mcp` token of `user`."""
    token = issue_token(user)

    async def go():
        async with mcp_session(_mcp_url(gov), token) as session:
            return (await session.list_tools()).tools

    return [tool.name for tool in asyncio.run(go())]


RUN_CHANNELS = {
    "api": _api_run,
    "preview": _preview_run,
    "runtime": _runtime_run,
    "chat": _chat_run,
    "chat-preview": partial(_chat_run, channel="preview"),
    "mcp": _mcp_run,
}
TOOL_CHANNELS = {
    "api": _api_tools,
    "shared": _shared_tools,
    "operations": _shared_operations,
    "chat": _chat_tools,
    "chat-preview": partial(_chat_tools, channel="preview"),
    "mcp": _mcp_tools,
}
# Channels served by another thread (the ASGI site) see only committed rows.
COMMITTING_CHANNELS = {"mcp"}


def channels(table) -> list:
    """The parameters of a per-channel test: each channel of `table`, those served by another
    thread with a committing database (transactional_db)."""
    return [
        pytest.param(
            name,
            marks=[pytest.mark.django_db(transaction=True)] if name in COMMITTING_CHANNELS else [],
        )
        for name in sorted(table)
    ]


# Disabled, pending, read-only: per rule, per channel ---------------------------------------------


@pytest.mark.parametrize("channel", channels(RUN_CHANNELS))
@pytest.mark.parametrize(
    ("state", "code"),
    [
        ({"enabled": False}, "operation_disabled"),
        ({"review": "pending"}, "operation_pending_review"),
    ],
)
def test_a_disabled_or_pending_operation_does_not_run_in_any_channel(gov, channel, state, code):
    set_op(gov, "getWeather", **state)
    status, body = RUN_CHANNELS[channel](gov, gov["member"], "getWeather", "allow")
    assert (status, body["code"]) == (403, code)
    assert body["detail"]
    assert not gov["server"].log  # nothing was sent
    assert Invocation.objects.filter(error_code=code, status="refused").count() == 1
    # The other operation still runs: the rule is per operation.
    status, body = RUN_CHANNELS[channel](gov, gov["member"], "createNote", "allow")
    assert status == 200, body


def test_an_operation_turned_off_while_its_call_waits_for_approval_is_refused_in_chat(gov):
    """The model was offered getWeather and called it; an admin turns it off before the person
    answers. The approval runs nothing: the runtime refuses the call and the model is told why."""
    script = gov["provider"].reset()
    script.tool("getWeather", _arguments("getWeather"), call_id="late").text("Understood.")
    client, cid, turn = _chat_turn(gov, gov["member"], "chat", script)
    assert turn["status"] == "consent_required"
    set_op(gov, "getWeather", enabled=False)
    response = client.post(
        f"/api/v1/conversations/{cid}/consent",
        {"tool_call_id": "late", "consent": "allow"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "done"
    assert not gov["server"].log
    [told] = [m for m in script.requests[-1]["messages"] if m["role"] == "tool"]
    assert told["content"].startswith("Error operation_disabled: getWeather is turned off")
    assert "getWeather" not in json.dumps(script.requests[-1].get("tools", []))
    invocation = Invocation.objects.get()
    assert (invocation.status, invocation.error_code, invocation.channel) == (
        "refused",
        "operation_disabled",
        "chat",
    )


def test_a_name_no_action_has_is_still_an_unknown_tool_in_chat(gov):
    script = gov["provider"].reset()
    script.tool("deleteEverything", {}, call_id="nope").text("Sorry.")
    _, _, turn = _chat_turn(gov, gov["member"], "chat", script)
    assert turn["status"] == "done"
    [told] = [m for m in script.requests[-1]["messages"] if m["role"] == "tool"]
    assert "no tool named 'deleteEverything'" in told["content"]
    assert not Invocation.objects.exists() and not gov["server"].log


@pytest.mark.parametrize("channel", channels(TOOL_CHANNELS))
def test_disabled_and_pending_operations_are_not_exported(gov, channel):
    tools = TOOL_CHANNELS[channel]
    assert tools(gov, gov["member"]) == ["getWeather", "createNote"]
    set_op(gov, "getWeather", enabled=False)
    assert tools(gov, gov["member"]) == ["createNote"]
    set_op(gov, "createNote", review="pending")
    assert tools(gov, gov["member"]) == []
    set_op(gov, "getWeather", enabled=True)
    set_op(gov, "createNote", review="approved")
    assert tools(gov, gov["member"]) == ["getWeather", "createNote"]


@pytest.mark.parametrize("channel", channels(RUN_CHANNELS))
def test_read_only_workspace_runs_only_operations_that_change_nothing(gov, channel):
    settings_of(gov, action_access="read_only")
    status, body = RUN_CHANNELS[channel](gov, gov["member"], "createNote", "allow")
    assert (status, body["code"]) == (403, "read_only_workspace")
    assert not gov["server"].log
    status, body = RUN_CHANNELS[channel](gov, gov["member"], "getWeather", "allow")
    assert status == 200, body
    settings_of(gov, action_access="all")
    status, body = RUN_CHANNELS[channel](gov, gov["member"], "createNote", "allow")
    assert status == 200, body


@pytest.mark.parametrize("channel", channels(TOOL_CHANNELS))
def test_read_only_workspace_exports_only_operations_that_change_nothing(gov, channel):
    settings_of(gov, action_access="read_only")
    assert TOOL_CHANNELS[channel](gov, gov["member"]) == ["getWeather"]


def test_the_filter_and_the_rule_agree_on_every_combination(gov):
    """callable_actions prefetches with `exportable_filter`; runs ask `operation_refusal`."""
    operation = op(gov["action"], "getWeather")
    for enabled, review, consequential, access in product(
        (True, False), OperationReview.values, (True, False), ("all", "read_only")
    ):
        Operation.objects.filter(pk=operation.pk).update(
            enabled=enabled, review=review, consequential=consequential
        )
        gov["acme"].action_access = access
        gov["acme"].save(update_fields=["action_access"])
        row = Operation.objects.get(pk=operation.pk)
        by_rule = operation_refusal(row, gov["acme"]) is None
        by_filter = Operation.objects.filter(exportable_filter(gov["acme"]), pk=row.pk).exists()
        assert by_rule == by_filter == bool(exportable_operations([row], workspace=gov["acme"]))


# Approvals: always ask ---------------------------------------------------------------------------


@pytest.mark.parametrize("channel", channels(RUN_CHANNELS))
def test_always_ask_offers_no_always_allow_and_ignores_remembered_ones(gov, channel):
    run = RUN_CHANNELS[channel]
    status, body = run(gov, gov["member"], "getWeather", "always_allow")
    assert status == 200, body
    assert Consent.objects.filter(user=gov["member"]).count() == 1
    status, body = run(gov, gov["member"], "getWeather", None)
    assert status == 200  # remembered
    settings_of(gov, approvals="always_ask")
    status, body = run(gov, gov["member"], "getWeather", None)
    assert (status, body["code"]) == (409, "consent_required")
    assert body["choices"] == ["allow", "decline"]
    assert body["always_allow_offered"] is False
    status, body = run(gov, gov["member"], "getWeather", "always_allow")
    assert (status, body["code"]) == (400, "always_allow_not_offered")
    status, body = run(gov, gov["member"], "getWeather", "allow")
    assert status == 200
    # The user's choice is kept and counts again once the workspace stops always asking.
    settings_of(gov, approvals="ask_before_changes")
    status, body = run(gov, gov["member"], "getWeather", None)
    assert status == 200


# Workspace settings -----------------------------------------------------------------------------


def test_workspace_shows_the_settings_and_only_owners_change_them(gov):
    url = f"/api/v1/workspaces/{gov['acme'].slug}/"
    shown = api(gov["member"]).get(url).json()
    assert (shown["action_access"], shown["review_new_operations"], shown["approvals"]) == (
        "all",
        False,
        "ask_before_changes",
    )
    change = {
        "action_access": "read_only",
        "review_new_operations": True,
        "approvals": "always_ask",
    }
    for who in ("admin", "builder", "member"):
        response = api(gov[who]).patch(url, change, format="json")
        assert response.status_code == 403, who
        assert response.json()["code"] == "permission_denied"
    gov["acme"].refresh_from_db()
    assert gov["acme"].action_access == "all"
    response = api(gov["owner"]).patch(url, change, format="json")
    assert response.status_code == 200, response.json()
    assert {k: response.json()[k] for k in change} == change
    rows = AuditEvent.objects.filter(workspace=gov["acme"], kind=AuditKind.SETTINGS_CHANGED)
    assert sorted(json.dumps([r.before, r.after]) for r in rows) == sorted(
        json.dumps(pair)
        for pair in [
            ({"action_access": "all"}, {"action_access": "read_only"}),
            ({"review_new_operations": False}, {"review_new_operations": True}),
            ({"approvals": "ask_before_changes"}, {"approvals": "always_ask"}),
        ]
    )
    assert {r.actor_id for r in rows} == {gov["owner"].pk}
    # Saving the same values again changes and audits nothing.
    api(gov["owner"]).patch(url, change, format="json")
    assert rows.count() == 3


@pytest.mark.parametrize(
    "body",
    [
        {"action_access": "none"},
        {"approvals": True},
        {"review_new_operations": "yes"},
        {"review_new_operations": 1},
        {"action_access": ["all"]},
    ],
)
def test_bad_settings_are_a_clear_400(gov, body):
    response = api(gov["owner"]).patch(
        f"/api/v1/workspaces/{gov['acme'].slug}/", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


# Operations: state in the action, PATCH, schema saves --------------------------------------------


def test_operations_show_enabled_and_review_and_admins_change_them(gov):
    action = gov["action"]
    shown = api(gov["builder"]).get(f"/api/v1/actions/{action.pk}/").json()["operations"]
    assert [(o["operation_id"], o["enabled"], o["review"]) for o in shown] == [
        ("getWeather", True, "approved"),
        ("createNote", True, "approved"),
    ]
    url = f"/api/v1/actions/{action.pk}/operations/getWeather"
    for who in ("builder", "member"):
        response = api(gov[who]).patch(url, {"enabled": False}, format="json")
        assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert op(action, "getWeather").enabled is True
    response = api(gov["admin"]).patch(url, {"enabled": False}, format="json")
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    response = api(gov["owner"]).patch(url, {"enabled": True, "review": "pending"}, format="json")
    assert (response.json()["enabled"], response.json()["review"]) == (True, "pending")
    rows = AuditEvent.objects.filter(kind=AuditKind.OPERATION_CHANGED).order_by("id")
    assert [(r.actor_id, r.before, r.after) for r in rows] == [
        (
            gov["admin"].pk,
            {"enabled": True, "review": "approved"},
            {"enabled": False, "review": "approved"},
        ),
        (
            gov["owner"].pk,
            {"enabled": False, "review": "approved"},
            {"enabled": True, "review": "pending"},
        ),
    ]
    assert api(gov["member"]).get(url).json()["review"] == "pending"


@pytest.mark.parametrize(
    "body", [{"enabled": "false"}, {"enabled": 0}, {"review": "maybe"}, {"review": None}, []]
)
def test_bad_operation_changes_are_a_clear_400(gov, body):
    response = api(gov["admin"]).patch(
        f"/api/v1/actions/{gov['action'].pk}/operations/getWeather", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_operation_patch_of_an_unknown_operation_or_another_workspace_is_404(gov):
    url = f"/api/v1/actions/{gov['action'].pk}/operations/"
    assert (
        api(gov["admin"]).patch(url + "nope", {"enabled": False}, format="json").status_code == 404
    )
    response = api(gov["stranger"]).patch(url + "getWeather", {"enabled": False}, format="json")
    assert response.status_code == 404
    assert op(gov["action"], "getWeather").enabled is True


def test_a_schema_save_keeps_the_state_of_unchanged_operations(gov):
    set_op(gov, "getWeather", enabled=False)
    set_op(gov, "createNote", review="pending")
    port = gov["server"].port
    action_update(action=gov["action"], acting_user=gov["builder"], schema=schema_for(port))
    assert (op(gov["action"], "getWeather").enabled, op(gov["action"], "createNote").review) == (
        False,
        "pending",
    )


def test_with_review_on_new_and_changed_operations_wait_for_approval(gov):
    port = gov["server"].port
    before = op(gov["action"], "createNote")
    settings_of(gov, review_new_operations=True)
    # getWeather's path changes; createNote stays as it was.
    action_update(
        action=gov["action"],
        acting_user=gov["builder"],
        schema=schema_for(port, weather_path="/forecast"),
    )
    changed, kept = op(gov["action"], "getWeather"), op(gov["action"], "createNote")
    assert (changed.review, changed.added_by_id) == ("pending", gov["builder"].pk)
    assert changed.added_at > before.added_at
    assert (kept.review, kept.added_at, kept.added_by_id) == (
        "approved",
        before.added_at,
        before.added_by_id,
    )
    event = AuditEvent.objects.get(kind=AuditKind.OPERATIONS_AWAIT_REVIEW)
    assert event.after == {"operations": ["getWeather"]}
    assert _api_tools(gov, gov["member"]) == ["createNote"]
    # A new action: every operation waits.
    gpt = make_gpt(gov["acme"], created_by=gov["builder"], visibility="workspace")
    fresh = action_create(gpt=gpt, acting_user=gov["builder"], schema=schema_for(port))
    assert set(fresh.operations.values_list("review", flat=True)) == {"pending"}
    # Approving makes it run.
    set_op(gov, "getWeather", review="approved")
    status, _ = _api_run(gov, gov["member"], "getWeather", "allow")
    assert status == 200


def test_without_review_a_changed_operation_stays_disabled_if_an_admin_disabled_it(gov):
    set_op(gov, "getWeather", enabled=False)
    action_update(
        action=gov["action"],
        acting_user=gov["builder"],
        schema=schema_for(gov["server"].port, weather_path="/forecast"),
    )
    changed = op(gov["action"], "getWeather")
    assert (changed.enabled, changed.review) == (False, "approved")


# Editor: the action page and the Test debugger --------------------------------------------------


def test_editor_shows_disabled_and_pending_operations_and_why(gov):
    set_op(gov, "getWeather", enabled=False)
    set_op(gov, "createNote", review="pending")
    client = Client()
    client.force_login(gov["builder"])
    page = client.get(f"/editor/actions/{gov['action'].pk}/").content.decode()
    assert "Disabled" in page and "turned off by an admin" in page
    assert "Waiting for review" in page and "waits for an admin" in page
    test_page = client.get(f"/editor/actions/{gov['action'].pk}/operations/getWeather/test")
    assert test_page.status_code == 200
    body = test_page.content.decode()
    assert "turned off by an admin of the workspace" in body
    assert 'id="run-button"' not in body or "disabled" in body


# Members ----------------------------------------------------------------------------------------


def members_url(gov, suffix=""):
    return f"/api/v1/workspaces/{gov['acme'].slug}/members/{suffix}"


def test_members_list_is_the_workspace_s(gov):
    response = api(gov["member"]).get(members_url(gov))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["username"], r["role"]) for r in rows] == [
        ("acme_admin", "admin"),
        ("acme_builder", "builder"),
        ("acme_member", "member"),
        ("acme_owner", "owner"),
    ]
    assert "globex_owner" not in json.dumps(rows)


def test_admins_add_users_by_username_or_email(gov):
    newcomer = make_user("newcomer")
    newcomer.email = "New.Comer@Example.com"
    newcomer.save()
    other = make_user("other")
    response = api(gov["admin"]).post(
        members_url(gov), {"username": "other", "role": "builder"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["user_id"] == other.pk and response.json()["role"] == "builder"
    response = api(gov["admin"]).post(
        members_url(gov), {"email": "new.comer@example.COM"}, format="json"
    )
    assert response.status_code == 201
    assert (response.json()["username"], response.json()["role"]) == ("newcomer", "member")
    assert AuditEvent.objects.filter(kind=AuditKind.MEMBER_ADDED, actor=gov["admin"]).count() == 2
    assert not mail.outbox


@pytest.mark.parametrize("who", ["builder", "member"])
def test_builders_and_members_do_not_manage_members(gov, who):
    make_user("other")
    response = api(gov[who]).post(members_url(gov), {"username": "other"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    target = gov["member"].pk
    assert (
        api(gov[who])
        .patch(members_url(gov, f"{target}/"), {"role": "admin"}, format="json")
        .status_code
        == 403
    )
    assert api(gov[who]).delete(members_url(gov, f"{target}/")).status_code == 403
    assert Membership.objects.filter(workspace=gov["acme"]).count() == 4


def test_only_owners_manage_owners_and_a_workspace_keeps_one(gov):
    owner_url = members_url(gov, f"{gov['owner'].pk}/")
    response = api(gov["admin"]).patch(
        members_url(gov, f"{gov['member'].pk}/"), {"role": "owner"}, format="json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "owner_required")
    assert api(gov["admin"]).delete(owner_url).status_code == 403
    make_user("someone")
    response = api(gov["admin"]).post(
        members_url(gov), {"username": "someone", "role": "owner"}, format="json"
    )
    assert response.status_code == 403
    response = api(gov["admin"]).post(
        members_url(gov), {"email": "x@example.org", "role": "owner"}, format="json"
    )
    assert response.status_code == 403 and not Invitation.objects.exists()
    response = api(gov["owner"]).patch(owner_url, {"role": "admin"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "last_owner")
    assert api(gov["owner"]).delete(owner_url).status_code == 409
    # Admins manage admins, builders and members.
    response = api(gov["admin"]).patch(
        members_url(gov, f"{gov['member'].pk}/"), {"role": "admin"}, format="json"
    )
    assert response.status_code == 200 and response.json()["role"] == "admin"
    assert api(gov["admin"]).delete(members_url(gov, f"{gov['builder'].pk}/")).status_code == 204
    assert AuditEvent.objects.filter(kind=AuditKind.ROLE_CHANGED).count() == 1
    assert AuditEvent.objects.filter(kind=AuditKind.MEMBER_REMOVED).count() == 1


def test_member_detail_of_a_non_member_is_404(gov):
    for user_id in (gov["stranger"].pk, 987654321):
        assert api(gov["admin"]).get(members_url(gov, f"{user_id}/")).status_code == 404
        assert api(gov["admin"]).delete(members_url(gov, f"{user_id}/")).status_code == 404
    assert Membership.objects.filter(user=gov["stranger"]).count() == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "a", "email": "a@example.com"},
        {"email": "not-an-email"},
        {"username": 5},
        {"username": "nobody-here"},
        {"email": "a@example.com", "role": "king"},
        {"email": ["a@example.com"]},
    ],
)
def test_bad_member_input_is_a_clear_400(gov, body):
    response = api(gov["admin"]).post(members_url(gov), body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["detail"]
    assert not Invitation.objects.exists()


# Invitations ------------------------------------------------------------------------------------


def invite(gov, email="Fresh.Person@Example.org", role="builder", who="admin"):
    response = api(gov[who]).post(members_url(gov), {"email": email, "role": role}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["invitation"]


def test_an_unknown_email_gets_an_invitation_stored_as_a_hash_and_emailed(
    gov, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invite(gov)
    assert set(invitation) >= {"id", "email", "role", "accept_url", "expires_at"}
    assert invitation["email"] == "Fresh.Person@example.org"
    token = invitation["accept_url"].rstrip("/").rsplit("/", 1)[-1]
    assert invitation["accept_url"] == f"http://platform.test/invitations/{token}/"
    row = Invitation.objects.get(pk=invitation["id"])
    assert token not in json.dumps([str(v) for v in row.__dict__.values()])
    assert len(row.token_hash) == 64
    assert abs((row.expires_at - row.created_at).total_seconds() - 7 * 86400) < 60
    [message] = mail.outbox
    assert message.to == ["Fresh.Person@example.org"] and invitation["accept_url"] in message.body
    event = AuditEvent.objects.get(kind=AuditKind.INVITATION_CREATED)
    assert (event.actor_id, event.target, event.after["role"]) == (
        gov["admin"].pk,
        "Fresh.Person@example.org",
        "builder",
    )
    assert token not in json.dumps([event.before, event.after, event.target])
    listed = api(gov["admin"]).get(f"/api/v1/workspaces/{gov['acme'].slug}/invitations/").json()
    assert [i["id"] for i in listed["results"]] == [invitation["id"]]
    assert "accept_url" not in listed["results"][0]
    assert (
        api(gov["member"]).get(f"/api/v1/workspaces/{gov['acme'].slug}/invitations/").status_code
        == 403
    )


def _token(invitation) -> str:
    return invitation["accept_url"].rstrip("/").rsplit("/", 1)[-1]


def test_accepting_signs_up_and_joins_once(gov):
    invitation = invite(gov)
    path = f"/invitations/{_token(invitation)}/"
    client = Client()
    page = client.get(path)
    assert page.status_code == 200 and "Acme" in page.content.decode()
    response = client.post(
        path,
        {
            "username": "fresh",
            "password1": "a-Long-pass-phrase-42",
            "password2": "a-Long-pass-phrase-42",
        },
    )
    assert response.status_code == 302
    membership = Membership.objects.get(workspace=gov["acme"], user__username="fresh")
    assert membership.role == "builder" and membership.user.email == "Fresh.Person@example.org"
    assert client.get("/").wsgi_request.user.username == "fresh"  # signed in
    assert (
        AuditEvent.objects.filter(kind=AuditKind.INVITATION_ACCEPTED, actor=membership.user).count()
        == 1
    )
    # Single use: the link is dead now, for anyone.
    again = Client()
    assert again.get(path).status_code == 404
    response = again.post(
        path,
        {
            "username": "fresh2",
            "password1": "a-Long-pass-phrase-42",
            "password2": "a-Long-pass-phrase-42",
        },
    )
    assert response.status_code == 404
    assert not Membership.objects.filter(user__username="fresh2").exists()


def test_a_bad_sign_up_creates_nothing(gov):
    path = f"/invitations/{_token(invite(gov))}/"
    response = Client().post(
        path, {"username": "fresh", "password1": "short", "password2": "different"}
    )
    assert response.status_code == 400
    assert not Membership.objects.filter(user__username="fresh").exists()
    assert Invitation.objects.get().accepted_at is None


def test_accepting_signed_in_joins_that_user(gov):
    path = f"/invitations/{_token(invite(gov, role='member'))}/"
    person = make_user("existing")
    client = Client()
    client.force_login(person)
    assert "Join Acme" in client.get(path).content.decode()
    assert client.post(path).status_code == 302
    assert Membership.objects.get(workspace=gov["acme"], user=person).role == "member"
    login = Client().get(path.replace("/invitations/", "/accounts/login/?next=/invitations/"))
    assert login.status_code == 200


def test_revoked_expired_and_unknown_links_are_not_valid(gov):
    first = invite(gov, email="a@example.org")
    second = invite(gov, email="b@example.org")
    url = f"/api/v1/workspaces/{gov['acme'].slug}/invitations/{first['id']}/"
    assert api(gov["member"]).delete(url).status_code == 403
    assert api(gov["stranger"]).delete(url).status_code == 404
    assert api(gov["admin"]).delete(url).status_code == 204
    assert api(gov["admin"]).delete(url).status_code == 409
    assert AuditEvent.objects.filter(kind=AuditKind.INVITATION_REVOKED).count() == 1
    Invitation.objects.filter(pk=second["id"]).update(expires_at="2000-01-01T00:00:00Z")
    for path in (
        f"/invitations/{_token(first)}/",
        f"/invitations/{_token(second)}/",
        "/invitations/not-a-token/",
    ):
        page = Client().get(path)
        assert page.status_code == 404 and "not valid" in page.content.decode()
    person = make_user("late")
    client = Client()
    client.force_login(person)
    assert client.post(f"/invitations/{_token(second)}/").status_code == 404
    assert not Membership.objects.filter(user=person).exists()


def test_a_new_invitation_to_the_same_address_replaces_the_pending_one(gov):
    first = invite(gov)
    second = invite(gov)
    assert Client().get(f"/invitations/{_token(first)}/").status_code == 404
    assert Client().get(f"/invitations/{_token(second)}/").status_code == 200


def test_someone_already_a_member_cannot_accept_twice(gov):
    path = f"/invitations/{_token(invite(gov))}/"
    client = Client()
    client.force_login(gov["member"])
    response = client.post(path, follow=True)
    assert "already a member" in response.content.decode()
    assert Membership.objects.get(workspace=gov["acme"], user=gov["member"]).role == "member"
    assert Invitation.objects.get().accepted_at is None


def test_password_login_then_accept(gov):
    """The e-mail's link, followed by someone who already has an account: log in, come back."""
    person = make_user("returning")
    path = f"/invitations/{_token(invite(gov))}/"
    client = Client()
    response = client.post(
        f"/accounts/login/?next={path}",
        {"username": "returning", "password": PASSWORD, "next": path},
    )
    assert response.status_code == 302 and response["Location"] == path
    assert client.post(path).status_code == 302
    assert Membership.objects.filter(workspace=gov["acme"], user=person).exists()
