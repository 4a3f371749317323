"""The access token an action call should carry, refreshed when it has expired or is about to.

The runtime calls `access_token_for` before each call. A refresh happens under a row lock on the
ConnectedAccount, so when several calls race only the first one talks to the provider and the
others wait and reuse its fresh token (providers that rotate refresh tokens, as RFC 9700 asks,
would otherwise see a reused refresh token and revoke the whole grant).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from actions.models import Action, ConnectedAccount, ConnectionStatus
from actions.oauth import client
from actions.oauth.flow import expiry_from

# Refresh this long before the provider's stated expiry, so a token does not lapse in flight.
DEFAULT_REFRESH_MARGIN = timedelta(seconds=60)


class OAuthRequired(Exception):
    """The user must (re)connect their account; `authorize_url` starts the flow."""

    def __init__(self, *, authorize_url: str, detail: str = "Connect your account to continue."):
        super().__init__(detail)
        self.authorize_url = authorize_url
        self.detail = detail


class OAuthRefreshUnavailable(OAuthRequired):
    """The token has expired and the provider could not renew it just now (timeout, 5xx).

    The connection is left as it is, so a later call may succeed; reconnecting also works.
    """


def start_url(action: Action) -> str:
    """Where a user goes to connect their account for `action`."""
    return f"{settings.SITE_URL}/actions/{action.pk}/oauth/start"


def refresh_margin() -> timedelta:
    seconds = getattr(settings, "OAUTH_REFRESH_MARGIN_SECONDS", None)
    return DEFAULT_REFRESH_MARGIN if seconds is None else timedelta(seconds=seconds)


def _needs_refresh(account: ConnectedAccount, now) -> bool:
    return account.expires_at is not None and account.expires_at <= now + refresh_margin()


def _expired(account: ConnectedAccount, now) -> bool:
    return account.expires_at is not None and account.expires_at <= now


def _required(action: Action, detail: str) -> OAuthRequired:
    return OAuthRequired(authorize_url=start_url(action), detail=detail)


def access_token_for(*, user: Any, action: Action) -> str:
    """The user's access token for `action`, refreshed if needed; OAuthRequired otherwise.

    A refused refresh (invalid_grant and the like) marks the connection needs_reconnect.
    Also records the connection's last use.
    """
    account = ConnectedAccount.objects.filter(user=user, action=action).first()
    if account is None:
        raise _required(action, "Connect your account to use this action.")
    now = timezone.now()
    if account.status == ConnectionStatus.ACTIVE and not _needs_refresh(account, now):
        ConnectedAccount.objects.filter(pk=account.pk).update(last_used_at=now)
        return account.access_token
    if account.status != ConnectionStatus.ACTIVE:
        raise _required(action, "Your connection has lapsed: reconnect your account.")
    return _refreshed_token(account_id=account.pk, action=action)


def _refreshed_token(*, account_id: int, action: Action) -> str:
    """Refresh under the row lock; whoever waited on the lock reuses the winner's result."""
    outcome: Exception | None = None
    with transaction.atomic():
        account = ConnectedAccount.objects.select_for_update().filter(pk=account_id).first()
        now = timezone.now()
        if account is None:  # revoked while we waited
            raise _required(action, "Connect your account to use this action.")
        if account.status != ConnectionStatus.ACTIVE:
            raise _required(action, "Your connection has lapsed: reconnect your account.")
        if not _needs_refresh(account, now):  # another call refreshed it while we waited
            account.last_used_at = now
            account.save(update_fields=["last_used_at"])
            return account.access_token
        if not account.refresh_token:
            if not _expired(account, now):
                account.last_used_at = now
                account.save(update_fields=["last_used_at"])
                return account.access_token
            account.status = ConnectionStatus.NEEDS_RECONNECT
            account.save(update_fields=["status"])
            outcome = _required(action, "Your connection has expired: reconnect your account.")
        else:
            try:
                reply = client.refresh(action, refresh_token=account.refresh_token)
            except client.ProviderError as exc:
                if exc.refused:
                    account.status = ConnectionStatus.NEEDS_RECONNECT
                    account.save(update_fields=["status"])
                    outcome = _required(
                        action, "The provider no longer accepts this connection: reconnect."
                    )
                elif not _expired(account, now):
                    # Still valid for a few seconds: use it, and try to renew next time.
                    account.last_used_at = now
                    account.save(update_fields=["last_used_at"])
                    return account.access_token
                else:
                    outcome = OAuthRefreshUnavailable(
                        authorize_url=start_url(action),
                        detail=f"Your connection could not be renewed just now: {exc.detail}",
                    )
            else:
                account.access_token = reply.access_token
                # Providers that do not rotate refresh tokens send none back: keep ours.
                account.refresh_token = reply.refresh_token or account.refresh_token
                account.expires_at = expiry_from(reply)
                if reply.scope is not None:
                    account.scopes = " ".join(reply.scope.split())[:1000]
                account.last_used_at = now
                account.save(
                    update_fields=[
                        "access_token",
                        "refresh_token",
                        "expires_at",
                        "scopes",
                        "last_used_at",
                    ]
                )
                return account.access_token
    # Raised outside the atomic block so the needs_reconnect mark is committed.
    raise outcome


def mark_needs_reconnect(*, user: Any, action: Action) -> None:
    """For the runtime: the API rejected the token (401), so the user must reconnect."""
    ConnectedAccount.objects.filter(user=user, action=action).update(
        status=ConnectionStatus.NEEDS_RECONNECT
    )
