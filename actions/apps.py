from django.apps import AppConfig


class ActionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "actions"

    def ready(self):
        # Registers the API document's bearer-token scheme (drf-spectacular extension).
        from actions.api import schema_extensions  # noqa: F401
