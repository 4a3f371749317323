"""Reads of tenant data. Every function takes the acting user (or workspace) as a required
keyword, so a query can not forget its scope; "missing" and "not yours" raise the same 404."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404

from workspaces.models import ADMIN_ROLES, BUILDER_ROLES, Membership, Workspace


def workspace_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Workspace]:
    """Workspaces the user belongs to."""
    if not user.is_authenticated:
        return Workspace.objects.none()
    return Workspace.objects.filter(memberships__user=user)


def workspace_ids_for_user(*, user: AbstractBaseUser, roles=None) -> QuerySet:
    """Ids of the user's workspaces, optionally only those where the user has one of `roles`.

    Returned as a subquery-ready queryset so callers filter with `workspace_id__in=`.
    """
    if not user.is_authenticated:
        return Membership.objects.none().values("workspace_id")
    memberships = Membership.objects.filter(user=user)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("workspace_id")


def admin_workspace_ids(*, user: AbstractBaseUser) -> QuerySet:
    """Workspaces whose admin site the user may manage (owner or admin role)."""
    return workspace_ids_for_user(user=user, roles=ADMIN_ROLES)


def membership_get(*, workspace: Workspace, user: AbstractBaseUser) -> Membership:
    """The user's membership of `workspace`, or 404 when the user is not a member."""
    if not user.is_authenticated:
        raise Http404("No such workspace.")
    try:
        return Membership.objects.get(workspace=workspace, user=user)
    except Membership.DoesNotExist:
        raise Http404("No such workspace.") from None


def workspace_get_for_member(*, slug: str, user: AbstractBaseUser) -> tuple[Workspace, Membership]:
    """The workspace with `slug` and the user's membership, or 404 for strangers."""
    membership = (
        Membership.objects.select_related("workspace")
        .filter(workspace__slug=slug, user=user if user.is_authenticated else None)
        .first()
    )
    if membership is None:
        raise Http404("No such workspace.")
    return membership.workspace, membership


def role_can_build(role: str) -> bool:
    return role in BUILDER_ROLES


def role_is_admin(role: str) -> bool:
    return role in ADMIN_ROLES
