"""Approvals asked out of band: a call an MCP host made for a user who could not be asked there.

An MCP host that declared no elicitation can not show the approval question (DESIGN.md §6), so
the call answers with a URL. The person opens it signed in, sees the domain and the request
exactly as it would be sent, and chooses Allow, Always allow (where the operation is not
consequential) or Decline. The same call repeated by the host, meaning the same user, GPT,
operation and arguments, then runs once with that decision; anything else asks again.

Single use and short-lived (ten minutes) so that an approval can not be saved up and replayed
later against a changed API. The URL's token is random and only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from actions.governance import remembered_approvals_apply
from actions.models import Action, ApprovalDecision, PendingApproval
from kernel.errors import RuleViolation

APPROVAL_LIFETIME = timedelta(minutes=10)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def arguments_hash(arguments: Any) -> str:
    """One hash per argument object, whatever the key order the host sent."""
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _digest(canonical)


def approval_request(
    *, user, action: Action, operation_id: str, arguments: Any, prompt: dict
) -> str:
    """Record a call waiting for the user's decision; returns the URL token (shown once).

    `prompt` is the runtime's consent_required answer: its masked request preview and whether
    the operation is consequential are what the approval page shows.
    """
    token = secrets.token_urlsafe(32)
    operation = prompt.get("operation") or {}
    PendingApproval.objects.create(
        token_hash=_digest(token),
        user=user,
        gpt_id=action.gpt_id,
        action=action,
        workspace_id=action.workspace_id,
        operation_id=operation_id,
        arguments_hash=arguments_hash(arguments),
        domain=action.domain,
        consequential=bool(operation.get("consequential", True)),
        request=prompt.get("request") or {},
        expires_at=timezone.now() + APPROVAL_LIFETIME,
    )
    return token


def approval_get_for_user(*, token: str, user) -> PendingApproval:
    """The user's own approval behind `token`; anyone else's, or none, is the same 404."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise Http404("No such approval.")
    try:
        return PendingApproval.objects.select_related("gpt", "workspace", "action").get(
            token_hash=_digest(token), user=user
        )
    except PendingApproval.DoesNotExist:
        raise Http404("No such approval.") from None


def approval_choices(approval: PendingApproval) -> list[str]:
    """What the approval page offers: "Always allow" only where the runtime would accept it
    (actions.governance: not consequential, and the workspace does not always ask)."""
    offered = not approval.consequential and remembered_approvals_apply(approval.workspace)
    if not offered:
        return [ApprovalDecision.ALLOW, ApprovalDecision.DECLINE]
    return [ApprovalDecision.ALLOW, ApprovalDecision.ALWAYS_ALLOW, ApprovalDecision.DECLINE]


def approval_decide(*, token: str, user, decision: str) -> PendingApproval:
    """Record the user's decision; once only, within the approval's lifetime."""
    approval = approval_get_for_user(token=token, user=user)
    if decision not in approval_choices(approval):
        raise RuleViolation(
            "invalid_decision",
            "Choose Allow or Decline."
            if approval.consequential
            else "Choose Allow, Always allow or Decline.",
        )
    now = timezone.now()
    if approval.expires_at <= now:
        raise RuleViolation(
            "approval_expired",
            "This approval request has expired: ask the assistant to try again.",
            status=410,
        )
    # A conditional update, so two tabs posting at once record one decision.
    updated = PendingApproval.objects.filter(
        pk=approval.pk, decision="", expires_at__gt=now
    ).update(decision=decision, decided_at=now)
    if not updated:
        raise RuleViolation("approval_decided", "You already answered this request.", status=409)
    approval.refresh_from_db()
    return approval


@transaction.atomic
def approval_consume(*, user, gpt_id: int, operation_id: str, arguments: Any) -> str:
    """The decision waiting for exactly this call, marked used; "" when there is none."""
    now = timezone.now()
    approval = (
        PendingApproval.objects.select_for_update(skip_locked=True)
        .filter(
            user=user,
            gpt_id=gpt_id,
            operation_id=operation_id,
            arguments_hash=arguments_hash(arguments),
            used_at__isnull=True,
            expires_at__gt=now,
        )
        .exclude(decision="")
        .order_by("-decided_at", "-id")
        .first()
    )
    if approval is None:
        return ""
    approval.used_at = now
    approval.save(update_fields=["used_at"])
    return approval.decision
