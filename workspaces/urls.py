"""Pages of the workspaces app for people outside the admin: accepting an invitation."""

from django.urls import path

from workspaces import views

urlpatterns = [
    path("invitations/<str:token>/", views.invitation_page, name="invitation-accept"),
]
