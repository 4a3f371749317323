"""The 2026-07-28 revision (the newest the pinned SDK speaks): stateless per-request envelope,
approvals asked with an InputRequiredResult the client answers by retrying the call.

Driven by the SDK's high-level `Client`, which negotiates the revision (`server/discover`) and
runs the input-required loop through its elicitation callback.
"""

import asyncio
import json

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from actions.models import Invocation, InvocationStatus
from tests.mcp.support import issue_token


def run_modern(url, token, work, answer=None):
    asked = []

    async def elicit(context, params):
        asked.append(params)
        if answer == "decline":
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content={"decision": answer})

    async def go():
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            options = {"elicitation_callback": elicit} if answer else {}
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, **options) as client:
                assert client.protocol_version == "2026-07-28"
                return await work(client)

    return asyncio.run(go()), asked


def test_list_and_call_with_input_required_elicitation(world):
    api = world["api"]
    api.expect_request("/weather").respond_with_json({"temperature_c": 12})
    token = issue_token(world["member"])

    async def work(client):
        tools = (await client.list_tools()).tools
        result = await client.call_tool("getWeather", {"location": "Lyon"})
        return tools, result

    (tools, result), asked = run_modern(world["url"], token, work, answer="allow")
    assert {tool.name for tool in tools} == {"getWeather", "createNote"}
    assert result.is_error is False
    assert json.loads(result.content[0].text)["status"] == 200
    assert len(asked) == 1 and "Lyon" in asked[0].message
    assert len(api.log) == 1
    assert Invocation.objects.get().channel == "mcp"


def test_declined_input_required_sends_nothing(world):
    token = issue_token(world["member"])

    async def work(client):
        return await client.call_tool("getWeather", {"location": "Lyon"})

    result, asked = run_modern(world["url"], token, work, answer="decline")
    assert result.is_error is True and "declined" in result.content[0].text
    assert len(asked) == 1 and world["api"].log == []
    assert Invocation.objects.get().status == InvocationStatus.DECLINED


def test_without_elicitation_the_modern_client_gets_the_approval_url(world):
    token = issue_token(world["member"])

    async def work(client):
        return await client.call_tool("getWeather", {"location": "Lyon"})

    result, _ = run_modern(world["url"], token, work)
    assert result.is_error is True and "/me/approvals/" in result.content[0].text
    assert world["api"].log == []
