"""Authentication of an action call: the headers to add, and the secret values to mask.

The caller gets both, so whatever it shows or logs about the request can replace each secret by
its hint (`sk-…9fA2`) first. Nothing here logs or stores anything.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from actions.models import ApiKeyAuthType, AuthType
from actions.oauth.tokens import access_token_for
from kernel.encryption import mask_secret
from kernel.masking import basic_credential_parts, mask_secrets


@dataclass
class AuthResult:
    headers: dict[str, str] = field(default_factory=dict)
    # Every secret the request carries (for Basic also the password half); `mask_text` finds
    # their encoded shapes itself.
    secrets: list[str] = field(default_factory=list)
    # The same headers as they may be shown: each secret replaced by its hint.
    shown: dict[str, str] = field(default_factory=dict)


def api_key_headers(action) -> AuthResult:
    key = action.api_key or ""
    if action.api_key_auth_type == ApiKeyAuthType.BASIC:
        # DESIGN.md §4: the key is the `user:password` pair, sent base64-encoded.
        encoded = base64.b64encode(key.encode()).decode()
        return AuthResult(
            {"Authorization": f"Basic {encoded}"},
            [encoded, *basic_credential_parts(key)],
            {"Authorization": f"Basic {mask_secret(encoded)}"},
        )
    if action.api_key_auth_type == ApiKeyAuthType.CUSTOM:
        return AuthResult(
            {action.custom_header: key}, [key], {action.custom_header: mask_secret(key)}
        )
    return AuthResult(
        {"Authorization": f"Bearer {key}"}, [key], {"Authorization": f"Bearer {mask_secret(key)}"}
    )


def auth_headers(*, action, user) -> AuthResult:
    """The headers that authenticate `user`'s call to `action`.

    OAuth reads (and when needed refreshes) the user's own token; without a usable connection
    `actions.oauth.tokens.OAuthRequired` propagates, carrying the URL that starts the flow.
    """
    if action.auth_type == AuthType.API_KEY:
        return api_key_headers(action)
    if action.auth_type == AuthType.OAUTH:
        return bearer_auth(access_token_for(user=user, action=action))
    return AuthResult()


def bearer_auth(token: str) -> AuthResult:
    """An OAuth access token as it is sent: always as Bearer (see actions.oauth.client)."""
    return AuthResult(
        {"Authorization": f"Bearer {token}"},
        [token],
        {"Authorization": f"Bearer {mask_secret(token)}"},
    )


def auth_preview(action) -> dict[str, str]:
    """What authentication will add, masked, without touching tokens (for the approval prompt:
    asking must not refresh a token or mark its last use)."""
    if action.auth_type == AuthType.API_KEY:
        return api_key_headers(action).shown
    if action.auth_type == AuthType.OAUTH:
        return {"Authorization": "Bearer …"}
    return {}


def mask_text(text: str, secrets: list[str]) -> str:
    """`text` with every secret replaced by its hint, in every shape an API may echo it
    (JSON-escaped, URL-encoded, base64, case-changed): for what the API sent back, or a URL."""
    return mask_secrets(text, secrets)


def mask_headers(headers: dict[str, str], secrets: list[str]) -> dict[str, str]:
    return {name: mask_text(value, secrets) for name, value in headers.items()}
