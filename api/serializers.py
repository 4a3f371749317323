"""The shapes of the REST API (DESIGN.md §4): strict input fields and the output serializers
the views share. Serializers here hold no product rules (those are the services'): they check
JSON types, turn objects into JSON, and are what drf-spectacular documents, so the document is
exactly what is answered.

DRF's CharField turns numbers into text and its BooleanField reads "yes" as true; an API that
promises `"name": string` must refuse `5`, so inputs use the strict fields below.
"""

import re
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from django.urls import reverse
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from actions.links import callback_url
from actions.models import (
    Action,
    ApiKeyAuthType,
    AuthType,
    ImportStatus,
    OperationReview,
    TokenExchangeMethod,
)
from gpts.models import Visibility
from kernel.encryption import mask_secret
from kernel.serializers import PlannedSerializer
from kernel.text import utf8
from workspaces.models import ActionAccess, ApprovalMode

# Input fields --------------------------------------------------------------------------------


_SURROGATE = re.compile("[\ud800-\udfff]")


class _NoSurrogates(ProhibitSurrogateCharactersValidator):
    """DRF's check, at C speed: DRF's walks the text character by character in Python, 0.15 s
    for a 1.7 MB schema — most of a big schema's first verdict over HTTP. Even a regular
    expression takes 4-25 ms on a 1-4 MB schema; ASCII text (a flag Python keeps) can hold no
    surrogate, and strict UTF-8 encoding refuses exactly the surrogates (0.1-3 ms), so the
    expression only runs on text that has one, to name it."""

    def __call__(self, value):
        text = str(value)
        if text.isascii():
            return
        try:
            utf8(text)  # the engine reuses these bytes (kernel/text.py)
        except UnicodeEncodeError:
            pass
        else:
            return
        found = _SURROGATE.search(text)
        if found:
            message = self.message.format(code_point=ord(found.group()))
            raise ValidationError(message, code=self.code)


class StrictCharField(serializers.CharField):
    """Text and only text. `allow_nul` lets NUL through for endpoints that only inspect text
    (the schema engine explains why such a document is no good)."""

    default_error_messages = {"invalid": "Must be text."}

    def __init__(self, *, allow_nul: bool = False, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)
        self.validators = [
            _NoSurrogates() if isinstance(v, ProhibitSurrogateCharactersValidator) else v
            for v in self.validators
            if not (allow_nul and isinstance(v, ProhibitNullCharactersValidator))
        ]

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


# Workspaces ----------------------------------------------------------------------------------


class ActionDomainsSerializer(PlannedSerializer):
    """Which domains the workspace's actions may call."""

    # Read from the workspace itself (source="*").

    allow_all = serializers.SerializerMethodField()
    allowed = serializers.SerializerMethodField()

    def get_allowed(self, workspace) -> list[str]:
        return [entry.pattern for entry in workspace.allowed_domains.all()]

    def get_allow_all(self, workspace) -> bool:
        # Plans without a domain policy allow every domain, whatever the stored flag says.
        return (not workspace.has_domain_policy) or workspace.allow_all_domains


class ActionDomainsInputSerializer(serializers.Serializer):
    """A change of the workspace's domain policy (owners only); entries are checked and
    normalised (IDNA, lower case)."""

    # Which entries are valid is workspaces.services' business.

    allow_all = StrictBooleanField(required=False)
    allowed = serializers.ListField(child=StrictCharField(), required=False)

    class Meta:
        ref_name = "ActionDomainsUpdate"


class WorkspaceSerializer(PlannedSerializer):
    """A workspace and the caller's role in it."""

    # Reads a workspace from workspace_list_for_member, which annotates the caller's role.

    slug = serializers.SlugField()
    name = serializers.CharField()
    plan = serializers.CharField()
    role = serializers.CharField(source="caller_role")
    action_domains = ActionDomainsSerializer(source="*")
    action_access = serializers.ChoiceField(choices=ActionAccess.values)
    review_new_operations = serializers.BooleanField()
    approvals = serializers.ChoiceField(choices=ApprovalMode.values)
    mcp_enabled = serializers.BooleanField(
        help_text="Whether the GPTs of this workspace answer at /mcp/gpts/{id} (owners change it)."
    )


# GPTs ----------------------------------------------------------------------------------------


class GPTSerializer(PlannedSerializer):
    id = serializers.IntegerField()
    workspace = serializers.SlugField(source="workspace.slug")
    name = serializers.CharField()
    description = serializers.CharField()
    instructions = serializers.CharField()
    model = serializers.CharField()
    visibility = serializers.ChoiceField(choices=Visibility.values)
    apps = serializers.ListField(child=serializers.CharField())
    conversation_starters = serializers.ListField(child=serializers.CharField())
    # Loaded for a whole list at once (api.views.gpt_output).
    actions = serializers.ListField(child=serializers.IntegerField(), source="action_ids")


class GPTInputSerializer(serializers.Serializer):
    """A GPT's editable fields."""

    # Which values are allowed (models, apps, lengths) is gpts.services' business.

    name = StrictCharField()
    description = StrictCharField(required=False, allow_blank=True)
    instructions = StrictCharField(required=False, allow_blank=True)
    model = StrictCharField(required=False)
    visibility = serializers.ChoiceField(choices=Visibility.values, required=False)
    apps = serializers.ListField(child=StrictCharField(), required=False)
    conversation_starters = serializers.ListField(
        child=StrictCharField(max_length=300), required=False, max_length=8
    )


class ModelSerializer(PlannedSerializer):
    key = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a contract field, not Field.label
    supports_actions = serializers.BooleanField()
    pro = serializers.BooleanField()


# Actions -------------------------------------------------------------------------------------


class OperationFieldsSerializer(PlannedSerializer):
    operation_id = serializers.CharField()
    method = serializers.CharField()
    path = serializers.CharField()
    summary = serializers.CharField()
    consequential = serializers.BooleanField()


class OperationSerializer(OperationFieldsSerializer):
    """A saved operation, with the workspace admins' word on it: a disabled or pending one is
    not offered to models and does not run."""

    enabled = serializers.BooleanField()
    review = serializers.ChoiceField(choices=OperationReview.values)


class TextEditSerializer(PlannedSerializer):
    """Replace the text between two offsets (UTF-16 code units, as a textarea counts)."""

    start = serializers.IntegerField()
    end = serializers.IntegerField()
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


class FixSerializer(PlannedSerializer):
    label = serializers.CharField()  # type: ignore[assignment]  # a contract field, not Field.label
    edits = TextEditSerializer(many=True)


class ProblemSerializer(PlannedSerializer):
    message = serializers.CharField()
    pointer = serializers.CharField()
    line = serializers.IntegerField(allow_null=True)
    column = serializers.IntegerField(allow_null=True)
    code = serializers.CharField(required=False)
    # Present only on a warning with a mechanical fix (actions/openapi/fixes.py).
    fix = FixSerializer(required=False)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if data.get("fix", 0) is None:
            del data["fix"]
        return data


class NoAuthSerializer(PlannedSerializer):
    type = serializers.ChoiceField(choices=[AuthType.NONE], source="auth_type")


class ApiKeyAuthSerializer(PlannedSerializer):
    type = serializers.ChoiceField(choices=[AuthType.API_KEY], source="auth_type")
    api_key_hint = serializers.SerializerMethodField(help_text="The stored API key, masked.")
    auth_type = serializers.ChoiceField(choices=ApiKeyAuthType.values, source="api_key_auth_type")
    custom_header = serializers.CharField()

    def get_api_key_hint(self, action) -> str:
        return mask_secret(action.api_key)


class OAuthAuthSerializer(PlannedSerializer):
    type = serializers.ChoiceField(choices=[AuthType.OAUTH], source="auth_type")
    client_id = serializers.CharField(source="oauth_client_id")
    client_secret_hint = serializers.SerializerMethodField(
        help_text="The stored client secret, masked."
    )
    authorization_url = serializers.CharField()
    token_url = serializers.CharField()
    scope = serializers.CharField()
    token_exchange_method = serializers.ChoiceField(choices=TokenExchangeMethod.values)
    revocation_url = serializers.CharField()

    def get_client_secret_hint(self, action) -> str:
        return mask_secret(action.oauth_client_secret)


AUTH_OUTPUT = {
    AuthType.NONE: NoAuthSerializer,
    AuthType.API_KEY: ApiKeyAuthSerializer,
    AuthType.OAUTH: OAuthAuthSerializer,
}


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="Auth",
        serializers={str(k): v for k, v in AUTH_OUTPUT.items()},
        resource_type_field_name="type",
    )
)
class AuthField(serializers.Field):
    """An action's authentication as the API shows it: the settings of its type, secrets only
    as masked hints."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, action):
        return AUTH_OUTPUT[action.auth_type](action).data


class AuthInputSerializer(serializers.Serializer):
    """How the action authenticates: the fields of its type. A secret left out or empty keeps
    the stored one."""

    # Which fields a type needs, and what they may hold, is actions.rules' business.

    type = serializers.ChoiceField(choices=AuthType.values, required=False)
    api_key = StrictCharField(required=False, allow_blank=True, write_only=True)
    auth_type = serializers.ChoiceField(choices=ApiKeyAuthType.values, required=False)
    custom_header = StrictCharField(required=False, allow_blank=True)
    client_id = StrictCharField(required=False, allow_blank=True)
    client_secret = StrictCharField(required=False, allow_blank=True, write_only=True)
    authorization_url = StrictCharField(required=False, allow_blank=True)
    token_url = StrictCharField(required=False, allow_blank=True)
    scope = StrictCharField(required=False, allow_blank=True)
    token_exchange_method = serializers.ChoiceField(
        choices=TokenExchangeMethod.values, required=False
    )
    revocation_url = StrictCharField(required=False, allow_blank=True)

    class Meta:
        ref_name = "AuthInput"


class ActionInputSerializer(serializers.Serializer):
    schema = StrictCharField(required=False, allow_blank=True)
    auth = AuthInputSerializer(required=False)
    privacy_policy_url = StrictCharField(required=False, allow_blank=True)


class ActionSerializer(PlannedSerializer):
    """An action: its schema, authentication (secrets only as masked hints), the operations
    detected in it, and what is wrong with it now."""

    # context["policy_errors"] ({action id: problems}) adds what the workspace's domain policy
    # says of the action now to the errors stored with its schema.

    id = serializers.IntegerField()
    gpt = serializers.IntegerField(source="gpt_id")
    domain = serializers.CharField()
    auth = AuthField()
    schema = serializers.CharField()
    privacy_policy_url = serializers.CharField()
    operations = OperationSerializer(many=True)
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]  # contract field
    warnings = ProblemSerializer(many=True)
    callback_url = serializers.SerializerMethodField()

    @extend_schema_field(ProblemSerializer(many=True))
    def get_errors(self, action: Action) -> Any:
        live = self.context.get("policy_errors", {}).get(action.pk, [])
        return ProblemSerializer([*action.errors, *live], many=True).data

    def get_callback_url(self, action: Action) -> str:
        return callback_url(action.gpt_id)


# Schema imports ------------------------------------------------------------------------------


class ImportLinksSerializer(PlannedSerializer):
    self = serializers.SerializerMethodField()

    def get_self(self, job) -> str:
        return reverse("api:import-detail", args=[job.pk])


class SchemaImportSerializer(PlannedSerializer):
    """A URL import job. An import into a new action has no `action` until it succeeds: the
    job then names the action it created (a failed one creates none)."""

    id = serializers.IntegerField()
    action = serializers.IntegerField(
        source="action_id",
        allow_null=True,
        help_text="The action the import fills; for an import into a new action, null until "
        "it succeeds, then the new action's id.",
    )
    gpt = serializers.IntegerField(source="gpt_id", help_text="The GPT of the action.")
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=ImportStatus.values)
    error = serializers.CharField()
    notes = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    links = ImportLinksSerializer(source="*")


# Schema tools --------------------------------------------------------------------------------


class DetectedOperationSerializer(OperationFieldsSerializer):
    """An operation found in a schema being checked: a broken one may lack an operationId or a
    summary."""

    operation_id = serializers.CharField(allow_null=True)
    summary = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), required=False)


class VerdictSerializer(PlannedSerializer):
    valid = serializers.BooleanField()
    openapi_version = serializers.CharField(allow_null=True)
    servers = serializers.ListField(child=serializers.CharField())
    operations = DetectedOperationSerializer(many=True)
    errors = ProblemSerializer(many=True)  # type: ignore[assignment]  # contract field
    warnings = ProblemSerializer(many=True)


class SchemaExampleSerializer(PlannedSerializer):
    key = serializers.CharField()
    title = serializers.CharField()
    format = serializers.CharField()
    schema = serializers.CharField()
