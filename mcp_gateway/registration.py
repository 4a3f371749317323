"""Dynamic client registration (RFC 7591) for MCP clients, without reopening the trust work.

MCP hosts register themselves with the authorization server the first time they connect (the
`mcp` SDK's client does so when the server publishes a `registration_endpoint`; it uses client
ID metadata documents only when handed a metadata URL, which hosts are not). Registration has
to be open, since the host does not have an account yet, so what a registered client can do
is what is narrowed (config.oauth_server.Validator): its tokens carry the scope `mcp` only,
never `read` or `write` (config/oauth_urls.py explains why an unvetted client asking an owner
for `write` would be a phishing tool), and they must be bound (RFC 8707 `resource`) to one MCP
endpoint of this site. The consent page names the GPT and workspace the client asks for.

Registration itself is bounded: at most MCP_DCR_PER_ADDRESS_PER_HOUR per client address (Django's
cache, shared between web processes when CACHE_URL is set) and MCP_DCR_MAX_CLIENTS in all, and
each registration is logged on the `actions.audit` logger with the address, name and redirect
URIs (the Application row itself, registration source "dcr", is in the admin). The view is
django-oauth-toolkit's own, with these bounds in front.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_application_model
from oauth2_provider.views import (
    DynamicClientRegistrationManagementView,
    DynamicClientRegistrationView,
)

from config.login import client_address

audit = logging.getLogger("actions.audit")
ALLOWED_GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})


def dcr_application(application) -> bool:
    """Whether a client registered itself (and is therefore limited to MCP tokens)."""
    Application = get_application_model()
    return (
        application is not None
        and getattr(application, "registration_source", None) == Application.RegistrationSource.DCR
    )


def registration_refusal(request) -> str:
    """Why this registration is refused now ("" when it may go ahead); audited either way."""
    address = client_address(request)
    key = f"mcp-dcr:{address}"
    cache.add(key, 0, timeout=3600)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=3600)
        count = 1
    if count > settings.MCP_DCR_PER_ADDRESS_PER_HOUR:
        audit.warning("client registration refused (rate) from %s", address)
        return "Too many client registrations from your address; try again in an hour."
    Application = get_application_model()
    registered = Application.objects.filter(
        registration_source=Application.RegistrationSource.DCR
    ).count()
    if registered >= settings.MCP_DCR_MAX_CLIENTS:
        audit.warning(
            "client registration refused (cap of %s reached) from %s",
            settings.MCP_DCR_MAX_CLIENTS,
            address,
        )
        return "This site accepts no more client registrations; ask its operator."
    try:
        metadata = json.loads(request.body or b"{}")
    except ValueError:
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    uris = metadata.get("redirect_uris")
    audit.info(
        "client registration from %s: name=%r redirect_uris=%r",
        address,
        str(metadata.get("client_name", ""))[:200],
        uris[:10] if isinstance(uris, list) else [],
    )
    return ""


@method_decorator(csrf_exempt, name="dispatch")
class RegistrationView(DynamicClientRegistrationView):
    """DOT's RFC 7591 endpoint, refusing with 429 beyond the bounds above."""

    def post(self, request, *args, **kwargs):
        refusal = registration_refusal(request)
        if refusal:
            return JsonResponse(
                {"error": "temporarily_unavailable", "error_description": refusal}, status=429
            )
        try:
            grant_types = json.loads(request.body or b"{}").get("grant_types")
        except (ValueError, AttributeError):
            grant_types = None  # DOT answers malformed metadata itself
        if isinstance(grant_types, list) and not set(grant_types) <= ALLOWED_GRANT_TYPES:
            return JsonResponse(
                {
                    "error": "invalid_client_metadata",
                    "error_description": "Clients that register themselves act for a person: "
                    "grant_types may only be authorization_code and refresh_token.",
                },
                status=400,
            )
        return super().post(request, *args, **kwargs)


@method_decorator(csrf_exempt, name="dispatch")
class RegistrationManagementView(DynamicClientRegistrationManagementView):
    """RFC 7592 read and delete of one's own registration; no update, so a registered client
    can not turn itself into something else (another grant type, other redirect URIs)."""

    http_method_names = ["get", "delete"]
