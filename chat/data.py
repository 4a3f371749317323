"""Conversations and messages as the API and the page show them (DESIGN.md §5 field names)."""

from __future__ import annotations

import json

from chat.models import Conversation, Message, ToolCall


def _arguments(call: ToolCall):
    # What the model sent, parsed when it is JSON (the usual case), else the raw text.
    try:
        return json.loads(call.arguments) if call.arguments else {}
    except ValueError:
        return call.arguments


def tool_call_data(call: ToolCall) -> dict:
    return {
        "id": call.call_id,
        "operation_id": call.operation_id,
        "arguments": _arguments(call),
        "status": call.status,
        "request": call.request,
        "response": call.response,
    }


def message_data(message: Message) -> dict:
    data = {
        "id": message.pk,
        "role": message.role,
        "content": message.content,
        "tool_calls": [tool_call_data(call) for call in message.tool_calls.all()],
        "created_at": message.created_at.isoformat(),
        "error": message.is_error,
    }
    if message.tool_call_id:
        data["tool_call_id"] = message.tool_call_id
    return data


def conversation_data(conversation: Conversation, messages) -> dict:
    return {
        "id": conversation.pk,
        "gpt": conversation.gpt_id,
        "channel": conversation.channel,
        "state": conversation.state,
        "pending": conversation.pending,
        "created_at": conversation.created_at.isoformat(),
        "messages": [message_data(message) for message in messages],
    }
