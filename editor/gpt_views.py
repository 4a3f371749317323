"""The builder's editor, GPT side: the list of GPTs, creating one, and a GPT's page.

Server-rendered pages. Every write goes through `gpts.services`, so the editor obeys exactly the
rules the REST API does; a refused write re-renders the form with the builder's input and the
rule's message next to the field it names. Reads go through the tenant-scoped selectors, so a GPT
of another workspace is a 404 here as everywhere.
"""

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods

from actions.selectors import actions_blocked_by_policy
from actions.services import gpt_duplicate
from api.permissions import EDIT, requires_access
from gpts.catalogue import (
    APPS,
    APPS_BY_KEY,
    MODELS_BY_KEY,
    default_model,
    model_labels,
    models_for,
)
from gpts.models import GPT, Visibility
from gpts.selectors import actions_unavailable_reason, gpt_access_for_member, gpt_list_for_user
from gpts.services import gpt_create, gpt_delete, gpt_update
from kernel.errors import RuleViolation
from mcp_gateway.access import mcp_url
from workspaces.models import BUILDER_ROLES
from workspaces.selectors import Access, membership_list_for_user

GPT_FIELDS = ("name", "description", "instructions", "model", "visibility", "conversation_starters")
FORM_FIELDS = (*GPT_FIELDS, "apps")
GPTS_PER_PAGE = 50
SEARCH_MAX_LENGTH = 120


def models_without_actions() -> str:
    """Said next to the model picker before the builder adds an action, not only at Save (the
    catalogue is the deployment's, LLM_MODELS, so it is read per request)."""
    return model_labels(
        {m.key for m in models_for(has_actions=False)}
        - {m.key for m in models_for(has_actions=True)}
    )


def rule_errors(exc: RuleViolation, *, fields, renames=None) -> dict[str, str]:
    """A RuleViolation as {form field: message}, for the template to show next to that input.

    The service names fields as the API does ("auth.api_key"); `renames` maps them to the form's
    input names. A field the form has no input for, or none at all, becomes "form": the message
    then heads the form, so no refusal is ever silent.
    """
    field = str(exc.extra.get("field") or "")
    field = (renames or {}).get(field, field)
    return {field if field in fields else "form": exc.detail}


def model_choices(*, has_actions: bool, current: str) -> list[dict]:
    """The models the picker offers. A GPT with actions gets only the models that may use them;
    a current model outside that list (set before the rule existed) stays visible, marked, so
    the select never silently shows another model than the one saved."""
    choices = [
        {"key": m.key, "label": m.label, "unavailable": False}
        for m in models_for(has_actions=has_actions)
    ]
    if current and current not in {c["key"] for c in choices}:
        label = MODELS_BY_KEY[current].label if current in MODELS_BY_KEY else current
        choices.append(
            {"key": current, "label": f"{label} (not available with actions)", "unavailable": True}
        )
    return choices


def posted_fields(request: HttpRequest) -> dict[str, Any]:
    """The GPT fields present in the POST body: an absent field is left unchanged.

    Unticked checkboxes send nothing, so the form marks that its apps fieldset was there
    (`apps_shown`); only then is the list of ticked apps (possibly empty) the GPT's apps.
    """
    fields: dict[str, Any] = {
        field: request.POST[field] for field in GPT_FIELDS if field in request.POST
    }
    if "conversation_starters" in fields:
        # One starter per line in the form; the service drops blank lines.
        fields["conversation_starters"] = fields["conversation_starters"].splitlines()
    if "apps_shown" in request.POST:
        fields["apps"] = request.POST.getlist("apps")
    return fields


def app_choices(selected) -> list[dict]:
    """Every app of the catalogue, ticked when the GPT uses it; an app the catalogue no longer
    has stays listed (by its key) so that it can be seen and removed."""
    selected = list(selected or [])
    choices = [{"key": app.key, "label": app.label, "checked": app.key in selected} for app in APPS]
    choices += [
        {"key": key, "label": key, "checked": True} for key in selected if key not in APPS_BY_KEY
    ]
    return choices


def workspace_names(memberships) -> str:
    return ", ".join(m.workspace.name for m in memberships)


@login_required
@require_http_methods(["GET"])
def gpt_list(request: HttpRequest) -> HttpResponse:
    """Every GPT the user may see, in a fixed number of queries whatever their number;
    `?q=` keeps those whose name or description contains the words typed."""
    query = " ".join(request.GET.get("q", "").split())[:SEARCH_MAX_LENGTH]
    gpts = gpt_list_for_user(user=request.user)
    for word in query.split():
        gpts = gpts.filter(Q(name__icontains=word) | Q(description__icontains=word))
    gpts = (
        gpts.select_related("workspace")
        .annotate(action_count=Count("actions"))
        .order_by("workspace__name", "name", "id")
    )
    page = Paginator(gpts, GPTS_PER_PAGE).get_page(request.GET.get("page"))
    memberships = membership_list_for_user(user=request.user)
    return render(
        request,
        "editor/gpt_list.html",
        {
            "page": page,
            "gpts": page.object_list,
            "query": query,
            "can_create": any(m.role in BUILDER_ROLES for m in memberships),
            "several_workspaces": len(memberships) > 1,
            "workspace_names": workspace_names(memberships),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def gpt_new(request: HttpRequest) -> HttpResponse:
    """Create a GPT in one of the workspaces where the user is a builder."""
    workspaces = [
        m.workspace for m in membership_list_for_user(user=request.user, roles=BUILDER_ROLES)
    ]
    if not workspaces:
        raise PermissionDenied("Only builders, admins and owners create GPTs.")
    values: dict[str, Any] = {
        "name": "",
        "description": "",
        "instructions": "",
        "model": default_model(),
        "visibility": Visibility.ONLY_ME,
        "conversation_starters": [],
        "workspace": workspaces[0].slug,
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        values.update(posted_fields(request))
        values["workspace"] = request.POST.get("workspace", workspaces[0].slug)
        workspace = next((w for w in workspaces if w.slug == values["workspace"]), None)
        if workspace is None:
            # With one workspace the form has no picker, so the message heads the form.
            errors = {
                "workspace" if len(workspaces) > 1 else "form": "Choose one of your workspaces."
            }
        else:
            try:
                gpt = gpt_create(
                    workspace=workspace, acting_user=request.user, **posted_fields(request)
                )
            except RuleViolation as exc:
                errors = rule_errors(exc, fields=GPT_FIELDS)
            else:
                messages.success(request, f"Created {gpt.name}. Add actions below.")
                return redirect("editor:gpt-detail", gpt_id=gpt.pk)
    return render(
        request,
        "editor/gpt_form.html",
        {
            "gpt": None,
            "values": values,
            "errors": errors,
            "editable": True,
            "workspaces": workspaces,
            "models": model_choices(has_actions=False, current=values["model"]),
            "visibilities": Visibility.choices,
            "apps": app_choices(values.get("apps")),
            "models_without_actions": models_without_actions(),
            "actions": [],
        },
        status=400 if errors else 200,
    )


def action_rows(gpt: GPT) -> list:
    """The GPT's actions with their operation counts and what is wrong with each now.

    Two queries whatever the number of actions: the actions (operations counted in SQL) and,
    when the workspace restricts domains, its allowlist.
    """
    actions: list[Any] = list(
        gpt.actions.annotate(operation_count=Count("operations")).order_by("id")
    )  # each gets a `problem` for the template
    blocked = actions_blocked_by_policy(workspace=gpt.workspace, actions=actions) if actions else {}
    for action in actions:
        action.problem = ""
        if action.errors:
            count = len(action.errors)
            action.problem = f"{count} schema error{'' if count == 1 else 's'}"
        elif not action.schema:
            action.problem = "No schema yet"
        elif action.pk in blocked:
            action.problem = blocked[action.pk].reason
    return actions


@login_required
@require_http_methods(["GET", "POST"])
@requires_access(
    gpt_access_for_member, denied="Only the GPT's builder, admins and owners change it."
)
def gpt_detail(request: HttpRequest, gpt_id: int, *, access: Access[GPT]) -> HttpResponse:
    """A GPT's settings and its Actions section. Members who may not edit see it read-only."""
    gpt, editable = access.obj, access.can_edit
    actions = action_rows(gpt)
    values = {field: getattr(gpt, field) for field in FORM_FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        fields = posted_fields(request)
        values.update(fields)
        try:
            gpt = gpt_update(gpt=gpt, acting_user=request.user, **fields)
        except RuleViolation as exc:
            errors = rule_errors(exc, fields=FORM_FIELDS)
        else:
            messages.success(request, "Saved.")
            return redirect("editor:gpt-detail", gpt_id=gpt.pk)
    return render(
        request,
        "editor/gpt_form.html",
        {
            "gpt": gpt,
            "values": values,
            "errors": errors,
            "editable": editable,
            "models": model_choices(has_actions=bool(actions), current=values["model"]),
            "visibilities": Visibility.choices,
            "apps": app_choices(values["apps"]),
            "models_without_actions": models_without_actions(),
            "actions": actions,
            "actions_unavailable": actions_unavailable_reason(gpt),
            "new_action_url": reverse("editor:action-new", args=[gpt.pk]),
            "preview_url": reverse("editor:gpt-preview", args=[gpt.pk]),
            "mcp": mcp_instructions(gpt),
        },
        status=400 if errors else 200,
    )


CONFIRMATIONS: dict[str, dict[str, Any]] = {
    "delete": {
        "text": "The GPT, its actions with their schemas and stored credentials, and users' "
        "connections and approvals for them are removed. This can not be undone.",
        "button": "Delete GPT",
        "danger": True,
    },
    "duplicate": {
        "text": "A copy named \u201cCopy of {name}\u201d is created in {workspace}, visible only "
        "to you, with a copy of every action (schema, authentication and privacy policy "
        "URL). Users' connections and approvals are not copied.",
        "button": "Duplicate GPT",
        "danger": False,
    },
}


def render_confirmation(request, gpt: GPT, what: str, *, error: str = "") -> HttpResponse:
    texts = CONFIRMATIONS[what]
    return render(
        request,
        "editor/gpt_confirm.html",
        {
            "gpt": gpt,
            "what": what,
            "title": f"{what.capitalize()} {gpt.name}?",
            "text": texts["text"].format(name=gpt.name, workspace=gpt.workspace.name),
            "button": texts["button"],
            "danger": texts["danger"],
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
@requires_access(
    gpt_access_for_member,
    needs={"GET": EDIT},
    denied="Only the GPT's builder, admins and owners delete it.",
)
def gpt_remove(request: HttpRequest, gpt_id: int, *, access: Access[GPT]) -> HttpResponse:
    """GET asks for confirmation (a page of its own: it works without script); POST deletes."""
    gpt = access.obj
    if request.method == "GET":
        return render_confirmation(request, gpt, "delete")
    try:
        gpt_delete(gpt=gpt, acting_user=request.user)
    except RuleViolation as exc:
        return render_confirmation(request, gpt, "delete", error=exc.detail)
    messages.success(request, f"Deleted {gpt.name}.")
    return redirect("editor:gpt-list")


@login_required
@require_http_methods(["GET", "POST"])
@requires_access(
    gpt_access_for_member,
    needs={"GET": EDIT},
    denied="Only the GPT's builder, admins and owners duplicate it.",
)
def gpt_copy(request: HttpRequest, gpt_id: int, *, access: Access[GPT]) -> HttpResponse:
    """GET asks for confirmation; POST makes the copy and opens it. A rule that refuses one of
    the actions now (the allowlist changed since) refuses the copy, with its reason."""
    gpt = access.obj
    if request.method == "GET":
        return render_confirmation(request, gpt, "duplicate")
    try:
        copy = gpt_duplicate(gpt=gpt, acting_user=request.user)
    except RuleViolation as exc:
        return render_confirmation(request, gpt, "duplicate", error=exc.detail)
    messages.success(request, f"Created {copy.name}.")
    return redirect("editor:gpt-detail", gpt_id=copy.pk)


def mcp_instructions(gpt: GPT) -> dict:
    """The GPT's MCP URL and how the common MCP hosts add it ("Use in other assistants")."""
    url = mcp_url(gpt.pk)
    name = slugify(gpt.name)[:40] or f"gpt-{gpt.pk}"
    cursor = json.dumps({"mcpServers": {name: {"url": url}}}, indent=2)
    return {
        "url": url,
        "enabled": gpt.workspace.mcp_enabled,
        "claude_code": f"claude mcp add --transport http {name} {url}",
        "cursor": cursor,
        "name": name,
    }
