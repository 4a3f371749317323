"""URLs the chat hands out (where a person returns after connecting an account), by reverse()."""

from urllib.parse import urlencode

from django.urls import reverse

from actions.oauth.tokens import start_url
from chat.models import Channel, Conversation


def conversation_page(conversation: Conversation, *, resume: bool = False) -> str:
    """The page showing `conversation`: the editor's Preview or the GPT's chat page."""
    name = "editor:gpt-preview" if conversation.channel == Channel.PREVIEW else "chat:gpt-chat"
    query = {"c": conversation.pk, **({"resume": "1"} if resume else {})}
    return reverse(name, args=[conversation.gpt_id]) + "?" + urlencode(query)


def connect_url(action, conversation: Conversation) -> str:
    """The OAuth start URL for `action` that comes back to the conversation and resumes it."""
    return (
        start_url(action) + "?" + urlencode({"next": conversation_page(conversation, resume=True)})
    )
