"""Running operations, exporting them as tools, and the caller's remembered approvals.

Thin views (DESIGN.md §4): resolve the object for the caller (404 outside the caller's
workspaces), call the runtime, shape the reply. The runtime's refusals are RuleViolations that
the API's exception handler turns into `{"code", "detail", ...}` with their status.
"""

from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from actions.runtime.run import CONSENT_CHOICES, consent_revoke, operation_run
from actions.runtime.tools import gpt_tools
from actions.selectors import (
    action_get_for_member,
    callable_actions,
    consent_get_for_user,
    consent_list_for_user,
)
from api.base import ApiView, Pagination
from api.serializers import StrictCharField
from gpts.selectors import gpt_get_for_member
from kernel.serializers import PlannedSerializer


@extend_schema_field({"type": "string", "enum": list(CONSENT_CHOICES)})
class ConsentField(StrictCharField):
    # Text only; which texts mean something is the runtime's rule (invalid_consent).
    pass


class RunRequestSerializer(serializers.Serializer):
    arguments = serializers.DictField(
        required=False,
        help_text="Parameters by name; the request body, when there is one, under "
        "requestBody (exactly the exported tool's arguments).",
    )
    consent = ConsentField(required=False, allow_blank=True, allow_null=True)

    class Meta:
        ref_name = "RunRequest"


RunMessage = inline_serializer(
    "RunMessage",
    {
        "method": serializers.CharField(),
        "url": serializers.CharField(),
        "headers": serializers.DictField(child=serializers.CharField()),
        "body": serializers.CharField(allow_null=True),
    },
)
RunResult = inline_serializer(
    "RunResult",
    {
        "status": serializers.ChoiceField(choices=["ok", "rate_limited", "upstream_error"]),
        "request": RunMessage,
        "response": inline_serializer(
            "RunResponse",
            {
                "status": serializers.IntegerField(),
                "headers": serializers.DictField(child=serializers.CharField()),
                "body": serializers.CharField(),
                "url": serializers.CharField(),
                "retry_after": serializers.CharField(required=False, allow_null=True),
            },
        ),
        "retry_after": serializers.CharField(required=False, allow_null=True),
        "detail": serializers.CharField(required=False),
        "duration_ms": serializers.IntegerField(),
    },
)
RunDeclined = inline_serializer(
    "RunDeclined",
    {
        "status": serializers.ChoiceField(choices=["declined"]),
        "detail": serializers.CharField(),
        "operation_id": serializers.CharField(),
    },
)
# A 200 is either a call that was sent (whatever the API answered) or the user's "decline".
RunOutcome = PolymorphicProxySerializer(
    component_name="RunOutcome",
    serializers=[RunResult, RunDeclined],
    resource_type_field_name=None,
)
ErrorBody = inline_serializer(
    "RunError", {"code": serializers.CharField(), "detail": serializers.CharField()}
)


class OperationRunView(ApiView):
    """POST /api/v1/actions/{id}/operations/{operation_id}/run: any member who may see the
    action's GPT may run it; approval is the runtime's business."""

    InputSerializer = RunRequestSerializer

    @extend_schema(
        request=RunRequestSerializer,
        responses={
            200: RunOutcome,
            400: OpenApiResponse(ErrorBody, description="invalid_arguments (names the argument)"),
            401: OpenApiResponse(ErrorBody, description="oauth_required, with authorize_url"),
            403: OpenApiResponse(
                ErrorBody,
                description="domain_not_allowed, address_not_allowed, operation_disabled, "
                "operation_pending_review, read_only_workspace",
            ),
            404: OpenApiResponse(ErrorBody, description="No such action or operation"),
            409: OpenApiResponse(ErrorBody, description="consent_required: what will be sent"),
            502: OpenApiResponse(ErrorBody, description="upstream_error, response_too_large"),
            504: OpenApiResponse(ErrorBody, description="timeout"),
        },
        description="Run one operation for the caller. A consequential operation, or one the "
        'caller has not always allowed, first answers 409 consent_required; repeat with "consent".'
        ' "decline" is recorded and answers 200 {"status": "declined"}.',
    )
    def post(self, request, action_id, operation_id):
        action = action_get_for_member(action_id=action_id, user=request.user)
        body = self.validated(self.InputSerializer)
        return Response(
            operation_run(
                action=action,
                operation_id=operation_id,
                arguments=body.get("arguments", {}),
                consent=body.get("consent"),
                user=request.user,
            )
        )


ToolDefinition = inline_serializer(
    "ToolDefinition",
    {
        "type": serializers.CharField(),
        "function": inline_serializer(
            "ToolFunction",
            {
                "name": serializers.CharField(),
                "description": serializers.CharField(),
                "parameters": serializers.DictField(),
            },
        ),
    },
    many=True,
)


class GPTToolsView(ApiView):
    """GET /api/v1/gpts/{id}/tools/: what an assistant API needs to call the GPT's actions."""

    @extend_schema(
        responses=ToolDefinition,
        description="The GPT's operations as function-calling tool definitions.",
    )
    def get(self, request, gpt_id):
        gpt = gpt_get_for_member(gpt_id=gpt_id, user=request.user)
        return Response(gpt_tools(actions=callable_actions(gpt=gpt)))


class ConsentSerializer(PlannedSerializer):
    id = serializers.IntegerField()
    gpt = serializers.IntegerField(source="gpt_id")
    action = serializers.IntegerField(source="action_id")
    operation_id = serializers.CharField()
    created_at = serializers.DateTimeField()


class ConsentListView(ApiView):
    """GET /api/v1/me/consents/: the caller's own remembered approvals, paginated."""

    pagination_class = Pagination  # documents the paginated list (self.paginated)
    OutputSerializer = ConsentSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        return self.paginated(consent_list_for_user(user=request.user), self.OutputSerializer)


class ConsentDetailView(ApiView):
    """GET, DELETE /api/v1/me/consents/{id}/: one of the caller's approvals (else 404)."""

    OutputSerializer = ConsentSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request, consent_id):
        consent = consent_get_for_user(consent_id=consent_id, user=request.user)
        return Response(self.OutputSerializer(consent).data)

    @extend_schema(responses={204: None}, description="Forget the approval: ask again next time.")
    def delete(self, request, consent_id):
        consent_revoke(user=request.user, consent_id=consent_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
