from django.contrib import admin

from sandbox.models import Todo


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    """Sandbox data is the operator's (superusers) only."""

    list_display = ["title", "owner", "done", "created_at"]
    list_select_related = ["owner"]
