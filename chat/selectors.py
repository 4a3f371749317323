"""Reads of conversations, scoped to their user: another user's (or a vanished) conversation is
the same 404, and so is one whose GPT the user may no longer use (left the workspace, the GPT's
visibility narrowed)."""

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import Http404

from chat.models import Channel, Conversation, Message, ToolCall
from gpts.models import GPT
from gpts.selectors import (
    gpt_get_for_chat,
    gpt_get_for_member,
    gpt_list_for_chat,
    gpt_list_for_user,
)
from workspaces.selectors import Access, role_subquery


def conversation_get_for_user(*, conversation_id, user) -> Conversation:
    if not user.is_authenticated:
        raise Http404("No such conversation.")
    try:
        conversation = (
            Conversation.objects.filter(user=user)
            .select_related("gpt", "workspace")
            .annotate(caller_role=role_subquery(user=user))
            .get(pk=conversation_id)
        )
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404("No such conversation.") from None
    # The editor's Preview follows the editor's rule; a chat follows the GPT's visibility.
    allowed = gpt_list_for_user if conversation.channel == Channel.PREVIEW else gpt_list_for_chat
    if not allowed(user=user).filter(pk=conversation.gpt_id).exists():
        raise Http404("No such conversation.")
    return conversation


def conversation_access_for_user(*, conversation_id, user) -> Access[Conversation]:
    """The caller's own conversation for the API's permission layer (api/permissions.py):
    whoever may open it may also write in it, whatever their role in its workspace (someone a
    "link" GPT is shared with has none)."""
    conversation = conversation_get_for_user(conversation_id=conversation_id, user=user)
    role = getattr(conversation, "caller_role", None) or ""  # annotated by the query above
    return Access(obj=conversation, role=role, can_edit=True)


def gpt_get_for_channel(*, gpt_id, user, channel: str) -> GPT:
    """The GPT the caller may start a conversation with on `channel` (else 404): the editor's
    Preview follows the editor's rule, a chat the GPT's visibility."""
    if channel == Channel.PREVIEW:
        return gpt_get_for_member(gpt_id=gpt_id, user=user)
    return gpt_get_for_chat(gpt_id=gpt_id, user=user)


def gpt_get_for_conversations(*, gpt_id, user) -> GPT:
    """A GPT the caller may talk to on either channel (else 404): whose conversations with it
    the caller may list."""
    try:
        return gpt_get_for_chat(gpt_id=gpt_id, user=user)
    except Http404:
        return gpt_get_for_member(gpt_id=gpt_id, user=user)


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


def conversation_with_messages(*, conversation: Conversation) -> Conversation:
    """`conversation.messages.all()` prefetched in order with their tool calls: two queries."""
    prefetch_related_objects(
        [conversation], Prefetch("messages", queryset=message_list(conversation=conversation))
    )
    return conversation


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
