"""Disconnecting: delete the user's tokens, then tell the provider (RFC 7009) when it can hear.

The local deletion always happens and comes first: the user asked for the tokens to be gone,
and a provider that is down must not keep them here. The provider is then asked to revoke the
refresh token (which, per RFC 7009 §2.1, should take the access tokens of its grant along) and
the access token.

Once the refresh token is revoked the grant is gone, so a provider that then calls the access
token `invalid_token` (already dead with its grant) or `unsupported_token_type` (it revokes
refresh tokens only) has done what was asked: that is success, not a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction

from actions.models import ConnectedAccount
from actions.oauth import client
from actions.oauth.selectors import connection_get_for_user

logger = logging.getLogger(__name__)


# Answers about the second token that mean "nothing left to revoke" once the grant is gone.
GONE_WITH_THE_GRANT = frozenset({"invalid_token", "unsupported_token_type"})


@dataclass(frozen=True)
class Revoked:
    """What happened: `provider_notified` is None when the action names no revocation URL."""

    domain: str
    provider_notified: bool | None
    detail: str = ""

    def summary(self) -> str:
        """One sentence for the person who disconnected."""
        where = self.domain or "the provider"
        if self.provider_notified is None and self.detail:
            return f"The connection to {where} is removed. {self.detail}"
        if self.provider_notified is None:
            return (
                f"The connection to {where} is removed here. The action names no revocation "
                "endpoint, so revoke access on the provider's site too."
            )
        if self.provider_notified:
            return (
                f"The connection to {where} is revoked: its tokens are deleted here and the "
                "provider's revocation endpoint confirmed their revocation."
            )
        return (
            f"The connection to {where} is removed here, but the provider's revocation "
            f"endpoint could not be told to revoke its tokens: {self.detail} You can also "
            "revoke access on its site."
        )


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
    grant_revoked = False
    notified = False
    for token, hint in tokens:
        if not token:
            continue
        try:
            client.revoke(action, token=token, hint=hint)
        except client.ProviderError as exc:
            if exc.oauth_error == "invalid_token" or (
                grant_revoked and exc.oauth_error in GONE_WITH_THE_GRANT
            ):
                notified = True
                continue
            logger.warning(
                "Revocation at the provider of action %s failed: %s", action.pk, exc.code
            )
            return Revoked(domain=action.domain, provider_notified=False, detail=exc.detail)
        notified = True
        grant_revoked = grant_revoked or hint == "refresh_token"
    if not notified:  # no token left to revoke (the grant ended with a settings change)
        return Revoked(
            domain=action.domain,
            provider_notified=None,
            detail="It held no tokens any more, so there was nothing to revoke at the provider.",
        )
    return Revoked(domain=action.domain, provider_notified=True)
