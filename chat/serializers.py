"""Conversations' messages, tool calls and turns as the chat API answers them and the page's
stream sends them (DESIGN.md §5 field names).

One set of output serializers for both: drf-spectacular documents them for the chat API
(api/chat_views.py), and chat.loop / chat.views send the same `.data` as the stream's events, so
the page and the API can not drift apart. They hold no rules: they turn rows into JSON.
"""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chat.models import Message, Role, ToolCallStatus
from kernel.serializers import PlannedSerializer

TURN_STATUSES = ["done", "consent_required", "oauth_required", "error"]


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "nullable": True,
        "description": "method, url, headers, body (secrets masked).",
    }
)
class ExchangeField(serializers.JSONField):
    """A call's request or response as the runtime returned it (secrets already masked): its
    shape is the runtime's (the run endpoint's RunMessage/RunResponse, or an error object)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, allow_null=True, **kwargs)


@extend_schema_field(
    {"description": "What the model sent: the parsed JSON (usually an object), or the raw text."}
)
class ArgumentsField(serializers.Field):
    """The arguments are stored as the model sent them (text, maybe not even JSON)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: str) -> Any:
        try:
            return json.loads(value) if value else {}
        except ValueError:
            return value


class ToolCallSerializer(PlannedSerializer):
    id = serializers.CharField(source="call_id", help_text="The model's id for the call.")
    operation_id = serializers.CharField()
    arguments = ArgumentsField()
    status = serializers.ChoiceField(choices=ToolCallStatus.values)
    request = ExchangeField(help_text="The request sent (or to be sent), secrets masked.")
    response = ExchangeField(help_text="status, headers, body (or the error).")

    class Meta:
        ref_name = "ToolCall"


class ToolCallEventSerializer(ToolCallSerializer):
    """The stream's "tool_call" event: a call's new status, and the message it belongs to."""

    message = serializers.IntegerField(source="message_id")


class MessageSerializer(PlannedSerializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=Role.values)
    content = serializers.CharField(allow_blank=True)
    tool_calls = ToolCallSerializer(many=True)
    tool_call_id = serializers.CharField(
        required=False, help_text="Tool messages only: the call this message answers."
    )
    error = serializers.BooleanField(
        source="is_error",
        help_text="The platform's own words about a failure (not sent to the model).",
    )
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Message"

    def to_representation(self, instance: Message) -> dict:
        data = super().to_representation(instance)
        if not data.get("tool_call_id"):
            data.pop("tool_call_id", None)  # only a tool message answers a call
        return data


class PendingSerializer(PlannedSerializer):
    """What a stopped turn waits for (Conversation.pending, written by chat.loop)."""

    tool_call_id = serializers.CharField()
    operation_id = serializers.CharField()
    action = serializers.IntegerField()
    domain = serializers.CharField()
    request = ExchangeField(help_text="What will be sent once approved, secrets masked.")
    choices = serializers.ListField(
        child=serializers.ChoiceField(choices=["allow", "always_allow", "decline"])
    )
    detail = serializers.CharField()
    authorize_url = serializers.CharField(
        required=False, help_text="oauth_required: where the user connects the account."
    )

    class Meta:
        ref_name = "Pending"


class TurnSerializer(PlannedSerializer):
    """How a turn stopped: chat.services.drain's result (the messages as rows)."""

    status = serializers.ChoiceField(choices=TURN_STATUSES)
    messages = MessageSerializer(many=True, help_text="The messages this turn made or changed.")
    pending = PendingSerializer(allow_null=True)

    class Meta:
        ref_name = "Turn"
