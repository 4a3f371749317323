"""Routes of the MCP side that Django serves (the endpoints themselves are config/asgi.py's).

Included at the root: RFC 8414 and RFC 9728 put their documents under the origin's
/.well-known/. The authorization-server metadata is django-oauth-toolkit's view; its issuer is
the site's origin, the value DOT also sends as the RFC 9207 `iss` of authorization responses.
"""

from django.urls import path
from oauth2_provider.views import OAuthServerMetadataView

from mcp_gateway import views

urlpatterns = [
    path(
        ".well-known/oauth-authorization-server",
        OAuthServerMetadataView.as_view(),
        name="oauth-authorization-server-metadata",
    ),
    path(
        ".well-known/oauth-protected-resource/mcp/gpts/<int:gpt_id>",
        views.protected_resource_metadata,
        name="mcp-resource-metadata",
    ),
    path("me/approvals/<str:token>", views.approval_page, name="me-approval"),
]
