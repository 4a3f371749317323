"""Output shapes of the REST API (DESIGN.md §4). Serializers here hold no rules: they describe
fields for the API's own OpenAPI document and turn objects into JSON."""

from django.urls import reverse
from rest_framework import serializers

from actions.links import callback_url
from actions.models import Action, AuthType, ImportStatus
from kernel.encryption import mask_secret


class ActionDomainsSerializer(serializers.Serializer):
    allow_all = serializers.BooleanField()
    allowed = serializers.ListField(child=serializers.CharField())


class WorkspaceSerializer(serializers.Serializer):
    slug = serializers.SlugField(read_only=True)
    name = serializers.CharField()
    plan = serializers.CharField(read_only=True)
    role = serializers.CharField(read_only=True)
    action_domains = ActionDomainsSerializer()


def workspace_data(workspace, role: str) -> dict:
    return {
        "slug": workspace.slug,
        "name": workspace.name,
        "plan": workspace.plan,
        "role": role,
        "action_domains": {
            "allow_all": (not workspace.has_domain_policy) or workspace.allow_all_domains,
            "allowed": [entry.pattern for entry in workspace.allowed_domains.all()],
        },
    }


class GPTSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    workspace = serializers.SlugField(read_only=True)
    name = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    instructions = serializers.CharField(required=False, allow_blank=True)
    model = serializers.CharField(required=False)
    visibility = serializers.ChoiceField(
        choices=["only_me", "workspace", "link", "store"], required=False
    )
    apps = serializers.ListField(child=serializers.CharField(), required=False)
    conversation_starters = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, max_length=8
    )
    actions = serializers.ListField(child=serializers.IntegerField(), read_only=True)


def gpt_data(gpt) -> dict:
    return {
        "id": gpt.pk,
        "workspace": gpt.workspace.slug,
        "name": gpt.name,
        "description": gpt.description,
        "instructions": gpt.instructions,
        "model": gpt.model,
        "visibility": gpt.visibility,
        "apps": gpt.apps,
        "conversation_starters": gpt.conversation_starters,
        "actions": [action.pk for action in gpt.actions.all()],
    }


class ModelSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    supports_actions = serializers.BooleanField()
    pro = serializers.BooleanField()


class OperationSerializer(serializers.Serializer):
    operation_id = serializers.CharField()
    method = serializers.CharField()
    path = serializers.CharField()
    summary = serializers.CharField()
    consequential = serializers.BooleanField()


def operation_data(operation) -> dict:
    return {
        "operation_id": operation.operation_id,
        "method": operation.method,
        "path": operation.path,
        "summary": operation.summary,
        "consequential": operation.consequential,
    }


class AuthSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=AuthType.values)
    api_key = serializers.CharField(write_only=True, required=False)
    # Hints are not read_only: drf-spectacular makes read-only fields required in responses, and
    # a hint is only present for its own auth type. Input ignores them.
    api_key_hint = serializers.CharField(
        required=False, help_text="Responses only: the stored API key, masked."
    )
    auth_type = serializers.ChoiceField(choices=["basic", "bearer", "custom"], required=False)
    custom_header = serializers.CharField(required=False)
    client_id = serializers.CharField(required=False)
    client_secret = serializers.CharField(write_only=True, required=False)
    client_secret_hint = serializers.CharField(
        required=False, help_text="Responses only: the stored client secret, masked."
    )
    authorization_url = serializers.URLField(required=False)
    token_url = serializers.URLField(required=False)
    scope = serializers.CharField(required=False, allow_blank=True)
    token_exchange_method = serializers.ChoiceField(
        choices=["default_post", "basic_auth_header"], required=False
    )
    revocation_url = serializers.URLField(required=False, allow_blank=True)


def auth_data(action: Action) -> dict:
    if action.auth_type == AuthType.API_KEY:
        return {
            "type": "api_key",
            "api_key_hint": mask_secret(action.api_key),
            "auth_type": action.api_key_auth_type,
            "custom_header": action.custom_header,
        }
    if action.auth_type == AuthType.OAUTH:
        return {
            "type": "oauth",
            "client_id": action.oauth_client_id,
            "client_secret_hint": mask_secret(action.oauth_client_secret),
            "authorization_url": action.authorization_url,
            "token_url": action.token_url,
            "scope": action.scope,
            "token_exchange_method": action.token_exchange_method,
            "revocation_url": action.revocation_url,
        }
    return {"type": "none"}


class ProblemSerializer(serializers.Serializer):
    message = serializers.CharField()
    pointer = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    column = serializers.IntegerField(allow_null=True)


class ActionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    gpt = serializers.IntegerField(read_only=True)
    domain = serializers.CharField(read_only=True)
    auth = AuthSerializer(required=False)
    schema = serializers.CharField(required=False, allow_blank=True)
    privacy_policy_url = serializers.CharField(required=False, allow_blank=True)
    operations = OperationSerializer(many=True, read_only=True)
    errors = ProblemSerializer(many=True, read_only=True)
    warnings = ProblemSerializer(many=True, read_only=True)
    callback_url = serializers.CharField(read_only=True)


def action_data(action: Action, *, live_errors: list[dict] | None = None) -> dict:
    return {
        "id": action.pk,
        "gpt": action.gpt_id,
        "domain": action.domain,
        "auth": auth_data(action),
        "schema": action.schema,
        "privacy_policy_url": action.privacy_policy_url,
        "operations": [operation_data(op) for op in action.operations.all()],
        "errors": list(action.errors) + (live_errors or []),
        "warnings": action.warnings,
        "callback_url": callback_url(action.gpt_id),
    }


class SchemaImportSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    action = serializers.IntegerField(read_only=True)
    url = serializers.URLField()
    status = serializers.ChoiceField(choices=ImportStatus.values, read_only=True)
    error = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)


def import_data(job) -> dict:
    return {
        "id": job.pk,
        "action": job.action_id,
        "url": job.url,
        "status": job.status,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "links": {"self": reverse("api:import-detail", args=[job.pk])},
    }
