"""Who is calling an MCP endpoint, and may they: decided on every HTTP request.

The MCP endpoints are a protected resource of the platform's own authorization server
(django-oauth-toolkit). A request needs a bearer access token that

- is valid (not expired, not revoked, its user active: config.oauth_server.Validator),
- was issued for this endpoint, when it names one (RFC 8707: DOT stores the `resource` of the
  authorization request on the grant and the token; a token for GPT 5 does not open GPT 6,
  nor the REST API), and
- carries the scope `mcp` (a read/write API token does not open MCP; an `mcp` token opens
  nothing in /api/v1/, api/scopes.py).

Then the token's user must be allowed to see the GPT (gpts.selectors, 404 otherwise, the same
answer as for a GPT that does not exist) and the GPT's workspace must have `mcp_enabled` (403).
Each refusal carries the status, the platform's `{"code", "detail"}` and, for 401/403 on the
token, the RFC 6750 / RFC 9728 challenge that lets an MCP client find the authorization server.

Plain synchronous Django code: the ASGI endpoint calls it through sync_to_async.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import Http404
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthRequest

from gpts.selectors import gpt_get_for_member

MCP_SCOPE = "mcp"
MCP_PREFIX = "/mcp/gpts/"


def mcp_path(gpt_id: int) -> str:
    return f"{MCP_PREFIX}{gpt_id}"


def mcp_url(gpt_id: int) -> str:
    """The GPT's MCP endpoint and its RFC 8707 resource identifier (one and the same)."""
    return f"{settings.SITE_URL}{mcp_path(gpt_id)}"


def resource_metadata_url(gpt_id: int) -> str:
    """RFC 9728 §3.1: the metadata of resource `https://host/mcp/gpts/5` lives at
    `https://host/.well-known/oauth-protected-resource/mcp/gpts/5`."""
    return f"{settings.SITE_URL}/.well-known/oauth-protected-resource{mcp_path(gpt_id)}"


def gpt_id_from_resource(resource: str) -> int | None:
    """The GPT an RFC 8707 resource value names, if it is one of this site's MCP endpoints."""
    prefix = f"{settings.SITE_URL}{MCP_PREFIX}"
    if not isinstance(resource, str) or not resource.startswith(prefix):
        return None
    rest = resource[len(prefix) :].rstrip("/")
    if not rest.isdigit() or len(rest) > 18:
        return None
    return int(rest)


@dataclass(frozen=True)
class Caller:
    """An authorized request: the token's user on one GPT."""

    user_id: int
    gpt_id: int
    token_id: int
    client_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    detail: str
    challenge: str = ""  # the WWW-Authenticate value, for 401 and insufficient scope


def _challenge(gpt_id: int, error: str = "") -> str:
    parts = [f'resource_metadata="{resource_metadata_url(gpt_id)}"', f'scope="{MCP_SCOPE}"']
    if error:
        parts.insert(0, f'error="{error}"')
    return "Bearer " + ", ".join(parts)


def authorize(*, token: str | None, gpt_id: int) -> Caller | Refusal:
    if not token:
        return Refusal(
            401,
            "authentication_required",
            "This MCP endpoint needs a bearer token with the mcp scope: connect your MCP "
            "client, it will send you to sign in.",
            _challenge(gpt_id),
        )
    request = OAuthRequest(mcp_url(gpt_id))
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    if not validator.validate_bearer_token(token, [], request):
        wrong_resource = bool(getattr(request, "oauth2_error", None))
        return Refusal(
            401,
            "invalid_token",
            "This access token was issued for another resource, not this GPT's MCP endpoint."
            if wrong_resource
            else "The access token is invalid, expired or revoked, or its user is inactive.",
            _challenge(gpt_id, "invalid_token"),
        )
    access_token = request.access_token
    if MCP_SCOPE not in access_token.scope.split():
        return Refusal(
            403,
            "insufficient_scope",
            f"This access token lacks the mcp scope; it has: {access_token.scope or 'none'}.",
            _challenge(gpt_id, "insufficient_scope"),
        )
    user = access_token.user
    if user is None:  # a client-credentials token acts for nobody
        return Refusal(
            401,
            "invalid_token",
            "This access token acts for no person.",
            _challenge(gpt_id, "invalid_token"),
        )
    try:
        gpt = gpt_get_for_member(gpt_id=gpt_id, user=user)
    except Http404:
        return Refusal(404, "not_found", "No such GPT.")
    if not gpt.workspace.mcp_enabled:
        return Refusal(
            403,
            "mcp_disabled",
            f"MCP is turned off for the workspace {gpt.workspace.name}; its owner can turn it on.",
        )
    application = access_token.application
    return Caller(
        user_id=user.pk,
        gpt_id=gpt.pk,
        token_id=access_token.pk,
        client_id=application.client_id if application is not None else "platform-token",
        scopes=tuple(access_token.scope.split()),
    )
