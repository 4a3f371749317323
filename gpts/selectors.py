"""Reads of GPTs, scoped to what the acting user may see.

Members read GPTs shared with the workspace (any visibility but "only me") and their own;
admins and owners read every GPT of their workspaces. Missing and forbidden are the same 404.
Builders edit the GPTs they created; admins and owners edit every GPT (`gpt_access_for_member`).
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from gpts.catalogue import APPS_BY_KEY, model_label, model_labels, models_for
from gpts.models import GPT, Visibility
from workspaces.models import ADMIN_ROLES, BUILDER_ROLES
from workspaces.selectors import Access, role_subquery, workspace_ids_for_user


def gpt_list_for_user(*, user, workspace=None) -> QuerySet[GPT]:
    if not user.is_authenticated:
        return GPT.objects.none()
    queryset = GPT.objects.filter(workspace_id__in=workspace_ids_for_user(user=user)).filter(
        ~Q(visibility=Visibility.ONLY_ME)
        | Q(created_by=user)
        | Q(workspace_id__in=workspace_ids_for_user(user=user, roles=ADMIN_ROLES))
    )
    if workspace is not None:
        queryset = queryset.filter(workspace=workspace)
    return queryset


def gpt_visible_with_role(*, gpt: GPT, user, role: str | None) -> bool:
    """`gpt_list_for_user`'s rule for one GPT whose workspace role of the caller is known
    (None: not a member). The access selectors load one object by its key with the role
    beside it and ask this, instead of filtering by the nested list query: its compilation
    was most of their cost. tests/gpts/test_visibility_rule.py proves both agree on every
    combination of visibility, role and creator."""
    if role is None:
        return False
    return (
        gpt.visibility != Visibility.ONLY_ME or gpt.created_by_id == user.pk or role in ADMIN_ROLES
    )


def gpt_get_for_member(*, gpt_id, user) -> GPT:
    """The GPT (workspace joined), or 404 for one the caller may not see."""
    return gpt_access_for_member(gpt_id=gpt_id, user=user).obj


def gpt_role_can_edit(*, gpt: GPT, user, role: str | None) -> bool:
    """Builders edit the GPTs they created; admins and owners edit every GPT."""
    if role in ADMIN_ROLES:
        return True
    return role in BUILDER_ROLES and gpt.created_by_id == user.pk


def gpt_access_for_member(*, gpt_id, user) -> Access[GPT]:
    """The GPT (workspace joined) and what the caller may do with it, in one query; 404 for
    a GPT the caller may not see."""
    if not user.is_authenticated:
        raise Http404("No such GPT.")
    try:
        gpt = (
            GPT.objects.select_related("workspace")
            .annotate(caller_role=role_subquery(user=user))
            .get(pk=gpt_id)
        )
    except (GPT.DoesNotExist, ValueError, TypeError):
        raise Http404("No such GPT.") from None
    role = gpt.caller_role
    if not gpt_visible_with_role(gpt=gpt, user=user, role=role):
        raise Http404("No such GPT.")
    return Access(obj=gpt, role=role, can_edit=gpt_role_can_edit(gpt=gpt, user=user, role=role))


def gpt_list_for_chat(*, user) -> QuerySet[GPT]:
    """GPTs `user` may talk to at /g/{id}/ (DESIGN.md §5), by visibility: "only me" → its
    creator; "workspace" → the workspace's members; "link" and "store" → anyone signed in."""
    if not user.is_authenticated:
        return GPT.objects.none()
    return GPT.objects.filter(
        Q(visibility__in=[Visibility.LINK, Visibility.STORE])
        | Q(visibility=Visibility.WORKSPACE, workspace_id__in=workspace_ids_for_user(user=user))
        | Q(visibility=Visibility.ONLY_ME, created_by=user)
    )


def gpt_get_for_chat(*, gpt_id, user) -> GPT:
    try:
        return gpt_list_for_chat(user=user).select_related("workspace").get(pk=gpt_id)
    except (GPT.DoesNotExist, ValueError, TypeError):
        raise Http404("No such GPT.") from None


def actions_unavailable_reason(gpt: GPT) -> str:
    """Why `gpt` can take no actions now, with the way out, or "" when it can. The pages say
    it before the builder writes an action, not only when its save is refused."""
    if gpt.apps:
        names = ", ".join(APPS_BY_KEY[k].label if k in APPS_BY_KEY else k for k in gpt.apps)
        return (
            f"This GPT uses apps (connectors): {names}. A GPT uses either apps or actions, "
            "never both: remove its apps on the GPT's page to add actions."
        )
    allowed = {info.key for info in models_for(has_actions=True)}
    if gpt.model not in allowed:
        return (
            f"{model_label(gpt.model)} can not use actions: switch the GPT to one of "
            f"{model_labels(allowed)} on the GPT's page to add actions."
        )
    return ""
