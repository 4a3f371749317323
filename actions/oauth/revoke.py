"""Disconnecting: delete the user's tokens, then tell the provider (RFC 7009) when it can hear.

The local deletion always happens and comes first: the user asked for the tokens to be gone,
and a provider that is down must not keep them here. The provider is then asked to revoke the
refresh token (which, per RFC 7009 §2.1, should take the access tokens of its grant along) and
the access token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from actions.models import ConnectedAccount
from actions.oauth import client
from actions.oauth.selectors import connection_get_for_user

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revoked:
    """What happened: `provider_notified` is None when the action names no revocation URL."""

    domain: str
    provider_notified: bool | None
    detail: str = ""


def connection_revoke(*, user, connection_id) -> Revoked:
    """Delete the user's connection `connection_id` (404 if not theirs) and revoke its tokens."""
    with transaction.atomic():
        # The lock waits for a refresh in flight, so the tokens we revoke are the latest ones.
        account = (
            ConnectedAccount.objects.select_for_update()
            .filter(pk=connection_get_for_user(connection_id=connection_id, user=user).pk)
            .select_related("action__workspace")
            .first()
        )
        if account is None:  # deleted by a concurrent revoke
            return Revoked(domain="", provider_notified=None)
        action = account.action
        tokens = [(account.refresh_token, "refresh_token"), (account.access_token, "access_token")]
        account.delete()
    if not action.revocation_url:
        return Revoked(domain=action.domain, provider_notified=None)
    for token, hint in tokens:
        if not token:
            continue
        try:
            client.revoke(action, token=token, hint=hint)
        except client.ProviderError as exc:
            logger.warning(
                "Revocation at the provider of action %s failed: %s", action.pk, exc.code
            )
            return Revoked(domain=action.domain, provider_notified=False, detail=exc.detail)
    return Revoked(domain=action.domain, provider_notified=True)
