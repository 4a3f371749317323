"""Routes of the runtime's API: run an operation, export tools, remembered approvals."""

from django.urls import path

from api import run_views

urlpatterns = [
    path(
        "actions/<int:action_id>/operations/<str:operation_id>/run",
        run_views.OperationRunView.as_view(),
        name="operation-run",
    ),
    path("gpts/<int:gpt_id>/tools/", run_views.GPTToolsView.as_view(), name="gpt-tools"),
    path("me/consents/", run_views.ConsentListView.as_view(), name="consent-list"),
    path(
        "me/consents/<int:consent_id>/",
        run_views.ConsentDetailView.as_view(),
        name="consent-detail",
    ),
]
