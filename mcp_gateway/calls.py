"""tools/list and tools/call of one GPT for one caller, in plain synchronous Django code.

Tools are the tool export (actions.runtime.tools.tool_definition, the function behind
`GET /api/v1/gpts/{id}/tools/`) of the GPT's callable actions (actions.selectors.callable_actions:
valid schema, hosts the workspace's domain policy allows now), read again on every request so
a policy change applies to the next list and the next call. Annotations come from the method
and the operation's consequential flag (`x-openai-isConsequential`).

A call runs through the runtime (`operation_run`, channel "mcp") as the token's user. The
runtime's answers become MCP tool results: its refusals (403 domain_not_allowed, 400
invalid_arguments, 401 oauth_required with the connect URL...) are `isError` results with their
detail, so the model reads them; only a question (409 consent_required) goes back to the server
module, which asks the person (elicitation) or hands out an approval URL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.http import Http404
from django.urls import reverse

from actions.approvals import approval_consume, approval_request
from actions.links import absolute
from actions.models import Action, InvocationChannel, Operation
from actions.runtime.run import operation_run
from actions.runtime.tools import tool_definition
from actions.selectors import actions_blocked_by_policy, callable_actions
from gpts.selectors import gpt_get_for_member
from kernel.errors import RuleViolation
from mcp_gateway.access import Caller

# What a model is given of a response (DESIGN.md §5: the same limit as a chat's tool message).
MAX_RESULT_CHARS = 100_000
READ_METHODS = frozenset({"get", "head", "options"})
IDEMPOTENT_METHODS = READ_METHODS | {"put", "delete"}


@dataclass
class Outcome:
    """What one attempt at a call came to: a tool result, or a question for the person."""

    text: str = ""
    is_error: bool = False
    structured: dict[str, Any] | None = None
    question: dict[str, Any] = field(default_factory=dict)  # the 409's body, when asked


def _user(caller: Caller):
    return get_user_model().objects.get(pk=caller.user_id, is_active=True)


def _gpt(caller: Caller, user):
    return gpt_get_for_member(gpt_id=caller.gpt_id, user=user)


def tool_annotations(operation: Operation) -> dict[str, Any]:
    method = operation.method.lower()
    read_only = method in READ_METHODS
    return {
        "title": operation.summary or operation.operation_id,
        "readOnlyHint": read_only,
        # Only meaningful for tools that change things: consequential ones may do harm.
        "destructiveHint": (not read_only) and bool(operation.consequential),
        "idempotentHint": method in IDEMPOTENT_METHODS,
        "openWorldHint": True,  # every tool calls an API outside the platform
    }


def tool_list(caller: Caller) -> list[dict[str, Any]]:
    user = _user(caller)
    gpt = _gpt(caller, user)
    tools = []
    for action in callable_actions(gpt=gpt):
        for operation in action.operations.all():
            function = tool_definition(operation, openapi_version=action.openapi_version or "3.1")[
                "function"
            ]
            tools.append(
                {
                    "name": function["name"],
                    "description": function["description"],
                    "inputSchema": function["parameters"],
                    "annotations": tool_annotations(operation),
                }
            )
    return tools


def _find(gpt, name: str) -> tuple[Action | None, str]:
    """The callable action that has operation `name`, or None and why not.

    A name that was not listed but is an operation of a callable action (turned off, waiting for
    review, a read-only workspace: the host listed it earlier, or guessed) still goes to the
    runtime, so the workspace's rule refuses it in its own words and the refusal is logged as in
    every other channel (actions/governance.py); only a name no action has is unknown."""
    actions = callable_actions(gpt=gpt)
    for action in actions:
        if any(op.operation_id == name for op in action.operations.all()):
            return action, ""
    owner = (
        Operation.objects.filter(action__in=actions, operation_id=name)
        .values_list("action_id", flat=True)
        .first()
    )
    if owner is not None:
        return next(a for a in actions if a.pk == owner), ""
    # Not callable: say whether the policy blocks it (the builder's fix) or it does not exist.
    holders = [
        action
        for action in gpt.actions.filter(operations__operation_id=name).select_related("workspace")
    ]
    blocked = actions_blocked_by_policy(workspace=gpt.workspace, actions=holders)
    for action in holders:
        if action.pk in blocked:
            return None, (
                f"domain_not_allowed: {name} is blocked by the workspace's domain policy "
                f"({blocked[action.pk].reason})."
            )
    return None, f"unknown_tool: {gpt.name} has no tool {name}."


def _result_text(body: dict) -> tuple[str, dict]:
    response = body.get("response") or {}
    shown = {"status": response.get("status"), "body": response.get("body", "")}
    if body.get("detail"):
        shown["detail"] = body["detail"]
    text = json.dumps(shown, ensure_ascii=False)
    if len(text) > MAX_RESULT_CHARS:
        text = text[: MAX_RESULT_CHARS - 1] + "…"
    return text, shown


def _refusal(exc: RuleViolation) -> Outcome:
    text = f"{exc.code}: {exc.detail}"
    if exc.code == "oauth_required" and exc.extra.get("authorize_url"):
        text = (
            f"oauth_required: {exc.detail} Connect your account at "
            f"{exc.extra['authorize_url']} and then call the tool again."
        )
    return Outcome(text=text, is_error=True, structured={"code": exc.code, "detail": exc.detail})


def call(caller: Caller, name: str, arguments: Any, consent: str | None) -> Outcome:
    """One attempt at `tools/call`. `consent` is the person's decision when one was asked
    (elicitation); otherwise a decision they gave on the approval page for exactly this call
    is used, once."""
    user = _user(caller)
    try:
        gpt = _gpt(caller, user)
    except Http404:
        return Outcome(text="not_found: No such GPT.", is_error=True)
    action, why = _find(gpt, name)
    if action is None:
        return Outcome(text=why, is_error=True)
    if not isinstance(arguments, dict):
        return Outcome(text="invalid_arguments: arguments must be an object.", is_error=True)
    if consent is None:
        consent = (
            approval_consume(user=user, gpt_id=gpt.pk, operation_id=name, arguments=arguments)
            or None
        )
    action = (
        Action.objects.select_related("gpt", "workspace")
        .prefetch_related("operations")
        .get(pk=action.pk)
    )
    try:
        body = operation_run(
            action=action,
            operation_id=name,
            arguments=arguments,
            consent=consent,
            user=user,
            channel=InvocationChannel.MCP,
        )
    except RuleViolation as exc:
        if exc.code == "consent_required":
            return Outcome(question={"action_id": action.pk, **exc.as_dict()})
        return _refusal(exc)
    if body.get("status") == "declined":
        return Outcome(text=f"declined: {body['detail']}", is_error=True)
    text, shown = _result_text(body)
    return Outcome(text=text, is_error=body.get("status") != "ok", structured=shown)


def approval_url(caller: Caller, name: str, arguments: Any, question: dict) -> str:
    """Record the call as waiting for the person and return where they decide."""
    user = _user(caller)
    action = Action.objects.get(pk=question["action_id"], gpt_id=caller.gpt_id)
    token = approval_request(
        user=user, action=action, operation_id=name, arguments=arguments, prompt=question
    )
    return absolute(reverse("me-approval", args=[token]))
