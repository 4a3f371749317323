"""The builder's web editor: server-rendered pages over the same services as the API."""

from django.apps import AppConfig


class EditorConfig(AppConfig):
    name = "editor"
    verbose_name = "Editor"
