"""Conversations with a GPT (DESIGN.md §5): the editor's Preview, /g/{gpt_id}/ and the API.

A conversation belongs to one user and one GPT, and carries its workspace (non-null, as every
tenant-owned row does) so tenant scoping is one filter. Its messages are what the model read and
wrote; an assistant message's tool calls are rows of their own, so a call the user has still to
approve (or an account still to connect) is a row with a status, resumed later.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    PREVIEW = "preview", "Editor Preview"
    CHAT = "chat", "Chat"


class TurnState(models.TextChoices):
    """Where the conversation's last turn stopped."""

    IDLE = "idle", "Idle"
    RUNNING = "running", "Running"
    CONSENT_REQUIRED = "consent_required", "Waiting for an approval"
    OAUTH_REQUIRED = "oauth_required", "Waiting for an account connection"


class Conversation(models.Model):
    """One user's conversation with one GPT."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="conversations"
    )
    gpt = models.ForeignKey("gpts.GPT", on_delete=models.CASCADE, related_name="conversations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.CHAT)
    state = models.CharField(max_length=24, choices=TurnState.choices, default=TurnState.IDLE)
    # What the stopped turn waits for (the contract's "pending" object), null when idle.
    pending = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["user", "gpt", "-updated_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[choice.value for choice in TurnState]),
                name="conversation_state_valid",
                violation_error_message="Unknown conversation state.",
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[choice.value for choice in Channel]),
                name="conversation_channel_valid",
                violation_error_message="Unknown conversation channel.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gpt_id}/{self.pk} ({self.user_id})"


class Role(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"
    TOOL = "tool", "Tool"


class Message(models.Model):
    """One message of a conversation. `is_error` marks the platform's own words about a model
    failure: shown to the person, never sent back to the model."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    # For a tool message: the id of the call it answers.
    tool_call_id = models.CharField(max_length=128, blank=True)
    is_error = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=[choice.value for choice in Role]),
                name="message_role_valid",
                violation_error_message="Unknown message role.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"


class ToolCallStatus(models.TextChoices):
    PENDING = "pending", "Not run yet"
    CONSENT_REQUIRED = "consent_required", "Waiting for approval"
    OAUTH_REQUIRED = "oauth_required", "Waiting for a connected account"
    OK = "ok", "OK"
    DECLINED = "declined", "Declined"
    ERROR = "error", "Error"
    CANCELLED = "cancelled", "Not answered"


class ToolCall(models.Model):
    """A call the model asked for in an assistant message, and what became of it. `request` and
    `response` are what the runtime returns, secrets already masked."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="tool_calls")
    call_id = models.CharField(max_length=128)
    operation_id = models.CharField(max_length=128)
    # The arguments as the model sent them (text: it may not even be JSON).
    arguments = models.TextField(blank=True)
    status = models.CharField(
        max_length=24, choices=ToolCallStatus.choices, default=ToolCallStatus.PENDING
    )
    # The approval the user gave for this call, reused when it is retried after a connection.
    consent = models.CharField(max_length=16, blank=True)
    request = models.JSONField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "call_id"],
                name="toolcall_unique_per_message",
                violation_error_message="A message names each tool call once.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation_id} ({self.status})"
