"""Actions and what they leave behind, for workspace admins. Secrets are write-only here:
forms show a masked hint and an empty password box that keeps the stored value when left blank."""

from django import forms
from django.contrib import admin
from django.db.models import Count

from actions.models import (
    Action,
    ConnectedAccount,
    Consent,
    Invocation,
    OAuthState,
    Operation,
    SchemaImport,
)
from config.encryption import mask_secret
from workspaces.admin_scoping import ScopedModelAdmin, ScopedTabularInline
from workspaces.audit import audit_record
from workspaces.models import AuditKind

AUTH_FIELDS = [
    "auth_type",
    "api_key",
    "api_key_auth_type",
    "custom_header",
    "oauth_client_id",
    "oauth_client_secret",
    "authorization_url",
    "token_url",
    "revocation_url",
    "scope",
    "token_exchange_method",
]


def auth_snapshot(action: Action) -> dict:
    return {field: getattr(action, field) for field in AUTH_FIELDS}


class SecretInput(forms.PasswordInput):
    def __init__(self):
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class ActionAdminForm(forms.ModelForm):
    class Meta:
        model = Action
        fields = ["gpt", "workspace", "privacy_policy_url", *AUTH_FIELDS, "schema", "schema_format"]
        widgets = {"api_key": SecretInput(), "oauth_client_secret": SecretInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("api_key", "oauth_client_secret"):
            if name in self.fields:
                current = getattr(self.instance, name, "")
                self.fields[name].required = False
                self.fields[name].help_text = (
                    f"Stored: {mask_secret(current)}. Leave blank to keep it."
                    if current
                    else "Not set."
                )

    def clean(self):
        cleaned = super().clean()
        for name in ("api_key", "oauth_client_secret"):
            if name in cleaned and not cleaned[name]:
                cleaned[name] = getattr(self.instance, name, "")
        return cleaned


class OperationInline(ScopedTabularInline):
    model = Operation
    workspace_path = "action__workspace"
    extra = 0
    fields = ["operation_id", "method", "path", "summary", "consequential"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Action)
class ActionAdmin(ScopedModelAdmin):
    form = ActionAdminForm
    list_display = [
        "__str__",
        "gpt",
        "workspace",
        "auth_type",
        "openapi_version",
        "connection_count",
        "updated_at",
    ]
    list_filter = ["auth_type", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["domain", "gpt__name"]
    list_select_related = ["gpt", "workspace"]
    autocomplete_fields = ["gpt", "workspace"]
    readonly_fields = [
        "domain",
        "openapi_version",
        "errors",
        "warnings",
        "created_at",
        "updated_at",
    ]
    inlines = [OperationInline]
    fieldsets = [
        (None, {"fields": ["gpt", "workspace", "domain", "privacy_policy_url"]}),
        ("Authentication", {"fields": AUTH_FIELDS}),
        (
            "Schema",
            {"fields": ["schema", "schema_format", "openapi_version", "errors", "warnings"]},
        ),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        # One query for the whole page: users' connections counted, never their tokens.
        return super().get_queryset(request).annotate(connection_count=Count("connections"))

    @admin.display(description="Connected accounts", ordering="connection_count")
    def connection_count(self, obj) -> int:
        return obj.connection_count

    def save_model(self, request, obj, form, change):
        before = auth_snapshot(Action.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        after = auth_snapshot(obj)
        if before != after:
            audit_record(
                workspace=obj.workspace,
                actor=request.user,
                kind=AuditKind.ACTION_AUTH_CHANGED,
                target=str(obj),
                before=before,
                after=after,
            )


@admin.register(Operation)
class OperationAdmin(ScopedModelAdmin):
    workspace_path = "action__workspace"
    list_display = ["operation_id", "method", "path", "action", "gpt", "consequential"]
    list_filter = ["method", "consequential"]
    search_fields = ["operation_id", "path", "summary"]
    list_select_related = ["action", "gpt"]
    readonly_fields = [
        "action",
        "gpt",
        "operation_id",
        "method",
        "path",
        "summary",
        "description",
        "consequential",
        "parameters",
        "request_body",
    ]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SchemaImport)
class SchemaImportAdmin(ScopedModelAdmin):
    list_display = ["url", "action", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["url"]
    list_select_related = ["action"]
    readonly_fields = [
        "action",
        "workspace",
        "url",
        "requested_by",
        "status",
        "error",
        "attempts",
        "created_at",
        "started_at",
        "finished_at",
    ]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(ScopedModelAdmin):
    """Admins see who connected what and when; never a token."""

    list_display = ["user", "gpt", "action", "status", "scopes", "connected_at", "last_used_at"]
    # Filtering by GPT or action gives the count of its connections (shown by the changelist).
    list_filter = [
        "status",
        ("workspace", admin.RelatedOnlyFieldListFilter),
        ("gpt", admin.RelatedOnlyFieldListFilter),
        ("action", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["user__username", "scopes"]
    list_select_related = ["user", "gpt", "action"]
    fields = [
        "user",
        "gpt",
        "action",
        "workspace",
        "status",
        "scopes",
        "token_type",
        "expires_at",
        "connected_at",
        "last_used_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Consent)
class ConsentAdmin(ScopedModelAdmin):
    list_display = ["user", "gpt", "operation_id", "created_at"]
    list_filter = [("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "operation_id"]
    list_select_related = ["user", "gpt"]
    readonly_fields = ["user", "gpt", "action", "workspace", "operation_id", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Invocation)
class InvocationAdmin(ScopedModelAdmin):
    list_display = [
        "created_at",
        "user",
        "gpt",
        "operation_id",
        "status",
        "http_status",
        "duration_ms",
        "response_bytes",
        "error_code",
    ]
    list_filter = ["status", "error_code", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["operation_id", "user__username", "error_code"]
    list_select_related = ["user", "gpt"]
    readonly_fields = [
        "workspace",
        "gpt",
        "action",
        "user",
        "operation_id",
        "status",
        "http_status",
        "error_code",
        "duration_ms",
        "request_bytes",
        "response_bytes",
        "created_at",
    ]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OAuthState)
class OAuthStateAdmin(ScopedModelAdmin):
    workspace_path = "action__workspace"
    list_display = ["user", "action", "created_at", "expires_at", "used_at"]
    list_select_related = ["user", "action"]
    fields = ["user", "action", "return_to", "created_at", "expires_at", "used_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
