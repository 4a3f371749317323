"""The chat loop: the model reads the GPT's instructions and tools, asks for calls, the platform
runs them through the runtime, and the model answers (DESIGN.md §5).

    system (the GPT's instructions) + the conversation → model
        → tool calls? each runs through actions.runtime.run.operation_run (domain policy,
          argument validation, approvals, OAuth, limits, invocation log), its result goes back
          as a `tool` message → model again (at most MAX_TOOL_ROUNDS rounds per user message)
        → text: the turn is done

A call that needs the user's approval (409 consent_required) or a connected account (401
oauth_required) stops the turn: the conversation keeps the call as `pending` and the consent and
resume services continue the same turn later. Anything else that goes wrong with a call — an
unknown tool, arguments that are not JSON or do not fit the operation, a refused domain, a slow
API — is told to the model in words, as the call's result; a model failure is told to the person.

The loop is a generator of events (text as it streams, each saved message, the end) so that the
page can stream the turn while the JSON API simply drains it. No database transaction is held
across a model or API call: each write commits on its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

from actions.models import Action, InvocationChannel, Operation
from actions.runtime.run import operation_run
from actions.runtime.tools import gpt_tools
from actions.selectors import callable_actions
from chat import llm
from chat.links import connect_url
from chat.models import (
    Channel,
    Conversation,
    Message,
    Role,
    ToolCall,
    ToolCallStatus,
    TurnState,
)
from chat.selectors import message_list, open_tool_calls
from chat.serializers import MessageSerializer, ToolCallEventSerializer
from kernel.errors import RuleViolation

MAX_TOOL_ROUNDS = 10
MAX_TOOL_RESULT = 100_000  # characters of a tool message (the runtime's body limit)
STOPS = {"consent_required": TurnState.CONSENT_REQUIRED, "oauth_required": TurnState.OAUTH_REQUIRED}


@dataclass
class Event:
    """One thing the page may show as the turn runs: "delta" (text as the model writes it),
    "message" (a saved message), "tool_call" (a call's new status) and finally "done"."""

    kind: str
    data: Any


@dataclass
class Turn:
    conversation: Conversation
    user: Any
    stream: bool
    touched: list[int] = field(default_factory=list)  # ids of messages made or changed
    last_saved: Message | None = None
    saved: list[Message] = field(default_factory=list)  # in order, this turn

    def touch(self, message_id: int) -> None:
        if message_id not in self.touched:
            self.touched.append(message_id)


@dataclass
class Tools:
    """The GPT's callable operations now, as the model sees them and as the runtime runs them."""

    definitions: list[dict]
    actions: dict[str, Action]
    callable: list[Action] = field(default_factory=list)

    @classmethod
    def for_gpt(cls, gpt) -> Tools:
        actions = callable_actions(gpt=gpt)
        return cls(
            definitions=gpt_tools(actions=actions),
            actions={op.operation_id: a for a in actions for op in a.operations.all()},
            callable=actions,
        )

    def action_for(self, operation_id: str) -> Action | None:
        """The action to run `operation_id` with. A name that was not offered but is an
        operation of one of the actions (turned off, waiting for review, read-only workspace:
        the model saw it earlier in the conversation, or guessed) still goes to the runtime, so
        the workspace's rule refuses it in its own words and the refusal is logged as in every
        other channel (actions/governance.py); only a name no action has is unknown. The
        lookup is a query only for such a name."""
        action = self.actions.get(operation_id)
        if action is not None or not self.callable:
            return action
        owner = (
            Operation.objects.filter(action__in=self.callable, operation_id=operation_id)
            .values_list("action_id", flat=True)
            .first()
        )
        return next((a for a in self.callable if a.pk == owner), None)


def _invocation_channel(conversation: Conversation) -> str:
    if conversation.channel == Channel.PREVIEW:
        return InvocationChannel.PREVIEW
    return InvocationChannel.CHAT


def _model_entry(message: Message) -> dict | None:
    """`message` as the model reads it; the platform's own error words are not for it."""
    if message.is_error:
        return None
    if message.role == Role.TOOL:
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.content}
    entry: dict[str, Any] = {"role": message.role, "content": message.content}
    calls = list(message.tool_calls.all())
    if calls:
        entry["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.operation_id, "arguments": call.arguments or "{}"},
            }
            for call in calls
        ]
    return entry


def _context(conversation: Conversation) -> tuple[list[dict], int]:
    """The messages the model reads (the instructions, then the conversation as it stands),
    and how many tool rounds the model has had since the person last wrote."""
    messages: list[dict] = []
    rounds = 0
    instructions = conversation.gpt.instructions.strip()
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for message in message_list(conversation=conversation):
        entry = _model_entry(message)
        if entry is None:
            continue
        if message.role == Role.USER:
            rounds = 0
        elif "tool_calls" in entry:
            rounds += 1
        messages.append(entry)
    return messages, rounds


def _save(turn: Turn, **fields) -> Message:
    conversation = turn.conversation
    message = Message.objects.create(
        workspace_id=conversation.workspace_id, conversation=conversation, **fields
    )
    # A new message has no tool calls yet: showing it needs no query for them.
    message._prefetched_objects_cache = {"tool_calls": ToolCall.objects.none()}  # type: ignore[attr-defined]
    turn.touch(message.pk)
    turn.last_saved = message
    turn.saved.append(message)
    return message


def _answer_call(turn: Turn, call: ToolCall, content: str) -> Message:
    """The call's result as a tool message, within the runtime's size limit."""
    if len(content) > MAX_TOOL_RESULT:
        note = "\n[truncated: the result is over 100,000 characters]"
        content = content[: MAX_TOOL_RESULT - len(note)] + note
    return _save(turn, role=Role.TOOL, content=content, tool_call_id=call.call_id)


def _result_text(result: dict) -> str:
    if result.get("status") == "declined":
        return (
            f"The user declined: {result.get('operation_id')} was not sent. Do not retry it "
            "unless the user asks again."
        )
    response = result.get("response") or {}
    reply: dict[str, Any] = {"status": response.get("status"), "body": response.get("body", "")}
    if result.get("detail"):
        reply["note"] = result["detail"]
    return json.dumps(reply, ensure_ascii=False)


def _stop(turn: Turn, call: ToolCall, exc: RuleViolation, action: Action) -> dict:
    """The pending object of the contract: what the person must decide or connect."""
    pending: dict[str, Any] = {
        "tool_call_id": call.call_id,
        "operation_id": call.operation_id,
        "action": action.pk,
        "domain": action.domain,
        "request": exc.extra.get("request") or call.request,
        "choices": exc.extra.get("choices", []),
        "detail": exc.detail,
    }
    if exc.code == "oauth_required":
        pending["authorize_url"] = connect_url(action, turn.conversation)
    return pending


def _run_call(turn: Turn, call: ToolCall, tools: Tools) -> tuple[str, dict] | None:
    """Run one call; its answer goes to the model as a tool message, or the turn stops with
    ("consent_required" | "oauth_required", pending)."""
    action = tools.action_for(call.operation_id)
    if action is None:
        known = ", ".join(sorted(tools.actions)) or "none"
        call.status = ToolCallStatus.ERROR
        call.save(update_fields=["status"])
        _answer_call(
            turn, call, f"Error: there is no tool named {call.operation_id!r} (available: {known})."
        )
        return None
    try:
        arguments = json.loads(call.arguments) if call.arguments.strip() else {}
    except ValueError:
        arguments = None  # not JSON: answered below like any other non-object
    if not isinstance(arguments, dict):
        call.status = ToolCallStatus.ERROR
        call.save(update_fields=["status"])
        _answer_call(
            turn,
            call,
            "Error: the arguments must be a JSON object matching the "
            "tool's parameters; nothing was sent.",
        )
        return None
    try:
        result = operation_run(
            action=action,
            operation_id=call.operation_id,
            arguments=arguments,
            consent=call.consent or None,
            user=turn.user,
            channel=_invocation_channel(turn.conversation),
        )
    except RuleViolation as exc:
        call.request = exc.extra.get("request") or call.request
        call.response = exc.extra.get("response")
        if exc.code in STOPS:
            call.status = exc.code
            call.save(update_fields=["status", "request", "response"])
            return exc.code, _stop(turn, call, exc, action)
        call.status = ToolCallStatus.ERROR
        # The status is the one the run endpoint would answer: what kind of refusal it was.
        call.response = call.response or {
            "error": {"code": exc.code, "detail": exc.detail, "status": exc.status}
        }
        call.save(update_fields=["status", "request", "response"])
        _answer_call(turn, call, f"Error {exc.code}: {exc.detail} (the call did not succeed).")
        return None
    declined = result.get("status") == "declined"
    call.status = (
        ToolCallStatus.DECLINED
        if declined
        else ToolCallStatus.OK
        if result.get("status") == "ok"
        else ToolCallStatus.ERROR
    )
    call.request = result.get("request")
    call.response = result.get("response")
    call.save(update_fields=["status", "request", "response"])
    _answer_call(turn, call, _result_text(result))
    return None


def _run_open_calls(turn: Turn, tools: Tools) -> Generator[Event, None, tuple[str, dict] | None]:
    for call in open_tool_calls(conversation=turn.conversation):
        if call.status != ToolCallStatus.PENDING:
            # A call still waiting for the person: the turn can not go on past it.
            return str(call.status), turn.conversation.pending or {}
        turn.touch(call.message_id)
        stop = _run_call(turn, call, tools)
        yield Event("tool_call", ToolCallEventSerializer(call).data)
        if stop is not None:
            return stop
        yield Event("message", MessageSerializer(_last_message(turn)).data)
    return None


def _last_message(turn: Turn) -> Message:
    assert turn.last_saved is not None
    return turn.last_saved


def _save_reply(turn: Turn, reply: llm.Reply) -> Message:
    message = _save(turn, role=Role.ASSISTANT, content=reply.content)
    calls = ToolCall.objects.bulk_create(
        ToolCall(
            workspace_id=turn.conversation.workspace_id,
            message=message,
            # Some servers leave the id out; the tool message must still name its call.
            call_id=(call["id"] or f"call_{uuid.uuid4().hex[:24]}")[:128],
            operation_id=call["name"][:128],
            arguments=call["arguments"],
        )
        for call in _unique_ids(reply.tool_calls)
    )
    message._prefetched_objects_cache = {"tool_calls": calls}  # type: ignore[attr-defined]
    return message


def _unique_ids(calls: list[dict]) -> list[dict]:
    seen: set[str] = set()
    out = []
    for call in calls:
        if call["id"] in seen:
            call = {**call, "id": ""}
        seen.add(call["id"])
        out.append(call)
    return out


def _finish(turn: Turn, status: str, pending: dict | None = None) -> dict:
    conversation = turn.conversation
    conversation.state = STOPS.get(status, TurnState.IDLE)
    conversation.pending = pending
    conversation.save(update_fields=["state", "pending", "updated_at"])
    return {"status": status, "pending": pending, "messages": list(turn.touched)}


def run_turn(turn: Turn) -> Generator[Event, None, dict]:
    """Carry the conversation on until the model answers in words or a call needs the person.
    The conversation has been claimed (state "running") by the service that started the turn."""
    conversation = turn.conversation
    try:
        tools = Tools.for_gpt(conversation.gpt)
        stop = yield from _run_open_calls(turn, tools)
        if stop is not None:
            return _finish(turn, *stop)
        # Read once; each round's messages are appended as they are saved (one read per turn,
        # however many rounds).
        context, rounds = _context(conversation)
        while True:
            mark = len(turn.saved)
            # After the last allowed round the model must answer without tools.
            offered = tools.definitions if rounds < MAX_TOOL_ROUNDS else []
            try:
                completion = llm.complete(
                    model=conversation.gpt.model,
                    messages=context,
                    tools=offered,
                    stream=turn.stream,
                )
                reply = yield from _deltas(completion)
            except llm.ModelError as exc:
                message = _save(turn, role=Role.ASSISTANT, content=exc.detail, is_error=True)
                yield Event("message", MessageSerializer(message).data)
                return _finish(turn, "error")
            if reply.tool_calls and offered:
                _save_reply(turn, reply)
                yield Event("message", MessageSerializer(_last_message(turn)).data)
                stop = yield from _run_open_calls(turn, tools)
                if stop is not None:
                    return _finish(turn, *stop)
                context.extend(
                    entry for m in turn.saved[mark:] if (entry := _model_entry(m)) is not None
                )
                rounds += 1
                continue
            if reply.tool_calls or not reply.content.strip():
                message = _save(
                    turn,
                    role=Role.ASSISTANT,
                    content=(
                        f"I stopped after {MAX_TOOL_ROUNDS} rounds of tool calls without an "
                        "answer. Try rephrasing the request."
                        if reply.tool_calls
                        else "The model returned an empty answer."
                    ),
                    is_error=True,
                )
                yield Event("message", MessageSerializer(message).data)
                return _finish(turn, "error")
            message = _save(turn, role=Role.ASSISTANT, content=reply.content)
            yield Event("message", MessageSerializer(message).data)
            return _finish(turn, "done")
    finally:
        # A turn cut short (the page went away, a crash) must not leave the conversation busy.
        if conversation.state == TurnState.RUNNING:
            Conversation.objects.filter(pk=conversation.pk, state=TurnState.RUNNING).update(
                state=TurnState.IDLE, pending=None
            )


def _deltas(completion: Generator[str, None, llm.Reply]) -> Generator[Event, None, llm.Reply]:
    """The model's text as "delta" events; returns its Reply."""
    try:
        while True:
            try:
                text = next(completion)
            except StopIteration as done:
                return done.value
            yield Event("delta", {"text": text})
    finally:
        completion.close()
