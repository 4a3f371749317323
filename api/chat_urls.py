"""Routes of the chat API (DESIGN.md §5): conversations, their messages, approvals, resuming."""

from django.urls import path

from api import chat_views

urlpatterns = [
    path(
        "gpts/<int:gpt_id>/conversations/",
        chat_views.ConversationCreateView.as_view(),
        name="conversation-create",
    ),
    path(
        "conversations/<int:conversation_id>/",
        chat_views.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<int:conversation_id>/messages/",
        chat_views.MessagePostView.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<int:conversation_id>/consent",
        chat_views.ConsentView.as_view(),
        name="conversation-consent",
    ),
    path(
        "conversations/<int:conversation_id>/resume",
        chat_views.ResumeView.as_view(),
        name="conversation-resume",
    ),
]
