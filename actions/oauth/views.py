"""Pages of the OAuth client flow and of the user's connections. Thin: services do the work.

Every refusal of the flow renders templates/oauth/error.html with a fitting status and a
sentence the user can act on; nothing here lets a provider's or a user's input reach a 500.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods

from actions.oauth.flow import DEFAULT_RETURN_TO, OAuthFlowError, oauth_callback, oauth_start
from actions.oauth.revoke import connection_revoke
from actions.oauth.selectors import (
    connection_get_for_user,
    connection_list_for_user,
    consent_get_for_user,
    consent_list_for_user,
)
from actions.runtime.run import consent_revoke
from actions.selectors import action_get_for_use


def safe_return_to(request: HttpRequest, candidate: str | None) -> str:
    """A local path to send the user back to; anything pointing off-site is dropped."""
    if (
        candidate
        and len(candidate) <= 2000
        and candidate.startswith("/")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return DEFAULT_RETURN_TO


def error_page(request: HttpRequest, error: OAuthFlowError) -> HttpResponse:
    retry_url = None
    if error.action is not None and error.code not in {"not_oauth", "domain_not_allowed"}:
        retry_url = f"/actions/{error.action.pk}/oauth/start"
        if error.return_to:

            retry_url += "?" + urlencode({"next": error.return_to})
    return render(
        request,
        "oauth/error.html",
        {
            "error": error,
            "retry_url": retry_url,
            "back_url": safe_return_to(request, error.return_to) if error.return_to else None,
        },
        status=error.status,
    )


@require_GET
@login_required
def start(request: HttpRequest, action_id: int) -> HttpResponse:
    """GET /actions/{id}/oauth/start?next=/path: send the user to the provider to sign in
    (anyone who may run the action: a member, or someone a public GPT is shared with)."""
    action = action_get_for_use(action_id=action_id, user=request.user)
    return_to = safe_return_to(request, request.GET.get("next"))
    try:
        url = oauth_start(user=request.user, action=action, return_to=return_to)
    except OAuthFlowError as exc:
        return error_page(request, exc)
    return redirect(url)


@require_GET
@login_required
def callback(request: HttpRequest, gpt_id: int) -> HttpResponse:
    """GET /aip/{gpt_id}/oauth/callback?code=&state= (or ?error=): the provider sends the user
    back here."""
    params = {key: request.GET.get(key, "") for key in ("state", "code", "error")}
    params["error_description"] = request.GET.get("error_description", "")
    try:
        connected = oauth_callback(user=request.user, gpt_id=gpt_id, params=params)
    except OAuthFlowError as exc:
        return error_page(request, exc)
    action = connected.account.action
    messages.success(request, f"Your account at {action.domain or 'the provider'} is connected.")
    return redirect(safe_return_to(request, connected.return_to))


@require_GET
@login_required
def connections(request: HttpRequest) -> HttpResponse:
    """GET /me/connections/: the user's OAuth connections and remembered approvals."""
    # Each action is named by includes/action_name.html: its title with its domain, as in the
    # editor.
    connections = list(connection_list_for_user(user=request.user))
    return render(
        request,
        "me/connections.html",
        {
            "connections": connections,
            "consents": list(consent_list_for_user(user=request.user)),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def connection_revoke_view(request: HttpRequest, connection_id: int) -> HttpResponse:
    """GET asks for confirmation (works without JavaScript); POST revokes."""
    connection = connection_get_for_user(connection_id=connection_id, user=request.user)
    if request.method == "GET":
        return render(request, "me/connection_revoke.html", {"connection": connection})
    result = connection_revoke(user=request.user, connection_id=connection.pk)
    if result.provider_notified is False:
        messages.warning(request, result.summary())
    else:
        messages.success(request, result.summary())
    return redirect("me-connections")


@require_http_methods(["GET", "POST"])
@login_required
def consent_revoke_view(request: HttpRequest, consent_id: int) -> HttpResponse:
    """GET asks for confirmation; POST forgets the remembered approval."""
    consent = consent_get_for_user(consent_id=consent_id, user=request.user)
    if request.method == "GET":
        return render(request, "me/consent_revoke.html", {"consent": consent})
    consent_revoke(user=request.user, consent_id=consent.pk)
    messages.success(
        request, f"{consent.operation_id} of {consent.gpt.name} will ask for approval again."
    )
    return redirect("me-connections")
