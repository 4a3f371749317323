"""The REST API of every app (DESIGN.md §4), mounted at /api/v1/."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        # Importing registers the API document's bearer-token scheme (a drf-spectacular
        # extension registers itself when its class is defined).
        from api import schema_extensions  # noqa: F401
