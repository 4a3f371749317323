"""Checks on an action's configuration that need no database: authentication settings."""

import re
from urllib.parse import urlsplit

from django.conf import settings

from actions.models import ApiKeyAuthType, AuthType, TokenExchangeMethod
from kernel.errors import RuleViolation
from outbound import is_insecure_destination_allowed
from workspaces.domains import DomainError, host_from_url, registrable_domain

# RFC 9110 token characters: what a header name may be made of.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
# Headers the runtime sets itself or that would let a key smuggle a second request.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "cookie", "content-type"}
)
MAX_SECRET_LENGTH = 4096


def clean_auth(auth: dict, *, current: dict | None = None) -> dict:
    """Validate an AUTH object of the API contract and return model field values.

    Write-only secrets left out (or empty) keep their `current` value, so a client that only
    changes the header name need not resend the key.
    """
    if not isinstance(auth, dict):
        raise RuleViolation("invalid_auth", "auth must be an object with a type.")
    current = current or {}
    kind = auth.get("type", AuthType.NONE)
    if kind == AuthType.NONE:
        return {"auth_type": AuthType.NONE, "api_key": "", "oauth_client_secret": ""}
    if kind == AuthType.API_KEY:
        return _clean_api_key(auth, current)
    if kind == AuthType.OAUTH:
        return _clean_oauth(auth, current)
    raise RuleViolation("invalid_auth", "auth.type must be one of none, api_key, oauth.")


def _secret(auth: dict, key: str, current: str, label: str) -> str:
    value = auth.get(key)
    if value in (None, ""):
        if not current:
            raise RuleViolation("invalid_auth", f"Enter the {label}.", field=f"auth.{key}")
        return current
    if not isinstance(value, str) or len(value) > MAX_SECRET_LENGTH:
        raise RuleViolation(
            "invalid_auth",
            f"The {label} must be text of at most {MAX_SECRET_LENGTH} characters.",
            field=f"auth.{key}",
        )
    if any(ch in value for ch in "\r\n\x00"):
        raise RuleViolation(
            "invalid_auth", f"The {label} may not contain line breaks.", field=f"auth.{key}"
        )
    return value.strip()


def _clean_api_key(auth: dict, current: dict) -> dict:
    auth_type = auth.get("auth_type", ApiKeyAuthType.BEARER)
    if auth_type not in ApiKeyAuthType.values:
        raise RuleViolation(
            "invalid_auth",
            "auth.auth_type must be basic, bearer or custom.",
            field="auth.auth_type",
        )
    header = ""
    if auth_type == ApiKeyAuthType.CUSTOM:
        header = str(auth.get("custom_header") or "").strip()
        if not HEADER_NAME.match(header):
            raise RuleViolation(
                "invalid_auth",
                "Enter a valid header name, such as X-Api-Key.",
                field="auth.custom_header",
            )
        if header.lower() in RESERVED_HEADERS:
            raise RuleViolation(
                "invalid_auth",
                f"The header {header} can not carry an API key.",
                field="auth.custom_header",
            )
    key = _secret(auth, "api_key", current.get("api_key", ""), "API key")
    return {
        "auth_type": AuthType.API_KEY,
        "api_key": key,
        "api_key_auth_type": auth_type,
        "custom_header": header,
        "oauth_client_secret": "",
    }


def _clean_oauth(auth: dict, current: dict) -> dict:
    client_id = str(auth.get("client_id") or "").strip()
    if not client_id or len(client_id) > 512:
        raise RuleViolation("invalid_auth", "Enter the OAuth client ID.", field="auth.client_id")
    method = auth.get("token_exchange_method", TokenExchangeMethod.DEFAULT_POST)
    if method not in TokenExchangeMethod.values:
        raise RuleViolation(
            "invalid_auth",
            "auth.token_exchange_method must be default_post or basic_auth_header.",
            field="auth.token_exchange_method",
        )
    scope = str(auth.get("scope") or "").strip()
    if len(scope) > 1000:
        raise RuleViolation(
            "invalid_auth", "The scope is at most 1000 characters.", field="auth.scope"
        )
    return {
        "auth_type": AuthType.OAUTH,
        "oauth_client_id": client_id,
        "oauth_client_secret": _secret(
            auth, "client_secret", current.get("oauth_client_secret", ""), "client secret"
        ),
        "authorization_url": _oauth_url(auth, "authorization_url", required=True),
        "token_url": _oauth_url(auth, "token_url", required=True),
        "revocation_url": _oauth_url(auth, "revocation_url", required=False),
        "scope": scope,
        "token_exchange_method": method,
        "api_key": "",
    }


def _oauth_url(auth: dict, key: str, *, required: bool) -> str:
    value = str(auth.get(key) or "").strip()
    if not value:
        if required:
            raise RuleViolation(
                "invalid_auth", f"Enter the {key.replace('_', ' ')}.", field=f"auth.{key}"
            )
        return ""
    parts = urlsplit(value)
    if len(value) > 2000 or parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleViolation(
            "invalid_auth",
            f"The {key.replace('_', ' ')} must be an absolute https URL.",
            field=f"auth.{key}",
        )
    if parts.scheme != "https" and not is_insecure_destination_allowed(parts.hostname, parts.port):
        raise RuleViolation(
            "invalid_auth", f"The {key.replace('_', ' ')} must use https.", field=f"auth.{key}"
        )
    return value


def oauth_urls_match_server(values: dict, server_host: str) -> None:
    """OAuth URLs must live on the API server's registrable domain, or a known identity
    provider's: otherwise a schema could send users' codes to a stranger."""
    if values.get("auth_type") != AuthType.OAUTH or not server_host:
        return
    api_site = registrable_domain(server_host)
    providers = {p.lower() for p in settings.OAUTH_IDENTITY_PROVIDERS}
    for key in ("authorization_url", "token_url", "revocation_url"):
        if not values.get(key):
            continue
        try:
            host = host_from_url(values[key])
        except DomainError as exc:
            raise RuleViolation("invalid_auth", str(exc), field=f"auth.{key}") from None
        site = registrable_domain(host)
        if site == api_site or site in providers:
            continue
        raise RuleViolation(
            "oauth_domain_mismatch",
            f"The {key.replace('_', ' ')} is on {site}, but the API is on {api_site}. OAuth URLs "
            "must be on the API's domain or a known identity provider.",
            field=f"auth.{key}",
        )


def clean_privacy_policy_url(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if len(value) > 2000 or parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleViolation(
            "invalid_privacy_policy_url",
            "The privacy policy URL must be an absolute http(s) URL.",
            field="privacy_policy_url",
        )
    return value


def auth_header_name(values: dict) -> str:
    """The request header the action's authentication fills in ("" for none)."""
    kind = values.get("auth_type")
    if kind == AuthType.OAUTH:
        return "Authorization"
    if kind == AuthType.API_KEY:
        if values.get("api_key_auth_type") == ApiKeyAuthType.CUSTOM:
            return values.get("custom_header") or ""
        return "Authorization"
    return ""


def header_parameters_clear_of_auth(auth_header: str, operations) -> None:
    """Refuse a header parameter named like the authentication header (case-insensitively).

    The model would fill that parameter and the runtime the credential: one would silently
    overwrite the other, or the model could choose the credential sent to the API. `operations`
    are detected operations or Operation rows (both have `operation_id` and `parameters`).
    """
    if not auth_header:
        return
    for operation in operations:
        for index, parameter in enumerate(operation.parameters or []):
            if not isinstance(parameter, dict) or parameter.get("in") != "header":
                continue
            name = parameter.get("name")
            if not isinstance(name, str) or name.strip().lower() != auth_header.lower():
                continue
            pointer = getattr(operation, "pointer", "") or ""
            message = (
                f"Operation {operation.operation_id} has a header parameter {name!r}, which is "
                f"the header this action's authentication sends ({auth_header}). Remove or "
                "rename the parameter, or choose another authentication header."
            )
            raise RuleViolation(
                "header_collides_with_auth",
                message,
                field="schema",
                operation_id=operation.operation_id,
                parameter=name,
                errors=[
                    {
                        "message": message,
                        "pointer": f"{pointer}/parameters/{index}" if pointer else "",
                        "line": None,
                        "column": None,
                    }
                ],
            )
