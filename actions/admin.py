"""Actions and what they leave behind, for workspace admins. Secrets are write-only here:
forms show a masked hint and an empty password box that keeps the stored value when left blank.

Writes go through `actions.services` (update, delete), which check the product rules and write
the audit rows. The rows an action leaves (operations, imports, connections, approvals,
invocations, OAuth states) are records: the admin shows them and changes none of them here.
Schemas can be megabytes: pages show a short monospace preview with the size and the number of
operations, never the whole text.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import Length, Substr
from django.utils.html import format_html

from actions.models import (
    Action,
    ConnectedAccount,
    Consent,
    Invocation,
    OAuthState,
    Operation,
    OperationReview,
    Review,
    SchemaImport,
)
from actions.services import AUTH_FIELDS, action_delete, action_update, operation_set_state
from kernel.encryption import mask_secret
from kernel.errors import RuleViolation
from workspaces.admin_scoping import (
    CascadeThroughServiceMixin,
    ScopedModelAdmin,
    ScopedTabularInline,
)

PREVIEW_CHARS = 600
PREVIEW_LINES = 12
LIST_PREVIEW_CHARS = 60


def schema_size(characters: int, operations: int) -> str:
    if not characters:
        return "No schema"
    size = (
        f"{characters:,} characters"
        if characters < 10_000
        else f"{characters / 1024:,.0f} K characters"
    )
    return f"{size}, {operations} operation{'s' if operations != 1 else ''}"


def schema_head(text: str, *, chars: int, lines: int) -> str:
    head = "\n".join(text[:chars].splitlines()[:lines])
    return head + ("\n…" if len(head) < len(text) else "")


class SecretInput(forms.PasswordInput):
    def __init__(self):
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class ActionAdminForm(forms.ModelForm):
    """Edits authentication and the privacy policy URL through `action_update`, so the admin
    obeys the same rules (and writes the same audit rows) as the editor and the API: an action
    saved without a schema (before the rule) is refused here too, until it gets one. The
    schema is changed in the editor, where its verdict is shown."""

    class Meta:
        model = Action
        fields = ["privacy_policy_url", *AUTH_FIELDS]
        widgets = {"api_key": SecretInput(), "oauth_client_secret": SecretInput()}

    def __init__(self, *args, acting_user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.acting_user = acting_user
        # The row as stored: the service compares against it (audit before/after, kept secrets).
        self.instance_before = Action.objects.get(pk=self.instance.pk) if self.instance.pk else None
        for name in ("api_key", "oauth_client_secret"):
            if name in self.fields:
                current = getattr(self.instance, name, "")
                self.fields[name].required = False
                self.fields[name].help_text = (
                    f"Stored: {mask_secret(current)}. Leave blank to keep it."
                    if current
                    else "Not set."
                )

    def auth_payload(self) -> dict:
        data = self.cleaned_data
        return {
            "type": data.get("auth_type"),
            "api_key": data.get("api_key") or "",
            "auth_type": data.get("api_key_auth_type"),
            "custom_header": data.get("custom_header") or "",
            "client_id": data.get("oauth_client_id") or "",
            "client_secret": data.get("oauth_client_secret") or "",
            "authorization_url": data.get("authorization_url") or "",
            "token_url": data.get("token_url") or "",
            "revocation_url": data.get("revocation_url") or "",
            "scope": data.get("scope") or "",
            "token_exchange_method": data.get("token_exchange_method"),
        }

    def clean(self):
        cleaned = super().clean() or {}
        if self.errors or self.instance_before is None:
            return cleaned
        try:
            # Validate the whole change now, in a savepoint, so a refusal is shown on the form.
            with transaction.atomic():
                self.saved = action_update(
                    action=self.instance_before,
                    acting_user=self.acting_user,
                    auth=self.auth_payload(),
                    privacy_policy_url=cleaned.get("privacy_policy_url") or "",
                )
        except RuleViolation as exc:
            raise forms.ValidationError(exc.detail) from None
        return cleaned


class OperationInline(ScopedTabularInline):
    model = Operation
    workspace_path = "action__workspace"
    extra = 0
    fields = readonly_fields = (
        "operation_id",
        "method",
        "path",
        "summary",
        "consequential",
        "enabled",
        "review",
    )
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Action)
class ActionAdmin(CascadeThroughServiceMixin, ScopedModelAdmin):
    form = ActionAdminForm
    list_display = [
        "__str__",
        "gpt",
        "workspace",
        "auth_type",
        "openapi_version",
        "schema_summary",
        "connection_count",
        "updated_at",
    ]
    list_filter = ["auth_type", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["domain", "gpt__name"]
    list_select_related = ["gpt", "workspace"]
    readonly_fields = [
        "gpt",
        "workspace",
        "domain",
        "schema_preview",
        "schema_format",
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
            {
                "fields": [
                    "schema_preview",
                    "schema_format",
                    "openapi_version",
                    "errors",
                    "warnings",
                ],
                "description": "The schema is edited in the editor, where its verdict is shown.",
            },
        ),
        ("Dates", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_queryset(self, request):
        # One query for the whole page: users' connections counted, never their tokens, and
        # of each schema only its size and first characters (the text itself stays deferred).
        return (
            super()
            .get_queryset(request)
            .defer("schema")
            .annotate(
                connection_count=Count("connections", distinct=True),
                operation_count=Count("operations", distinct=True),
                schema_length=Length("schema"),
                schema_start=Substr("schema", 1, LIST_PREVIEW_CHARS),
            )
        )

    @admin.display(description="Connected accounts", ordering="connection_count")
    def connection_count(self, obj) -> int:
        return obj.connection_count

    @admin.display(description="Schema", ordering="schema_length")
    def schema_summary(self, obj) -> str:
        if not obj.schema_length:
            return "No schema"
        first_line = (obj.schema_start.strip().splitlines() or [""])[0]
        return format_html(
            '<code title="{}">{}…</code><br><small>{}</small>',
            schema_size(obj.schema_length, obj.operation_count),
            first_line[:LIST_PREVIEW_CHARS],
            schema_size(obj.schema_length, obj.operation_count),
        )

    @admin.display(description="Schema")
    def schema_preview(self, obj) -> str:
        if obj is None or not obj.schema:
            return "No schema"
        return format_html(
            '<pre style="font-family: monospace; white-space: pre-wrap; max-height: 16em; '
            'overflow: auto; margin: 0">{}</pre><p class="help">{}</p>',
            schema_head(obj.schema, chars=PREVIEW_CHARS, lines=PREVIEW_LINES),
            schema_size(len(obj.schema), obj.operations.count()),
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class: Any = super().get_form(request, obj, change, **kwargs)

        def bound_init(form, *args, **inner):
            form_class.__init__(form, *args, acting_user=request.user, **inner)

        # A form class per request, carrying who edits (the service needs the acting user).
        return type("BoundActionForm", (form_class,), {"__init__": bound_init})

    def save_model(self, request, obj, form, change):
        """Already saved by `action_update` while the form was cleaned."""

    def has_add_permission(self, request, obj=None):
        return False  # actions are created with a schema, in the editor or the API

    def delete_model(self, request, obj):
        action_delete(action=obj, acting_user=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for action in queryset:
            action_delete(action=action, acting_user=request.user)


class RecordAdmin(ScopedModelAdmin):
    """Rows written by the runtime, imports and OAuth flows: shown, never added, edited or
    deleted here (a deleted consent or connection would skip the user's revocation flow)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Operation)
class OperationAdmin(RecordAdmin):
    workspace_path = "action__workspace"
    list_display = [
        "operation_id",
        "method",
        "path",
        "action",
        "gpt",
        "consequential",
        "enabled",
        "review",
    ]
    list_filter = ["method", "consequential", "enabled", "review"]
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
        "enabled",
        "review",
        "added_by",
        "added_at",
    ]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Review)
class ReviewAdmin(RecordAdmin):
    """The "Actions review" page: the workspace's operations by GPT and action, with who added
    each and when, to enable, disable or approve, one by one or many at once (the admin
    actions; tick one row for one). Each change goes through `operation_set_state` (admins
    and owners only, audited) and applies at once in every channel."""

    workspace_path = "action__workspace"
    list_display = [
        "gpt_name",
        "domain",
        "operation_id",
        "method_label",
        "path",
        "status",
        "consequential",
        "added_by",
        "added_at",
    ]
    list_display_links = None  # nothing to open: the row is the decision
    list_filter = [
        "review",
        "enabled",
        "consequential",
        ("action__workspace", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["operation_id", "path", "gpt__name", "action__domain"]
    list_select_related = ["action", "gpt", "added_by"]
    ordering = ["gpt__name", "action__domain", "action_id", "id"]
    actions = ["approve", "enable", "disable"]
    list_per_page = 100

    @admin.display(description="GPT", ordering="gpt__name")
    def gpt_name(self, obj) -> str:
        return obj.gpt.name

    @admin.display(description="Domain", ordering="action__domain")
    def domain(self, obj) -> str:
        return obj.action.domain

    @admin.display(description="Method", ordering="method")
    def method_label(self, obj) -> str:
        return obj.method.upper()

    @admin.display(description="Status")
    def status(self, obj) -> str:
        if not obj.enabled:
            return "Disabled"
        if obj.review == OperationReview.PENDING:
            return "Waiting for review"
        return "On"

    def _apply(self, request, queryset, verb: str, **state) -> None:
        changed = 0
        try:
            with transaction.atomic():  # all of the selection or none of it
                for operation in queryset:
                    operation_set_state(operation=operation, actor=request.user, **state)
                    changed += 1
        except RuleViolation as exc:
            messages.error(request, exc.detail)
            return
        messages.success(request, f"{changed} operation{'s' if changed != 1 else ''} {verb}.")

    @admin.action(description="Approve selected operations")
    def approve(self, request, queryset):
        self._apply(request, queryset, "approved", review=OperationReview.APPROVED)

    @admin.action(description="Enable selected operations")
    def enable(self, request, queryset):
        self._apply(request, queryset, "enabled", enabled=True)

    @admin.action(description="Disable selected operations")
    def disable(self, request, queryset):
        self._apply(request, queryset, "disabled", enabled=False)


@admin.register(SchemaImport)
class SchemaImportAdmin(RecordAdmin):
    # `action` is empty on an import into a new action until it succeeds: the GPT says where.
    list_display = ["url", "gpt", "action", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["url"]
    list_select_related = ["action", "gpt"]
    readonly_fields = [
        "gpt",
        "action",
        "workspace",
        "url",
        "privacy_policy_url",
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
class ConnectedAccountAdmin(RecordAdmin):
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
    fields = readonly_fields = (
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
    )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Consent)
class ConsentAdmin(RecordAdmin):
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
class InvocationAdmin(RecordAdmin):
    list_display = [
        "created_at",
        "user",
        "gpt",
        "operation_id",
        "channel",
        "status",
        "http_status",
        "duration_ms",
        "response_bytes",
        "error_code",
    ]
    list_filter = [
        "channel",
        "status",
        "error_code",
        ("workspace", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["operation_id", "user__username", "error_code"]
    list_select_related = ["user", "gpt"]
    readonly_fields = [
        "workspace",
        "gpt",
        "action",
        "user",
        "operation_id",
        "channel",
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
class OAuthStateAdmin(RecordAdmin):
    workspace_path = "action__workspace"
    list_display = ["user", "action", "created_at", "expires_at", "used_at"]
    list_select_related = ["user", "action"]
    fields = readonly_fields = (
        "user",
        "action",
        "return_to",
        "created_at",
        "expires_at",
        "used_at",
    )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
