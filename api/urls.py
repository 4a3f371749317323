from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import views

app_name = "api"

urlpatterns = [
    path("workspaces/", views.WorkspaceListView.as_view(), name="workspace-list"),
    path("workspaces/<slug:slug>/", views.WorkspaceDetailView.as_view(), name="workspace-detail"),
    path("workspaces/<slug:slug>/gpts/", views.GPTListView.as_view(), name="gpt-list"),
    path("gpts/<int:gpt_id>/", views.GPTDetailView.as_view(), name="gpt-detail"),
    path("gpts/<int:gpt_id>/models/", views.GPTModelsView.as_view(), name="gpt-models"),
    path("gpts/<int:gpt_id>/actions/", views.ActionListView.as_view(), name="action-list"),
    path(
        "gpts/<int:gpt_id>/imports/",
        views.NewActionImportView.as_view(),
        name="gpt-import-create",
    ),
    path("actions/<int:action_id>/", views.ActionDetailView.as_view(), name="action-detail"),
    path(
        "actions/<int:action_id>/imports/", views.ImportCreateView.as_view(), name="import-create"
    ),
    path("imports/<int:import_id>/", views.ImportDetailView.as_view(), name="import-detail"),
    path("schema/validate", views.SchemaValidateView.as_view(), name="schema-validate"),
    path("schema/examples", views.SchemaExamplesView.as_view(), name="schema-examples"),
    path("schema/format", views.SchemaFormatView.as_view(), name="schema-format"),
    path("schema/select", views.SchemaSelectView.as_view(), name="schema-select"),
    path("schema/convert", views.SchemaConvertView.as_view(), name="schema-convert"),
    path("", include("api.me_urls")),
    path("", include("api.run_urls")),
    path("", include("api.chat_urls")),
    path("", include("api.governance_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="openapi"),
    # The split view serves Swagger UI's start-up code as a script file (the CSP allows no
    # inline script); templates/drf_spectacular/swagger_ui.html moves its <style> to a file.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:openapi"), name="docs"),
]
