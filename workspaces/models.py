"""Workspaces (tenants), their members, the action-domain allowlist and the audit log."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


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


class ActionAccess(models.TextChoices):
    ALL = "all", "All operations"
    READ_ONLY = "read_only", "Read-only: only operations that change nothing"


class ApprovalMode(models.TextChoices):
    ASK_BEFORE_CHANGES = "ask_before_changes", "Ask before changes (users may always allow reads)"
    ALWAYS_ASK = "always_ask", "Always ask: no \"Always allow\", every call is approved"
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
    # Governance (DESIGN.md §7): owners set these, actions/governance.py enforces them.
    action_access = models.CharField(
        "Action access",
        max_length=16,
        choices=ActionAccess.choices,
        default=ActionAccess.ALL,
        help_text="Read-only: only operations that are not consequential run or are offered.",
    )
    review_new_operations = models.BooleanField(
        "Review new operations",
        default=False,
        help_text="Operations a schema save adds or changes stay off until an admin approves "
        "them.",
    )
    approvals = models.CharField(
        max_length=24,
        choices=ApprovalMode.choices,
        default=ApprovalMode.ASK_BEFORE_CHANGES,
        help_text="Always ask: no \"Always allow\", and remembered approvals are ignored.",
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
            models.CheckConstraint(
                condition=Q(action_access__in=[choice.value for choice in ActionAccess]),
                name="workspace_action_access_valid",
                violation_error_message="Unknown action access.",
            ),
            models.CheckConstraint(
                condition=Q(approvals__in=[choice.value for choice in ApprovalMode]),
                name="workspace_approvals_valid",
                violation_error_message="Unknown approval mode.",
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
    GPT_DUPLICATED = "gpt_duplicated", "GPT duplicated"
    GPT_MOVED_OUT = "gpt_moved_out", "GPT moved to another workspace"
    GPT_MOVED_IN = "gpt_moved_in", "GPT moved in from another workspace"
    INVITATION_CREATED = "invitation_created", "Invitation sent"
    INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
    INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
    SETTINGS_CHANGED = "settings_changed", "Workspace governance changed"
    OPERATION_CHANGED = "operation_changed", "Operation enabled, disabled or reviewed"
    OPERATIONS_AWAIT_REVIEW = "operations_await_review", "Operations waiting for review"
    MCP_CHANGED = "mcp_changed", "MCP endpoints turned on or off"


class Invitation(models.Model):
    """An invitation to join a workspace, sent to an e-mail address nobody here uses yet.

    Single use and short-lived (INVITATION_DAYS); only the SHA-256 of its token is stored (the
    token is only compared, like an OAuth state), so the link exists only in the e-mail and in
    the answer to whoever created it. Revoked or used ones stay, as a record.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField("E-mail", max_length=254)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField("Token hash (SHA-256)", max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=[choice.value for choice in Role]),
                name="invitation_role_valid",
                violation_error_message="Unknown role.",
            ),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="invitation_used_or_revoked_not_both",
                violation_error_message="An invitation is either accepted or revoked.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace} ({self.role})"

    @property
    def is_pending(self) -> bool:
        unused = self.accepted_at is None and self.revoked_at is None
        return unused and self.expires_at > timezone.now()


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
