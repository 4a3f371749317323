"""Workspaces (tenants), their members, the action-domain allowlist and the audit log."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Plan(models.TextChoices):
    FREE = "free", "Free"
    PLUS = "plus", "Plus"
    PRO = "pro", "Pro"
    TEAM = "team", "Team"
    ENTERPRISE = "enterprise", "Enterprise"
    EDU = "edu", "Edu"


# Only these plans let the owner restrict action domains; every other plan allows all domains.
PLANS_WITH_DOMAIN_POLICY = frozenset({Plan.ENTERPRISE, Plan.EDU})


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    BUILDER = "builder", "Builder"
    MEMBER = "member", "Member"


ADMIN_ROLES = frozenset({Role.OWNER, Role.ADMIN})
BUILDER_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.BUILDER})


class Workspace(models.Model):
    """A tenant: every GPT, action and audit row belongs to exactly one workspace."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    plan = models.CharField(max_length=16, choices=Plan.choices, default=Plan.FREE)
    allow_all_domains = models.BooleanField(
        "Allow all domains for GPT Actions",
        default=True,
        help_text="When off, actions may reach only the domains on the allowlist.",
    )
    mcp_enabled = models.BooleanField(
        "MCP endpoints on",
        default=False,
        help_text="When on, members may use this workspace's GPTs from MCP hosts (Claude, "
        "Cursor, ChatGPT connectors...) at /mcp/gpts/<id>, under the same domain policy and "
        "approvals. Only owners change it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(plan__in=[choice.value for choice in Plan]),
                name="workspace_plan_valid",
                violation_error_message="Unknown plan.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_domain_policy(self) -> bool:
        return self.plan in PLANS_WITH_DOMAIN_POLICY


class Membership(models.Model):
    """A user's role in one workspace; one membership per user and workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["workspace", "user"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user"],
                name="membership_one_per_user_and_workspace",
                violation_error_message="This user is already a member of the workspace.",
            ),
            models.CheckConstraint(
                condition=Q(role__in=[choice.value for choice in Role]),
                name="membership_role_valid",
                violation_error_message="Unknown role.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class AllowedDomain(models.Model):
    """One allowlist entry: `example.com` (host and subdomains) or `*.example.com` (subdomains).

    The pattern is stored normalised (punycode, lower case, no trailing dot) by
    `workspaces.domains.parse_allowlist_entry`, so uniqueness holds for equivalent spellings.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="allowed_domains"
    )
    pattern = models.CharField("Domain", max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pattern"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "pattern"],
                name="allowed_domain_unique_per_workspace",
                violation_error_message="This domain is already on the allowlist.",
            ),
            models.CheckConstraint(
                condition=~Q(pattern=""),
                name="allowed_domain_not_empty",
                violation_error_message="Enter a domain.",
            ),
        ]

    def __str__(self) -> str:
        return self.pattern


class AuditKind(models.TextChoices):
    POLICY_CHANGED = "policy_changed", "Domain policy changed"
    DOMAIN_ADDED = "domain_added", "Allowed domain added"
    DOMAIN_REMOVED = "domain_removed", "Allowed domain removed"
    MEMBER_ADDED = "member_added", "Member added"
    MEMBER_REMOVED = "member_removed", "Member removed"
    ROLE_CHANGED = "role_changed", "Member role changed"
    ACTION_AUTH_CHANGED = "action_auth_changed", "Action authentication changed"
    ACTION_DELETED = "action_deleted", "Action deleted"
    GPT_DELETED = "gpt_deleted", "GPT deleted"
    GPT_MOVED_OUT = "gpt_moved_out", "GPT moved to another workspace"
    GPT_MOVED_IN = "gpt_moved_in", "GPT moved in from another workspace"
    MCP_CHANGED = "mcp_changed", "MCP endpoints turned on or off"


class AuditEvent(models.Model):
    """An append-only record of a sensitive change: who, what, when, before and after.

    `before` and `after` never hold secrets: callers pass them through
    `workspaces.audit.redact` first.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=AuditKind.choices)
    target = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.target}"
