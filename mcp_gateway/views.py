"""The Django side of the MCP endpoints: what a client discovers, and what a person sees.

- RFC 9728 protected-resource metadata, one document per GPT endpoint, at
  `/.well-known/oauth-protected-resource/mcp/gpts/<id>` (the path RFC 9728 §3.1 derives from
  the resource `https://host/mcp/gpts/<id>`, which the 401 also names). It is the same for a
  GPT that does not exist: discovery must not tell strangers which ids are real.
- RFC 8414 authorization-server metadata is django-oauth-toolkit's view, mounted at the root
  (mcp_gateway/urls.py).
- The authorization (consent) page: DOT's, told which GPT and workspace an MCP client asks
  for, and refusing a self-registered client that names no MCP endpoint of this site.
- The approval page /me/approvals/<token> for calls made by a client that can not ask.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from oauth2_provider.models import get_application_model
from oauth2_provider.views import AuthorizationView

from actions.approvals import approval_choices, approval_decide, approval_get_for_user
from actions.models import ApprovalDecision
from config.oauth_server import dcr_application
from gpts.selectors import gpt_get_for_member
from kernel.errors import RuleViolation
from mcp_gateway.access import MCP_SCOPE, gpt_id_from_resource, mcp_url


@require_GET
def protected_resource_metadata(request: HttpRequest, gpt_id: int) -> JsonResponse:
    response = JsonResponse(
        {
            "resource": mcp_url(gpt_id),
            "authorization_servers": [settings.SITE_URL],
            "scopes_supported": [MCP_SCOPE],
            "bearer_methods_supported": ["header"],
            "resource_name": "GPT actions (MCP)",
        }
    )
    response["Access-Control-Allow-Origin"] = "*"
    return response


def mcp_target(resource: str | None, user) -> dict | None:
    """What the consent page says about the resource asked for: None when it is not an MCP
    endpoint of this site; the GPT and workspace names when the person may see that GPT."""
    resources = (resource or "").split()
    targets = [gpt_id_from_resource(value) for value in resources]
    if not resources or None in targets:
        return None
    shown: list[dict[str, object]] = []
    for gpt_id in targets:
        try:
            gpt = gpt_get_for_member(gpt_id=gpt_id, user=user)
        except Http404:
            shown.append({"gpt": None, "workspace": None, "mcp_enabled": False})
            continue
        shown.append(
            {
                "gpt": gpt.name,
                "workspace": gpt.workspace.name,
                "mcp_enabled": gpt.workspace.mcp_enabled,
            }
        )
    return {"endpoints": shown}


class McpAwareAuthorizationView(AuthorizationView):
    """DOT's authorization endpoint; a self-registered client must name one of this site's MCP
    endpoints as its RFC 8707 resource (its token is then good for that GPT only), and the page
    names that GPT and its workspace."""

    def _dcr_refusal(self, request) -> HttpResponse | None:
        client_id = (request.POST if request.method == "POST" else request.GET).get("client_id")
        Application = get_application_model()
        application = Application.objects.filter(client_id=client_id or "").first()
        if not dcr_application(application):
            return None
        data = request.POST if request.method == "POST" else request.GET
        resources = (
            data.getlist("resource")
            if request.method == "GET"
            else data.get("resource", "").split()
        )
        if resources and all(gpt_id_from_resource(value) for value in resources):
            return None
        return render(
            request,
            self.template_name,
            {
                "error": {
                    "error": "invalid_target",
                    "description": "This app registered itself, so it may only ask for "
                    "access to a GPT's MCP endpoint on this site (resource "
                    "…/mcp/gpts/<id>), and it did not.",
                }
            },
            status=400,
        )

    def get(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            refusal = self._dcr_refusal(request)
            if refusal is not None:
                return refusal
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        refusal = self._dcr_refusal(request)
        if refusal is not None:
            return refusal
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        resource = kwargs.get("resource")
        if resource is None and "form" in context:
            resource = context["form"]["resource"].value()
        context["mcp_target"] = mcp_target(resource, self.request.user)
        return context


@require_http_methods(["GET", "POST"])
@login_required
def approval_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the waiting call (domain, method, URL, body, as they will be sent); POST
    records Allow / Always allow / Decline. Another person's link is a 404."""
    approval = approval_get_for_user(token=token, user=request.user)
    status = 200
    if request.method == "POST":
        try:
            approval = approval_decide(
                token=token, user=request.user, decision=request.POST.get("decision", "")
            )
        except RuleViolation as exc:
            messages.error(request, exc.detail)
            status = exc.status
        else:
            messages.success(
                request,
                "Declined: nothing will be sent."
                if approval.decision == ApprovalDecision.DECLINE
                else "Approved: ask the assistant to run it again; it will be sent once.",
            )
    labels = dict(ApprovalDecision.choices)
    return render(
        request,
        "me/approval.html",
        {
            "approval": approval,
            "choices": [(value, labels[value]) for value in approval_choices(approval)],
            "request_shown": approval.request,
            "expired": approval.expires_at <= timezone.now(),
        },
        status=status,
    )
