"""Routes of the OAuth client flow and the user's connections page (included at the root)."""

from django.urls import path

from actions.oauth import views

urlpatterns = [
    path("actions/<int:action_id>/oauth/start", views.start, name="oauth-start"),
    path("aip/<int:gpt_id>/oauth/callback", views.callback, name="oauth-callback"),
    path("me/connections/", views.connections, name="me-connections"),
    path(
        "me/connections/<int:connection_id>/revoke",
        views.connection_revoke_view,
        name="me-connection-revoke",
    ),
    path(
        "me/approvals/<int:consent_id>/revoke",
        views.consent_revoke_view,
        name="me-consent-revoke",
    ),
]
