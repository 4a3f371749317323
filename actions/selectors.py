"""Reads of actions and their offspring, scoped to the acting user (404 for strangers)."""

from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from actions.models import Action, Consent, Operation, SchemaImport
from gpts.selectors import gpt_list_for_chat, gpt_list_for_user
from workspaces.domains import DomainNotAllowed
from workspaces.policy import domain_policy_snapshot


def action_list_for_user(*, user):
    return Action.objects.filter(gpt__in=gpt_list_for_user(user=user))


def action_get_for_member(*, action_id, user) -> Action:
    try:
        return (
            action_list_for_user(user=user)
            .select_related("gpt", "workspace")
            .prefetch_related(Prefetch("operations", queryset=Operation.objects.order_by("id")))
            .get(pk=action_id)
        )
    except (Action.DoesNotExist, ValueError, TypeError):
        raise Http404("No such action.") from None


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
            .prefetch_related(Prefetch("operations", queryset=Operation.objects.order_by("id")))
            .get(pk=action_id)
        )
    except (Action.DoesNotExist, ValueError, TypeError):
        raise Http404("No such action.") from None


def import_get_for_member(*, import_id, user) -> SchemaImport:
    try:
        return SchemaImport.objects.filter(action__in=action_list_for_user(user=user)).get(
            pk=import_id
        )
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


def gpt_callable_actions(*, gpt) -> list[Action]:
    """The GPT's actions a call could reach now: a valid schema and a domain the workspace's
    policy allows (a GPT stays usable without the others, DESIGN.md §2). Operations are
    prefetched in order: this is what the tool export and the chat loop offer a model."""
    actions = list(
        gpt.actions.select_related("gpt", "workspace")
        .prefetch_related(Prefetch("operations", queryset=Operation.objects.order_by("id")))
        .order_by("id")
    )
    policy = domain_policy_snapshot(workspace=gpt.workspace)
    usable = []
    for action in actions:
        if not action.is_valid or not action.domain:
            continue
        try:
            policy.check(action.domain)
        except DomainNotAllowed:
            continue
        usable.append(action)
    return usable
