"""Reads of actions and their offspring, scoped to the acting user (404 for strangers), and
which actions the workspace's domain policy blocks now."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.http import Http404

from actions.governance import exportable_filter
from actions.models import Action, Consent, Operation, SchemaImport
from gpts.selectors import (
    gpt_list_for_chat,
    gpt_list_for_user,
    gpt_role_can_edit,
    gpt_visible_with_role,
)
from workspaces.domains import DomainError, DomainPolicy, host_from_url
from workspaces.models import Workspace
from workspaces.policy import domain_policy_snapshot
from workspaces.selectors import Access, role_subquery

# An action's operations as every reader lists them: in the order the schema gave them.
OPERATIONS_IN_ORDER = Prefetch("operations", queryset=Operation.objects.order_by("id"))


def action_ids_by_gpt(*, gpt_ids: Iterable[int]) -> dict[int, list[int]]:
    """The ids of each GPT's actions, in order; GPTs without actions are missing."""
    ids: dict[int, list[int]] = {}
    rows = Action.objects.filter(gpt_id__in=list(gpt_ids)).order_by("gpt_id", "id")
    for gpt_id, action_id in rows.values_list("gpt_id", "id"):
        ids.setdefault(gpt_id, []).append(action_id)
    return ids


def action_get_for_member(*, action_id, user) -> Action:
    """The action (GPT, workspace and operations loaded), or 404 for one the caller may not
    see."""
    return action_access_for_member(action_id=action_id, user=user).obj


def action_access_for_member(*, action_id, user) -> Access[Action]:
    """The action (GPT, workspace and operations loaded) and what the caller may do with it:
    whoever may edit its GPT may edit the action. One query plus the operations; 404 for an
    action the caller may not see."""
    if not user.is_authenticated:
        raise Http404("No such action.")
    try:
        action = (
            Action.objects.select_related("gpt", "workspace")
            .annotate(caller_role=role_subquery(user=user, workspace_ref="gpt__workspace_id"))
            .get(pk=action_id)
        )
    except (Action.DoesNotExist, ValueError, TypeError):
        raise Http404("No such action.") from None
    role = action.caller_role
    if not gpt_visible_with_role(gpt=action.gpt, user=user, role=role):
        raise Http404("No such action.")
    prefetch_related_objects([action], OPERATIONS_IN_ORDER)
    return Access(
        obj=action, role=role, can_edit=gpt_role_can_edit(gpt=action.gpt, user=user, role=role)
    )


def action_get_for_use(*, action_id, user) -> Action:
    """An action `user` may run: one of a GPT they see in the editor, or of a GPT shared with
    them for chat (DESIGN.md §5: "link"/"store" GPTs reach people outside the workspace, whose
    approvals and connected accounts are their own). Else the same 404."""
    try:
        return (
            Action.objects.filter(
                Q(gpt__in=gpt_list_for_user(user=user)) | Q(gpt__in=gpt_list_for_chat(user=user))
            )
            .select_related("gpt", "workspace")
            .prefetch_related(OPERATIONS_IN_ORDER)
            .get(pk=action_id)
        )
    except (Action.DoesNotExist, ValueError, TypeError):
        raise Http404("No such action.") from None


def import_get_for_member(*, import_id, user) -> SchemaImport:
    """An import job of a GPT the caller sees (by its GPT: a job creating a new action has no
    action yet); 404 otherwise."""
    try:
        return SchemaImport.objects.filter(gpt__in=gpt_list_for_user(user=user)).get(pk=import_id)
    except (SchemaImport.DoesNotExist, ValueError, TypeError):
        raise Http404("No such import.") from None


def consent_list_for_user(*, user) -> QuerySet[Consent]:
    """The user's own remembered approvals ("Always allow"), newest first.

    Scoped to the user, not to their workspaces of today: someone who left a workspace can
    still see and revoke what they approved there.
    """
    return (
        Consent.objects.filter(user=user)
        .select_related("gpt", "action")
        .order_by("-created_at", "-id")
    )


def consent_get_for_user(*, consent_id, user) -> Consent:
    """One of the user's approvals; someone else's or a missing one is the same 404."""
    try:
        return consent_list_for_user(user=user).get(pk=consent_id)
    except (Consent.DoesNotExist, ValueError, TypeError):
        raise Http404("No such approval.") from None


# The domain policy, now -----------------------------------------------------------------------

SERVER_POINTER = "/servers/0/url"
# Checked after the server, in this order, as the save checks them (actions.services._save).
OAUTH_URLS = (
    ("authorization_url", "OAuth authorization URL"),
    ("token_url", "OAuth token URL"),
)


@dataclass(frozen=True)
class Blocked:
    """Why the policy blocks an action now: the first of its hosts it refuses.

    `pointer` is where the builder fixes it: the schema's server (`/servers/0/url`) or an
    authentication field (`auth.token_url`). `label` names an OAuth URL ("" for the server).
    """

    host: str
    detail: str
    pointer: str
    label: str = ""

    @property
    def reason(self) -> str:
        """One sentence for a page: the detail, prefixed with the OAuth URL it is about."""
        return f"{self.label}: {self.detail}" if self.label else self.detail


def actions_blocked_by_policy(
    *, workspace: Workspace, actions: Iterable[Action], policy: DomainPolicy | None = None
) -> dict[int, Blocked]:
    """The actions of `workspace` its domain policy blocks now, by id, with the reason.

    The policy may have changed since a schema was saved, so this is asked on every read that
    shows or offers actions. Each action's server host is checked, then its OAuth authorization
    and token URLs (a blocked token URL breaks the action just as surely). One allowlist query
    for the whole set (none when the plan has no policy or allows all); a caller that already
    holds the snapshot passes it as `policy`. Actions without a server host are skipped.
    """
    if policy is None:
        policy = domain_policy_snapshot(workspace=workspace)
    blocked: dict[int, Blocked] = {}
    for action in actions:
        if not action.domain:
            continue
        reason = _blocked(policy, action)
        if reason is not None:
            blocked[action.pk] = reason
    return blocked


def _blocked(policy: DomainPolicy, action: Action) -> Blocked | None:
    refusal = policy.refusal(action.domain)
    if refusal is not None:
        return Blocked(refusal.host, refusal.detail, SERVER_POINTER)
    if policy.allow_all:
        return None
    for field, label in OAUTH_URLS:
        url = getattr(action, field, "")
        if not url:
            continue
        try:
            host = host_from_url(url)
        except DomainError as exc:
            return Blocked(url, str(exc), f"auth.{field}", label)
        refusal = policy.refusal(host)
        if refusal is not None:
            return Blocked(refusal.host, refusal.detail, f"auth.{field}", label)
    return None


def callable_actions(*, gpt) -> list[Action]:
    """The GPT's actions a call could reach now: a valid schema and hosts the workspace's
    policy allows (a GPT stays usable without the others, DESIGN.md §2), each with only the
    operations the workspace lets be offered prefetched, in order (actions/governance.py:
    not disabled, not waiting for review, not consequential in a read-only workspace). Three
    queries: the actions, their operations, the allowlist."""
    workspace = gpt.workspace
    offered = Operation.objects.filter(exportable_filter(workspace)).order_by("id")
    actions = [
        action
        for action in gpt.actions.select_related("gpt", "workspace")
        .prefetch_related(Prefetch("operations", queryset=offered))
        .order_by("id")
        if action.is_valid and action.domain
    ]
    blocked = actions_blocked_by_policy(workspace=gpt.workspace, actions=actions)
    return [action for action in actions if action.pk not in blocked]


def actions_for_policy_preview(*, workspace: Workspace) -> list[Action]:
    """Every action of `workspace` with a server host, with its GPT's name: what the admin's
    blocked-actions preview checks. One query."""
    return list(
        Action.objects.filter(workspace=workspace)
        .exclude(domain="")
        .select_related("gpt")
        .only("id", "domain", "authorization_url", "token_url", "gpt__id", "gpt__name")
        .order_by("gpt__name", "domain", "id")
    )
