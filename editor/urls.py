"""The builder's web editor, mounted at /editor/ (pages; the data moves through /api/v1/)."""

from django.urls import path

from chat import views as chat_views
from editor import action_views, gpt_views, preview_views

app_name = "editor"

urlpatterns = [
    path("", gpt_views.gpt_list, name="gpt-list"),
    path("gpts/new", gpt_views.gpt_new, name="gpt-new"),
    path("gpts/<int:gpt_id>/", gpt_views.gpt_detail, name="gpt-detail"),
    path("gpts/<int:gpt_id>/preview", chat_views.preview, name="gpt-preview"),
    path("gpts/<int:gpt_id>/delete", gpt_views.gpt_remove, name="gpt-delete"),
    path("gpts/<int:gpt_id>/duplicate", gpt_views.gpt_copy, name="gpt-duplicate"),
    path("gpts/<int:gpt_id>/actions/new", action_views.action_new, name="action-new"),
    path("actions/<int:action_id>/", action_views.action_detail, name="action-detail"),
    path("actions/<int:action_id>/delete", action_views.action_remove, name="action-delete"),
    path(
        "actions/<int:action_id>/operations/<str:operation_id>/test",
        preview_views.operation_test,
        name="operation-test",
    ),
]
