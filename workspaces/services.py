"""Writes to workspaces and memberships. Each service validates, saves and audits."""

from django.db import transaction
from django.utils.text import slugify

from workspaces.audit import audit_record
from workspaces.models import AuditKind, Membership, Plan, Role, Workspace


@transaction.atomic
def workspace_create(*, name: str, creator, slug: str = "", plan: str = Plan.FREE) -> Workspace:
    """Create a workspace; its creator becomes the owner."""
    base = slugify(slug or name)[:56] or "workspace"
    candidate, n = base, 1
    while Workspace.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    workspace = Workspace.objects.create(name=name, slug=candidate, plan=plan)
    Membership.objects.create(workspace=workspace, user=creator, role=Role.OWNER)
    audit_record(
        workspace=workspace,
        actor=creator,
        kind=AuditKind.MEMBER_ADDED,
        target=str(creator),
        after={"role": Role.OWNER},
    )
    return workspace


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor) -> Membership:
    """Change a member's role and record it."""
    before = membership.role
    if before == role:
        return membership
    membership.role = role
    membership.full_clean()
    membership.save(update_fields=["role"])
    audit_record(
        workspace=membership.workspace,
        actor=actor,
        kind=AuditKind.ROLE_CHANGED,
        target=str(membership.user),
        before={"role": before},
        after={"role": role},
    )
    return membership


@transaction.atomic
def membership_add(*, workspace: Workspace, user, role: str, actor) -> Membership:
    membership = Membership(workspace=workspace, user=user, role=role)
    membership.full_clean()
    membership.save()
    audit_record(
        workspace=workspace,
        actor=actor,
        kind=AuditKind.MEMBER_ADDED,
        target=str(user),
        after={"role": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor) -> None:
    audit_record(
        workspace=membership.workspace,
        actor=actor,
        kind=AuditKind.MEMBER_REMOVED,
        target=str(membership.user),
        before={"role": membership.role},
    )
    membership.delete()
