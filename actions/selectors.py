"""Reads of actions and their offspring, scoped to the acting user (404 for strangers)."""

from django.db.models import Prefetch
from django.http import Http404

from actions.models import Action, Operation, SchemaImport
from gpts.selectors import gpt_list_for_user


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


def import_get_for_member(*, import_id, user) -> SchemaImport:
    try:
        return SchemaImport.objects.filter(action__in=action_list_for_user(user=user)).get(
            pk=import_id
        )
    except (SchemaImport.DoesNotExist, ValueError, TypeError):
        raise Http404("No such import.") from None
