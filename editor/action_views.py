"""The builder's editor, action side: one page to set an action's authentication, schema and
privacy policy URL.

The page is a plain form posted to the server, which saves through `actions.services` (the same
rules as the REST API) and, when a rule refuses, re-renders the page with the builder's input and
the errors next to their fields. The page's script (static/editor/action.js) adds what needs no
save: live validation as the builder types, the Examples menu, Format, and Import from URL, all
through the REST API with the session cookie.

A new action is created on its first save, so abandoning the page leaves nothing behind; Import
from URL on a new action asks the server for a new action made by the import job, which creates
it only when the import succeeds. Saving an action without a schema is refused by the service
(`schema_required`), as in every other entry point.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from actions.governance import operation_refusal
from actions.links import callback_url
from actions.models import Action, ApiKeyAuthType, AuthType, TokenExchangeMethod
from actions.selectors import (
    action_access_for_member,
    actions_blocked_by_policy,
)
from actions.services import action_create, action_delete, action_update
from api.permissions import EDIT, requires_access
from editor.gpt_views import rule_errors
from gpts.models import GPT
from gpts.selectors import actions_unavailable_reason, gpt_access_for_member
from kernel.encryption import mask_secret
from kernel.errors import RuleViolation
from workspaces.domains import DomainPolicy
from workspaces.models import AllowedDomain
from workspaces.policy import NO_DOMAINS_ALLOWED, policy_restricts
from workspaces.selectors import Access

OAUTH_TEXT_FIELDS = ("client_id", "authorization_url", "token_url", "scope", "revocation_url")
# The form's inputs that can carry a message, and the service's names for them.
FORM_FIELDS = (
    "schema",
    "privacy_policy_url",
    "api_key",
    "api_key_auth_type",
    "custom_header",
    "client_secret",
    "token_exchange_method",
    *OAUTH_TEXT_FIELDS,
)
FIELD_RENAMES = {"auth.auth_type": "api_key_auth_type"} | {
    f"auth.{name}": name for name in FORM_FIELDS if name != "api_key_auth_type"
}


def operation_test_url(action_id: int, operation_id: str) -> str:
    """Where the Test button of an operation leads (the Preview page)."""
    return f"/editor/actions/{action_id}/operations/{operation_id}/test"


# How the operations table names what the workspace's admins decided (actions/governance.py).
STATE_LABELS = {
    "operation_disabled": "Disabled",
    "operation_pending_review": "Waiting for review",
    "read_only_workspace": "Read-only workspace",
}


def operation_state(operation, workspace) -> dict:
    """`state` (a short label, "" when the operation may run) and `why` (the refusal's
    sentence) for one row of the operations table."""
    refusal = operation_refusal(operation, workspace)
    if refusal is None:
        return {"state": "", "state_code": "", "why": ""}
    return {"state": STATE_LABELS[refusal.code], "state_code": refusal.code, "why": refusal.detail}


def auth_values(action: Action | None) -> dict:
    """The non-secret authentication settings of `action`, as the form shows them."""
    if action is None:
        return {
            "type": AuthType.NONE,
            "auth_type": ApiKeyAuthType.BEARER,
            "custom_header": "",
            "client_id": "",
            "authorization_url": "",
            "token_url": "",
            "scope": "",
            "revocation_url": "",
            "token_exchange_method": TokenExchangeMethod.DEFAULT_POST,
        }
    return {
        "type": action.auth_type,
        "auth_type": action.api_key_auth_type,
        "custom_header": action.custom_header,
        "client_id": action.oauth_client_id,
        "authorization_url": action.authorization_url,
        "token_url": action.token_url,
        "scope": action.scope,
        "revocation_url": action.revocation_url,
        "token_exchange_method": action.token_exchange_method,
    }


def posted_auth(post) -> dict:
    """The AUTH object of the API contract from the form. Secrets left blank are sent as empty,
    which the service reads as "keep the stored one"."""
    kind = post.get("auth_type", AuthType.NONE)
    if kind == AuthType.API_KEY:
        return {
            "type": AuthType.API_KEY,
            "api_key": post.get("api_key", ""),
            "auth_type": post.get("api_key_auth_type", ApiKeyAuthType.BEARER),
            "custom_header": post.get("custom_header", ""),
        }
    if kind == AuthType.OAUTH:
        auth = {"type": AuthType.OAUTH, "client_secret": post.get("client_secret", "")}
        auth.update({field: post.get(field, "") for field in OAUTH_TEXT_FIELDS})
        auth["token_exchange_method"] = post.get(
            "token_exchange_method", TokenExchangeMethod.DEFAULT_POST
        )
        return auth
    return {"type": kind}


def posted_schema(post) -> str:
    # Browsers send a textarea's line breaks as CRLF; the engine's line numbers and the stored
    # text use LF, so that what the builder sees and what is saved stay the same.
    return post.get("schema", "").replace("\r\n", "\n").replace("\r", "\n")


def domain_panel(workspace) -> dict:
    """What the page says about the workspace's allowed domains (one query at most)."""
    if not policy_restricts(workspace):
        return {"restricted": False, "allowed": [], "policy": DomainPolicy.allow_everything()}
    allowed = list(
        AllowedDomain.objects.filter(workspace=workspace)
        .order_by("pattern")
        .values_list("pattern", flat=True)
    )
    return {
        "restricted": True,
        "allowed": allowed,
        "none_message": NO_DOMAINS_ALLOWED,
        "policy": DomainPolicy(allow_all=False, entries=allowed),
    }


def domain_problem(action: Action | None, policy: DomainPolicy) -> dict | None:
    """What the domain policy says now about the saved action (it may have changed since the
    schema was saved), as a problem of the error list, or None when it allows the action."""
    if action is None:
        return None
    blocked = actions_blocked_by_policy(
        workspace=action.workspace, actions=[action], policy=policy
    ).get(action.pk)
    if blocked is None:
        return None
    return {
        "message": blocked.reason,
        "pointer": blocked.pointer,
        "line": None,
        "column": None,
        "host": blocked.host,
    }


def saved_problems(action: Action | None, problem: dict | None) -> list[dict]:
    """The stored verdict's errors plus the domain policy's verdict now."""
    if action is None:
        return []
    return list(action.errors) + ([problem] if problem else [])


def render_action_page(
    request: HttpRequest,
    *,
    gpt: GPT,
    action: Action | None,
    editable: bool,
    posted=None,
    failure: RuleViolation | None = None,
) -> HttpResponse:
    domains = domain_panel(gpt.workspace)
    policy_problem = domain_problem(action, domains["policy"])
    errors = rule_errors(failure, fields=FORM_FIELDS, renames=FIELD_RENAMES) if failure else {}
    if posted is not None:
        # A refused save: show exactly what the builder sent (secrets excepted) and the errors
        # the rule gave, so nothing typed is lost.
        auth = auth_values(action)
        auth.update({k: v for k, v in posted_auth(posted).items() if k not in ("type",)})
        auth["type"] = posted.get("auth_type", AuthType.NONE)
        auth.pop("api_key", None)
        auth.pop("client_secret", None)
        schema = posted_schema(posted)
        privacy_policy_url = posted.get("privacy_policy_url", "")
        problems = list(failure.extra.get("errors", [])) if failure else []
        warnings = list(failure.extra.get("warnings", [])) if failure else []
        typed_secret = bool(posted.get("api_key") or posted.get("client_secret"))
    else:
        auth = auth_values(action)
        schema = action.schema if action else ""
        privacy_policy_url = action.privacy_policy_url if action else ""
        problems = saved_problems(action, policy_problem)
        warnings = list(action.warnings) if action else []
        typed_secret = False
    operations = []
    if action is not None and schema == action.schema:
        operations = [
            {
                "operation_id": op.operation_id,
                "method": op.method,
                "path": op.path,
                "summary": op.summary,
                "test_url": operation_test_url(action.pk, op.operation_id),
                **operation_state(op, action.workspace),
            }
            for op in action.operations.all()
        ]
    context = {
        "gpt": gpt,
        "action": action,
        "editable": editable,
        "auth": auth,
        "api_key_hint": mask_secret(action.api_key) if action else "",
        "client_secret_hint": mask_secret(action.oauth_client_secret) if action else "",
        "typed_secret": typed_secret,
        "schema": schema,
        "saved_schema": action.schema if action else "",
        "privacy_policy_url": privacy_policy_url,
        "problems": problems,
        "warnings": warnings,
        "operations": operations,
        "errors": errors,
        "callback_url": callback_url(gpt.pk),
        "domains": domains,
        "domain_problem": policy_problem,
        "actions_unavailable": "" if action else actions_unavailable_reason(gpt),
        "api_key_auth_types": ApiKeyAuthType.choices,
        "token_exchange_methods": TokenExchangeMethod.choices,
        "page_config": {
            "actionId": action.pk if action else None,
            "gptId": gpt.pk,
            "editable": editable,
            "apiBase": "/api/v1",
            "actionUrlTemplate": "/editor/actions/{id}/",
            "newActionUrl": reverse("editor:action-new", args=[gpt.pk]),
            "testUrlTemplate": "/editor/actions/{id}/operations/{operation}/test",
            "schemaIsSaved": action is not None and schema == action.schema,
            "savedOperationIds": [op["operation_id"] for op in operations],
            "savedOperationStates": {
                op["operation_id"]: {
                    "state": op["state"],
                    "code": op["state_code"],
                    "why": op["why"],
                }
                for op in operations
            },
            # The live check knows no workspace: the page tells it what the policy refuses.
            "domainProblem": policy_problem,
        },
    }
    # A refused save is the builder's input being refused: 400, whatever the rule's API status.
    return render(request, "editor/action_form.html", context, status=400 if failure else 200)


@login_required
@require_http_methods(["GET", "POST"])
@requires_access(
    gpt_access_for_member,
    needs={"GET": EDIT},
    denied="Only the GPT's builder, admins and owners add actions.",
)
def action_new(request: HttpRequest, gpt_id: int, *, access: Access[GPT]) -> HttpResponse:
    """The action page for an action not saved yet; the first save creates it."""
    gpt = access.obj
    if request.method == "POST":
        try:
            action = action_create(
                gpt=gpt,
                acting_user=request.user,
                schema=posted_schema(request.POST),
                auth=posted_auth(request.POST),
                privacy_policy_url=request.POST.get("privacy_policy_url", ""),
            )
        except RuleViolation as exc:
            return render_action_page(
                request, gpt=gpt, action=None, editable=True, posted=request.POST, failure=exc
            )
        messages.success(request, "Action saved.")
        return redirect("editor:action-detail", action_id=action.pk)
    return render_action_page(request, gpt=gpt, action=None, editable=True)


@login_required
@require_http_methods(["GET", "POST"])
@requires_access(
    action_access_for_member,
    denied="Only the GPT's builder, admins and owners change its actions.",
)
def action_detail(request: HttpRequest, action_id: int, *, access: Access[Action]) -> HttpResponse:
    """An existing action; read-only for members who may not edit its GPT."""
    action, editable = access.obj, access.can_edit
    gpt = action.gpt
    gpt.workspace = action.workspace  # already joined: spare the page a query
    if request.method == "POST":
        schema = posted_schema(request.POST)
        try:
            action_update(
                action=action,
                acting_user=request.user,
                # Re-validating an unchanged schema would only rebuild the same operations.
                schema=schema if schema != action.schema else None,
                auth=posted_auth(request.POST),
                privacy_policy_url=request.POST.get("privacy_policy_url", ""),
            )
        except RuleViolation as exc:
            return render_action_page(
                request, gpt=gpt, action=action, editable=True, posted=request.POST, failure=exc
            )
        messages.success(request, "Action saved.")
        return redirect("editor:action-detail", action_id=action.pk)
    return render_action_page(request, gpt=gpt, action=action, editable=editable)


@login_required
@require_POST
@requires_access(
    action_access_for_member,
    denied="Only the GPT's builder, admins and owners delete its actions.",
)
def action_remove(request: HttpRequest, action_id: int, *, access: Access[Action]) -> HttpResponse:
    action = access.obj
    gpt_id = action.gpt_id
    action_delete(action=action, acting_user=request.user)
    messages.success(request, "Action deleted.")
    return redirect("editor:gpt-detail", gpt_id=gpt_id)
