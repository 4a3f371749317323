"""The REST API for builders and programs (DESIGN.md §4). Views are thin: the permission layer
resolves the object for the caller (404 outside the caller's workspaces) and checks the role the
method needs (api/permissions.py); the view checks the body with its InputSerializer, calls a
service and answers with its OutputSerializer, which is also what the API document shows."""

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from actions import openapi
from actions.imports import import_request, import_request_new_action
from actions.openapi.convert import NotSwagger2, convert
from actions.openapi.examples import EXAMPLES
from actions.openapi.select import UnknownOperations, select_operations
from actions.selectors import (
    OPERATIONS_IN_ORDER,
    action_access_for_member,
    action_ids_by_gpt,
    actions_blocked_by_policy,
    import_get_for_member,
)
from actions.services import (
    action_create,
    action_delete,
    action_update,
    insecure_host_allowed,
    workspace_schema_problems,
)
from api import serializers as shapes
from api.base import ApiView, Pagination
from api.permissions import BUILD
from gpts.catalogue import models_for
from gpts.models import GPT
from gpts.selectors import gpt_access_for_member, gpt_list_for_user
from gpts.services import EDITABLE_FIELDS, gpt_create, gpt_delete, gpt_update
from kernel.errors import RuleViolation
from kernel.serializers import PlannedSerializer
from workspaces.models import ActionAccess, ApprovalMode
from workspaces.selectors import (
    workspace_access_for_member,
    workspace_list_for_member,
)
from workspaces.services import (
    GOVERNANCE_FIELDS,
    domain_policy_update,
    mcp_enabled_update,
    workspace_create,
    workspace_settings_update,
)

GPT_DENIED = "Only the GPT's builder, admins and owners change it."
ACTION_DENIED = "Only the GPT's builder, admins and owners change its actions."


def policy_errors(actions, workspace) -> dict[int, list[dict]]:
    """Errors an action has now because of the workspace policy (it may have changed since the
    schema was saved). One policy read for the whole list."""
    blocked = actions_blocked_by_policy(workspace=workspace, actions=actions)
    return {
        action_id: [
            {
                "message": why.reason,
                "pointer": why.pointer,
                "line": None,
                "column": None,
                "code": "domain_not_allowed",
            }
        ]
        for action_id, why in blocked.items()
    }


# Workspaces ---------------------------------------------------------------------------------


class WorkspaceListView(ApiView):
    pagination_class = Pagination  # documents the paginated list (self.paginated)

    class InputSerializer(serializers.Serializer):
        name = shapes.StrictCharField(max_length=120, trim_whitespace=True)
        slug = shapes.StrictCharField(max_length=56, required=False, allow_blank=True)

        class Meta:
            ref_name = "WorkspaceCreate"

    OutputSerializer = shapes.WorkspaceSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        workspaces = workspace_list_for_member(user=request.user).prefetch_related(
            "allowed_domains"
        )
        return self.paginated(workspaces, self.OutputSerializer)

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        data = self.validated(self.InputSerializer)
        workspace = workspace_create(
            name=data["name"], slug=data.get("slug", ""), creator=request.user
        )
        access = workspace_access_for_member(slug=workspace.slug, user=request.user)
        return self.created(self.OutputSerializer(access.obj).data)


class WorkspaceDetailView(ApiView):
    access_selector = staticmethod(workspace_access_for_member)
    access_denied = "Only admins and owners change the workspace."

    class InputSerializer(serializers.Serializer):
        name = shapes.StrictCharField(max_length=120, trim_whitespace=True, required=False)
        action_domains = shapes.ActionDomainsInputSerializer(required=False)
        # Governance (owners only; which values are valid is workspaces.services' business).
        action_access = serializers.ChoiceField(choices=ActionAccess.values, required=False)
        review_new_operations = shapes.StrictBooleanField(required=False)
        approvals = serializers.ChoiceField(choices=ApprovalMode.values, required=False)
        mcp_enabled = shapes.StrictBooleanField(
            required=False, help_text="Owners only: turn the MCP endpoints on or off."
        )

        class Meta:
            ref_name = "WorkspaceUpdate"

    OutputSerializer = shapes.WorkspaceSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request, slug):
        return Response(self.OutputSerializer(self.access.obj).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    @transaction.atomic
    def patch(self, request, slug):
        workspace = self.access.obj
        data = self.validated(self.InputSerializer)
        if "name" in data:
            workspace.name = data["name"]
            workspace.save(update_fields=["name", "updated_at"])
        if "action_domains" in data:
            domains = data["action_domains"]
            domain_policy_update(
                workspace=workspace,
                actor=request.user,
                allow_all=domains.get("allow_all"),
                allowed=domains.get("allowed"),
            )
        settings = {key: data[key] for key in GOVERNANCE_FIELDS if key in data}
        if settings:
            workspace_settings_update(workspace=workspace, actor=request.user, **settings)
        if "mcp_enabled" in data:
            mcp_enabled_update(workspace=workspace, actor=request.user, enabled=data["mcp_enabled"])
        access = workspace_access_for_member(slug=slug, user=request.user)
        return Response(self.OutputSerializer(access.obj).data)


# GPTs ---------------------------------------------------------------------------------------


# What GPTSerializer reads of a GPT, its keys and the fields a builder edits: a list loads
# only these (not the dates, nor the creator).
GPT_OUTPUT_FIELDS = ("id", "workspace_id", *EDITABLE_FIELDS)


def gpt_output(gpts: list[GPT], workspace=None) -> list[GPT]:
    """`gpts` as GPTSerializer reads them: each with `action_ids` (one query for the whole
    list, rather than a prefetch building an Action and a related manager per GPT) and, for
    a list of one workspace's GPTs, that workspace (so it is not joined once per row)."""
    action_ids = action_ids_by_gpt(gpt_ids=[gpt.pk for gpt in gpts])
    for gpt in gpts:
        gpt.action_ids = action_ids.get(gpt.pk, [])  # type: ignore[attr-defined]  # for the serializer
        if workspace is not None:
            gpt.workspace = workspace
    return gpts


class GPTUpdateSerializer(shapes.GPTInputSerializer):
    name = shapes.StrictCharField(required=False)

    class Meta:
        ref_name = "GPTUpdate"


class GPTListView(ApiView):
    pagination_class = Pagination  # documents the paginated list (self.paginated)
    access_selector = staticmethod(workspace_access_for_member)
    access_needs = {"POST": BUILD}
    access_denied = "Only builders, admins and owners create GPTs."

    class InputSerializer(shapes.GPTInputSerializer):
        class Meta:
            ref_name = "GPTCreate"

    OutputSerializer = shapes.GPTSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, slug):
        workspace = self.access.obj
        gpts = gpt_list_for_user(user=request.user, workspace=workspace).only(*GPT_OUTPUT_FIELDS)
        return self.paginated(
            gpts.order_by("name", "id"),
            self.OutputSerializer,
            prepare=lambda page: gpt_output(page, workspace),
        )

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, slug):
        fields = self.validated(self.InputSerializer)
        gpt = gpt_create(workspace=self.access.obj, acting_user=request.user, **fields)
        return self.created(self.OutputSerializer(gpt_output([gpt])[0]).data)


class GPTDetailView(ApiView):
    access_selector = staticmethod(gpt_access_for_member)
    access_denied = GPT_DENIED

    InputSerializer = GPTUpdateSerializer
    OutputSerializer = shapes.GPTSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request, gpt_id):
        return Response(self.OutputSerializer(gpt_output([self.access.obj])[0]).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request, gpt_id):
        fields = self.validated(self.InputSerializer)
        gpt = gpt_update(gpt=self.access.obj, acting_user=request.user, **fields)
        return Response(self.OutputSerializer(gpt_output([gpt])[0]).data)

    @extend_schema(responses={204: None})
    def delete(self, request, gpt_id):
        gpt_delete(gpt=self.access.obj, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GPTModelsView(ApiView):
    access_selector = staticmethod(gpt_access_for_member)

    OutputSerializer = shapes.ModelSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, gpt_id):
        choices = models_for(has_actions=self.access.obj.actions.exists())
        return Response(self.OutputSerializer(choices, many=True).data)


# Actions ------------------------------------------------------------------------------------


class ActionListView(ApiView):
    access_selector = staticmethod(gpt_access_for_member)
    access_denied = "Only the GPT's builder, admins and owners add actions."

    class InputSerializer(shapes.ActionInputSerializer):
        class Meta:
            ref_name = "ActionCreate"

    OutputSerializer = shapes.ActionSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, gpt_id):
        gpt = self.access.obj
        actions = list(gpt.actions.prefetch_related(OPERATIONS_IN_ORDER).order_by("id"))
        errors = policy_errors(actions, gpt.workspace)
        return Response(
            self.OutputSerializer(actions, many=True, context={"policy_errors": errors}).data
        )

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request, gpt_id):
        fields = self.validated(self.InputSerializer)
        action = action_create(gpt=self.access.obj, acting_user=request.user, **fields)
        return self.created(self.OutputSerializer(action).data)


class ActionDetailView(ApiView):
    access_selector = staticmethod(action_access_for_member)
    access_denied = ACTION_DENIED

    class InputSerializer(shapes.ActionInputSerializer):
        class Meta:
            ref_name = "ActionUpdate"

    OutputSerializer = shapes.ActionSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request, action_id):
        action = self.access.obj
        errors = policy_errors([action], action.workspace)
        return Response(self.OutputSerializer(action, context={"policy_errors": errors}).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request, action_id):
        fields = self.validated(self.InputSerializer)
        action = action_update(action=self.access.obj, acting_user=request.user, **fields)
        return Response(self.OutputSerializer(action).data)

    @extend_schema(responses={204: None})
    def delete(self, request, action_id):
        action_delete(action=self.access.obj, acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Schema tools -------------------------------------------------------------------------------


class SchemaTextSerializer(serializers.Serializer):
    # NUL is let through: the engine's verdict explains why such a document is no good.
    schema = shapes.StrictCharField(allow_blank=True, allow_nul=True)

    class Meta:
        ref_name = "SchemaText"


class SchemaValidateView(ApiView):
    """Check a schema's text: any text gets a verdict (200), never an error.

    With `gpt` (or `action`, the one being edited) the verdict also has what saving the
    schema there would be refused for (a domain or operationId another action of the GPT has,
    a domain the workspace does not allow), at the line it concerns; a GPT or action the
    caller can not see is a 404, as everywhere."""

    accepts_nul = True

    class InputSerializer(SchemaTextSerializer):
        gpt = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
        action = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

        class Meta:
            ref_name = "SchemaValidateInput"

    OutputSerializer = shapes.VerdictSerializer

    @extend_schema(
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            404: OpenApiResponse(
                inline_serializer(
                    "ValidateNotFound",
                    {"code": serializers.CharField(), "detail": serializers.CharField()},
                ),
                description="The gpt or action named is not one the caller can see.",
            ),
        },
    )
    def post(self, request):
        data = self.validated(self.InputSerializer)
        text = data["schema"]
        verdict = openapi.validate(text, allow_insecure_host=insecure_host_allowed)
        action = gpt = None
        if "action" in data:
            action = action_access_for_member(action_id=data["action"], user=request.user).obj
            gpt = action.gpt
        elif "gpt" in data:
            gpt = gpt_access_for_member(gpt_id=data["gpt"], user=request.user).obj
        if gpt is not None and verdict.valid:
            refusals = workspace_schema_problems(gpt=gpt, verdict=verdict, action=action)
            if refusals:
                verdict.errors = openapi.placed_problems(
                    text,
                    verdict.format,
                    [(r["message"], r["pointer"], r["code"]) for r in refusals],
                )
                verdict.valid = False
        return Response(self.OutputSerializer(verdict).data)


class SchemaExamplesView(ApiView):
    OutputSerializer = shapes.SchemaExampleSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        return Response(self.OutputSerializer(EXAMPLES, many=True).data)


class SchemaFormatView(ApiView):
    accepts_nul = True  # the schema engine explains why such text can not be formatted
    InputSerializer = SchemaTextSerializer
    OutputSerializer = SchemaTextSerializer

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        text = self.validated(self.InputSerializer)["schema"]
        try:
            formatted = openapi.format_schema(text)
        except openapi.SchemaParseError as exc:
            raise RuleViolation(
                "unparseable_schema",
                "The schema can not be parsed, so it can not be formatted.",
                errors=[p.as_dict() for p in exc.problems],
            ) from None
        return Response(self.OutputSerializer({"schema": formatted}).data)


class SchemaSelectView(ApiView):
    """Keep some operations of a big document and the components they reference."""

    class InputSerializer(serializers.Serializer):
        schema = shapes.StrictCharField(allow_blank=True)
        operations = serializers.ListField(
            child=shapes.StrictCharField(max_length=2000), allow_empty=False, max_length=2000
        )

        class Meta:
            ref_name = "SchemaSelectInput"

    class OutputSerializer(PlannedSerializer):
        schema = serializers.CharField()
        operations = shapes.DetectedOperationSerializer(many=True)

        class Meta:
            ref_name = "SchemaSelection"

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        data = self.validated(self.InputSerializer)
        try:
            text, operations = select_operations(data["schema"], data["operations"])
        except openapi.SchemaParseError as exc:
            raise RuleViolation(
                "unparseable_schema",
                "The schema can not be parsed, so operations can not be picked from it.",
                errors=[p.as_dict() for p in exc.problems],
            ) from None
        except UnknownOperations as exc:
            raise RuleViolation(
                "unknown_operations", str(exc), operations=[str(n) for n in exc.names]
            ) from None
        return Response(self.OutputSerializer({"schema": text, "operations": operations}).data)


class SchemaConvertView(ApiView):
    """Swagger 2.0 → OpenAPI 3.0, same format, with notes on what could not be carried."""

    InputSerializer = SchemaTextSerializer

    class OutputSerializer(PlannedSerializer):
        schema = serializers.CharField()
        # "from" is a Python keyword: the field is declared below.
        notes = serializers.ListField(child=serializers.CharField())

        class Meta:
            ref_name = "SchemaConversion"

    OutputSerializer._declared_fields["from"] = serializers.CharField()

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request):
        text = self.validated(self.InputSerializer)["schema"]
        try:
            converted, notes = convert(text)
        except openapi.SchemaParseError as exc:
            raise RuleViolation(
                "unparseable_schema",
                "The schema can not be parsed, so it can not be converted.",
                errors=[p.as_dict() for p in exc.problems],
            ) from None
        except NotSwagger2 as exc:
            raise RuleViolation("not_swagger_2", str(exc)) from None
        return Response(
            self.OutputSerializer({"schema": converted, "from": "2.0", "notes": notes}).data
        )


# Imports ------------------------------------------------------------------------------------


QUEUE_UNAVAILABLE = OpenApiResponse(
    description="queue_unavailable: the import is saved and starts when the task queue is "
    "back (import_id says which)."
)


class ImportCreateView(ApiView):
    access_selector = staticmethod(action_access_for_member)
    access_denied = "Only the GPT's builder, admins and owners import schemas."

    class InputSerializer(serializers.Serializer):
        # Which URLs may be fetched is actions.imports' business.
        url = shapes.StrictCharField(allow_blank=True)

        class Meta:
            ref_name = "ImportRequest"

    OutputSerializer = shapes.SchemaImportSerializer

    @extend_schema(
        request=InputSerializer,
        responses={202: OutputSerializer, 503: QUEUE_UNAVAILABLE},
    )
    def post(self, request, action_id):
        url = self.validated(self.InputSerializer)["url"]
        job = import_request(action=self.access.obj, url=url, acting_user=request.user)
        return Response(self.OutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class NewActionImportView(ApiView):
    """Import a schema from a URL into a new action of the GPT. The action is created when the
    import succeeds (the job's `action` then names it); a failed import creates nothing.
    Follow the job at `links.self`."""

    access_selector = staticmethod(gpt_access_for_member)
    access_denied = "Only the GPT's builder, admins and owners add actions."

    class InputSerializer(serializers.Serializer):
        # Which URLs may be fetched, and what a new action needs, is actions.imports' business.
        url = shapes.StrictCharField(allow_blank=True)
        privacy_policy_url = shapes.StrictCharField(
            required=False,
            allow_blank=True,
            help_text="The new action's privacy policy URL (needed on a GPT shared publicly).",
        )

        class Meta:
            ref_name = "NewActionImport"

    OutputSerializer = shapes.SchemaImportSerializer

    @extend_schema(
        request=InputSerializer,
        responses={202: OutputSerializer, 503: QUEUE_UNAVAILABLE},
    )
    def post(self, request, gpt_id):
        data = self.validated(self.InputSerializer)
        job = import_request_new_action(
            gpt=self.access.obj,
            url=data["url"],
            acting_user=request.user,
            privacy_policy_url=data.get("privacy_policy_url", ""),
        )
        return Response(self.OutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(ApiView):
    OutputSerializer = shapes.SchemaImportSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request, import_id):
        job = import_get_for_member(import_id=import_id, user=request.user)
        return Response(self.OutputSerializer(job).data)
