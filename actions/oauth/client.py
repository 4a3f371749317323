"""Talking to an action's OAuth provider: the token endpoint (code exchange, refresh) and the
RFC 7009 revocation endpoint.

Every request goes through the guarded outbound client, with the workspace's domain policy and
the OAuth domain rule checked on the destination host. Client credentials travel the way the
builder chose: in the form body (default) or in an HTTP Basic header (RFC 6749 §2.3.1, each part
form-urlencoded first). Nothing here ever puts a token or secret into an exception or a log:
a provider's error text is shown to people, and some providers echo the request they refused,
so every text taken from a reply is masked against the secrets that request carried.

Lenient where real providers stray from RFC 6749, strict where it matters:

- A refusal is a refusal whatever the status: GitHub answers a bad code or a dead refresh token
  with HTTP 200 and an `error` field.
- The reply is JSON; a form-encoded body (GitHub without `Accept: application/json`, older
  Facebook) is read as a fallback.
- `token_type`: an access token is always sent as `Authorization: Bearer`. Providers that issue
  a bearer token under another name (Slack's `bot` and `user`, a missing or lower-case value)
  are accepted as Bearer. Only types that need proof of possession, which a bearer header can
  not give (`mac`, `dpop`, `pop`), are refused, so the user hears why at connect time rather
  than through every call failing.
- A refresh sends the action's scope (Microsoft refuses a refresh without it; RFC 6749 §6
  allows it), and a reply without a new refresh token keeps the old one (Google).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote_plus, urlencode

from actions.models import Action, TokenExchangeMethod
from actions.rules import oauth_urls_match_server
from kernel.errors import RuleViolation
from kernel.masking import mask_secrets
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
# Token types that bind the token to a key: sending them as Bearer can not work.
PROOF_OF_POSSESSION_TYPES = frozenset({"mac", "dpop", "pop"})
# Form fields whose values are secrets (masked out of whatever the provider says back).
SECRET_FIELDS = ("client_secret", "code", "code_verifier", "refresh_token", "token")
TOKEN_ENDPOINT = "token endpoint"
REVOCATION_ENDPOINT = "revocation endpoint"


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


def request_secrets(action: Action, form: dict[str, str], headers: dict[str, str]) -> list[str]:
    """What a request to the provider carries that nobody may read back."""
    found = [form[key] for key in SECRET_FIELDS if form.get(key)]
    if action.oauth_client_secret:
        found += [action.oauth_client_secret, quote_plus(action.oauth_client_secret)]
    authorization = headers.get("Authorization", "")
    if authorization.startswith("Basic "):
        found.append(authorization[len("Basic ") :])
    return found


def _post_form(action: Action, url: str, form: dict[str, str]):
    """POST a form to a provider endpoint through the guarded client; errors → ProviderError.

    Returns the response and the request's secrets (for masking what the provider says)."""
    form = dict(form)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        **client_credentials(action, form),
    }
    secrets = request_secrets(action, form, headers)
    try:
        response = fetch(
            "POST",
            url,
            headers=headers,
            body=urlencode(form).encode(),
            host_check=host_check_for(action),
            policy=token_request_policy(),
        )
    except DomainNotAllowed as exc:
        raise ProviderError("domain_not_allowed", mask_secrets(exc.detail, secrets)) from None
    except OutboundError as exc:
        raise _outbound_failure(exc, secrets) from None
    return response, secrets


def _outbound_failure(exc, secrets: list[str]) -> ProviderError:
    code = exc.code
    detail = mask_secrets(str(exc.detail), secrets)
    if code == "timeout":
        return ProviderError(
            "timeout",
            f"The provider did not answer within {token_request_policy().timeout:g} seconds.",
        )
    if code in REFUSAL_CODES:
        return ProviderError("domain_not_allowed", detail)
    if code in UNUSABLE_REPLY_CODES:
        return ProviderError("invalid_response", f"The provider's answer can not be used: {detail}")
    if code == "too_many_redirects":
        return ProviderError(
            "provider_error",
            "The provider answered with a redirect, which token requests never follow.",
        )
    return ProviderError("unreachable", detail)


def _reply_object(response) -> dict | None:
    """The reply as a dict: JSON, or a form-encoded body as a fallback (see module docstring)."""
    text = response.text
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        return data
    if data is None and "=" in text and "{" not in text[:1]:
        try:
            pairs = parse_qsl(text.strip(), keep_blank_values=True, strict_parsing=True)
        except ValueError:
            return None
        form = dict(pairs)
        if "access_token" in form or "error" in form:
            return form
    return None


def _oauth_error(data: dict | None) -> tuple[str, str]:
    if not data or not isinstance(data.get("error"), str) or not data["error"]:
        return "", ""
    description = data.get("error_description")
    # Cut only after masking: a cut through a secret would leave half of it unmasked.
    description = description[:100_000] if isinstance(description, str) else ""
    return data["error"][:1000], description


def _raise_for_status(response, secrets: list[str], what: str) -> dict | None:
    """The reply's object when it is a success; ProviderError (masked) otherwise."""
    data = _reply_object(response)
    error, description = _oauth_error(data)
    # RFC 6749 §5.2 says 400, but a refusal is a refusal at any status (GitHub sends 200).
    refusal = bool(error) and (
        response.status in (400, 401, 403)
        or (200 <= response.status < 300 and not (data or {}).get("access_token"))
    )
    if refusal:
        shown_error = mask_secrets(error, secrets)[:100]
        detail = f"The provider refused the request: {shown_error}."
        if description:
            detail += " " + mask_secrets(description, secrets)[:300]
        raise ProviderError("refused", detail, http_status=response.status, oauth_error=shown_error)
    if 200 <= response.status < 300:
        return data
    if response.status == 429 or response.status >= 500:
        raise ProviderError(
            "provider_error",
            f"The provider's {what} failed (HTTP {response.status}). Try again later.",
            http_status=response.status,
        )
    raise ProviderError(
        "provider_error",
        f"The provider's {what} answered HTTP {response.status}.",
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
    if not isinstance(token_type, str) or token_type.strip().lower() in PROOF_OF_POSSESSION_TYPES:
        raise ProviderError(
            "invalid_response",
            "The provider issued a token that must be proven with a key (token type "
            f"{str(token_type)[:20]}), which actions can not send; they send Bearer tokens.",
        )
    refresh_token = data.get("refresh_token") or ""
    if not isinstance(refresh_token, str) or len(refresh_token) > MAX_TOKEN_CHARS:
        refresh_token = ""
    scope = data.get("scope")
    if isinstance(scope, list):  # a few providers send a JSON array
        scope = " ".join(str(item) for item in scope)
    elif isinstance(scope, str) and "," in scope and " " not in scope:
        scope = scope.replace(",", " ")  # GitHub and Slack separate scopes with commas
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
    response, secrets = _post_form(action, action.token_url, form)
    return _parse_token_reply(_raise_for_status(response, secrets, TOKEN_ENDPOINT))


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
    """The refresh-token grant (RFC 6749 §6), with the action's scope (Microsoft needs it)."""
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if action.scope:
        form["scope"] = action.scope
    return token_request(action, form)


def revoke(action: Action, *, token: str, hint: str) -> None:
    """RFC 7009: ask the provider to revoke `token`. 200 means done (also for unknown tokens)."""
    response, secrets = _post_form(
        action, action.revocation_url, {"token": token, "token_type_hint": hint}
    )
    _raise_for_status(response, secrets, REVOCATION_ENDPOINT)
