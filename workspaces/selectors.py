"""Reads of tenant data. Every function takes the acting user (or workspace) as a required
keyword, so a query can not forget its scope; "missing" and "not yours" raise the same 404.

The `*_access_for_member` selectors answer "who is asking and what may they do" once per
request: the object and the caller's role come back together as an `Access` (Zulip's
`access_stream_by_id`), and the API's and the editor's permission layer (api/permissions.py)
decides from it. No view reads memberships itself.
"""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from workspaces.models import ADMIN_ROLES, BUILDER_ROLES, Invitation, Membership, Workspace

T = TypeVar("T")
# request.user: a User, or AnonymousUser (every selector checks is_authenticated first).
UserLike = Any


@dataclass(frozen=True)
class Access(Generic[T]):
    """An object the caller may see, the caller's role in its workspace, and whether the
    caller may change it (which depends on the object: see each selector)."""

    obj: T
    role: str
    can_edit: bool

    @property
    def can_build(self) -> bool:
        """Builders, admins and owners create GPTs and actions in the workspace."""
        return self.role in BUILDER_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES


def role_subquery(*, user: UserLike, workspace_ref: str = "workspace_id") -> Subquery:
    """The user's role in the workspace of each row, for `.annotate(caller_role=...)`: the
    object and the caller's role then come back in one query."""
    # `.order_by()`: (workspace, user) is unique, so Membership's default ordering (by
    # workspace name) would only add a join to every access query.
    return Subquery(
        Membership.objects.filter(workspace_id=OuterRef(workspace_ref), user=user)
        .order_by()
        .values("role")[:1]
    )


def workspace_list_for_user(*, user: UserLike) -> QuerySet[Workspace]:
    """Workspaces the user belongs to."""
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)


def workspace_list_for_member(*, user: UserLike) -> QuerySet[Workspace]:
    """The user's workspaces by name, each with the user's role as `caller_role`."""
    return (
        workspace_list_for_user(user=user)
        .annotate(caller_role=role_subquery(user=user, workspace_ref="pk"))
        .order_by("name", "pk")
    )


def membership_list_for_user(*, user: UserLike, roles=None) -> list[Membership]:
    """The user's memberships with their workspaces, by workspace name; only those with one of
    `roles` when given."""
    if not user.is_authenticated:
        return []
    memberships = Membership.objects.filter(user=user).select_related("workspace")
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return list(memberships.order_by("workspace__name", "workspace_id"))


def workspace_ids_for_user(*, user: UserLike, roles=None) -> QuerySet:
    """Ids of the user's workspaces, optionally only those where the user has one of `roles`.

    Returned as a subquery-ready queryset so callers filter with `workspace_id__in=`.
    """
    if not user.is_authenticated:
        return Membership.objects.none().values("workspace_id")
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("workspace_id")


def admin_workspace_ids(*, user: UserLike) -> QuerySet:
    """Workspaces whose admin site the user may manage (owner or admin role)."""
    return workspace_ids_for_user(user=user, roles=ADMIN_ROLES)


def membership_get(*, workspace: Workspace, user: UserLike) -> Membership:
    """The user's membership of `workspace`, or 404 when the user is not a member."""
    if not user.is_authenticated:
        raise Http404("No such workspace.")
    try:
        return Membership.objects.get(workspace=workspace, user=user)
    except Membership.DoesNotExist:
        raise Http404("No such workspace.") from None


def workspace_get_for_member(*, slug: str, user: UserLike) -> tuple[Workspace, Membership]:
    """The workspace with `slug` and the user's membership, or 404 for strangers."""
    membership = (
        Membership.objects.select_related("workspace")
        .filter(workspace__slug=slug, user=user if user.is_authenticated else None)
        .first()
    )
    if membership is None:
        raise Http404("No such workspace.")
    return membership.workspace, membership


def workspace_access_for_member(*, slug: str, user: UserLike) -> Access[Workspace]:
    """The workspace with `slug` (as `workspace_list_for_member` shows it) and the caller's
    role; admins and owners change its settings. 404 for strangers."""
    # The workspace by its unique slug with the role beside it, rather than the member list
    # filtered: the same answer, and this query runs on every request of a workspace's URLs.
    workspace = None
    if user.is_authenticated:
        workspace = (
            Workspace.objects.annotate(caller_role=role_subquery(user=user, workspace_ref="pk"))
            .filter(slug=slug)
            .first()
        )
    role = getattr(workspace, "caller_role", None)
    if workspace is None or role is None:
        raise Http404("No such workspace.")
    return Access(obj=workspace, role=role, can_edit=role in ADMIN_ROLES)


def role_can_build(role: str) -> bool:
    return role in BUILDER_ROLES


def role_is_admin(role: str) -> bool:
    return role in ADMIN_ROLES


def membership_list_for_workspace(*, workspace: Workspace) -> QuerySet[Membership]:
    """The workspace's members with their users, by username."""
    return (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("user__username", "pk")
    )


def membership_get_for_workspace(*, workspace: Workspace, user_id) -> Membership:
    """The membership of user `user_id` in `workspace`; 404 for a user who is not a member
    (whether or not the user exists)."""
    try:
        return membership_list_for_workspace(workspace=workspace).get(user_id=user_id)
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise Http404("No such member.") from None


def invitation_list_pending(*, workspace: Workspace) -> QuerySet[Invitation]:
    """The workspace's invitations that can still be accepted, newest first."""
    return (
        Invitation.objects.filter(
            workspace=workspace,
            accepted_at=None,
            revoked_at=None,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )


def invitation_get_for_workspace(*, workspace: Workspace, invitation_id) -> Invitation:
    """One invitation of `workspace` (pending or not); another workspace's is a 404."""
    try:
        return Invitation.objects.select_related("workspace").get(
            workspace=workspace, pk=invitation_id
        )
    except (Invitation.DoesNotExist, ValueError, TypeError):
        raise Http404("No such invitation.") from None
