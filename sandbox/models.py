"""The sandbox demo API's data: a to-do list per user of the demo OAuth provider."""

from django.conf import settings
from django.db import models


class Todo(models.Model):
    """A to-do item of the sandbox API, owned by the user who authorised the client."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    done = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.title
