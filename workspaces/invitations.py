"""Adding people to a workspace: a user of the deployment joins at once, an unknown e-mail
address gets an invitation (DESIGN.md §7).

An invitation is single use and valid for INVITATION_DAYS; its token goes out in the e-mail and
in the answer to the admin who created it, and only its SHA-256 is stored (it is only ever
compared, like an OAuth state). Accepting it (`invitation_accept`, from the page at
`accept_url`) joins whoever holds the link, signed up there or signed in, with the role the
inviter chose. Who may invite whom is the membership rule (`membership_check`): admins invite
members, builders and admins, only owners invite owners. Creating, revoking and accepting are
audited; the e-mail is sent through Django's mail backend once the transaction commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from kernel.errors import RuleViolation
from workspaces.audit import audit_record
from workspaces.models import AuditKind, Invitation, Membership, Role, Workspace
from workspaces.services import membership_add, membership_check, workspace_lock

INVITATION_DAYS = 7
INVALID_LINK = (
    "This invitation link is not valid: it was used, revoked or has expired. Ask an admin of "
    "the workspace for a new one."
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def accept_url(token: str) -> str:
    """The absolute link an invited person opens (built with reverse(), from SITE_URL)."""
    return settings.SITE_URL.rstrip("/") + reverse("invitation-accept", args=[token])


@dataclass(frozen=True)
class Added:
    """What adding someone did: a membership for a known user, else an invitation (with the
    token, which exists only here and in the e-mail)."""

    membership: Membership | None = None
    invitation: Invitation | None = None
    token: str = ""

    @property
    def accept_url(self) -> str:
        return accept_url(self.token) if self.token else ""


def _clean_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise RuleViolation(
            "invalid", f"{email!r} is not an e-mail address.", field="email"
        ) from None
    local, _, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


def member_add(
    *, workspace: Workspace, actor, role: str = Role.MEMBER, username: str = "", email: str = ""
) -> Added:
    """Add the user named `username`, or the one user whose e-mail is `email`; for an e-mail
    nobody here uses, invite it. Exactly one of the two is given."""
    if bool(username) == bool(email):
        raise RuleViolation("invalid", "Give either a username or an e-mail address.")
    users = get_user_model().objects
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise RuleViolation(
                "unknown_user",
                f"No user is named {username!r}. To invite someone new, give their e-mail address.",
                field="username",
            )
        membership = membership_add(workspace=workspace, user=user, role=role, actor=actor)
        return Added(membership=membership)
    email = _clean_email(email)
    matches = list(users.filter(email__iexact=email)[:2])
    if len(matches) > 1:
        raise RuleViolation(
            "ambiguous_email",
            "Several users have this e-mail address: give the username instead.",
            field="email",
        )
    if matches:
        membership = membership_add(workspace=workspace, user=matches[0], role=role, actor=actor)
        return Added(membership=membership)
    invitation, token = invitation_create(workspace=workspace, email=email, role=role, actor=actor)
    return Added(invitation=invitation, token=token)


@transaction.atomic
def invitation_create(*, workspace: Workspace, email: str, role: str, actor) -> tuple:
    """A new invitation (and its token) for `email`; a pending one for the same address in this
    workspace is revoked, so one link at a time is valid."""
    workspace = workspace_lock(workspace.pk)
    email = _clean_email(email)
    membership_check(workspace=workspace, actor=actor, before=None, after=role)
    for old in Invitation.objects.filter(
        workspace=workspace, email__iexact=email, accepted_at=None, revoked_at=None
    ):
        _revoke(old, actor=actor)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=token_hash(token),
        invited_by=actor if getattr(actor, "pk", None) else None,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    audit_record(
        workspace=workspace,
        actor=actor,
        kind=AuditKind.INVITATION_CREATED,
        target=email,
        after={"role": role, "expires_at": invitation.expires_at.isoformat()},
    )
    link = accept_url(token)
    inviter = getattr(actor, "username", "") or "An admin"
    transaction.on_commit(
        lambda: send_mail(
            subject=f"You are invited to {workspace.name}",
            message=(
                f"{inviter} invites you to join the workspace {workspace.name} as {role}.\n\n"
                f"Open this link within {INVITATION_DAYS} days to sign up or sign in and join:"
                f"\n\n{link}\n\nThe link works once. If you did not expect it, ignore this "
                "message."
            ),
            from_email=None,  # DEFAULT_FROM_EMAIL
            recipient_list=[email],
        )
    )
    return invitation, token


def _revoke(invitation: Invitation, *, actor) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        workspace=invitation.workspace,
        actor=actor,
        kind=AuditKind.INVITATION_REVOKED,
        target=invitation.email,
        before={"role": invitation.role},
    )


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor) -> None:
    """Withdraw a pending invitation; the link stops working at once. Admins (and owners, for
    an invitation to become owner) only, as for adding the member."""
    workspace = workspace_lock(invitation.workspace_id)
    invitation = Invitation.objects.select_related("workspace").get(pk=invitation.pk)
    membership_check(workspace=workspace, actor=actor, before=invitation.role, after=None)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise RuleViolation(
            "invitation_closed", "This invitation was already used or revoked.", status=409
        )
    _revoke(invitation, actor=actor)


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation of `token`, or a RuleViolation saying the link is not valid
    (the same for a token that never existed, was used, revoked or expired)."""
    invitation = (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(token_hash=token_hash(token or ""))
        .first()
    )
    if invitation is None or not invitation.is_pending:
        raise RuleViolation("invitation_invalid", INVALID_LINK, status=404)
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, user) -> Membership:
    """Join the invitation's workspace as `user` (signed in, or just signed up), once."""
    found = invitation_for_token(token)
    workspace = workspace_lock(found.workspace_id)
    # Re-read under the lock: two tabs accepting at once must not both succeed.
    invitation = Invitation.objects.select_for_update().get(pk=found.pk)
    if not invitation.is_pending:
        raise RuleViolation("invitation_invalid", INVALID_LINK, status=404)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise RuleViolation(
            "already_member", f"You are already a member of {workspace.name}.", status=409
        )
    # The inviter's right to add this role was checked when the invitation was made; joining
    # is the invited person's act, so it runs as the operator would.
    membership = membership_add(workspace=workspace, user=user, role=invitation.role, actor=None)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(
        workspace=workspace,
        actor=user,
        kind=AuditKind.INVITATION_ACCEPTED,
        target=invitation.email,
        after={"user": user.get_username(), "role": invitation.role},
    )
    return membership

