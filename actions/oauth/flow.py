"""The OAuth 2.0 authorization-code flow with PKCE, as a client of an action's provider.

`oauth_start` records a pending authorization (state: random, single use, bound to the user and
the action, ten minutes; PKCE S256 verifier kept encrypted) and returns the provider's
authorization URL. `oauth_callback` checks the state, exchanges the code, and stores the tokens
encrypted on the user's ConnectedAccount. Every refusal is an OAuthFlowError with a code, a title
and a sentence for the user: the views turn it into a page, never a stack trace.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.utils import timezone

from actions.links import callback_url
from actions.models import Action, AuthType, ConnectedAccount, ConnectionStatus, OAuthState
from actions.oauth import client
from actions.oauth.client import ProviderError, TokenReply
from workspaces.domains import DomainError, DomainNotAllowed, host_from_url

STATE_TTL = timedelta(minutes=10)
# A user clicking "Connect" over and over must not grow the table without bound.
MAX_PENDING_STATES_PER_USER = 20
DEFAULT_RETURN_TO = "/me/connections/"


class OAuthFlowError(Exception):
    """A refusal in the flow, shown to the user on an error page with `status`."""

    def __init__(
        self,
        code: str,
        title: str,
        detail: str,
        *,
        status: int = 400,
        action: Action | None = None,
        return_to: str = "",
    ):
        super().__init__(detail)
        self.code = code
        self.title = title
        self.detail = detail
        self.status = status
        self.action = action
        self.return_to = return_to


def hash_state(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def callback_url_for(action: Action) -> str:
    return callback_url(action.gpt_id)


def _with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` added to whatever query it already has (some providers need one)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _require_oauth(action: Action) -> None:
    if action.auth_type != AuthType.OAUTH or not (action.authorization_url and action.token_url):
        raise OAuthFlowError(
            "not_oauth",
            "This action does not use OAuth",
            "There is no account to connect for this action. Its builder may have changed its "
            "authentication.",
            status=404,
            action=action,
        )


def _check_policy(action: Action, url: str, what: str) -> None:
    """The workspace policy and the OAuth domain rule, checked again now (they may have
    changed since the action was saved)."""
    try:
        host = host_from_url(url)
        client.host_check_for(action)(host)
    except (DomainNotAllowed, DomainError) as exc:
        raise OAuthFlowError(
            "domain_not_allowed",
            "This provider is not allowed",
            f"The {what} can not be used: {getattr(exc, 'detail', str(exc))}",
            status=403,
            action=action,
        ) from None


def oauth_start(*, user, action: Action, return_to: str = "") -> str:
    """Record a pending authorization for `user` on `action`; return where to send the user."""
    _require_oauth(action)
    _check_policy(action, action.authorization_url, "authorization URL")
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
    now = timezone.now()
    with transaction.atomic():
        pending = OAuthState.objects.filter(user=user)
        pending.filter(expires_at__lte=now).delete()
        pending.exclude(used_at=None).delete()
        surplus = pending.order_by("-created_at").values_list("pk", flat=True)[
            MAX_PENDING_STATES_PER_USER - 1 :
        ]
        OAuthState.objects.filter(pk__in=list(surplus)).delete()
        OAuthState.objects.create(
            state_hash=hash_state(state),
            user=user,
            action=action,
            code_verifier=verifier,
            return_to=return_to or DEFAULT_RETURN_TO,
            expires_at=now + STATE_TTL,
        )
    params = {
        "response_type": "code",
        "client_id": action.oauth_client_id,
        "redirect_uri": callback_url_for(action),
        "state": state,
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }
    if action.scope:
        params["scope"] = action.scope
    return _with_query(action.authorization_url, params)


@dataclass(frozen=True)
class Connected:
    account: ConnectedAccount
    return_to: str


def _consume_state(*, user, gpt_id: int, state: str) -> OAuthState:
    """Check and burn the state in one locked step, so a replayed callback finds it used."""
    if not state:
        raise OAuthFlowError(
            "state_missing",
            "This sign-in can not be completed",
            "The provider sent you back without the state that ties this sign-in to you. "
            "Start connecting again from the action.",
        )
    with transaction.atomic():
        pending = (
            OAuthState.objects.select_for_update()
            .select_related("action__workspace")
            .filter(state_hash=hash_state(state))
            .first()
        )
        if pending is None:
            raise OAuthFlowError(
                "state_unknown",
                "This sign-in link is not valid",
                "We have no record of this sign-in. It may be from an older attempt. Start "
                "connecting again from the action.",
            )
        if pending.user_id != user.pk:
            # Left untouched: its owner may still finish their own sign-in.
            raise OAuthFlowError(
                "state_other_user",
                "This sign-in belongs to someone else",
                "This sign-in was started by another account. Log in as the person who "
                "started it, or start connecting again yourself.",
                status=403,
            )
        if pending.used_at is not None:
            raise OAuthFlowError(
                "state_used",
                "This sign-in link was already used",
                "Each sign-in link works once. If your account is not connected yet, start "
                "connecting again.",
                action=pending.action,
                return_to=pending.return_to,
            )
        if pending.expires_at <= timezone.now():
            raise OAuthFlowError(
                "state_expired",
                "This sign-in took too long",
                "Sign-ins must be finished within 10 minutes. Start connecting again.",
                action=pending.action,
                return_to=pending.return_to,
            )
        if pending.action.gpt_id != gpt_id:
            raise OAuthFlowError(
                "state_mismatch",
                "This sign-in link is not valid",
                "The provider sent you back to a different GPT than the one you started from.",
                action=pending.action,
                return_to=pending.return_to,
            )
        pending.used_at = timezone.now()
        pending.save(update_fields=["used_at"])
    return pending


def oauth_callback(*, user, gpt_id: int, params: Mapping[str, str]) -> Connected:
    """Finish the flow: state, provider's answer, code exchange, tokens stored."""
    pending = _consume_state(user=user, gpt_id=gpt_id, state=params.get("state", ""))
    action = pending.action
    fail: dict[str, Any] = {"action": action, "return_to": pending.return_to}
    _require_oauth(action)
    error = params.get("error", "")
    if error == "access_denied":
        raise OAuthFlowError(
            "access_denied",
            "You did not allow access",
            "The account was not connected because access was declined at "
            f"{action.domain or 'the provider'}. You can try again whenever you like.",
            status=403,
            **fail,
        )
    if error:
        description = params.get("error_description", "")[:300]
        raise OAuthFlowError(
            "provider_error",
            "The provider refused the sign-in",
            f"The provider answered {error[:100]}." + (f" {description}" if description else ""),
            status=502,
            **fail,
        )
    code = params.get("code", "")
    if not code:
        raise OAuthFlowError(
            "code_missing",
            "This sign-in can not be completed",
            "The provider sent you back without an authorization code.",
            **fail,
        )
    try:
        reply = client.exchange_code(
            action,
            code=code,
            redirect_uri=callback_url_for(action),
            code_verifier=pending.code_verifier,
        )
    except ProviderError as exc:
        raise _exchange_failure(exc, fail) from None
    account = store_tokens(user=user, action=action, reply=reply)
    return Connected(account=account, return_to=pending.return_to or DEFAULT_RETURN_TO)


EXCHANGE_TITLES = {
    "timeout": ("The provider did not answer in time", 504),
    "unreachable": ("The provider could not be reached", 502),
    "domain_not_allowed": ("This provider is not allowed", 403),
    "refused": ("The provider refused the sign-in", 502),
    "provider_error": ("The provider had a problem", 502),
    "invalid_response": ("The provider gave an answer we can not use", 502),
}


def _exchange_failure(exc: ProviderError, fail: dict) -> OAuthFlowError:
    title, status = EXCHANGE_TITLES.get(exc.code, ("The sign-in failed", 502))
    return OAuthFlowError(
        f"token_{exc.code}",
        title,
        f"Your account was not connected. {exc.detail}",
        status=status,
        **fail,
    )


def expiry_from(reply: TokenReply):
    if reply.expires_in is None:
        return None
    return timezone.now() + timedelta(seconds=reply.expires_in)


def store_tokens(*, user, action: Action, reply: TokenReply) -> ConnectedAccount:
    """Create or replace the user's connection for `action` with fresh tokens."""
    scopes = reply.scope if reply.scope is not None else action.scope
    account, _ = ConnectedAccount.objects.update_or_create(
        user=user,
        action=action,
        defaults={
            "gpt_id": action.gpt_id,
            "workspace_id": action.workspace_id,
            "access_token": reply.access_token,
            "refresh_token": reply.refresh_token,
            "token_type": reply.token_type,
            "scopes": " ".join(scopes.split())[:1000],
            "expires_at": expiry_from(reply),
            "status": ConnectionStatus.ACTIVE,
            "status_reason": "",
            # A reconnection is a new connection: its date is today's.
            "connected_at": timezone.now(),
        },
    )
    return account
