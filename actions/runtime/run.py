"""Run one operation of an action for a user: the runtime's single entry point.

    find the operation → the workspace's word on it (actions/governance.py: disabled, pending
    review, read-only workspace) → workspace domain policy → approval → build and validate the
    request → authentication → guarded outbound call (policy re-checked on every redirect) → result

Every run that reaches a decision is recorded as an Invocation (outcome, sizes, duration, error
code; never a body, a header or a secret). A 409 asking for approval is a question, not a run,
so it is not recorded; neither is a call to an operation that does not exist.

Approvals (DESIGN.md §2): a consequential operation needs `consent: "allow"` on every call. Any
other operation needs `allow` or `always_allow` until the user has chosen "Always allow" once,
which is remembered per user, GPT and operation (a Consent row, forgotten when the operation's
consequential flag changes). A workspace that always asks (`approvals = always_ask`) offers no
"Always allow" and ignores remembered ones: every call is approved. `decline` is recorded and
answers 200 `{"status": "declined"}`: the user's decision is a normal outcome for the caller (a
model is told the user said no), not an error of the request.

An OAuth call the API answers with 401 while the connection holds a refresh token is retried
once with a freshly refreshed token (a provider may end a token before its stated expiry, and
Salesforce states none); a 401 is a refusal of authentication, so the request was not acted on.
Only a refresh that fails, or a second 401, asks the user to reconnect.

No database transaction is held across the outbound call: a slow API must not pin a row lock or
a connection in a transaction for 45 seconds.
"""

from __future__ import annotations

import time
from typing import Any

from django.db import IntegrityError

from actions.governance import (
    always_allow_offered,
    operation_refusal,
    remembered_approvals_apply,
)
from actions.models import (
    Action,
    AuthType,
    Consent,
    Invocation,
    InvocationChannel,
    InvocationStatus,
    Operation,
)
from actions.oauth.tokens import (
    OAuthRequired,
    holds_refresh_token,
    mark_needs_reconnect,
    refresh_after_rejection,
    start_url,
)
from actions.runtime.auth import (
    AuthResult,
    auth_headers,
    auth_preview,
    bearer_auth,
    mask_headers,
    mask_text,
)
from actions.runtime.request import BuiltRequest, build_request
from actions.selectors import consent_get_for_user
from kernel.errors import RuleViolation
from outbound import OutboundError, action_call, fetch
from workspaces.domains import DomainNotAllowed
from workspaces.policy import domain_check

CONSENT_CHOICES = ("allow", "always_allow", "decline")

# How an outbound refusal is answered: a refused destination is a 403, a slow API a 504, a
# request the client would not send a 400/413; anything the API did wrong (binary or oversized
# answer, broken connection, too many redirects) is a bad gateway, 502.
OUTBOUND_STATUS = {
    "domain_not_allowed": 403,
    "address_not_allowed": 403,
    "scheme_not_allowed": 403,
    "port_not_allowed": 403,
    "timeout": 504,
    "invalid_url": 400,
    "invalid_request": 400,
    "request_too_large": 413,
}
REFUSAL_CODES = frozenset(
    {"domain_not_allowed", "address_not_allowed", "scheme_not_allowed", "port_not_allowed"}
)


def _operation(action: Action, operation_id: str) -> Operation:
    # The view prefetched the operations; a miss is the same 404 whoever asks.
    for operation in action.operations.all():
        if operation.operation_id == operation_id:
            return operation
    # The caller may hold the action as the tool export gave it (callable operations only):
    # ask the table, so a disabled operation is refused as such, not as missing.
    stored = Operation.objects.filter(action=action, operation_id=operation_id).first()
    if stored is not None:
        return stored
    raise RuleViolation(
        "operation_not_found",
        f"This action has no operation {operation_id}.",
        status=404,
    )


class _Recorder:
    """Writes the run's one Invocation row, timing from the start of the run."""

    def __init__(self, *, action: Action, operation: Operation, user, channel: str) -> None:
        self.action, self.operation, self.user = action, operation, user
        self.channel = channel
        self.started = time.monotonic()

    def __call__(
        self,
        status: str,
        *,
        error_code: str = "",
        http_status: int | None = None,
        request_bytes: int = 0,
        response_bytes: int = 0,
    ) -> Invocation:
        return Invocation.objects.create(
            workspace_id=self.action.workspace_id,
            gpt_id=self.action.gpt_id,
            action=self.action,
            user=self.user if getattr(self.user, "pk", None) else None,
            operation_id=self.operation.operation_id,
            status=status,
            http_status=http_status,
            error_code=error_code[:64],
            duration_ms=int((time.monotonic() - self.started) * 1000),
            request_bytes=request_bytes,
            response_bytes=response_bytes,
            channel=self.channel,
        )


def _request_data(built: BuiltRequest, auth_shown: dict[str, str], secrets: list[str]) -> dict:
    """The request as it may be shown: authentication headers by their masked form."""
    return {
        "method": built.method,
        "url": mask_text(built.url, secrets),
        "headers": {**mask_headers(built.headers, secrets), **auth_shown},
        "body": built.body_text,
    }


def _consent_prompt(action: Action, operation: Operation, built: BuiltRequest) -> RuleViolation:
    offered = always_allow_offered(operation, action.workspace)
    gpt = action.gpt
    return RuleViolation(
        "consent_required",
        f"{gpt.name} wants to send a request to {action.domain}. Allow it?",
        status=409,
        gpt={"id": gpt.pk, "name": gpt.name},
        action=action.pk,
        domain=action.domain,
        operation={
            "operation_id": operation.operation_id,
            "method": operation.method.upper(),
            "path": operation.path,
            "summary": operation.summary,
            "consequential": operation.consequential,
        },
        always_allow_offered=offered,
        choices=["allow", "always_allow", "decline"] if offered else ["allow", "decline"],
        request=_request_data(built, auth_preview(action), []),
    )


def _check_consent_value(consent: Any, operation: Operation, action: Action) -> str:
    if consent in (None, ""):
        return ""
    if consent not in CONSENT_CHOICES:
        raise RuleViolation(
            "invalid_consent", "consent must be one of allow, always_allow, decline."
        )
    if consent == "always_allow" and operation.consequential:
        raise RuleViolation(
            "always_allow_not_offered",
            f"{operation.operation_id} is consequential: it is approved each time it runs, "
            "so it can not be always allowed.",
        )
    if consent == "always_allow" and not always_allow_offered(operation, action.workspace):
        raise RuleViolation(
            "always_allow_not_offered",
            "This workspace asks before every call: approve this one with allow.",
        )
    return consent


def _remember(*, user, action: Action, operation: Operation) -> None:
    try:
        Consent.objects.get_or_create(
            user=user,
            gpt_id=action.gpt_id,
            operation_id=operation.operation_id,
            defaults={"action": action, "workspace_id": action.workspace_id},
        )
    except IntegrityError:  # the same approval saved by a concurrent call
        pass


def _policy_check(action: Action, host: str) -> None:
    domain_check(workspace=action.workspace, host=host)


def operation_run(  # noqa: C901 - the runtime pipeline, its steps in the order DESIGN.md names them
    *,
    action: Action,
    operation_id: str,
    arguments: Any,
    consent: Any,
    user,
    channel: str = InvocationChannel.API,
) -> dict:
    """Run `operation_id` of `action` for `user` (a member who may see the action's GPT);
    `channel` (an InvocationChannel) is recorded on the Invocation.

    `channel` says where the call came from (InvocationChannel: api, preview, chat, mcp) and is
    recorded on the Invocation.

    Returns the 200 body of the run endpoint; refusals raise RuleViolation with the contract's
    code and status (400, 401, 403, 404, 409, 413, 502, 504).
    """
    operation = _operation(action, operation_id)
    record = _Recorder(action=action, operation=operation, user=user, channel=channel)
    refusal = operation_refusal(operation, action.workspace)
    if refusal is not None:
        record(InvocationStatus.REFUSED, error_code=refusal.code)
        raise refusal
    consent = _check_consent_value(consent, operation, action)

    if consent == "decline":
        record(InvocationStatus.DECLINED)
        return {
            "status": "declined",
            "detail": f"You declined: {operation.operation_id} was not sent.",
            "operation_id": operation.operation_id,
        }

    try:
        _policy_check(action, action.domain)
    except DomainNotAllowed as exc:
        record(InvocationStatus.REFUSED, error_code="domain_not_allowed")
        raise RuleViolation("domain_not_allowed", exc.detail, status=403, domain=exc.host) from None

    try:
        built = build_request(action=action, operation=operation, arguments=arguments)
    except RuleViolation as exc:
        record(InvocationStatus.ERROR, error_code=exc.code)
        raise

    remembered = (
        always_allow_offered(operation, action.workspace)
        and remembered_approvals_apply(action.workspace)
        and Consent.objects.filter(
            user=user, gpt_id=action.gpt_id, operation_id=operation.operation_id
        ).exists()
    )
    if not remembered:
        if not consent:
            raise _consent_prompt(action, operation, built)
        if consent == "always_allow":
            _remember(user=user, action=action, operation=operation)

    try:
        auth = auth_headers(action=action, user=user)
    except OAuthRequired as exc:
        record(InvocationStatus.ERROR, error_code="oauth_required")
        raise RuleViolation(
            "oauth_required", exc.detail, status=401, authorize_url=exc.authorize_url
        ) from None
    request_data = _request_data(built, auth.shown, auth.secrets)
    request_bytes = len(built.body or b"")
    secrets = list(auth.secrets)

    response = _send(action, built, auth, record, request_data, secrets)
    if response.status == 401 and action.auth_type == AuthType.OAUTH:
        rejected = auth.secrets[0] if auth.secrets else ""
        if holds_refresh_token(user=user, action=action):
            try:
                auth = bearer_auth(
                    refresh_after_rejection(user=user, action=action, rejected=rejected)
                )
            except OAuthRequired as exc:
                record(InvocationStatus.ERROR, error_code="oauth_required", http_status=401)
                raise RuleViolation(
                    "oauth_required",
                    exc.detail,
                    status=401,
                    authorize_url=exc.authorize_url,
                    request=request_data,
                ) from None
            secrets += auth.secrets
            request_data = _request_data(built, auth.shown, secrets)
            response = _send(action, built, auth, record, request_data, secrets)

    response_data = {
        "status": response.status,
        "headers": mask_headers(dict(response.headers), secrets),
        # An API that echoes what it received must not hand the builder's key to the user.
        "body": mask_text(response.text, secrets),
        "url": mask_text(response.url, secrets),
    }
    sizes = {
        "http_status": response.status,
        "request_bytes": request_bytes,
        "response_bytes": response.bytes_received,
    }

    if response.status == 401 and action.auth_type == AuthType.OAUTH:
        # The provider no longer honours the token (revoked, or scopes withdrawn), even fresh.
        mark_needs_reconnect(user=user, action=action)
        record(InvocationStatus.ERROR, error_code="oauth_required", **sizes)
        raise RuleViolation(
            "oauth_required",
            "The API refused your connection's token: reconnect your account.",
            status=401,
            authorize_url=start_url(action),
            request=request_data,
            response=response_data,
        )

    status, error_code = "ok", ""
    result: dict[str, Any] = {}
    retry_after = response.headers.get("retry-after")  # the client lowercases names
    if response.status == 429:
        status = error_code = "rate_limited"
    elif response.status >= 500:
        status = error_code = "upstream_error"
    if error_code:
        # Reported, not retried: the model (or the person) decides whether to try again.
        response_data["retry_after"] = retry_after
        result["retry_after"] = retry_after
        result["detail"] = f"The API answered {response.status}" + (
            f"; it asks to retry after {retry_after}." if retry_after else "."
        )
    record(
        InvocationStatus.ERROR if error_code else InvocationStatus.OK,
        error_code=error_code,
        **sizes,
    )
    return {
        "status": status,
        **result,
        "request": request_data,
        "response": response_data,
        "duration_ms": int((time.monotonic() - record.started) * 1000),
    }


def _send(action: Action, built: BuiltRequest, auth: AuthResult, record, request_data, secrets):
    """The guarded outbound call; an outbound refusal is recorded and raised as RuleViolation."""
    try:
        return fetch(
            built.method,
            built.url,
            headers={**built.headers, **auth.headers},
            body=built.body,
            host_check=lambda host: _policy_check(action, host),
            policy=action_call(),
        )
    except OutboundError as exc:
        # A redirect to a host the policy refuses arrives here too, as domain_not_allowed.
        status = OUTBOUND_STATUS.get(exc.code, 502)
        record(
            InvocationStatus.REFUSED if exc.code in REFUSAL_CODES else InvocationStatus.ERROR,
            error_code=exc.code,
            request_bytes=len(built.body or b""),
        )
        raise RuleViolation(
            exc.code, mask_text(str(exc.detail), secrets), status=status, request=request_data
        ) from None


def consent_revoke(*, user, consent_id) -> None:
    """Forget one of `user`'s "Always allow" approvals; someone else's answers 404."""
    consent = consent_get_for_user(consent_id=consent_id, user=user)
    Consent.objects.filter(pk=consent.pk, user=user).delete()
