"""Workspace governance in the REST API (DESIGN.md §7): members and invitations, and the
admins' word on each operation.

Thin views, like the rest of the API: the permission layer resolves the workspace or action for
the caller (404 for strangers) and lets any member read, admins and owners write; the services
(workspaces.services, workspaces.invitations, actions.services) own who may do what beyond
that (only owners manage owners, a workspace keeps an owner, only admins review operations).
"""

from typing import Any

from django.http import Http404
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from actions.models import OperationReview
from actions.selectors import action_access_for_member
from actions.services import operation_set_state
from api import serializers as shapes
from api.base import ApiView, Pagination
from api.permissions import EDIT
from kernel.serializers import PlannedSerializer
from workspaces.invitations import invitation_revoke, member_add
from workspaces.models import Role
from workspaces.selectors import (
    invitation_get_for_workspace,
    invitation_list_pending,
    membership_get_for_workspace,
    membership_list_for_workspace,
    workspace_access_for_member,
)
from workspaces.services import membership_remove, membership_set_role

MEMBERS_DENIED = "Only admins and owners manage the workspace's members."
ErrorBody = inline_serializer(
    "GovernanceError", {"code": serializers.CharField(), "detail": serializers.CharField()}
)
LAST_OWNER = OpenApiResponse(ErrorBody, description="last_owner: a workspace keeps an owner")


class MemberSerializer(PlannedSerializer):
    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    email = serializers.CharField(source="user.email")
    role = serializers.ChoiceField(choices=Role.values)
    joined_at = serializers.DateTimeField(source="created_at")

    class Meta:
        ref_name = "Member"


class InvitationSerializer(PlannedSerializer):
    """A pending invitation; `accept_url` only in the answer that created it (only a hash of
    its token is kept)."""

    id = serializers.IntegerField()
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.values)
    expires_at = serializers.DateTimeField()
    invited_by = serializers.CharField(source="invited_by.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Invitation"


class CreatedInvitationSerializer(InvitationSerializer):
    accept_url = serializers.CharField()

    class Meta:
        ref_name = "CreatedInvitation"


InvitationCreated = inline_serializer(
    "InvitationCreated", {"invitation": CreatedInvitationSerializer()}
)
MemberAdded = PolymorphicProxySerializer(
    component_name="MemberAdded",
    serializers=[MemberSerializer, InvitationCreated],
    resource_type_field_name=None,
)


class MemberListView(ApiView):
    """GET, POST /api/v1/workspaces/{slug}/members/."""

    pagination_class = Pagination  # documents the paginated list (self.paginated)
    access_selector = staticmethod(workspace_access_for_member)
    access_denied = MEMBERS_DENIED

    class InputSerializer(serializers.Serializer):
        username = shapes.StrictCharField(required=False, max_length=150)
        email = shapes.StrictCharField(required=False, max_length=254)
        role = serializers.ChoiceField(choices=Role.values, required=False)

        class Meta:
            ref_name = "MemberAdd"

    OutputSerializer = MemberSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, slug):
        members = membership_list_for_workspace(workspace=self.access.obj)
        return self.paginated(members, self.OutputSerializer)

    @extend_schema(
        request=InputSerializer,
        responses={201: MemberAdded},
        description='Add a user of the deployment by "username" or "email"; an e-mail nobody '
        'uses here gets an invitation instead ({"invitation": {..., "accept_url"}}, single use, '
        "valid 7 days, also e-mailed).",
    )
    def post(self, request, slug):
        data = self.validated(self.InputSerializer)
        added = member_add(
            workspace=self.access.obj,
            actor=request.user,
            role=data.get("role", Role.MEMBER),
            username=data.get("username", ""),
            email=data.get("email", ""),
        )
        if added.membership is not None:
            membership = membership_get_for_workspace(
                workspace=self.access.obj, user_id=added.membership.user_id
            )
            return self.created(self.OutputSerializer(membership).data)
        invitation: Any = added.invitation  # set: the e-mail was not a user's
        invitation.accept_url = added.accept_url
        return self.created({"invitation": CreatedInvitationSerializer(invitation).data})


class MemberDetailView(ApiView):
    """GET, PATCH, DELETE /api/v1/workspaces/{slug}/members/{user_id}/."""

    access_selector = staticmethod(workspace_access_for_member)
    access_denied = MEMBERS_DENIED

    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Role.values)

        class Meta:
            ref_name = "MemberUpdate"

    OutputSerializer = MemberSerializer

    def membership(self, user_id):
        return membership_get_for_workspace(workspace=self.access.obj, user_id=user_id)

    @extend_schema(responses=OutputSerializer)
    def get(self, request, slug, user_id):
        return Response(self.OutputSerializer(self.membership(user_id)).data)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, 409: LAST_OWNER})
    def patch(self, request, slug, user_id):
        role = self.validated(self.InputSerializer)["role"]
        membership_set_role(membership=self.membership(user_id), role=role, actor=request.user)
        return Response(self.OutputSerializer(self.membership(user_id)).data)

    @extend_schema(responses={204: None, 409: LAST_OWNER})
    def delete(self, request, slug, user_id):
        membership_remove(membership=self.membership(user_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListView(ApiView):
    """GET /api/v1/workspaces/{slug}/invitations/: pending invitations (admins and owners)."""

    pagination_class = Pagination  # documents the paginated list (self.paginated)
    access_selector = staticmethod(workspace_access_for_member)
    access_needs = {"GET": EDIT}
    access_denied = MEMBERS_DENIED
    OutputSerializer = InvitationSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request, slug):
        invitations = invitation_list_pending(workspace=self.access.obj)
        return self.paginated(invitations, self.OutputSerializer)


class InvitationDetailView(ApiView):
    """GET, DELETE /api/v1/workspaces/{slug}/invitations/{id}/: DELETE revokes it."""

    access_selector = staticmethod(workspace_access_for_member)
    access_needs = {"GET": EDIT}
    access_denied = MEMBERS_DENIED
    OutputSerializer = InvitationSerializer

    @extend_schema(responses=OutputSerializer)
    def get(self, request, slug, invitation_id):
        invitation = invitation_get_for_workspace(
            workspace=self.access.obj, invitation_id=invitation_id
        )
        return Response(self.OutputSerializer(invitation).data)

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(ErrorBody, description="invitation_closed: used or revoked"),
        },
        description="Revoke: the link stops working at once.",
    )
    def delete(self, request, slug, invitation_id):
        invitation = invitation_get_for_workspace(
            workspace=self.access.obj, invitation_id=invitation_id
        )
        invitation_revoke(invitation=invitation, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OperationDetailView(ApiView):
    """GET, PATCH /api/v1/actions/{id}/operations/{operation_id}: an operation and the admins'
    word on it (`enabled`, `review`); only admins and owners change them."""

    access_selector = staticmethod(action_access_for_member)
    # Builders edit the action, but only admins review its operations: the service says so.
    access_needs = {"PATCH": "read"}
    access_denied = "Only admins and owners of the workspace review operations."

    class InputSerializer(serializers.Serializer):
        enabled = shapes.StrictBooleanField(required=False)
        review = serializers.ChoiceField(choices=OperationReview.values, required=False)

        class Meta:
            ref_name = "OperationUpdate"

    OutputSerializer = shapes.OperationSerializer

    def operation(self, operation_id):
        for operation in self.access.obj.operations.all():
            if operation.operation_id == operation_id:
                return operation
        raise Http404("No such operation.")

    @extend_schema(responses=OutputSerializer)
    def get(self, request, action_id, operation_id):
        return Response(self.OutputSerializer(self.operation(operation_id)).data)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def patch(self, request, action_id, operation_id):
        data = self.validated(self.InputSerializer)
        operation = operation_set_state(
            operation=self.operation(operation_id),
            actor=request.user,
            enabled=data.get("enabled"),
            review=data.get("review"),
        )
        return Response(self.OutputSerializer(operation).data)
