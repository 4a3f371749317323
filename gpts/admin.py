"""GPTs in the admin, scoped to the workspaces the staff user administers."""

from django.contrib import admin
from django.db.models import Count

from actions.models import Action
from gpts.models import GPT
from workspaces.admin_scoping import ScopedModelAdmin, ScopedTabularInline


class ActionInline(ScopedTabularInline):
    model = Action
    workspace_path = "workspace"
    extra = 0
    fields = ["domain", "auth_type", "privacy_policy_url", "openapi_version", "updated_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # actions are created with a schema, in the action admin or the editor


@admin.register(GPT)
class GPTAdmin(ScopedModelAdmin):
    list_display = [
        "name",
        "workspace",
        "model",
        "visibility",
        "action_count",
        "created_by",
        "updated_at",
    ]
    list_filter = ["visibility", "model", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "description"]
    list_select_related = ["workspace", "created_by"]
    autocomplete_fields = ["workspace"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ActionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_action_count=Count("actions"))

    @admin.display(description="Actions", ordering="_action_count")
    def action_count(self, obj):
        return obj._action_count
