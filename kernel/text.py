"""The UTF-8 encoding of the last large text encoded, for the several checks of one request.

A schema's text is encoded twice per check of it: by the API's lone-surrogate check (strict
UTF-8 refuses exactly the surrogates) and by the engine (its cache key and size). For a 3 MB
text that is not ASCII, each encoding is 1.5-3 ms (measured 2026-12-01); the second one finds
the first's bytes here. Only the most recent text is kept, by identity (never by equality,
which would compare megabytes), so the cost is one reference per process.
"""

from __future__ import annotations

# Smaller texts encode in microseconds: not worth keeping alive.
MIN_CHARS = 64 * 1024

_last: tuple[str, bytes] | None = None


def utf8(text: str) -> bytes:
    """`text.encode("utf-8")`, reusing the last large encoding when it is of this very text.
    Raises UnicodeEncodeError for a text with a lone surrogate, as `encode` does."""
    global _last
    last = _last  # one read: another thread may replace it meanwhile, never tear it
    if last is not None and last[0] is text:
        return last[1]
    data = text.encode("utf-8")
    if len(text) >= MIN_CHARS:
        _last = (text, data)
    return data
