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


# Titles are read from small schemas only: a page of connections must stay cheap.
MAX_TITLE_SCHEMA_CHARS = 200_000


def action_title(action) -> str:
    """What a person calls the action: its schema's info.title, else its domain."""
    import json

    import yaml

    text = action.schema or ""
    document = None
    if 0 < len(text) <= MAX_TITLE_SCHEMA_CHARS:
        try:
            if text.lstrip().startswith("{"):
                document = json.loads(text)
            else:
                document = yaml.safe_load(text)
        except (ValueError, yaml.YAMLError, RecursionError):
            document = None
    info = document.get("info") if isinstance(document, dict) else None
    title = info.get("title") if isinstance(info, dict) else None
    if isinstance(title, str) and title.strip():
        return title.strip()[:120]
    return action.domain or f"Action {action.pk}"
