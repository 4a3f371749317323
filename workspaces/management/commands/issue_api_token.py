"""Print a bearer token for the REST API (a django-oauth-toolkit access token)."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    set_token_value,
)
from oauth2_provider.settings import oauth2_settings

CLI_APPLICATION_NAME = "Command-line API tokens"
DEFAULT_SCOPE = "read write mcp"


class Command(BaseCommand):
    help = "Issue a REST API bearer token for USERNAME; the token is alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, default=30, help="Validity in days (default 30).")
        parser.add_argument(
            "--scope",
            default=DEFAULT_SCOPE,
            help=f"Space-separated scopes (default {DEFAULT_SCOPE!r}); one of: "
            + ", ".join(oauth2_settings.SCOPES),
        )

    def handle(self, *args, username, days, scope, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if days < 1 or days > 366:
            raise CommandError("--days must be between 1 and 366.")
        if not user.is_active:
            raise CommandError(f"{username!r} is inactive: its tokens would open nothing.")
        scopes = scope.split()
        unknown = [name for name in scopes if name not in oauth2_settings.SCOPES]
        if not scopes or unknown:
            raise CommandError(
                f"Unknown scope {' '.join(unknown) or '(none given)'}; known: "
                + ", ".join(oauth2_settings.SCOPES)
            )
        application, _ = get_application_model().objects.get_or_create(
            name=CLI_APPLICATION_NAME,
            defaults={
                "client_type": "confidential",
                "authorization_grant_type": "client-credentials",
                "skip_authorization": True,
            },
        )
        raw_token = secrets.token_urlsafe(32)
        token = get_access_token_model()(
            user=user,
            application=application,
            expires=timezone.now() + timedelta(days=days),
            scope=" ".join(dict.fromkeys(scopes)),
        )
        # Only the token's checksum is stored (RFC 9700 token storage): print it now or never.
        set_token_value(token, raw_token)
        token.save()
        self.stdout.write(f"Token for {username}, scopes {token.scope}, valid {days} days:")
        self.stdout.write(raw_token)
