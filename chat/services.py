"""Writes to conversations: start one, post a message, answer an approval, resume after a
connection. Each validates the request against the conversation's state, claims the
conversation for the turn (one turn at a time per conversation, across processes: a
conditional UPDATE, not a lock held while the model thinks) and hands back the turn's event
generator (chat.loop). `drain()` runs a turn to its end for the JSON API.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from chat.loop import Event, Turn, run_turn
from chat.models import Channel, Conversation, Message, Role, ToolCall, ToolCallStatus, TurnState
from chat.selectors import messages_by_id, open_tool_calls
from kernel.errors import RuleViolation

MAX_MESSAGE_LENGTH = 20_000
# A turn whose process died leaves "running" behind; after this long another may take over.
STALE_TURN = timedelta(minutes=5)
CONSENTS = ("allow", "always_allow", "decline")
UNSTORABLE = re.compile("[\ud800-\udfff]")


def conversation_create(*, gpt, user, channel: str = Channel.CHAT) -> Conversation:
    """A new, empty conversation of `user` with `gpt` (the caller checked `user` may use it)."""
    return Conversation.objects.create(
        workspace_id=gpt.workspace_id, gpt=gpt, user=user, channel=channel
    )


def _claim(conversation: Conversation, *, states) -> None:
    stale = timezone.now() - STALE_TURN
    claimed = Conversation.objects.filter(pk=conversation.pk, state__in=states).update(
        state=TurnState.RUNNING, updated_at=timezone.now()
    ) or Conversation.objects.filter(
        pk=conversation.pk, state=TurnState.RUNNING, updated_at__lt=stale
    ).update(state=TurnState.RUNNING, updated_at=timezone.now())
    if not claimed:
        conversation.refresh_from_db(fields=["state"])
        raise _refusal(conversation)
    conversation.state = TurnState.RUNNING


def _refusal(conversation: Conversation) -> RuleViolation:
    if conversation.state == TurnState.RUNNING:
        return RuleViolation(
            "conversation_busy",
            "The GPT is still answering in this conversation; wait for it to finish.",
            status=409,
        )
    waiting: dict[Any, str] = {
        TurnState.IDLE: "no call is waiting.",
        TurnState.CONSENT_REQUIRED: "a call is waiting for an approval.",
        TurnState.OAUTH_REQUIRED: "a call is waiting for a connected account.",
    }
    waiting_for = waiting.get(conversation.state, "it is in another state.")
    return RuleViolation(
        "nothing_pending",
        f"This conversation is not waiting for that: {waiting_for}",
        status=409,
        state=conversation.state,
    )


def _turn(conversation: Conversation, user, stream: bool) -> Generator[Event, None, dict]:
    return run_turn(Turn(conversation=conversation, user=user, stream=stream))


def _cancel_open_calls(conversation: Conversation) -> None:
    """The person wrote again instead of answering: the waiting calls are not sent, and the
    model is told so (every call the model made needs an answer before the next message)."""
    for call in open_tool_calls(conversation=conversation):
        call.status = ToolCallStatus.CANCELLED
        call.save(update_fields=["status"])
        Message.objects.create(
            workspace_id=conversation.workspace_id,
            conversation=conversation,
            role=Role.TOOL,
            tool_call_id=call.call_id,
            content="The user did not approve or connect this call: it was not sent.",
        )


def message_post(
    *, conversation: Conversation, user, content, stream: bool = False
) -> Generator[Event, None, dict]:
    if not isinstance(content, str) or not content.strip():
        raise RuleViolation(
            "invalid", "Write a message (content must be non-empty text).", field="content"
        )
    if len(content) > MAX_MESSAGE_LENGTH:
        raise RuleViolation(
            "invalid", f"A message is at most {MAX_MESSAGE_LENGTH:,} characters.", field="content"
        )
    if "\x00" in content or UNSTORABLE.search(content):
        # PostgreSQL text holds neither (the stream's body reaches here unchecked).
        raise RuleViolation(
            "invalid",
            "Text may not contain NUL characters or lone surrogates (half of a UTF-16 pair).",
            field="content",
        )
    _claim(
        conversation,
        states=[TurnState.IDLE, TurnState.CONSENT_REQUIRED, TurnState.OAUTH_REQUIRED],
    )
    try:
        with transaction.atomic():
            _cancel_open_calls(conversation)
            message = Message.objects.create(
                workspace_id=conversation.workspace_id,
                conversation=conversation,
                role=Role.USER,
                content=content,
            )
    except BaseException:
        Conversation.objects.filter(pk=conversation.pk).update(state=TurnState.IDLE)
        raise
    turn = Turn(conversation=conversation, user=user, stream=stream)
    turn.touch(message.pk)
    return run_turn(turn)


def consent_answer(
    *, conversation: Conversation, user, tool_call_id, consent, stream: bool = False
) -> Generator[Event, None, dict]:
    """The person's answer to the approval the turn stopped on; the turn goes on."""
    if consent not in CONSENTS:
        raise RuleViolation(
            "invalid_consent",
            "consent must be one of allow, always_allow, decline.",
            field="consent",
        )
    pending = conversation.pending or {}
    if conversation.state != TurnState.CONSENT_REQUIRED:
        raise _refusal(conversation)
    if tool_call_id != pending.get("tool_call_id"):
        raise RuleViolation(
            "unknown_tool_call",
            "That is not the call waiting for approval in this conversation.",
            status=409,
            tool_call_id=pending.get("tool_call_id"),
        )
    if consent not in pending.get("choices", CONSENTS):
        raise RuleViolation(
            "always_allow_not_offered",
            f"{pending.get('operation_id')} is approved each time it runs: choose allow or "
            "decline.",
        )
    _claim(conversation, states=[TurnState.CONSENT_REQUIRED])
    ToolCall.objects.filter(
        message__conversation=conversation,
        workspace_id=conversation.workspace_id,
        call_id=tool_call_id,
        status=ToolCallStatus.CONSENT_REQUIRED,
    ).update(status=ToolCallStatus.PENDING, consent=consent)
    return _turn(conversation, user, stream)


def conversation_resume(
    *, conversation: Conversation, user, stream: bool = False
) -> Generator[Event, None, dict]:
    """Retry the call that waited for a connected account (the person connected it)."""
    _claim(conversation, states=[TurnState.OAUTH_REQUIRED])
    ToolCall.objects.filter(
        message__conversation=conversation,
        workspace_id=conversation.workspace_id,
        status=ToolCallStatus.OAUTH_REQUIRED,
    ).update(status=ToolCallStatus.PENDING)
    return _turn(conversation, user, stream)


def drain(conversation: Conversation, events: Generator[Event, None, dict]) -> dict:
    """Run a turn to its end; the API's answer: status, the messages it made or changed (in
    order, one query for them and one for their calls), pending."""
    while True:
        try:
            next(events)
        except StopIteration as done:
            result = done.value
            break
    messages = messages_by_id(conversation=conversation, ids=result["messages"])
    return {**result, "messages": messages}
