"""Conversations in the admin, for workspace admins: who talks to which GPT, on which channel,
where each conversation's last turn stopped, and what was said and called.

Records only: conversations are written by chat.services as people talk, so nothing here adds,
changes or deletes one (deleting a conversation is its GPT's or its user's business). Scoped to
the staff user's workspaces like every admin page (workspaces/admin_scoping.py). A tool call is
shown by its operation, status, request line and response status: what the runtime stored is
already masked, and headers and bodies are left to the Preview's debug pane, so no page here
can show a credential.
"""

from django.contrib import admin
from django.db.models import Count, Prefetch
from django.utils.html import format_html, format_html_join

from actions.admin import RecordAdmin
from chat.models import Conversation, Message, ToolCall
from workspaces.admin_scoping import ScopedTabularInline

CONTENT_PREVIEW_CHARS = 2000
ARGUMENTS_PREVIEW_CHARS = 200


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars] + "…"


class MessageInline(ScopedTabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "created_at",
        "role",
        "content_preview",
        "tool_call_id",
        "is_error",
        "tool_calls_summary",
    )

    def get_queryset(self, request):
        calls = ToolCall.objects.order_by("id")
        return super().get_queryset(request).prefetch_related(Prefetch("tool_calls", calls))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Content")
    def content_preview(self, message: Message) -> str:
        return format_html(
            '<div style="white-space: pre-wrap; max-width: 60em">{}</div>',
            _clip(message.content, CONTENT_PREVIEW_CHARS),
        )

    @admin.display(description="Tool calls")
    def tool_calls_summary(self, message: Message) -> str:
        calls = list(message.tool_calls.all())
        if not calls:
            return "—"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code> {} — {}<br><small>{} {}</small></li>",
                (
                    (
                        call.operation_id,
                        _clip(call.arguments, ARGUMENTS_PREVIEW_CHARS),
                        call.get_status_display(),
                        _request_line(call),
                        _response_status(call),
                    )
                    for call in calls
                ),
            ),
        )


def _request_line(call: ToolCall) -> str:
    request = call.request if isinstance(call.request, dict) else {}
    return f"{request.get('method', '')} {request.get('url', '')}".strip() or "not sent"


def _response_status(call: ToolCall) -> str:
    response = call.response if isinstance(call.response, dict) else {}
    if "status" in response:
        return f"→ HTTP {response['status']}"
    error = response.get("error")
    if isinstance(error, dict):
        return f"→ {error.get('code', 'error')}"
    return ""


@admin.register(Conversation)
class ConversationAdmin(RecordAdmin):
    list_display = [
        "__str__",
        "gpt",
        "user",
        "channel",
        "state",
        "message_count",
        "created_at",
        "updated_at",
    ]
    list_filter = [
        "state",
        "channel",
        ("workspace", admin.RelatedOnlyFieldListFilter),
        ("gpt", admin.RelatedOnlyFieldListFilter),
        ("user", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["gpt__name", "user__username"]
    ordering = ["-updated_at", "-id"]
    list_select_related = ["gpt", "user"]
    fields = readonly_fields = (
        "workspace",
        "gpt",
        "user",
        "channel",
        "state",
        "waiting_for",
        "created_at",
        "updated_at",
    )
    inlines = [MessageInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("workspace", "gpt", "user")
            .annotate(message_count=Count("messages"))
        )

    @admin.display(description="Messages", ordering="message_count")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.message_count  # type: ignore[attr-defined]  # annotated above

    @admin.display(description="Waiting for")
    def waiting_for(self, conversation: Conversation) -> str:
        pending = conversation.pending if isinstance(conversation.pending, dict) else None
        if not pending:
            return "—"
        return format_html(
            "<code>{}</code> on {} ({})",
            pending.get("operation_id", ""),
            pending.get("domain", ""),
            pending.get("tool_call_id", ""),
        )
