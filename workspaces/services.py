"""Writes to workspaces and memberships. Each service validates, saves and audits."""

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from kernel.errors import RuleViolation
from workspaces.audit import audit_record, audit_record_many
from workspaces.domains import DomainError, parse_allowlist_entry
from workspaces.models import (
    ADMIN_ROLES,
    ActionAccess,
    AllowedDomain,
    ApprovalMode,
    AuditKind,
    Membership,
    Plan,
    Role,
    Workspace,
)


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


NEEDS_AN_OWNER = "A workspace needs at least one owner."


def _actor_role(workspace: Workspace, actor) -> str | None:
    if actor is None or not actor.is_authenticated:
        return None
    return (
        Membership.objects.filter(workspace=workspace, user=actor)
        .values_list("role", flat=True)
        .first()
    )


def actor_manages_owners(*, workspace: Workspace, actor) -> bool:
    """Owners manage owners; so does the operator: a superuser, or no actor at all (a
    management command run by whoever runs the deployment)."""
    if actor is None or actor.is_superuser:
        return True
    return _actor_role(workspace, actor) == Role.OWNER


def membership_check(
    *, workspace: Workspace, actor, before: str | None, after: str | None, membership_pk=None
) -> None:
    """Refuse, with a RuleViolation, a membership moving from role `before` to `after`.

    `before` is None for a new member, `after` None for a removal. The rules: only owners,
    admins and the operator manage members; only owners (and the operator) make, change or
    remove owners; a workspace always keeps an owner. The services call this under a lock on
    the workspace row; forms call it too, to show a refusal next to the input.
    """
    if after is not None and after not in Role.values:
        raise RuleViolation("invalid", f"Unknown role {after!r}.", field="role")
    operator = actor is None or actor.is_superuser
    if not operator and _actor_role(workspace, actor) not in ADMIN_ROLES:
        raise RuleViolation(
            "permission_denied", "Only owners and admins manage members.", status=403
        )
    refusal = owner_change_refusal(
        actor_manages_owners=actor_manages_owners(workspace=workspace, actor=actor),
        before=before,
        after=after,
    )
    if refusal:
        raise RuleViolation("owner_required", refusal, status=403, field="role")
    if before == Role.OWNER and after != Role.OWNER:
        others = Membership.objects.filter(workspace=workspace, role=Role.OWNER)
        if membership_pk is not None:
            others = others.exclude(pk=membership_pk)
        if not others.exists():
            raise RuleViolation("last_owner", NEEDS_AN_OWNER, status=409, field="role")


def workspace_lock(workspace_pk) -> Workspace:
    """Lock the workspace row: two concurrent demotions of the last two owners must not both
    see "another owner remains"."""
    return Workspace.objects.select_for_update().get(pk=workspace_pk)


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor) -> Membership:
    """Change a member's role and record it."""
    workspace = workspace_lock(membership.workspace_id)
    membership = Membership.objects.select_related("user").get(pk=membership.pk)
    before = membership.role
    if before == role:
        return membership
    membership_check(
        workspace=workspace, actor=actor, before=before, after=role, membership_pk=membership.pk
    )
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        workspace=workspace,
        actor=actor,
        kind=AuditKind.ROLE_CHANGED,
        target=str(membership.user),
        before={"role": before},
        after={"role": role},
    )
    return membership


@transaction.atomic
def membership_add(*, workspace: Workspace, user, role: str, actor) -> Membership:
    workspace = workspace_lock(workspace.pk)
    membership_check(workspace=workspace, actor=actor, before=None, after=role)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise RuleViolation(
            "already_member", "This user is already a member of the workspace.", field="user"
        )
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
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
    workspace = workspace_lock(membership.workspace_id)
    membership = Membership.objects.select_related("user").get(pk=membership.pk)
    membership_check(
        workspace=workspace,
        actor=actor,
        before=membership.role,
        after=None,
        membership_pk=membership.pk,
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        kind=AuditKind.MEMBER_REMOVED,
        target=str(membership.user),
        before={"role": membership.role},
    )
    membership.delete()


@transaction.atomic
def domain_policy_update(
    *, workspace: Workspace, actor, allow_all: bool | None = None, allowed: list[str] | None = None
) -> Workspace:
    """Set the action-domain policy; only owners of Enterprise and Edu workspaces may.

    `allowed` replaces the whole allowlist. Every entry is validated first: one bad entry
    refuses the request and nothing changes.
    """
    workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
    if not workspace.has_domain_policy:
        raise RuleViolation(
            "policy_not_available",
            "Action-domain policies are part of the Enterprise and Edu plans; on this plan "
            "actions may reach all domains.",
        )
    role = (
        Membership.objects.filter(workspace=workspace, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    if role != Role.OWNER:
        raise RuleViolation(
            "permission_denied",
            "Only the workspace owner changes the action-domain policy.",
            status=403,
        )
    if allow_all is not None and workspace.allow_all_domains != allow_all:
        before = workspace.allow_all_domains
        workspace.allow_all_domains = allow_all
        workspace.save(update_fields=["allow_all_domains", "updated_at"])
        audit_record(
            workspace=workspace,
            actor=actor,
            kind=AuditKind.POLICY_CHANGED,
            target="Allow all domains for GPT Actions",
            before={"allow_all": before},
            after={"allow_all": allow_all},
        )
    if allowed is not None:
        if not isinstance(allowed, list) or len(allowed) > 10_000:
            raise RuleViolation(
                "invalid_domain", "allowed must be a list of at most 10,000 domains."
            )
        patterns = []
        for index, raw in enumerate(allowed):
            try:
                patterns.append(
                    parse_allowlist_entry(
                        str(raw), allow_ip_literals=settings.ACTION_DOMAIN_ALLOW_IP_LITERALS
                    )
                )
            except DomainError as exc:
                raise RuleViolation("invalid_domain", f"{raw!s}: {exc}", index=index) from None
        wanted = set(patterns)
        current = set(workspace.allowed_domains.values_list("pattern", flat=True))
        removed, added = sorted(current - wanted), sorted(wanted - current)
        workspace.allowed_domains.filter(pattern__in=removed).delete()
        AllowedDomain.objects.bulk_create(
            [AllowedDomain(workspace=workspace, pattern=p, created_by=actor) for p in added]
        )
        audit_record_many(
            workspace=workspace,
            actor=actor,
            kind=AuditKind.DOMAIN_ADDED,
            changes=[(p, None, {"pattern": p}) for p in added],
        )
        audit_record_many(
            workspace=workspace,
            actor=actor,
            kind=AuditKind.DOMAIN_REMOVED,
            changes=[(p, {"pattern": p}, None) for p in removed],
        )
    return workspace


@transaction.atomic
def mcp_enabled_update(*, workspace: Workspace, actor, enabled: bool) -> Workspace:
    """Turn the workspace's MCP endpoints on or off (DESIGN.md §6); owners only, audited.

    Off, /mcp/gpts/<id> of every GPT of the workspace answers 403 at once: the endpoint reads
    the flag on every request.
    """
    workspace = Workspace.objects.select_for_update().get(pk=workspace.pk)
    if not isinstance(enabled, bool):
        raise RuleViolation("invalid_mcp_enabled", "mcp_enabled must be true or false.")
    role = (
        Membership.objects.filter(workspace=workspace, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    if role != Role.OWNER:
        raise RuleViolation(
            "permission_denied",
            "Only the workspace owner turns the MCP endpoints on or off.",
            status=403,
        )
    if workspace.mcp_enabled != enabled:
        workspace.mcp_enabled = enabled
        workspace.save(update_fields=["mcp_enabled", "updated_at"])
        audit_record(
            workspace=workspace,
            actor=actor,
            kind=AuditKind.MCP_CHANGED,
            target="MCP endpoints",
            before={"mcp_enabled": not enabled},
            after={"mcp_enabled": enabled},
        )
    return workspace


def owner_change_refusal(*, actor_manages_owners: bool, before: str | None, after: str | None):
    """Why an actor may not move a membership from role `before` to `after`, or None if allowed.

    `before` is None for a new member, `after` None for a removal. Only owners (and the
    operator, a superuser) make, change or remove owners: an admin who could promote a friend
    to owner, or demote the owner, would own the workspace's policy in all but name.
    """
    if before == after or actor_manages_owners:
        return None
    if after == Role.OWNER:
        return "Only an owner can make someone an owner."
    if before == Role.OWNER:
        return "Only an owner can change or remove an owner."
    return None


# Governance settings (DESIGN.md §7) --------------------------------------------------------------

GOVERNANCE_FIELDS = ("action_access", "review_new_operations", "approvals")


@transaction.atomic
def workspace_settings_update(*, workspace: Workspace, actor, **changes) -> Workspace:
    """Change the workspace's governance settings (`action_access`, `review_new_operations`,
    `approvals`); owners only (and the operator). One audit row per field that changes.

    actions/governance.py enforces them at every run and export, so a change applies at once.
    """
    unknown = sorted(set(changes) - set(GOVERNANCE_FIELDS))
    if unknown:
        raise RuleViolation("invalid", f"Unknown setting {unknown[0]!r}.", field=unknown[0])
    workspace = workspace_lock(workspace.pk)
    if not actor_manages_owners(workspace=workspace, actor=actor):
        raise RuleViolation(
            "permission_denied",
            "Only an owner of the workspace changes how its actions are governed.",
            status=403,
        )
    allowed = {
        "action_access": ActionAccess.values,
        "approvals": ApprovalMode.values,
        "review_new_operations": (True, False),
    }
    changed = []
    for field, value in changes.items():
        if value is None:
            continue
        if value not in allowed[field] or (field == "review_new_operations") != (
            isinstance(value, bool)
        ):
            raise RuleViolation("invalid", f"{value!r} is not a valid {field}.", field=field)
        before = getattr(workspace, field)
        if before == value:
            continue
        setattr(workspace, field, value)
        changed.append(field)
        audit_record(
            workspace=workspace,
            actor=actor,
            kind=AuditKind.SETTINGS_CHANGED,
            target=str(
                getattr(Workspace._meta.get_field(field), "verbose_name", field)
            ).capitalize(),
            before={field: before},
            after={field: value},
        )
    if changed:
        workspace.save(update_fields=[*changed, "updated_at"])
    return workspace
