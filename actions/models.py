"""Actions: an OpenAPI schema plus the credentials to call it, and everything a call leaves.

Secrets (API keys, client secrets, tokens, PKCE verifiers) live in EncryptedTextField columns;
OAuth `state` values are only ever compared, so only their hash is stored.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from kernel.encryption import EncryptedTextField


class AuthType(models.TextChoices):
    NONE = "none", "None"
    API_KEY = "api_key", "API key"
    OAUTH = "oauth", "OAuth"


class ApiKeyAuthType(models.TextChoices):
    BASIC = "basic", "Basic"
    BEARER = "bearer", "Bearer"
    CUSTOM = "custom", "Custom header"


class TokenExchangeMethod(models.TextChoices):
    DEFAULT_POST = "default_post", "POST request body"
    BASIC_AUTH_HEADER = "basic_auth_header", "HTTP Basic authorization header"


class Action(models.Model):
    """One OpenAPI document attached to a GPT, with how to authenticate against its server.

    `domain` is the normalised host of the schema's first server; two actions of one GPT may not
    share it. `errors` and `warnings` keep the last verdict of the schema engine so pages need
    not re-validate.

    What the read paths need from the schema is stored when it is saved, so runs, the tool
    export and the connections page never parse the text again: `server_url` (the first
    server, variables replaced by their defaults), `title` (`info.title`) and `components`
    (only when an operation's schemas keep a `$ref`, see openapi.Verdict); the operations'
    resolved parameters and request bodies are on the Operation rows.
    """

    gpt = models.ForeignKey(
        "gpts.GPT", on_delete=models.CASCADE, related_name="actions", verbose_name="GPT"
    )
    # Denormalised from gpt.workspace so every tenant filter is one join shorter.
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="actions"
    )
    domain = models.CharField(max_length=255, blank=True)
    schema = models.TextField(blank=True)
    schema_format = models.CharField(max_length=8, blank=True)
    openapi_version = models.CharField("OpenAPI version", max_length=16, blank=True)
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    server_url = models.CharField(max_length=2000, blank=True)
    title = models.CharField(max_length=300, blank=True)
    components = models.JSONField(default=dict, blank=True)
    privacy_policy_url = models.URLField("Privacy policy URL", max_length=2000, blank=True)

    auth_type = models.CharField(
        "Authentication", max_length=16, choices=AuthType.choices, default=AuthType.NONE
    )
    api_key = EncryptedTextField("API key", blank=True)
    api_key_auth_type = models.CharField(
        "API key sent as",
        max_length=16,
        choices=ApiKeyAuthType.choices,
        default=ApiKeyAuthType.BEARER,
    )
    custom_header = models.CharField("Custom header name", max_length=128, blank=True)
    oauth_client_id = models.CharField("Client ID", max_length=512, blank=True)
    oauth_client_secret = EncryptedTextField("Client secret", blank=True)
    authorization_url = models.URLField("Authorization URL", max_length=2000, blank=True)
    token_url = models.URLField("Token URL", max_length=2000, blank=True)
    revocation_url = models.URLField("Revocation URL", max_length=2000, blank=True)
    scope = models.CharField(max_length=1000, blank=True)
    token_exchange_method = models.CharField(
        "Token exchange method",
        max_length=24,
        choices=TokenExchangeMethod.choices,
        default=TokenExchangeMethod.DEFAULT_POST,
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["gpt", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gpt", "domain"],
                condition=~Q(domain=""),
                name="action_unique_domain_per_gpt",
                violation_error_message=(
                    "Action sets cannot have duplicate domains - this domain already exists "
                    "on another action"
                ),
            ),
            models.CheckConstraint(
                condition=Q(auth_type__in=[choice.value for choice in AuthType]),
                name="action_auth_type_valid",
            ),
            models.CheckConstraint(
                condition=~Q(auth_type=AuthType.API_KEY, api_key_auth_type=ApiKeyAuthType.CUSTOM)
                | ~Q(custom_header=""),
                name="action_custom_header_named",
                violation_error_message="A custom header API key needs the header's name.",
            ),
            # Target of the schema imports' composite foreign key (migration 0003).
            models.UniqueConstraint(fields=["id", "workspace"], name="action_id_workspace_unique"),
        ]

    def __str__(self) -> str:
        # Named as every page names it (templates/includes/action_name.html): title with domain.
        title = (self.title or "").strip()
        if title and self.domain:
            return f"{title} ({self.domain})"
        return title or self.domain or f"Action {self.pk}"

    @property
    def is_valid(self) -> bool:
        return bool(self.schema) and not self.errors


class OperationReview(models.TextChoices):
    APPROVED = "approved", "Approved"
    PENDING = "pending", "Waiting for review"


class Operation(models.Model):
    """One detected operation of an action's schema; operationId is unique within the GPT.

    `enabled` and `review` are the workspace admins' word on it (actions/governance.py enforces
    them in every channel); a schema save carries them over for an operation it leaves as it
    was, and records who added a new or changed one (`added_by`, `added_at`).
    """

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="operations")
    # Denormalised from action.gpt so the database can enforce uniqueness across actions.
    gpt = models.ForeignKey(
        "gpts.GPT", on_delete=models.CASCADE, related_name="operations", verbose_name="GPT"
    )
    operation_id = models.CharField("Operation ID", max_length=64)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=2000)
    summary = models.CharField(max_length=1000, blank=True)
    description = models.TextField(blank=True)
    consequential = models.BooleanField(default=True)
    parameters = models.JSONField(default=list, blank=True)
    request_body = models.JSONField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    review = models.CharField(
        max_length=16, choices=OperationReview.choices, default=OperationReview.APPROVED
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["action", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gpt", "operation_id"],
                name="operation_id_unique_per_gpt",
                violation_error_message="Another action of this GPT already uses this operationId.",
            ),
            models.CheckConstraint(
                condition=Q(operation_id__regex=r"^[A-Za-z0-9_-]{1,64}$"),
                name="operation_id_format",
                violation_error_message="operationId must match ^[A-Za-z0-9_-]{1,64}$.",
            ),
            models.CheckConstraint(
                condition=Q(review__in=[choice.value for choice in OperationReview]),
                name="operation_review_valid",
                violation_error_message="Unknown review state.",
            ),
        ]

    def __str__(self) -> str:
        return self.operation_id


class Review(Operation):
    """The admin's "Actions review" page: the workspace's operations, by GPT and action, to
    enable, disable and approve (a proxy: the rows are the Operation rows)."""

    class Meta:
        proxy = True
        verbose_name = "Actions review"
        verbose_name_plural = "Actions review"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SchemaImport(models.Model):
    """A request to fetch an action's schema from a URL, carried out by a Celery task.

    The job either fills an existing action or, with `action` empty, creates a new action of
    `gpt` when (and only when) the import succeeds: a failed import into a new action leaves
    no empty action behind. `action` then names the action it created.
    """

    action = models.ForeignKey(
        Action, null=True, blank=True, on_delete=models.CASCADE, related_name="imports"
    )
    # Always set, also for an existing action (its GPT): the GPT is what the caller's access
    # and the tenant's rows are decided by, whether the action exists yet or not.
    gpt = models.ForeignKey(
        "gpts.GPT", on_delete=models.CASCADE, related_name="schema_imports", verbose_name="GPT"
    )
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="schema_imports"
    )
    url = models.URLField("URL", max_length=2000)
    # The new action's privacy policy URL (a job creating its action only): a GPT shared
    # publicly refuses an action without one.
    privacy_policy_url = models.URLField("Privacy policy URL", max_length=2000, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.PENDING
    )
    error = models.TextField(blank=True)
    # What the import changed on the way, for the editor to show: a Swagger 2.0 document is
    # converted to OpenAPI 3.0 (actions/openapi/convert.py), with what could not be carried.
    notes = models.JSONField(default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the task was last handed to the broker; empty while the queue could not take it
    # (the job then waits, saved, for a re-dispatch: actions.tasks.import_dispatch_pending).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import of {self.url} ({self.status})"


class ConnectionStatus(models.TextChoices):
    ACTIVE = "active", "Connected"
    NEEDS_RECONNECT = "needs_reconnect", "Needs reconnecting"


class ConnectionReason(models.TextChoices):
    """Why a connection needs reconnecting (blank while it is active)."""

    NONE = "", "—"
    REFRESH_REFUSED = "refresh_refused", "The provider refused to renew it"
    EXPIRED = "expired", "It expired and can not be renewed"
    # The API answered 401 and the token could not be renewed: revoked there, or its scopes
    # withdrawn (the provider does not say which).
    REVOKED = "revoked_at_provider", "Revoked at the provider"
    SETTINGS_CHANGED = "action_settings_changed", "The action's settings changed"


class ConnectedAccount(models.Model):
    """A user's OAuth tokens for one action; one connection per user and action.

    A grant belongs to the action's API host, token URL, client id and scope as they were when
    the user connected: when the builder changes any of them the tokens are deleted and the
    connection waits for the user to reconnect (`status_reason` says why).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="connected_accounts"
    )
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="connections")
    gpt = models.ForeignKey(
        "gpts.GPT", on_delete=models.CASCADE, related_name="+", verbose_name="GPT"
    )
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    access_token = EncryptedTextField()
    refresh_token = EncryptedTextField(blank=True)
    token_type = models.CharField(max_length=32, default="Bearer")
    scopes = models.CharField(max_length=1000, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=ConnectionStatus.choices, default=ConnectionStatus.ACTIVE
    )
    status_reason = models.CharField(
        max_length=32, choices=ConnectionReason.choices, blank=True, default=""
    )
    connected_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-connected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "action"],
                name="connected_account_one_per_user_and_action",
                violation_error_message="This account is already connected.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.action}"


class OAuthState(models.Model):
    """A pending authorization: single use, bound to user and action, short-lived.

    Only the SHA-256 of `state` is stored (it is only compared); the PKCE verifier must be sent
    on to the token endpoint, so it is encrypted.
    """

    state_hash = models.CharField("State hash (SHA-256)", max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="+")
    code_verifier = EncryptedTextField("PKCE code verifier")
    return_to = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth state"
        verbose_name_plural = "OAuth states"
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return f"OAuth state for {self.user} on {self.action_id}"


class Consent(models.Model):
    """A remembered "Always allow" of one user for one operation of one GPT."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents"
    )
    gpt = models.ForeignKey(
        "gpts.GPT", on_delete=models.CASCADE, related_name="+", verbose_name="GPT"
    )
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="consents")
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    operation_id = models.CharField("Operation ID", max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "remembered approval"
        verbose_name_plural = "remembered approvals"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "gpt", "operation_id"],
                name="consent_one_per_user_gpt_operation",
                violation_error_message="This operation is already always allowed.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} always allows {self.operation_id}"


class InvocationStatus(models.TextChoices):
    OK = "ok", "OK"
    ERROR = "error", "Error"
    DECLINED = "declined", "Declined"
    REFUSED = "refused", "Refused"


class InvocationChannel(models.TextChoices):
    """Where a run came from: the run endpoint, the editor's chat Preview, a chat, MCP."""

    API = "api", "API"
    PREVIEW = "preview", "Preview"
    CHAT = "chat", "Chat"
    MCP = "mcp", "MCP"


class Invocation(models.Model):
    """One run of an operation. Never holds secrets or bodies: sizes and outcome only."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="invocations"
    )
    gpt = models.ForeignKey(
        "gpts.GPT", on_delete=models.CASCADE, related_name="invocations", verbose_name="GPT"
    )
    action = models.ForeignKey(
        Action, null=True, on_delete=models.SET_NULL, related_name="invocations"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    operation_id = models.CharField("Operation ID", max_length=64)
    status = models.CharField(max_length=16, choices=InvocationStatus.choices)
    http_status = models.PositiveSmallIntegerField("HTTP status", null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField("Duration (ms)", default=0)
    request_bytes = models.PositiveIntegerField("Request size (bytes)", default=0)
    response_bytes = models.PositiveIntegerField("Response size (bytes)", default=0)
    channel = models.CharField(
        max_length=16, choices=InvocationChannel.choices, default=InvocationChannel.API
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.operation_id} → {self.status}"


class ApprovalDecision(models.TextChoices):
    ALLOW = "allow", "Allow"
    ALWAYS_ALLOW = "always_allow", "Always allow"
    DECLINE = "decline", "Decline"


class PendingApproval(models.Model):
    """One call an MCP host asked for and the user has not approved yet (the host could not
    ask: it declared no elicitation). The user decides on /me/approvals/<token>; the same call
    (same user, GPT, operation and arguments) then runs once with that decision.

    Only the SHA-256 of the URL's token is stored, as for OAuth states; `request` is the
    runtime's masked preview of what would be sent (never a secret). Ten minutes to decide,
    single use: `used_at` is set by the one call that consumes it.
    """

    token_hash = models.CharField("Token hash (SHA-256)", max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    gpt = models.ForeignKey(
        "gpts.GPT", on_delete=models.CASCADE, related_name="+", verbose_name="GPT"
    )
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="+")
    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+"
    )
    operation_id = models.CharField("Operation ID", max_length=64)
    arguments_hash = models.CharField("Arguments hash (SHA-256)", max_length=64)
    domain = models.CharField(max_length=255)
    consequential = models.BooleanField(default=True)
    request = models.JSONField(default=dict)
    decision = models.CharField(max_length=16, choices=ApprovalDecision.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "pending approval"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["user", "gpt", "operation_id", "arguments_hash"],
                name="pendingapproval_call",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} asked to approve {self.operation_id}"
