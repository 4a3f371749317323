"""Re-check after a small edit: re-parse only the edited section of a large JSON document.

The editor sends the whole text again after every pause in typing. For a large JSON document,
parsing it (the C decoder plus our per-object hook, the nesting-depth walk and the text checks)
is about half of a check. This module keeps the last few large parses and, when a new text
differs from one of them inside a single *section*, decodes only that section and splices it
into a copy of the previous document's spine. Everything after the parse (references,
meta-schema, the osv walk, product rules, operations, placing problems) runs as on a cold check.

What is cached, keyed by what:
* `_Entry`, keyed by the exact previous text (the entry holds that text): the parsed document,
  the text span of each section, the `$ref` strings seen, the size in UTF-8 bytes.
* A section is the value of one member of `paths`, of `webhooks`, or of `components/<kind>`
  (one path item, one schema, one response...), or of any other member of the root (`info`,
  `servers`, `tags`...). Sections do not nest and are found by a
  skeleton decoder (`_skeleton`) that walks those three levels by hand and hands every value
  to the C decoder (`raw_decode`), so recording spans costs about nothing on the first look.

Why a spliced result is exactly what a cold `parse(new_text)` gives:
* the new text is `prefix + middle + suffix`, where prefix and suffix are unchanged from the
  cached text and the changed middle lies inside one section's value span `[start, end)`;
* JSON's grammar is context-free at a value: `json.loads` reaches `start` in the same state
  (same prefix) and decodes the value there with the same C scanner and the same hooks that
  `raw_decode(new_text, start)` uses, so the value is the same; if it ends exactly at
  `end + delta` (checked), what follows is the unchanged suffix, decoded before into the values
  we reuse. Anything else (an edit across sections or in the root, a decode error, a value
  ending elsewhere) falls back to the cold parse, which also produces the error messages;
* the text checks of `parsing.decode` (size, valid Unicode, control characters, BOM) are
  per-character, so checking the changed middle (plus the byte count) is enough;
* duplicate keys make no incremental entry (their pointers would need the whole document);
* depth: the rest of the document was within MAX_DEPTH, so only the new section is measured;
* `refs` is the union of the previous set and the new section's `$ref`s — a superset. The
  engine uses it only as a shortcut ("when each of these resolves, no reference problem"):
  a superset that all resolves implies every actual reference resolves, and a stale one
  that does not resolve only sends it down the full scan, which is exact.
The spliced document shares the unchanged sections with the cached one; nothing in the engine
mutates a parsed document, and these documents never leave the engine (`validate` returns
copies), so sharing is safe across threads.

Bounds: only texts of at least MIN_CHARS are kept (smaller ones are fast anyway), at most
ENTRIES of them and MAX_TOTAL_CHARS of text in all (measured with tracemalloc, a kept
Stripe JSON parse is ~10 MB besides its 4 MB text). `clear()` empties it (engine.clear_cache
calls it). Each worker process has its own cache: a re-check that lands on another worker is
a cold look, with the same verdict.
"""

from __future__ import annotations

import json
import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]  # CPython, not in stubs
from typing import Any

from actions.openapi import parsing
from actions.openapi.parsing import MAX_DEPTH, ParsedDocument

MIN_CHARS = 256 * 1024
ENTRIES = 2
MAX_TOTAL_CHARS = 10 * 1024 * 1024
_WS = " \t\n\r"
# Members whose values are split into sections, and how many levels below the root.
_SECTIONED = {"paths": 1, "webhooks": 1, "components": 2}


class _NotSkeleton(Exception):
    """The text is not the plain JSON object the skeleton walk expects: parse it cold."""


@dataclass(frozen=True)
class _Entry:
    text: str
    document: dict
    # Sorted by start: (start, end, path of keys from the root to the section's value).
    spans: list[tuple[int, int, tuple[str, ...]]]
    refs: frozenset[str]
    size: int  # UTF-8 bytes
    # Each member of the root: key → (offset of its key's opening quote, of its value), so
    # positions in the text need no walk of the root (ParsedDocument.locate).
    root: dict[str, tuple[int, int]]


class _Cache:
    """The last few large parses, most recent last; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, _Entry] = OrderedDict()

    def recent(self) -> list[_Entry]:
        with self.lock:
            return list(reversed(self.entries.values()))

    def put(self, entry: _Entry) -> None:
        with self.lock:
            self.entries.pop(entry.text, None)
            self.entries[entry.text] = entry
            while len(self.entries) > ENTRIES or (
                len(self.entries) > 1 and sum(len(t) for t in self.entries) > MAX_TOTAL_CHARS
            ):
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


_cache = _Cache()


def clear() -> None:
    """Forget every cached parse."""
    _cache.clear()


def parse(text: str, max_bytes: int, *, utf8: bytes | None = None) -> ParsedDocument | None:
    """The parse of a large JSON `text`, incrementally when it is a small edit of a cached
    one; None when this module does not apply (the caller parses cold, as always).
    `utf8`: the text's UTF-8 encoding, when the caller has it already."""
    if type(text) is not str or len(text) < MIN_CHARS or text.startswith("\ufeff"):
        return None
    if text[:1] != "{" and text.lstrip(_WS)[:1] != "{":
        return None
    if parsing.has_lone_surrogate_escape(text):
        return None  # rare; the cold parse checks for lone surrogates
    for previous in _cache.recent():
        entry = _edited(previous, text, max_bytes)
        if entry is not None:
            break
    else:
        entry = _cold(text, max_bytes, utf8)
    if entry is None:
        return None
    _cache.put(entry)
    # An entry is only made from a text without duplicate keys (see _cold and _edited).
    return ParsedDocument(
        document=entry.document,
        format="json",
        text=text,
        refs=set(entry.refs),
        unique_keys=True,
        root_members=entry.root,
    )


# Cold: the skeleton walk ------------------------------------------------------------------------


def _decoder(refs: set[str], duplicates: list) -> json.JSONDecoder:
    """A decoder with exactly the hooks `parsing._parse_json` gives `json.loads`."""

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        ref = obj.get("$ref")
        if type(ref) is str:
            refs.add(ref)
        if len(obj) != len(pairs):
            duplicates.append(obj)
        return obj

    return json.JSONDecoder(
        object_pairs_hook=pairs_hook,
        parse_constant=parsing._refuse_constant,
        parse_float=parsing._finite_float,
        parse_int=parsing._bounded_int,
    )


def _cold(text: str, max_bytes: int, utf8: bytes | None = None) -> _Entry | None:
    try:
        text, size = parsing.decode_sized(text, max_bytes, utf8=utf8)
    except Exception:  # noqa: BLE001 - the cold parse reports it
        return None
    refs: set[str] = set()
    duplicates: list = []
    decoder = _decoder(refs, duplicates)
    spans: list[tuple[int, int, tuple[str, ...]]] = []
    root: dict[str, tuple[int, int]] = {}
    try:
        start = _skip(text, 0)
        document, end = _skeleton(text, start, decoder, (), 0, spans, root)
        if _skip(text, end) != len(text) or type(document) is not dict:
            return None
        if duplicates or parsing._max_depth(document) > MAX_DEPTH:
            return None
    except (_NotSkeleton, ValueError, RecursionError, IndexError):
        return None  # includes JSONDecodeError and non-finite numbers: the cold parse says why
    return _Entry(text, document, spans, frozenset(refs), size, root)


def _skip(text: str, index: int) -> int:
    length = len(text)
    while index < length and text[index] in _WS:
        index += 1
    return index


def _skeleton(text, index, decoder, path, levels, spans, root=None) -> tuple[Any, int]:
    """Decode the object at `index` member by member (as the C scanner would), descending
    `levels` more levels into objects; values below are sections (spans recorded). `root`:
    where each member's key and value start, for the root object."""
    if text[index] != "{":
        raise _NotSkeleton
    pairs: list[tuple[str, Any]] = []
    index = _skip(text, index + 1)
    if text[index] == "}":
        return decoder.object_pairs_hook(pairs), index + 1
    while True:
        if text[index] != '"':
            raise _NotSkeleton
        key_start = index
        key, index = scanstring(text, index + 1, True)
        index = _skip(text, index)
        if text[index] != ":":
            raise _NotSkeleton
        index = _skip(text, index + 1)
        if root is not None:
            root[key] = (key_start, index)
        if not path and key in _SECTIONED and text[index] == "{":
            value, index = _skeleton(text, index, decoder, (key,), _SECTIONED[key], spans)
        elif levels > 1 and text[index] == "{":
            value, index = _skeleton(text, index, decoder, (*path, key), levels - 1, spans)
        else:
            start = index
            value, index = decoder.raw_decode(text, index)
            if levels <= 1:  # a section; at the root (levels 0): a member like `info`
                spans.append((start, index, (*path, key)))
        pairs.append((key, value))
        index = _skip(text, index)
        if text[index] == "}":
            return decoder.object_pairs_hook(pairs), index + 1
        if text[index] != ",":
            raise _NotSkeleton
        index = _skip(text, index + 1)


# Incremental: one section re-decoded --------------------------------------------------------------

_CHUNK = 1 << 16


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, comparing in C-speed chunks then bisecting one chunk."""
    limit = min(len(a), len(b))
    index = 0
    while index < limit and a[index : index + _CHUNK] == b[index : index + _CHUNK]:
        index += _CHUNK
    if index >= limit:
        return limit
    low, high = index, min(index + _CHUNK, limit)  # a[:low] == b[:low]; mismatch before high
    while low < high:
        middle = (low + high + 1) // 2
        if a[low:middle] == b[low:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Length of the common suffix, at most `limit` characters."""
    index = 0
    la, lb = len(a), len(b)
    while index < limit:
        step = min(_CHUNK, limit - index)
        if a[la - index - step : la - index] != b[lb - index - step : lb - index]:
            break
        index += step
    else:
        return limit
    low, high = index, min(index + _CHUNK, limit)
    while low < high:
        middle = (low + high + 1) // 2
        if a[la - middle : la - low] == b[lb - middle : lb - low]:
            low = middle
        else:
            high = middle - 1
    return low


def _edited(previous: _Entry, text: str, max_bytes: int) -> _Entry | None:
    old = previous.text
    if text == old:
        return previous
    prefix = _common_prefix(old, text)
    suffix = _common_suffix(old, text, min(len(old), len(text)) - prefix)
    old_end_of_change = len(old) - suffix
    # The one section whose value span holds the whole change (spans are disjoint, sorted).
    position = bisect_right(previous.spans, (prefix, float("inf"))) - 1
    if position < 0:
        return None
    start, end, path = previous.spans[position]
    if not (start <= prefix and old_end_of_change <= end):
        return None
    delta = len(text) - len(old)
    changed_old = old[prefix:old_end_of_change]
    changed_new = text[prefix : len(text) - suffix]
    # parsing.decode's checks, on the changed part only (each is per character).
    if parsing._CONTROL.search(changed_new):
        return None
    try:
        size = previous.size - len(changed_old.encode("utf-8")) + len(changed_new.encode("utf-8"))
    except UnicodeEncodeError:
        return None
    if size > max_bytes:
        return None
    refs: set[str] = set()
    duplicates: list = []
    try:
        value, value_end = _decoder(refs, duplicates).raw_decode(text, start)
    except (ValueError, RecursionError):
        return None
    if value_end != end + delta or duplicates:
        return None
    if len(path) + parsing._max_depth(value) > MAX_DEPTH:
        return None
    document = _splice(previous.document, path, value)
    spans = list(previous.spans)
    spans[position] = (start, value_end, path)
    if delta:
        spans[position + 1 :] = [(s + delta, e + delta, p) for s, e, p in spans[position + 1 :]]
    # Root members after the change move with it; the others (the edited section's own key
    # included) are before it: no root key lies inside a section's value.
    root = {
        key: (k + delta, v + delta) if k > prefix else (k, v)
        for key, (k, v) in previous.root.items()
    }
    return _Entry(text, document, spans, previous.refs | refs, size, root)


def _splice(document: dict, path: tuple[str, ...], value: Any) -> dict:
    """A copy of `document` with the value at `path` replaced; only the containers on the
    path are copied (same key order), everything else is shared."""
    if len(path) == 1:
        copy = dict(document)
        copy[path[0]] = value
        return copy
    copy = dict(document)
    copy[path[0]] = _splice(document[path[0]], path[1:], value)
    return copy
