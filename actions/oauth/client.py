"""Talking to an action's OAuth provider: the token endpoint (code exchange, refresh) and the
RFC 7009 revocation endpoint.

Every request goes through the guarded outbound client, with the workspace's domain policy and
the OAuth domain rule checked on the destination host. Client credentials travel the way the
builder chose: in the form body (default) or in an HTTP Basic header (RFC 6749 §2.3.1, each part
form-urlencoded first). Nothing here ever puts a token or secret into an exception or a log.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from urllib.parse import quote_plus, urlencode

from actions.models import Action, TokenExchangeMethod
from actions.rules import oauth_urls_match_server
from kernel.errors import RuleViolation
from outbound import OutboundError, fetch
from outbound import token_request as token_request_policy
from workspaces.domains import DomainNotAllowed
from workspaces.policy import domain_check

MAX_TOKEN_CHARS = 16_000
# Outbound refusals of the destination itself (policy, address, scheme or port).
REFUSAL_CODES = frozenset(
    {"domain_not_allowed", "address_not_allowed", "scheme_not_allowed", "port_not_allowed"}
)
# The provider answered, but not with text we can read.
UNUSABLE_REPLY_CODES = frozenset(
    {"binary_response", "response_too_large", "unsupported_encoding", "invalid_response"}
)


class ProviderError(Exception):
    """A token or revocation request did not give a usable answer.

    `code` is one of: timeout, unreachable, domain_not_allowed, refused (the provider answered
    with an OAuth error such as invalid_grant), provider_error (5xx, 429 or another status),
    invalid_response (not JSON, or no access_token).
    """

    def __init__(
        self, code: str, detail: str, *, http_status: int | None = None, oauth_error: str = ""
    ):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.http_status = http_status
        self.oauth_error = oauth_error

    @property
    def refused(self) -> bool:
        """The provider said no to the grant itself (not a transient failure)."""
        return self.code == "refused"


@dataclass(frozen=True)
class TokenReply:
    """A successful token endpoint reply (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    refresh_token: str
    expires_in: int | None
    scope: str | None


def host_check_for(action: Action):
    """The check run on every host the request reaches: the workspace's policy, and the OAuth
    URLs' rule (same registrable domain as the API, or a known identity provider)."""
    def check(host: str) -> None:
        domain_check(workspace=action.workspace, host=host)
        if action.domain and not _same_site_or_identity_provider(host, action.domain):
            raise DomainNotAllowed(
                host,
                f"{host} is neither on the API's domain nor a known identity provider, so "
                "OAuth requests may not go there.",
            )

    return check


def _same_site_or_identity_provider(host: str, api_host: str) -> bool:
    try:
        oauth_urls_match_server({"auth_type": "oauth", "token_url": f"https://{host}/"}, api_host)
    except RuleViolation:
        return False
    return True


def client_credentials(action: Action, form: dict[str, str]) -> dict[str, str]:
    """Add the client's credentials to `form` or return them as a header, per the action."""
    if action.token_exchange_method == TokenExchangeMethod.BASIC_AUTH_HEADER:
        pair = f"{quote_plus(action.oauth_client_id)}:{quote_plus(action.oauth_client_secret)}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
    form["client_id"] = action.oauth_client_id
    if action.oauth_client_secret:
        form["client_secret"] = action.oauth_client_secret
    return {}


def _post_form(action: Action, url: str, form: dict[str, str]):
    """POST a form to a provider endpoint through the guarded client; errors → ProviderError."""
    form = dict(form)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        **client_credentials(action, form),
    }
    try:
        return fetch(
            "POST",
            url,
            headers=headers,
            body=urlencode(form).encode(),
            host_check=host_check_for(action),
            policy=token_request_policy(),
        )
    except DomainNotAllowed as exc:
        raise ProviderError("domain_not_allowed", exc.detail) from None
    except OutboundError as exc:
        code = exc.code
        if code == "timeout":
            raise ProviderError(
                "timeout",
                f"The provider did not answer within {token_request_policy().timeout:g} seconds.",
            ) from None
        if code in REFUSAL_CODES:
            raise ProviderError("domain_not_allowed", exc.detail) from None
        if code in UNUSABLE_REPLY_CODES:
            raise ProviderError(
                "invalid_response", f"The provider's answer can not be used: {exc.detail}"
            ) from None
        if code == "too_many_redirects":
            raise ProviderError(
                "provider_error",
                "The provider answered with a redirect, which token requests never follow.",
            ) from None
        raise ProviderError("unreachable", exc.detail) from None


def _json_object(text: str) -> dict | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _oauth_error(data: dict | None) -> tuple[str, str]:
    if not data or not isinstance(data.get("error"), str):
        return "", ""
    description = data.get("error_description")
    description = description[:300] if isinstance(description, str) else ""
    return data["error"][:100], description


def _raise_for_status(response) -> dict | None:
    data = _json_object(response.text)
    if 200 <= response.status < 300:
        return data
    error, description = _oauth_error(data)
    if response.status in (400, 401) and error:
        detail = f"The provider refused the request: {error}."
        if description:
            detail += f" {description}"
        raise ProviderError("refused", detail, http_status=response.status, oauth_error=error)
    if response.status == 429 or response.status >= 500:
        raise ProviderError(
            "provider_error",
            f"The provider's token endpoint failed (HTTP {response.status}). Try again later.",
            http_status=response.status,
        )
    raise ProviderError(
        "provider_error",
        f"The provider's token endpoint answered HTTP {response.status}.",
        http_status=response.status,
        oauth_error=error,
    )


def _parse_token_reply(data: dict | None) -> TokenReply:
    if data is None:
        raise ProviderError(
            "invalid_response", "The provider's token endpoint did not answer with JSON."
        )
    access_token = data.get("access_token")
    if not isinstance(access_token, str) or not access_token or len(access_token) > MAX_TOKEN_CHARS:
        raise ProviderError("invalid_response", "The provider's reply has no usable access_token.")
    token_type = data.get("token_type") or "Bearer"
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ProviderError(
            "invalid_response",
            "The provider issued a token type other than Bearer, which actions can not send.",
        )
    refresh_token = data.get("refresh_token") or ""
    if not isinstance(refresh_token, str) or len(refresh_token) > MAX_TOKEN_CHARS:
        refresh_token = ""
    scope = data.get("scope")
    if isinstance(scope, list):  # a few providers send a JSON array
        scope = " ".join(str(item) for item in scope)
    return TokenReply(
        access_token=access_token,
        token_type="Bearer",
        refresh_token=refresh_token,
        expires_in=_expires_in(data.get("expires_in")),
        scope=scope[:1000] if isinstance(scope, str) else None,
    )


def _expires_in(value) -> int | None:
    """Seconds until expiry; some providers send a string. Nonsense means "unknown"."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value) and 0 < value < 10 * 365 * 86400:
        return int(value)
    return None


def token_request(action: Action, form: dict[str, str]) -> TokenReply:
    """POST `form` to the action's token endpoint and return the parsed token reply."""
    response = _post_form(action, action.token_url, form)
    return _parse_token_reply(_raise_for_status(response))


def exchange_code(action: Action, *, code: str, redirect_uri: str, code_verifier: str):
    """The authorization-code grant (RFC 6749 §4.1.3) with the PKCE verifier (RFC 7636)."""
    return token_request(
        action,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        },
    )


def refresh(action: Action, *, refresh_token: str) -> TokenReply:
    """The refresh-token grant (RFC 6749 §6)."""
    return token_request(action, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def revoke(action: Action, *, token: str, hint: str) -> None:
    """RFC 7009: ask the provider to revoke `token`. 200 means done (also for unknown tokens)."""
    response = _post_form(action, action.revocation_url, {"token": token, "token_type_hint": hint})
    _raise_for_status(response)
