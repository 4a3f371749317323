"""The access token an action call should carry, refreshed when it has expired or is about to.

The runtime calls `access_token_for` before each call, and `refresh_after_rejection` once when
the API answers 401 to a connection that holds a refresh token. A refresh happens under a row
lock on the ConnectedAccount, so when several calls race only the first one talks to the
provider and the others wait and reuse its fresh token (providers that rotate refresh tokens,
as RFC 9700 asks, would otherwise see a reused refresh token and revoke the whole grant).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from actions.models import (
    Action,
    ConnectedAccount,
    ConnectionReason,
    ConnectionStatus,
    OAuthState,
)
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


def refresh_after_rejection(*, user: Any, action: Action, rejected: str) -> str:
    """The API answered 401 to `rejected`: refresh once, whatever the stated expiry (Salesforce
    sends no `expires_in`, and a provider may end a token early). OAuthRequired when there is
    nothing to refresh with or the provider refuses; the connection then needs reconnecting."""
    account = ConnectedAccount.objects.filter(user=user, action=action).first()
    if account is None:
        raise _required(action, "Connect your account to use this action.")
    return _refreshed_token(account_id=account.pk, action=action, rejected=rejected)


def holds_refresh_token(*, user: Any, action: Action) -> bool:
    account = ConnectedAccount.objects.filter(user=user, action=action).only("refresh_token")
    found = account.first()
    return bool(found and found.refresh_token)


def _lapse(account: ConnectedAccount, reason: str) -> None:
    account.status = ConnectionStatus.NEEDS_RECONNECT
    account.status_reason = reason
    account.save(update_fields=["status", "status_reason"])


def _refreshed_token(*, account_id: int, action: Action, rejected: str | None = None) -> str:
    """Refresh under the row lock; whoever waited on the lock reuses the winner's result.

    `rejected` is a token the API just refused: refresh unless another call already replaced
    it, and never fall back to it.
    """
    outcome: Exception | None = None
    with transaction.atomic():
        account = ConnectedAccount.objects.select_for_update().filter(pk=account_id).first()
        now = timezone.now()
        if account is None:  # revoked while we waited
            raise _required(action, "Connect your account to use this action.")
        if account.status != ConnectionStatus.ACTIVE:
            raise _required(action, "Your connection has lapsed: reconnect your account.")
        fresh = (
            account.access_token != rejected
            if rejected is not None
            else not _needs_refresh(account, now)
        )
        if fresh:  # another call refreshed it while we waited
            account.last_used_at = now
            account.save(update_fields=["last_used_at"])
            return account.access_token
        if not account.refresh_token:
            if rejected is None and not _expired(account, now):
                account.last_used_at = now
                account.save(update_fields=["last_used_at"])
                return account.access_token
            if rejected is not None:
                _lapse(account, ConnectionReason.REVOKED)
                outcome = _required(
                    action, "The API refused your connection's token: reconnect your account."
                )
            else:
                _lapse(account, ConnectionReason.EXPIRED)
                outcome = _required(action, "Your connection has expired: reconnect your account.")
        else:
            try:
                reply = client.refresh(action, refresh_token=account.refresh_token)
            except client.ProviderError as exc:
                if exc.refused:
                    _lapse(account, ConnectionReason.REFRESH_REFUSED)
                    outcome = _required(
                        action,
                        "The provider no longer accepts this connection: reconnect. "
                        f"({exc.detail})",
                    )
                elif rejected is None and not _expired(account, now):
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


def mark_needs_reconnect(
    *, user: Any, action: Action, reason: str = ConnectionReason.REVOKED
) -> None:
    """For the runtime: the API rejected the token (401), so the user must reconnect."""
    ConnectedAccount.objects.filter(user=user, action=action).update(
        status=ConnectionStatus.NEEDS_RECONNECT, status_reason=reason
    )


def connections_end_for_settings_change(*, action: Action) -> int:
    """The builder changed what the grants were given for (API host, token URL, client id or
    scope): delete every user's tokens for `action` and ask them to reconnect, and drop the
    sign-ins still pending for it.

    The tokens are not sent to the provider for revocation: the old token URL or client may be
    exactly what the builder replaced, and a save must not wait on a provider.
    """
    # A sign-in started under the old settings would finish with a grant for them.
    OAuthState.objects.filter(action=action, used_at=None).delete()
    return ConnectedAccount.objects.filter(action=action).update(
        access_token="",
        refresh_token="",
        expires_at=None,
        status=ConnectionStatus.NEEDS_RECONNECT,
        status_reason=ConnectionReason.SETTINGS_CHANGED,
    )
