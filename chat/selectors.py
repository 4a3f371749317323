"""Reads of conversations, scoped to their user: another user's (or a vanished) conversation is
the same 404, and so is one whose GPT the user may no longer use (left the workspace, the GPT's
visibility narrowed)."""

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from chat.models import Channel, Conversation, Message, ToolCall
from gpts.selectors import gpt_list_for_chat, gpt_list_for_user


def conversation_get_for_user(*, conversation_id, user) -> Conversation:
    if not user.is_authenticated:
        raise Http404("No such conversation.")
    try:
        conversation = (
            Conversation.objects.filter(user=user)
            .select_related("gpt", "workspace")
            .get(pk=conversation_id)
        )
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404("No such conversation.") from None
    # The editor's Preview follows the editor's rule; a chat follows the GPT's visibility.
    allowed = gpt_list_for_user if conversation.channel == Channel.PREVIEW else gpt_list_for_chat
    if not allowed(user=user).filter(pk=conversation.gpt_id).exists():
        raise Http404("No such conversation.")
    return conversation


def conversation_list_for_user(*, user, gpt) -> QuerySet[Conversation]:
    """The user's own conversations with `gpt` (the caller checked `user` may see it), newest
    first."""
    return Conversation.objects.filter(user=user, gpt=gpt, workspace_id=gpt.workspace_id).order_by(
        "-updated_at", "-id"
    )


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    """The conversation's messages in order, their tool calls prefetched: two queries."""
    return (
        Message.objects.filter(conversation=conversation, workspace_id=conversation.workspace_id)
        .prefetch_related(Prefetch("tool_calls", queryset=ToolCall.objects.order_by("id")))
        .order_by("id")
    )


def messages_by_id(*, conversation: Conversation, ids) -> list[Message]:
    return list(message_list(conversation=conversation).filter(pk__in=list(ids)))


def open_tool_calls(*, conversation: Conversation) -> list[ToolCall]:
    """Calls of the conversation not answered yet (waiting, or still to run), in order."""
    return list(
        ToolCall.objects.filter(
            message__conversation=conversation,
            workspace_id=conversation.workspace_id,
            status__in=["pending", "consent_required", "oauth_required"],
        )
        .select_related("message")
        .order_by("id")
    )
