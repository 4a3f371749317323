"""Routes of the chat pages (included at the root): /g/{gpt_id}/ and the page's turn stream.
The editor's Preview is routed in editor/urls.py, beside the GPT's other editor pages."""

from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("g/<int:gpt_id>/", views.gpt_chat, name="gpt-chat"),
    path("chat/conversations/<int:conversation_id>/stream", views.stream, name="stream"),
]
