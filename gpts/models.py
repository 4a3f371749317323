"""GPTs: a workspace's custom assistants, which use either apps (connectors) or actions."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from gpts.catalogue import MODELS_BY_KEY, default_model


class Visibility(models.TextChoices):
    ONLY_ME = "only_me", "Only me"
    WORKSPACE = "workspace", "Anyone in the workspace"
    LINK = "link", "Anyone with the link"
    STORE = "store", "GPT Store"


# Visibilities that publish a GPT beyond the workspace; actions then need a privacy policy URL.
PUBLIC_VISIBILITIES = frozenset({Visibility.LINK, Visibility.STORE})


class GPT(models.Model):
    """A custom assistant owned by one workspace and created by one of its builders."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="gpts"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="gpts",
    )
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=500, blank=True)
    instructions = models.TextField(blank=True, max_length=8000)
    # No `choices`: the catalogue is the deployment's (LLM_MODELS); gpts.services checks it.
    model = models.CharField(max_length=32, default=default_model)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.ONLY_ME
    )
    apps = models.JSONField(
        default=list, blank=True, help_text="Keys of the apps (connectors) this GPT uses."
    )
    conversation_starters = models.JSONField(
        default=list, blank=True, help_text="Prompts offered as buttons when a chat begins."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "GPT"
        verbose_name_plural = "GPTs"
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["workspace", "name"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(visibility__in=[choice.value for choice in Visibility]),
                name="gpt_visibility_valid",
                violation_error_message="Unknown visibility.",
            ),
            # The target of the composite foreign keys that keep every action (and what it
            # leaves) in its GPT's workspace (actions migration 0003, PostgreSQL).
            models.UniqueConstraint(fields=["id", "workspace"], name="gpt_id_workspace_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def model_label(self) -> str:
        info = MODELS_BY_KEY.get(self.model)
        return info.label if info else self.model
