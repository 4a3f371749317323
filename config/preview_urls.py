"""The editor's Preview (Test) pages, mounted under /editor/ next to config/editor_urls.py."""

from django.urls import path

from actions import preview_views

urlpatterns = [
    path(
        "actions/<int:action_id>/operations/<str:operation_id>/test",
        preview_views.operation_test,
        name="operation-test",
    ),
]
