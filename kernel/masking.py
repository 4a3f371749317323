"""Masking secrets inside text that someone else wrote: an API's answer, a provider's error.

A service that echoes what it received rarely echoes it byte for byte: a JSON body escapes
`/` and `"`, a URL or a form percent-encodes (`quote` or `quote_plus`), a header or a debug page
base64-encodes (standard or URL-safe, with or without `=` padding, the secret anywhere inside a
longer encoded value such as a Basic `user:password` pair), and some upper-case or lower-case
what they repeat. `mask_secrets` replaces every one of those shapes by the secret's hint
(`kernel.encryption.mask_secret`), in one pass, matching case-insensitively.

A secret shorter than SHORT_SECRET_CHARS is masked only where it stands as a whole token
(not inside a longer word): replacing every "ab" in a reply would garble it, yet a short key
repeated on its own must not show. Its encoded shapes are not searched (their short fragments
would match noise).

Written here rather than taken from a library: the redaction libraries on PyPI match patterns
of well-known secret formats (AWS keys, JWTs), not the encoded shapes of secrets we already hold.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from kernel.encryption import mask_secret

SHORT_SECRET_CHARS = 8
# Characters that continue a token: a short secret inside a longer run of these is not masked.
_TOKEN_CHARS = "A-Za-z0-9_\\-"
# The unpadded core of a base64 fragment found at any offset must be this long to be searched.
MIN_B64_CORE_CHARS = 12


def _b64_forms(raw: bytes) -> set[str]:
    """The secret base64-encoded on its own, and the part of its encoding that is the same
    wherever it sits inside a longer encoded value (three byte alignments)."""
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        whole = encode(raw).decode("ascii")
        forms.update({whole, whole.rstrip("=")})
        for offset in (0, 1, 2):
            encoded = encode(b"\0" * offset + raw).decode("ascii").rstrip("=")
            # Leading characters mix in the prefix's bits; trailing ones a partial group's.
            skip = (0, 2, 3)[offset]
            full = (offset + len(raw)) // 3 * 4
            core = encoded[skip:full]
            if len(core) >= MIN_B64_CORE_CHARS:
                forms.add(core)
    return forms


def secret_forms(secret: str) -> set[str]:
    """Every shape `secret` is searched for in (long secrets only; see module docstring)."""
    forms = {secret}
    for escaped in (json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]):
        forms.update({escaped, escaped.replace("/", "\\/")})
    forms.update({quote(secret), quote(secret, safe=""), quote_plus(secret)})
    forms.update(_b64_forms(secret.encode("utf-8")))
    return {form for form in forms if form}


def _pattern_and_hints(secrets: tuple[str, ...]) -> tuple[re.Pattern[str] | None, dict[str, str]]:
    hints: dict[str, str] = {}
    long_forms: list[str] = []
    short_forms: list[str] = []
    for secret in secrets:
        if not secret:
            continue
        hint = mask_secret(secret)
        if len(secret) < SHORT_SECRET_CHARS:
            short_forms.append(secret)
            hints.setdefault(secret.lower(), hint)
            continue
        for form in secret_forms(secret):
            long_forms.append(form)
            hints.setdefault(form.lower(), hint)
    if not hints:
        return None, hints
    # Longest first: a secret's encoding must be replaced whole, not by a shorter form inside.
    alternatives = [re.escape(f) for f in sorted(set(long_forms), key=len, reverse=True)]
    alternatives += [
        f"(?<![{_TOKEN_CHARS}]){re.escape(f)}(?![{_TOKEN_CHARS}])"
        for f in sorted(set(short_forms), key=len, reverse=True)
    ]
    return re.compile("|".join(alternatives), re.IGNORECASE), hints


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every shape of every secret replaced by the secret's hint."""
    if not text:
        return text
    pattern, hints = _pattern_and_hints(tuple(dict.fromkeys(s for s in secrets if s)))
    if pattern is None:
        return text
    return pattern.sub(lambda match: hints.get(match.group(0).lower(), "…"), text)


def basic_credential_parts(pair: str) -> list[str]:
    """The secrets inside a Basic `user:password` pair: the pair, and its password half (an
    API may echo the password alone)."""
    parts = [pair]
    if ":" in pair:
        password = pair.split(":", 1)[1]
        if password:
            parts.append(password)
    return parts
