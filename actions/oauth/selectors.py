"""Reads for the end user's own pages: their connections and remembered approvals.

Each takes the user as a required keyword: a person sees only their own rows, whatever
workspace they belong to now (so they can still revoke what they connected before leaving).
"""

from django.db.models import QuerySet
from django.http import Http404

from actions.models import ConnectedAccount

# Remembered approvals have one definition, shared with the runtime and its API.
from actions.selectors import consent_get_for_user, consent_list_for_user

__all__ = [
    "connection_get_for_user",
    "connection_list_for_user",
    "consent_get_for_user",
    "consent_list_for_user",
]


def connection_list_for_user(*, user) -> QuerySet[ConnectedAccount]:
    return (
        ConnectedAccount.objects.filter(user=user)
        .select_related("gpt", "action")
        .order_by("-connected_at", "-id")
    )


def connection_get_for_user(*, connection_id, user) -> ConnectedAccount:
    """The user's connection; someone else's or a missing one is the same 404."""
    try:
        return connection_list_for_user(user=user).get(pk=connection_id)
    except (ConnectedAccount.DoesNotExist, ValueError, TypeError):
        raise Http404("No such connection.") from None


def action_title(action) -> str:
    """What a person calls the action: its schema's info.title (stored at save), else its
    domain."""
    title = (action.title or "").strip()
    if title:
        return title[:120]
    return action.domain or f"Action {action.pk}"
