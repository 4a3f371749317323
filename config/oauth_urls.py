"""The routes of django-oauth-toolkit this site serves under /o/.

The protocol endpoints (authorize, token, revoke, introspect) for everyone; each person's list of
the apps they authorized; and client management (`applications/...`) for superusers only. DOT's
own URL module lets any signed-in member register a client, and a client registered by a member
is a phishing tool: a consent page on this site, under this site's name, asking an owner for
`write`. Device and OIDC routes are not used and not mounted. MCP clients register themselves
(RFC 7591, `register/`), but what they can obtain is narrowed to `mcp` tokens for one GPT.
"""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.urls import path
from oauth2_provider import views

from mcp_gateway.registration import RegistrationManagementView, RegistrationView
from mcp_gateway.views import McpAwareAuthorizationView

app_name = "oauth2_provider"


def superuser_only(view):
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_superuser:
            raise PermissionDenied("OAuth clients are registered by a superuser (or in /admin/).")
        return view(request, *args, **kwargs)

    return wrapped


urlpatterns = [
    # DOT's consent page, naming the GPT and workspace an MCP client asks for.
    path("authorize/", McpAwareAuthorizationView.as_view(), name="authorize"),
    path("token/", views.TokenView.as_view(), name="token"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", views.IntrospectTokenView.as_view(), name="introspect"),
    # RFC 7591/7592 for MCP clients: bounded, and such clients only ever get `mcp` tokens
    # (mcp_gateway/registration.py, config/oauth_server.py).
    path("register/", RegistrationView.as_view(), name="dcr-register"),
    path(
        "register/<str:client_id>/",
        RegistrationManagementView.as_view(),
        name="dcr-register-management",
    ),
    path("applications/", superuser_only(views.ApplicationList.as_view()), name="list"),
    path(
        "applications/register/",
        superuser_only(views.ApplicationRegistration.as_view()),
        name="register",
    ),
    path(
        "applications/<slug:pk>/",
        superuser_only(views.ApplicationDetail.as_view()),
        name="detail",
    ),
    path(
        "applications/<slug:pk>/delete/",
        superuser_only(views.ApplicationDelete.as_view()),
        name="delete",
    ),
    path(
        "applications/<slug:pk>/update/",
        superuser_only(views.ApplicationUpdate.as_view()),
        name="update",
    ),
    # A person's own authorizations (DOT filters them by request.user), so they can revoke one.
    path(
        "authorized_tokens/", views.AuthorizedTokensListView.as_view(), name="authorized-token-list"
    ),
    path(
        "authorized_tokens/<slug:pk>/delete/",
        views.AuthorizedTokenDeleteView.as_view(),
        name="authorized-token-delete",
    ),
]
