"""The MCP endpoints /mcp/gpts/<id>: the official `mcp` SDK's server behind the platform's auth.

Why an ASGI app beside Django (config/asgi.py routes `/mcp/` here, the rest to Django, and
`make run` serves config.asgi with uvicorn): the SDK's Streamable HTTP transport is ASGI and
keeps a task group open for the life of the process (sessions, server-to-client requests),
which a Django view can not host. One process and one port keep the MCP URL on the site's own
origin, so the RFC 8707 resource, the RFC 9728 metadata and the authorization server share
SITE_URL, and a deployment runs one kind of web process with one set of settings. A separate
`make mcp` process would have needed its own origin (or a path-routing proxy) for no gain.

What happens to a request, in order:

1. `McpEndpoint` parses the path (a GPT id, else 404), checks the Host header against
   ALLOWED_HOSTS as Django would, and authorizes the bearer token (mcp_gateway.access, in a
   thread: the ORM is never called from a coroutine). A refusal is answered here, with the
   platform's `{"code", "detail"}` and the RFC 9728 challenge on 401/403.
2. The caller is attached to the ASGI scope (`scope["actions_mcp"]`) and, as the SDK's
   `AuthenticatedUser`, to `scope["user"]`: the SDK binds a session to the credential that
   opened it (client id + user), so nobody else's token can use a session id they learnt.
3. The SDK's session manager serves the protocol. Handlers read the caller of *this* HTTP
   request (`ctx.request.scope`), not of the session's first one, so the GPT's visibility,
   mcp_enabled and the domain policy are decided afresh for every message.

Eras and elicitation. The pinned SDK speaks both the `initialize` handshake revisions (up to
2025-11-25, what MCP hosts use today) and the stateless 2026-07-28 envelope. On handshake
sessions an approval is asked with a server-to-client `elicitation/create` on the call's own
response stream; that needs the session (the client's answer comes back as a separate POST
carrying `Mcp-Session-Id`), so sessions are stateful and kept in this process's memory: behind
a load balancer they must be pinned by the `Mcp-Session-Id` header (README, Scaling out). On
2026-07-28 requests the same question is an `InputRequiredResult` the client answers by
retrying the call, which needs no session at all. A client that declared no elicitation gets
an `isError` result with a URL where the person approves exactly that call
(actions.approvals), after which the same call runs once.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import mcp_types as types
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signing
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken as SdkAccessToken
from mcp.server.lowlevel.server import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.responses import JSONResponse

from actions.approvals import arguments_hash
from actions.runtime.run import CONSENT_CHOICES
from mcp_gateway import access, calls

logger = logging.getLogger(__name__)

PATH = re.compile(r"^/mcp/gpts/(\d{1,18})/?$")
SCOPE_KEY = "actions_mcp"
APPROVAL_KEY = "approval"  # the key of our one input request on 2026-07-28
STATE_SALT = "mcp_gateway.approval"
STATE_MAX_AGE = 600  # seconds a 2026-07-28 approval question may wait for its answer
PREVIEW_BODY_CHARS = 2_000
DECISION_LABELS = {"allow": "Allow", "always_allow": "Always allow", "decline": "Decline"}


def _db_work(function, *, starts: bool = False, ends: bool = False):
    """`function` as a coroutine run in asgiref's thread for sync code (the ORM is never called
    from the event loop). The database connection is treated as Django treats it around a
    request: an obsolete (DATABASE_CONN_MAX_AGE) or broken connection is closed when an HTTP
    request starts (its authorization) and when its work ends (the handler), so one request
    uses one connection and a database restart does not leave this thread with a dead one."""

    def run(*args, **kwargs):
        if starts:
            close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            if ends:
                close_old_connections()

    return sync_to_async(run, thread_sensitive=True)


_authorize = _db_work(access.authorize, starts=True)
_tool_list = _db_work(calls.tool_list, ends=True)
_call = _db_work(calls.call, ends=True)
_approval_url = _db_work(calls.approval_url, ends=True)


def _caller(ctx) -> access.Caller:
    request = ctx.request
    caller = request.scope.get(SCOPE_KEY) if request is not None else None
    if not isinstance(caller, access.Caller):  # only reachable if mounted without McpEndpoint
        raise RuntimeError("MCP request without an authorized caller")
    return caller


async def list_tools(ctx, params) -> types.ListToolsResult:
    caller = _caller(ctx)
    tools = await _tool_list(caller)
    return types.ListToolsResult(tools=[types.Tool.model_validate(tool) for tool in tools])


def _question_text(question: dict) -> str:
    request = question.get("request") or {}
    gpt = (question.get("gpt") or {}).get("name", "This GPT")
    lines = [
        f"{gpt} wants to send a request to {question.get('domain', '')}:",
        f"{request.get('method', '')} {request.get('url', '')}",
    ]
    body = request.get("body")
    if body:
        shown = body if len(body) <= PREVIEW_BODY_CHARS else body[:PREVIEW_BODY_CHARS] + "…"
        lines += ["", shown]
    if not question.get("always_allow_offered"):
        lines += ["", "This action changes things, so it is approved each time it runs."]
    return "\n".join(lines)


def _question_schema(question: dict) -> dict[str, Any]:
    choices = list(question.get("choices") or ["allow", "decline"])
    return {
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "title": "Allow this request?",
                "oneOf": [{"const": c, "title": DECISION_LABELS[c]} for c in choices],
            }
        },
        "required": ["decision"],
    }


def _decision(result: types.ElicitResult | None) -> str:
    """The person's answer as a runtime consent; anything but an accepted answer in the
    runtime's words is a decline. Whether that answer is offered here ("Always allow" of a
    consequential operation, or in a workspace that always asks) is the runtime's to say
    (actions.governance), so it refuses one that is not in its own words."""
    if result is None or result.action != "accept":
        return "decline"
    decision = (result.content or {}).get("decision")
    return decision if isinstance(decision, str) and decision in CONSENT_CHOICES else "decline"


def _can_elicit(ctx) -> bool:
    capabilities = ctx.session.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A client declaring elicitation with neither mode supports form (the 2025-06-18 shape).
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _state(caller: access.Caller, name: str, arguments: Any) -> str:
    return signing.dumps(
        {"u": caller.user_id, "g": caller.gpt_id, "o": name, "a": arguments_hash(arguments)},
        salt=STATE_SALT,
        compress=True,
    )


def _state_matches(value: str | None, caller: access.Caller, name: str, arguments: Any) -> bool:
    if not value:
        return False
    try:
        state = signing.loads(value, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.BadSignature:
        return False
    return state == {
        "u": caller.user_id,
        "g": caller.gpt_id,
        "o": name,
        "a": arguments_hash(arguments),
    }


def _result(outcome: calls.Outcome) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=outcome.text)], is_error=outcome.is_error
    )


async def call_tool(ctx, params: types.CallToolRequestParams):
    caller = _caller(ctx)
    name, arguments = params.name, params.arguments or {}
    modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS

    consent = None
    if modern and params.input_responses and APPROVAL_KEY in params.input_responses:
        # The answer to the question below, if it is the answer to this very call.
        if _state_matches(params.request_state, caller, name, arguments):
            answer = params.input_responses[APPROVAL_KEY]
            consent = "decline"
            if isinstance(answer, types.ElicitResult) and answer.action == "accept":
                decision = (answer.content or {}).get("decision")
                consent = decision if isinstance(decision, str) and decision else "decline"

    outcome = await _call(caller, name, arguments, consent)
    if not outcome.question:
        return _result(outcome)
    question = outcome.question

    if _can_elicit(ctx) and modern:
        return types.InputRequiredResult(
            input_requests={
                APPROVAL_KEY: types.ElicitRequest(
                    params=types.ElicitRequestFormParams(
                        message=_question_text(question),
                        requested_schema=_question_schema(question),
                    )
                )
            },
            request_state=_state(caller, name, arguments),
        )
    if _can_elicit(ctx) and ctx.session.can_send_request:
        answer = await ctx.session.elicit_form(
            _question_text(question), _question_schema(question), related_request_id=ctx.request_id
        )
        outcome = await _call(caller, name, arguments, _decision(answer))
        if outcome.question:  # asked again (the policy or the schema changed meanwhile)
            refused = calls.Outcome(text="consent_required: approval not given.", is_error=True)
            return _result(refused)
        return _result(outcome)

    url = await _approval_url(caller, name, arguments, question)
    domain = question.get("domain", "")
    return _result(
        calls.Outcome(
            text=(
                f"consent_required: Nothing was sent. You have not approved this request to "
                f"{domain} yet. Open {url} to see exactly what will be sent and approve it "
                "(the link works once, for ten minutes), then call the tool again with the "
                "same arguments."
            ),
            is_error=True,
            structured={"code": "consent_required", "approval_url": url},
        )
    )


def build_server() -> Server:
    return Server(
        "actions-platform",
        version="1",
        title="GPT actions",
        instructions="The tools are this GPT's actions; a call may ask you to approve it.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


def _allowed_host(scope) -> bool:
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, allowed)


def _bearer(scope) -> str | None:
    for key, value in scope["headers"]:
        if key == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


def _refusal(refusal: access.Refusal) -> JSONResponse:
    headers = {"WWW-Authenticate": refusal.challenge} if refusal.challenge else None
    return JSONResponse(
        {"code": refusal.code, "detail": refusal.detail},
        status_code=refusal.status,
        headers=headers,
    )


class McpEndpoint:
    """The ASGI app for `/mcp/...`: authorization in front of the SDK's session manager.

    One instance per process; `lifespan()` must be entered before the first request (the SDK's
    manager runs a task group for its sessions; config/asgi.py does it on ASGI lifespan).
    """

    def __init__(self) -> None:
        self.server = build_server()
        self.manager = StreamableHTTPSessionManager(
            app=self.server,
            stateless=False,
            session_idle_timeout=settings.MCP_SESSION_IDLE_SECONDS,
            max_sessions=settings.MCP_MAX_SESSIONS,
        )

    @contextlib.asynccontextmanager
    async def lifespan(self):
        async with self.manager.run():
            yield

    async def __call__(self, scope, receive, send) -> None:
        match = PATH.match(scope.get("path", ""))
        if scope["type"] != "http" or match is None:
            await JSONResponse(
                {"code": "not_found", "detail": "MCP endpoints are /mcp/gpts/<id>."},
                status_code=404,
            )(scope, receive, send)
            return
        if not _allowed_host(scope):
            await JSONResponse(
                {"code": "bad_request", "detail": "Invalid Host header."}, status_code=400
            )(scope, receive, send)
            return
        gpt_id = int(match.group(1))
        verdict = await _authorize(token=_bearer(scope), gpt_id=gpt_id)
        if isinstance(verdict, access.Refusal):
            await _refusal(verdict)(scope, receive, send)
            return
        sdk_token = SdkAccessToken(
            token="(checked)",  # the SDK compares principals, never the token itself
            client_id=verdict.client_id,
            scopes=list(verdict.scopes),
            subject=str(verdict.user_id),
            resource=access.mcp_url(gpt_id),
        )
        scope = {**scope, SCOPE_KEY: verdict, "user": AuthenticatedUser(sdk_token)}
        await self.manager.handle_request(scope, receive, send)
