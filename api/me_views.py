"""The caller's own OAuth connections (DESIGN.md §4): list and revoke. Thin over selectors and
the revoke service; a connection of someone else answers 404 like a missing one."""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from actions.models import ConnectedAccount, ConnectionReason, ConnectionStatus
from actions.oauth.revoke import connection_revoke
from actions.oauth.selectors import connection_list_for_user
from api.base import ApiView, Pagination
from kernel.serializers import PlannedSerializer


class ConnectedAccountSerializer(PlannedSerializer):
    # Never a token: only what the user needs to recognise and manage the connection.
    id = serializers.IntegerField()
    gpt = serializers.IntegerField(source="gpt_id")
    action = serializers.IntegerField(source="action_id")
    domain = serializers.CharField(source="action.domain")
    scopes = serializers.SerializerMethodField()
    connected_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=ConnectionStatus.values)
    status_reason = serializers.SerializerMethodField(
        help_text="Why the connection needs reconnecting; null while it is active."
    )

    def get_scopes(self, account: ConnectedAccount) -> list[str]:
        return account.scopes.split()

    @extend_schema_field(
        serializers.ChoiceField(
            choices=[value for value in ConnectionReason.values if value], allow_null=True
        )
    )
    def get_status_reason(self, account: ConnectedAccount) -> str | None:
        return account.status_reason or None


class RevokedSerializer(PlannedSerializer):
    provider_notified = serializers.BooleanField(
        help_text="The provider's revocation endpoint confirmed the tokens are revoked."
    )
    detail = serializers.CharField()


class ConnectedAccountListView(ApiView):
    pagination_class = Pagination  # documents the paginated list (self.paginated)
    OutputSerializer = ConnectedAccountSerializer

    @extend_schema(responses=OutputSerializer(many=True))
    def get(self, request):
        return self.paginated(connection_list_for_user(user=request.user), self.OutputSerializer)


class ConnectedAccountDetailView(ApiView):
    @extend_schema(
        responses={200: RevokedSerializer},
        description="Delete the tokens and ask the provider to revoke them (RFC 7009) when "
        "the action names a revocation endpoint. The tokens are deleted here in every case; "
        "`provider_notified` says whether the provider confirmed the revocation.",
    )
    def delete(self, request, connection_id):
        result = connection_revoke(user=request.user, connection_id=connection_id)
        return Response(
            {"provider_notified": bool(result.provider_notified), "detail": result.summary()},
            status=status.HTTP_200_OK,
        )
