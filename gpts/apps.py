from django.apps import AppConfig


class GptsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gpts"
    verbose_name = "GPTs"
