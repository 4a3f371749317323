"""The REST API for builders and programs (DESIGN.md §4). Views are thin: they resolve the
object for the caller (404 outside the caller's workspaces), call a service, shape the reply."""

from django.db import transaction
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from actions import openapi
from actions.imports import import_request
from actions.models import Action, Operation
from actions.openapi.examples import EXAMPLES
from actions.selectors import action_get_for_member, import_get_for_member
from actions.services import action_create, action_delete, action_update, insecure_host_allowed
from api import serializers as out
from api.base import ApiView, Pagination
from gpts.catalogue import models_for
from gpts.selectors import can_edit_gpt, gpt_get_for_member, gpt_list_for_user
from gpts.services import EDITABLE_FIELDS as GPT_EDITABLE_FIELDS
from gpts.services import gpt_create, gpt_delete, gpt_update
from kernel.errors import RuleViolation
from workspaces.domains import DomainNotAllowed
from workspaces.models import ADMIN_ROLES, Membership
from workspaces.policy import domain_policy_snapshot
from workspaces.selectors import workspace_get_for_member
from workspaces.services import domain_policy_update, workspace_create

ACTION_PREFETCH = Prefetch("operations", queryset=Operation.objects.order_by("id"))


def forbid(detail: str):
    return RuleViolation("permission_denied", detail, status=403)


def policy_errors(actions, workspace) -> dict[int, list[dict]]:
    """Errors an action has now because of the workspace policy (it may have changed since the
    schema was saved). One policy read for the whole list."""
    policy = domain_policy_snapshot(workspace=workspace)
    errors = {}
    for action in actions:
        if not action.domain:
            continue
        try:
            policy.check(action.domain)
        except DomainNotAllowed as exc:
            errors[action.pk] = [
                {
                    "message": exc.detail,
                    "pointer": "/servers/0/url",
                    "line": None,
                    "column": None,
                    "code": "domain_not_allowed",
                }
            ]
    return errors


# Workspaces ---------------------------------------------------------------------------------


class WorkspaceListView(ApiView):
    pagination_class = Pagination  # documents the paginated list (self.paginated)

    @extend_schema(responses=out.WorkspaceSerializer(many=True))
    def get(self, request):
        memberships = (
            Membership.objects.filter(user=request.user)
            .select_related("workspace")
            .prefetch_related("workspace__allowed_domains")
            .order_by("workspace__name", "workspace_id")
        )
        return self.paginated(memberships, lambda m: out.workspace_data(m.workspace, m.role))

    @extend_schema(
        request=inline_serializer(
            "WorkspaceCreate",
            {"name": serializers.CharField(), "slug": serializers.SlugField(required=False)},
        ),
        responses={201: out.WorkspaceSerializer},
    )
    def post(self, request):
        body = self.body()
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 120:
            raise RuleViolation(
                "invalid", "Give the workspace a name of at most 120 characters.", field="name"
            )
        slug = body.get("slug") or ""
        if not isinstance(slug, str) or len(slug) > 56:
            raise RuleViolation(
                "invalid", "slug must be text of at most 56 characters.", field="slug"
            )
        workspace = workspace_create(name=name.strip(), slug=slug, creator=request.user)
        return self.created(out.workspace_data(workspace, "owner"))


class WorkspaceDetailView(ApiView):
    @extend_schema(responses=out.WorkspaceSerializer)
    def get(self, request, slug):
        workspace, membership = workspace_get_for_member(slug=slug, user=request.user)
        return Response(out.workspace_data(workspace, membership.role))

    @extend_schema(request=out.WorkspaceSerializer, responses=out.WorkspaceSerializer)
    @transaction.atomic
    def patch(self, request, slug):
        workspace, membership = workspace_get_for_member(slug=slug, user=request.user)
        body = self.body()
        if "name" in body:
            if membership.role not in ADMIN_ROLES:
                raise forbid("Only admins and owners rename the workspace.")
            name = body["name"]
            if not isinstance(name, str) or not name.strip() or len(name) > 120:
                raise RuleViolation(
                    "invalid", "Give the workspace a name of at most 120 characters.", field="name"
                )
            workspace.name = name.strip()
            workspace.save(update_fields=["name", "updated_at"])
        if "action_domains" in body:
            domains = body["action_domains"]
            if not isinstance(domains, dict):
                raise RuleViolation(
                    "invalid",
                    "action_domains must be an object with allow_all and allowed.",
                    field="action_domains",
                )
            allow_all = domains.get("allow_all")
            if allow_all is not None and not isinstance(allow_all, bool):
                raise RuleViolation("invalid", "action_domains.allow_all must be true or false.")
            workspace = domain_policy_update(
                workspace=workspace,
                actor=request.user,
                allow_all=allow_all,
                allowed=domains.get("allowed"),
            )
        return Response(out.workspace_data(workspace, membership.role))


# GPTs ---------------------------------------------------------------------------------------


def gpt_queryset(user, workspace=None):
    return (
        gpt_list_for_user(user=user, workspace=workspace)
        .select_related("workspace")
        .prefetch_related(Prefetch("actions", queryset=Action.objects.only("id", "gpt_id")))
        .order_by("name", "id")
    )


class GPTListView(ApiView):
    pagination_class = Pagination  # documents the paginated list (self.paginated)

    @extend_schema(responses=out.GPTSerializer(many=True))
    def get(self, request, slug):
        workspace, _ = workspace_get_for_member(slug=slug, user=request.user)
        return self.paginated(gpt_queryset(request.user, workspace), out.gpt_data)

    @extend_schema(request=out.GPTSerializer, responses={201: out.GPTSerializer})
    def post(self, request, slug):
        workspace, _ = workspace_get_for_member(slug=slug, user=request.user)
        body = self.body()
        fields = {key: body[key] for key in GPT_EDITABLE_FIELDS if key in body}
        if "name" not in fields:
            raise RuleViolation("invalid", "Give the GPT a name.", field="name")
        gpt = gpt_create(workspace=workspace, acting_user=request.user, **fields)
        return self.created(out.gpt_data(gpt))


class GPTDetailView(ApiView):
    def editable_gpt(self, request, gpt_id):
        gpt = gpt_get_for_member(gpt_id=gpt_id, user=request.user)
        if not can_edit_gpt(gpt=gpt, user=request.user):
            raise forbid("Only the GPT's builder, admins and owners change it.")
        return gpt

    @extend_schema(responses=out.GPTSerializer)
    def get(self, request, gpt_id):
        return Response(
            out.gpt_data(
                gpt_queryset(request.user).get(
                    pk=gpt_get_for_member(gpt_id=gpt_id, user=request.user).pk
                )
            )
        )

    @extend_schema(request=out.GPTSerializer, responses=out.GPTSerializer)
    def patch(self, request, gpt_id):
        gpt = self.editable_gpt(request, gpt_id)
        body = self.body()
        fields = {key: body[key] for key in GPT_EDITABLE_FIELDS if key in body}
        gpt = gpt_update(gpt=gpt, acting_user=request.user, **fields)
        return Response(out.gpt_data(gpt_queryset(request.user).get(pk=gpt.pk)))

    @extend_schema(responses={204: None})
    def delete(self, request, gpt_id):
        gpt_delete(gpt=self.editable_gpt(request, gpt_id), acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GPTModelsView(ApiView):
    @extend_schema(responses=out.ModelSerializer(many=True))
    def get(self, request, gpt_id):
        gpt = gpt_get_for_member(gpt_id=gpt_id, user=request.user)
        choices = models_for(has_actions=gpt.actions.exists())
        return Response(
            [
                {
                    "key": m.key,
                    "label": m.label,
                    "supports_actions": m.supports_actions,
                    "pro": m.pro,
                }
                for m in choices
            ]
        )


# Actions ------------------------------------------------------------------------------------


def action_input(body: dict) -> dict:
    fields = {}
    if "schema" in body:
        if not isinstance(body["schema"], str):
            raise RuleViolation("invalid", "schema must be the document's text.", field="schema")
        fields["schema"] = body["schema"]
    if "auth" in body:
        fields["auth"] = body["auth"]
    if "privacy_policy_url" in body:
        if not isinstance(body["privacy_policy_url"], str):
            raise RuleViolation(
                "invalid", "privacy_policy_url must be text.", field="privacy_policy_url"
            )
        fields["privacy_policy_url"] = body["privacy_policy_url"]
    return fields


class ActionListView(ApiView):
    @extend_schema(responses=out.ActionSerializer(many=True))
    def get(self, request, gpt_id):
        gpt = gpt_get_for_member(gpt_id=gpt_id, user=request.user)
        actions = list(gpt.actions.prefetch_related(ACTION_PREFETCH).order_by("id"))
        errors = policy_errors(actions, gpt.workspace)
        return Response([out.action_data(a, live_errors=errors.get(a.pk)) for a in actions])

    @extend_schema(request=out.ActionSerializer, responses={201: out.ActionSerializer})
    def post(self, request, gpt_id):
        gpt = gpt_get_for_member(gpt_id=gpt_id, user=request.user)
        if not can_edit_gpt(gpt=gpt, user=request.user):
            raise forbid("Only the GPT's builder, admins and owners add actions.")
        action = action_create(gpt=gpt, acting_user=request.user, **action_input(self.body()))
        return self.created(out.action_data(action))


class ActionDetailView(ApiView):
    def editable_action(self, request, action_id):
        action = action_get_for_member(action_id=action_id, user=request.user)
        if not can_edit_gpt(gpt=action.gpt, user=request.user):
            raise forbid("Only the GPT's builder, admins and owners change its actions.")
        return action

    @extend_schema(responses=out.ActionSerializer)
    def get(self, request, action_id):
        action = action_get_for_member(action_id=action_id, user=request.user)
        return Response(
            out.action_data(
                action, live_errors=policy_errors([action], action.workspace).get(action.pk)
            )
        )

    @extend_schema(request=out.ActionSerializer, responses=out.ActionSerializer)
    def patch(self, request, action_id):
        action = self.editable_action(request, action_id)
        action = action_update(action=action, acting_user=request.user, **action_input(self.body()))
        return Response(out.action_data(action))

    @extend_schema(responses={204: None})
    def delete(self, request, action_id):
        action_delete(action=self.editable_action(request, action_id), acting_user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# Schema tools -------------------------------------------------------------------------------

SchemaText = inline_serializer("SchemaText", {"schema": serializers.CharField()})


def schema_text(body: dict) -> str:
    text = body.get("schema")
    if not isinstance(text, str):
        raise RuleViolation(
            "invalid", 'Send the schema\'s text as {"schema": "..."}.', field="schema"
        )
    return text


class SchemaValidateView(ApiView):
    """Check a schema's text: any text gets a verdict (200), never an error."""

    accepts_nul = True

    @extend_schema(request=SchemaText, responses=OpenApiResponse(description="The verdict."))
    def post(self, request):
        verdict = openapi.validate(
            schema_text(self.body()), allow_insecure_host=insecure_host_allowed
        )
        return Response(verdict.as_dict())


class SchemaExamplesView(ApiView):
    @extend_schema(
        responses=inline_serializer(
            "SchemaExample",
            {
                "key": serializers.CharField(),
                "title": serializers.CharField(),
                "format": serializers.CharField(),
                "schema": serializers.CharField(),
            },
            many=True,
        )
    )
    def get(self, request):
        return Response(EXAMPLES)


class SchemaFormatView(ApiView):
    accepts_nul = True  # the schema engine explains why such text can not be formatted

    @extend_schema(request=SchemaText, responses=SchemaText)
    def post(self, request):
        try:
            formatted = openapi.format_schema(schema_text(self.body()))
        except openapi.SchemaParseError as exc:
            raise RuleViolation(
                "unparseable_schema",
                "The schema can not be parsed, so it can not be formatted.",
                errors=[p.as_dict() for p in exc.problems],
            ) from None
        return Response({"schema": formatted})


# Imports ------------------------------------------------------------------------------------


class ImportCreateView(ApiView):
    @extend_schema(
        request=inline_serializer("ImportRequest", {"url": serializers.URLField()}),
        responses={
            202: out.SchemaImportSerializer,
            503: OpenApiResponse(
                description="queue_unavailable: the import is saved and starts when the task "
                "queue is back (import_id says which)."
            ),
        },
    )
    def post(self, request, action_id):
        action = action_get_for_member(action_id=action_id, user=request.user)
        if not can_edit_gpt(gpt=action.gpt, user=request.user):
            raise forbid("Only the GPT's builder, admins and owners import schemas.")
        url = self.body().get("url")
        job = import_request(action=action, url=url, acting_user=request.user)
        return Response(out.import_data(job), status=status.HTTP_202_ACCEPTED)


class ImportDetailView(ApiView):
    @extend_schema(responses=out.SchemaImportSerializer)
    def get(self, request, import_id):
        return Response(
            out.import_data(import_get_for_member(import_id=import_id, user=request.user))
        )
