"""The chat API (DESIGN.md §5): conversations with a GPT, driven turn by turn.

Thin views, as the rest of the API (api/views.py): the permission layer resolves the caller's
own conversation (404 for anyone else's, api/permissions.py), the view checks the body with its
InputSerializer, calls chat.services and answers with its OutputSerializer once the turn has
stopped: "done", "error" (the model failed: the conversation says why), or "consent_required" /
"oauth_required" with the `pending` call, which /consent and /resume continue. The page streams
the same turns with the same shapes (chat.views, chat.serializers); this API does not.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from api.base import ApiView, Pagination
from api.openapi_hooks import ERROR_COMPONENT
from api.serializers import StrictCharField
from chat.models import Channel, TurnState
from chat.selectors import (
    conversation_access_for_user,
    conversation_list_for_user,
    conversation_with_messages,
    gpt_get_for_channel,
    gpt_get_for_conversations,
)
from chat.serializers import MessageSerializer, PendingSerializer, TurnSerializer
from chat.services import (
    CONSENTS,
    MAX_MESSAGE_LENGTH,
    consent_answer,
    conversation_create,
    conversation_resume,
    drain,
    message_post,
)
from kernel.serializers import PlannedSerializer

ERRORS_409 = OpenApiResponse(
    # The shared error shape (api/openapi_hooks.py declares the component).
    {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"},
    description="conversation_busy (a turn is running), nothing_pending (with the "
    "conversation's state), unknown_tool_call (with the waiting call's tool_call_id)",
)


class ConversationSerializer(PlannedSerializer):
    id = serializers.IntegerField()
    gpt = serializers.IntegerField(source="gpt_id")
    channel = serializers.ChoiceField(choices=Channel.values)
    state = serializers.ChoiceField(choices=TurnState.values)
    pending = PendingSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    messages = MessageSerializer(many=True)

    class Meta:
        ref_name = "Conversation"


class ConversationCreateView(ApiView):
    pagination_class = Pagination  # documents the paginated list (self.paginated)

    class InputSerializer(serializers.Serializer):
        channel = serializers.ChoiceField(
            choices=Channel.values,
            required=False,
            help_text='"preview" for the builder\'s Preview (editor rights), else "chat" (the '
            "GPT's visibility decides who may talk to it).",
        )

        class Meta:
            ref_name = "ConversationCreate"

    class SummarySerializer(PlannedSerializer):
        id = serializers.IntegerField()
        gpt = serializers.IntegerField(source="gpt_id")
        channel = serializers.ChoiceField(choices=Channel.values)
        state = serializers.ChoiceField(choices=TurnState.values)
        created_at = serializers.DateTimeField()
        updated_at = serializers.DateTimeField()

        class Meta:
            ref_name = "ConversationSummary"

    OutputSerializer = ConversationSerializer

    @extend_schema(
        responses=SummarySerializer(many=True),
        description="The caller's own conversations with the GPT, newest first.",
    )
    def get(self, request, gpt_id):
        gpt = gpt_get_for_conversations(gpt_id=gpt_id, user=request.user)
        return self.paginated(
            conversation_list_for_user(user=request.user, gpt=gpt), self.SummarySerializer
        )

    @extend_schema(
        request=InputSerializer,
        responses={201: OutputSerializer},
        description="Start a conversation of the caller with the GPT.",
    )
    def post(self, request, gpt_id):
        channel = self.validated(self.InputSerializer).get("channel", Channel.CHAT)
        gpt = gpt_get_for_channel(gpt_id=gpt_id, user=request.user, channel=channel)
        conversation = conversation_create(gpt=gpt, user=request.user, channel=channel)
        conversation = conversation_with_messages(conversation=conversation)
        return self.created(self.OutputSerializer(conversation).data)


class ConversationView(ApiView):
    # The caller's own conversation, resolved by the permission layer as `self.access.obj`.
    access_selector = staticmethod(conversation_access_for_user)


class ConversationDetailView(ConversationView):
    OutputSerializer = ConversationSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request, conversation_id):
        conversation = conversation_with_messages(conversation=self.access.obj)
        return Response(self.OutputSerializer(conversation).data)


class MessagePostView(ConversationView):
    class InputSerializer(serializers.Serializer):
        # Blank or whitespace-only text is chat.services' refusal, with the same code.
        content = StrictCharField(max_length=MAX_MESSAGE_LENGTH)

        class Meta:
            ref_name = "MessagePost"

    OutputSerializer = TurnSerializer

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, 409: ERRORS_409},
        description="Send a message; answers when the turn has stopped. A call waiting for "
        "an approval or a connection is not sent, and the model is told so.",
    )
    def post(self, request, conversation_id):
        conversation = self.access.obj
        content = self.validated(self.InputSerializer)["content"]
        events = message_post(conversation=conversation, user=request.user, content=content)
        return Response(self.OutputSerializer(drain(conversation, events)).data)


class ConsentView(ConversationView):
    class InputSerializer(serializers.Serializer):
        tool_call_id = StrictCharField(max_length=128)
        consent = serializers.ChoiceField(choices=list(CONSENTS))

        class Meta:
            ref_name = "ConsentAnswer"

    OutputSerializer = TurnSerializer

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer, 409: ERRORS_409},
        description="Answer the approval a consent_required turn stopped on; the turn goes on.",
    )
    def post(self, request, conversation_id):
        conversation = self.access.obj
        body = self.validated(self.InputSerializer)
        events = consent_answer(
            conversation=conversation,
            user=request.user,
            tool_call_id=body["tool_call_id"],
            consent=body["consent"],
        )
        return Response(self.OutputSerializer(drain(conversation, events)).data)


class ResumeView(ConversationView):
    OutputSerializer = TurnSerializer

    @extend_schema(
        request=None,
        responses={200: OutputSerializer, 409: ERRORS_409},
        description="After oauth_required and connecting the account: retry the pending call.",
    )
    def post(self, request, conversation_id):
        conversation = self.access.obj
        events = conversation_resume(conversation=conversation, user=request.user)
        return Response(self.OutputSerializer(drain(conversation, events)).data)
