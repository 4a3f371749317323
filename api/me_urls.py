"""/api/v1/me/connected-accounts/: the caller's OAuth connections."""

from django.urls import path

from api import me_views

urlpatterns = [
    path(
        "me/connected-accounts/",
        me_views.ConnectedAccountListView.as_view(),
        name="connected-account-list",
    ),
    path(
        "me/connected-accounts/<int:connection_id>/",
        me_views.ConnectedAccountDetailView.as_view(),
        name="connected-account-detail",
    ),
]
