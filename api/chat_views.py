"""The chat API (DESIGN.md §5): conversations with a GPT, driven turn by turn.

Thin views: resolve the GPT or the conversation for the caller (404 for anyone else's), validate
the body with its serializer, call chat.services, and answer when the turn has stopped: "done",
"error" (the model failed: the conversation says why), or "consent_required" /
"oauth_required" with the `pending` call, which /consent and /resume continue. The page streams
the same turns (chat.views); this API does not.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from api.base import ApiView, Pagination
from chat.data import conversation_data, message_data
from chat.models import Channel
from chat.selectors import conversation_get_for_user, conversation_list_for_user, message_list
from chat.services import (
    MAX_MESSAGE_LENGTH,
    consent_answer,
    conversation_create,
    conversation_resume,
    drain,
    message_post,
)
from gpts.selectors import gpt_get_for_chat, gpt_get_for_member


class ToolCallSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The model's id for the call.")
    operation_id = serializers.CharField()
    arguments = serializers.JSONField(help_text="What the model sent (an object, or raw text).")
    status = serializers.ChoiceField(
        choices=[
            "pending",
            "consent_required",
            "oauth_required",
            "ok",
            "declined",
            "error",
            "cancelled",
        ]
    )
    request = serializers.JSONField(
        allow_null=True, help_text="The request sent (or to be sent), secrets masked."
    )
    response = serializers.JSONField(allow_null=True, help_text="status, headers, body.")


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    role = serializers.ChoiceField(choices=["user", "assistant", "tool"])
    content = serializers.CharField(allow_blank=True)
    tool_calls = ToolCallSerializer(many=True)
    tool_call_id = serializers.CharField(required=False, help_text="Tool messages only.")
    error = serializers.BooleanField(
        help_text="The platform's own words about a failure (not sent to the model)."
    )
    created_at = serializers.DateTimeField()


class PendingSerializer(serializers.Serializer):
    tool_call_id = serializers.CharField()
    operation_id = serializers.CharField()
    action = serializers.IntegerField()
    domain = serializers.CharField()
    request = serializers.JSONField(allow_null=True)
    choices = serializers.ListField(child=serializers.CharField())
    detail = serializers.CharField()
    authorize_url = serializers.CharField(
        required=False, help_text="oauth_required: where the user connects the account."
    )


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    gpt = serializers.IntegerField()
    channel = serializers.ChoiceField(choices=Channel.values)
    state = serializers.CharField()
    pending = PendingSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    messages = MessageSerializer(many=True)


class ConversationSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    gpt = serializers.IntegerField(source="gpt_id")
    channel = serializers.ChoiceField(choices=Channel.values)
    state = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TurnSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["done", "consent_required", "oauth_required", "error"]
    )
    messages = MessageSerializer(many=True, help_text="The messages this turn made or changed.")
    pending = PendingSerializer(allow_null=True)


class ConversationCreateSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        choices=Channel.values,
        required=False,
        help_text='"preview" for the builder\'s Preview (editor rights), else "chat" (the '
        "GPT's visibility decides who may talk to it).",
    )


class TextField(serializers.CharField):
    """Text only: DRF's CharField would turn a number into its digits."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class MessagePostSerializer(serializers.Serializer):
    content = TextField(max_length=MAX_MESSAGE_LENGTH, trim_whitespace=False)


class ConsentSerializer(serializers.Serializer):
    tool_call_id = TextField(max_length=128)
    consent = serializers.ChoiceField(choices=["allow", "always_allow", "decline"])


def gpt_get_for_chat_or_preview(*, gpt_id, user):
    """A GPT the caller may talk to in either channel (else 404)."""
    try:
        return gpt_get_for_chat(gpt_id=gpt_id, user=user)
    except Http404:
        return gpt_get_for_member(gpt_id=gpt_id, user=user)


def turn_data(result: dict) -> dict:
    return {
        "status": result["status"],
        "messages": [message_data(message) for message in result["messages"]],
        "pending": result["pending"],
    }


class ChatView(ApiView):
    def valid(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.body())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


ERRORS_409 = OpenApiResponse(
    description="conversation_busy (a turn is running), nothing_pending, unknown_tool_call"
)


class ConversationCreateView(ChatView):
    pagination_class = Pagination  # documents the paginated list (self.paginated)

    @extend_schema(
        responses=ConversationSummarySerializer(many=True),
        description="The caller's own conversations with the GPT, newest first.",
    )
    def get(self, request, gpt_id):
        gpt = gpt_get_for_chat_or_preview(gpt_id=gpt_id, user=request.user)
        return self.paginated(
            conversation_list_for_user(user=request.user, gpt=gpt), ConversationSummarySerializer
        )

    @extend_schema(
        request=ConversationCreateSerializer,
        responses={201: ConversationSerializer},
        description="Start a conversation of the caller with the GPT.",
    )
    def post(self, request, gpt_id):
        channel = self.valid(ConversationCreateSerializer).get("channel", Channel.CHAT)
        if channel == Channel.PREVIEW:
            gpt = gpt_get_for_member(gpt_id=gpt_id, user=request.user)
        else:
            gpt = gpt_get_for_chat(gpt_id=gpt_id, user=request.user)
        conversation = conversation_create(gpt=gpt, user=request.user, channel=channel)
        return self.created(conversation_data(conversation, []))


class ConversationDetailView(ChatView):
    @extend_schema(responses=ConversationSerializer)
    def get(self, request, conversation_id):
        conversation = conversation_get_for_user(conversation_id=conversation_id, user=request.user)
        return Response(conversation_data(conversation, message_list(conversation=conversation)))


class MessagePostView(ChatView):
    @extend_schema(
        request=MessagePostSerializer,
        responses={200: TurnSerializer, 409: ERRORS_409},
        description="Send a message; answers when the turn has stopped. A call waiting for "
        "an approval or a connection is not sent, and the model is told so.",
    )
    def post(self, request, conversation_id):
        conversation = conversation_get_for_user(conversation_id=conversation_id, user=request.user)
        content = self.valid(MessagePostSerializer)["content"]
        events = message_post(conversation=conversation, user=request.user, content=content)
        return Response(turn_data(drain(conversation, events)))


class ConsentView(ChatView):
    @extend_schema(
        request=ConsentSerializer,
        responses={200: TurnSerializer, 409: ERRORS_409},
        description="Answer the approval a consent_required turn stopped on; the turn goes on.",
    )
    def post(self, request, conversation_id):
        conversation = conversation_get_for_user(conversation_id=conversation_id, user=request.user)
        body = self.valid(ConsentSerializer)
        events = consent_answer(
            conversation=conversation,
            user=request.user,
            tool_call_id=body["tool_call_id"],
            consent=body["consent"],
        )
        return Response(turn_data(drain(conversation, events)))


class ResumeView(ChatView):
    @extend_schema(
        request=None,
        responses={200: TurnSerializer, 409: ERRORS_409},
        description="After oauth_required and connecting the account: retry the pending call.",
    )
    def post(self, request, conversation_id):
        conversation = conversation_get_for_user(conversation_id=conversation_id, user=request.user)
        events = conversation_resume(conversation=conversation, user=request.user)
        return Response(turn_data(drain(conversation, events)))
