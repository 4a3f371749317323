"""Routes of workspace governance: members, invitations, the admins' word on operations."""

from django.urls import path

from api import governance_views as views

urlpatterns = [
    path("workspaces/<slug:slug>/members/", views.MemberListView.as_view(), name="member-list"),
    path(
        "workspaces/<slug:slug>/members/<int:user_id>/",
        views.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path(
        "workspaces/<slug:slug>/invitations/",
        views.InvitationListView.as_view(),
        name="invitation-list",
    ),
    path(
        "workspaces/<slug:slug>/invitations/<int:invitation_id>/",
        views.InvitationDetailView.as_view(),
        name="invitation-detail",
    ),
    path(
        "actions/<int:action_id>/operations/<str:operation_id>",
        views.OperationDetailView.as_view(),
        name="operation-detail",
    ),
]
