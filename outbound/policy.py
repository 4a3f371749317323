"""What one purpose of outbound HTTP may do: one small object per purpose, not a dozen keywords.

An action call, an OAuth token request and a schema import differ only in their limits (how
long, how much, whether redirects are followed); every other rule of `outbound.client` holds for
all of them. The purposes are built from settings at call time, so a test's `override_settings`
and a deployment's environment both apply.

`resolver`, `allow_private` and `ssl_context` are the seams tests use (a stubbed resolver instead
of DNS, an explicit private allowlist, a private CA); production code never sets them.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings

DEFAULT_TIMEOUT = 45.0
DEFAULT_MAX_BODY_CHARS = 100_000
DEFAULT_MAX_REDIRECTS = 10

Resolver = Callable[..., Iterable[Any]]


@dataclass(frozen=True)
class OutboundPolicy:
    """Limits of one kind of outbound call.

    - `timeout`: seconds for the whole call, every redirect included.
    - `max_body_chars`: caps the request body (refused before sending) and the response body
      (refused while streaming, counted in decoded characters).
    - `max_redirects`: 0 refuses any redirect with `too_many_redirects`.
    - `allow_binary`: accept binary answers (`text` is then lossy; use `content`).
    - `sensitive_headers`: names never forwarded across origins (every header outside a small
      safe list is dropped on a cross-origin redirect anyway; naming them documents intent).
    """

    timeout: float = DEFAULT_TIMEOUT
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    allow_binary: bool = False
    sensitive_headers: frozenset[str] = field(default_factory=frozenset)
    resolver: Resolver | None = None
    allow_private: tuple[str, ...] | None = None
    ssl_context: ssl.SSLContext | None = None

    def but(self, **changes: Any) -> OutboundPolicy:
        """A copy with some limits changed (`ACTION_CALL().but(timeout=5)`)."""
        allow_private = changes.get("allow_private")
        if isinstance(allow_private, str):  # the setting's own spelling: "a:80, 10.0.0.0/8"
            changes["allow_private"] = tuple(allow_private.split(","))
        elif allow_private is not None:
            changes["allow_private"] = tuple(allow_private)
        if "sensitive_headers" in changes:
            changes["sensitive_headers"] = frozenset(
                name.lower() for name in changes["sensitive_headers"]
            )
        return replace(self, **changes)


def action_call() -> OutboundPolicy:
    """An operation of an action (DESIGN.md §2 runtime limits): 45 s, 100,000 characters each
    way, at most 10 redirects, each re-checked."""
    return OutboundPolicy(
        # ACTION_CALL_TIMEOUT_SECONDS only ever shortens the product's 45 s (the fault suite).
        timeout=float(getattr(settings, "ACTION_CALL_TIMEOUT_SECONDS", None) or DEFAULT_TIMEOUT),
        max_body_chars=DEFAULT_MAX_BODY_CHARS,
        max_redirects=DEFAULT_MAX_REDIRECTS,
    )


def token_request() -> OutboundPolicy:
    """A token endpoint answers in well under a second; waiting the 45 s of an action call
    would keep the user staring at a blank page (OAUTH_TOKEN_TIMEOUT, 15 s by default).

    A request to a provider's token or revocation endpoint. Never redirected: a redirected
    POST would carry the client secret and the code somewhere else."""
    return OutboundPolicy(
        timeout=float(getattr(settings, "OAUTH_TOKEN_TIMEOUT", None) or 15),
        max_body_chars=DEFAULT_MAX_BODY_CHARS,
        max_redirects=0,
    )


def schema_import(*, max_body_chars: int, timeout: float) -> OutboundPolicy:
    """Fetching an OpenAPI document from a URL: as large as the schema limit allows."""
    return OutboundPolicy(timeout=timeout, max_body_chars=max_body_chars)
