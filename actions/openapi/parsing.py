"""Text → document: JSON first, then YAML, with the limits an upload from anyone needs.

Why not `yaml.load(text, CSafeLoader)`: libyaml only scans and parses in C; composing nodes and
resolving every scalar through the Python resolver is what makes a 4 MB YAML file take over a
second. Here the C parser's *events* feed a small builder (`_YamlBuilder`) that is about eight
times faster, and that same builder is where the YAML-only dangers are stopped before they can
cost anything: aliases are measured (never expanded) against a budget, recursive aliases,
complex keys and exotic tags are refused, nesting depth is capped, duplicate keys are reported.
Timestamps stay strings (osv's own reader does the same; a `datetime` is not JSON).
"""

from __future__ import annotations

import gc
import json
import math
import re
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml
from django.conf import settings
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from actions.openapi.loaders import CONSTRUCT as _CONSTRUCT
from actions.openapi.loaders import MAP as _MAP
from actions.openapi.loaders import MERGE as _MERGE
from actions.openapi.loaders import SEQ as _SEQ
from actions.openapi.loaders import STR as _STR
from actions.openapi.loaders import TIMESTAMP as _TIMESTAMP
from actions.openapi.loaders import CLoader as _CLoader
from actions.openapi.loaders import PyLoader as _PyLoader
from actions.openapi.locate import locate_json, locate_yaml
from actions.openapi.problems import (
    WARNING,
    Problem,
    SchemaParseError,
    escape_pointer_part,
    split_pointer,
)

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
# Real documents nest 30 levels at most (Sentry, PagerDuty); validators recurse per level.
MAX_DEPTH = 64
# Anchors are rare in OpenAPI documents (none in the corpus). Aliases share one object, so they
# cost nothing to build, but every later walk (validation, formatting, storage as JSON) writes
# each use out in full. So each use is measured by the size of what it stands for *expanded*
# (about the JSON characters: every scalar's text, every key, a few per container), and a
# document whose aliases would add more than the size limit itself (`max_bytes`, i.e.
# SCHEMA_MAX_BYTES) is refused: expanded, an accepted document is at most about twice the
# largest text accepted. Counting nodes alone is not enough: one alias of a 100 KB string is one
# node. The count of aliases is capped too, so tiny aliases can not make the walk slow.
MAX_ALIASES = 1_000

# Integers longer than this are refused. Python turns a longer decimal literal into an int
# only up to sys.get_int_max_str_digits() (4,300) and refuses to write a larger int back as
# text, so every later step (JSON storage, formatting, messages) would fail on one; no API
# needs a number with more than a few dozen digits.
MAX_INT_DIGITS = 1_000
_MAX_INT_BITS = int(MAX_INT_DIGITS * 3.3219)  # log2(10): an int of MAX_INT_DIGITS digits

# A JSON escape of a UTF-16 surrogate without its pair next to it: only then can a decoded
# JSON string hold a lone surrogate (a pair of escapes decodes to one character). A sound
# pre-filter: a match (which may be an escaped backslash followed by "ud800") makes the exact
# check of the decoded strings run; no match means there is nothing to find.
_SURROGATE_ESCAPE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
# Any surrogate escape at all: a plain pattern scans megabytes in well under a millisecond,
# where the lookarounds above cost 30-50 ms on a 2 MB document; only its hits are looked at.
_ANY_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def has_lone_surrogate_escape(text: str) -> bool:
    """`_SURROGATE_ESCAPE.search(text) is not None`, fast: only the surrogate escapes found
    by a plain scan are checked for their other half."""
    # (`match` at a position still sees the text before it, so the lookbehind holds.)
    return any(
        _SURROGATE_ESCAPE.match(text, found.start())
        for found in _ANY_SURROGATE_ESCAPE.finditer(text)
    )


# C0 control characters other than tab, line feed and carriage return: a sign of a binary file.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every byte but those characters. In UTF-8 they are single bytes and every other character's
# bytes are 0x80 or above, so `utf8.translate(None, _NOT_CONTROL)` is empty exactly when
# `_CONTROL.search(text)` finds nothing: ~1 ms on 4 MB where the expression takes 6-25 ms.
_NOT_CONTROL = bytes(b for b in range(256) if not _CONTROL.match(chr(b)))

# A document opening with `[` or `{"`: meant as JSON (YAML flow style rarely quotes keys).
_LOOKS_LIKE_JSON = re.compile(r'\s*(\[|\{\s*(\}|"))')

@dataclass
class ParsedDocument:
    """A parsed schema: the `document` dict, its `format` and `text`, and where things are.

    `problems` holds what parsing noticed without failing (duplicate keys). Positions are
    computed lazily, only for the pointers a reported problem needs (`locate`).
    """

    document: dict
    format: str
    text: str
    problems: list[Problem] = field(default_factory=list)
    # Every `$ref` string in the document, collected while parsing (None: not collected).
    refs: set[str] | None = field(default=None, repr=False)
    # YAML only: id(container) → the parser's start mark (0-based `line` and `column`) of each
    # key or item. The marks themselves, not numbers made of them: reading two attributes and
    # packing them, per key, was 3-8 ms of a 3 MB document's parse (Asana, OpenAI).
    marks: dict[int, list[Any]] | None = field(default=None, repr=False)
    # JSON only: True when the parser made sure no object repeats a key (locate stops early).
    unique_keys: bool = field(default=False, repr=False)
    # JSON only, from memo.py's skeleton: each root member's key → (offset of the key, of the
    # value), so locating a pointer walks only the member it is in.
    root_members: dict[str, tuple[int, int]] | None = field(default=None, repr=False)
    _positions: dict[str, tuple[int, int] | None] = field(default_factory=dict, repr=False)

    def locate(self, pointers: Iterable[str]) -> dict[str, tuple[int, int] | None]:
        """(line, column), 1-based, of each JSON pointer; the nearest existing parent if the
        pointer itself is not in the text (a missing key); None if nothing can be placed."""

        pointers = list(pointers)
        wanted = [p for p in dict.fromkeys(pointers) if p not in self._positions]
        if wanted and self.marks is not None:
            wanted = self._locate_from_marks(wanted)
        if wanted and self.format == "json":
            self._positions.update(
                locate_json(
                    self.text, wanted, unique_keys=self.unique_keys, root=self.root_members
                )
            )
        elif wanted:
            self._positions.update(locate_yaml(self.text, wanted))
        return {p: self._positions.get(p) for p in pointers}

    def _locate_from_marks(self, pointers: list[str]) -> list[str]:
        """Place pointers with the positions recorded while parsing YAML; return the ones
        that need the slow way (through an alias or a merge key)."""

        assert self.marks is not None  # the caller checked it
        rest = []
        for pointer in pointers:
            node: Any = self.document
            position: tuple[int, int] | None = (1, 1)
            for token in split_pointer(pointer):
                marks = self.marks.get(id(node)) if type(node) in (dict, list) else None
                if marks is None:
                    break
                if type(node) is dict:
                    if token not in node:
                        break
                    index = list(node).index(token) if len(node) > 1 else 0
                    node = node[token]
                else:
                    if not token.isdigit() or int(token) >= len(node):
                        break
                    index = int(token)
                    node = node[index]
                if index >= len(marks):
                    break
                mark = marks[index]
                position = (mark.line + 1, mark.column + 1)
            else:
                self._positions[pointer] = position
                continue
            if marks is None and type(node) in (dict, list):
                rest.append(pointer)  # behind an alias or a merge: walk the text
            else:
                self._positions[pointer] = position  # a missing key: its parent's place
        return rest

    def place(self, problems: Iterable[Problem]) -> None:
        """Fill in line and column of the problems that have none yet."""
        todo = [p for p in problems if p.line is None]
        if not todo:
            return
        found = self.locate(p.pointer for p in todo)
        for problem in todo:
            position = found.get(problem.pointer)
            if position:
                problem.line, problem.column = position


_gc_lock = threading.Lock()
_gc_pausers = 0


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector while a large document is built and checked.

    A 4 MB document is about a million containers; each counts towards the collector's
    thresholds, so full collections keep traversing the tree while it is built and walked
    (measured: up to half of the time on the largest documents). Parsed documents are plain
    JSON-like data without reference cycles: reference counting frees them, nothing is lost
    by pausing the cycle collector for the duration of one check. Reference-counted: with
    several threads, the last one out turns the collector back on, if it was on before.
    """
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


_gc_was_enabled = True


def max_bytes_default() -> int:
    """`settings.SCHEMA_MAX_BYTES` when Django is configured, else 5 MB."""
    try:

        if settings.configured:
            return int(getattr(settings, "SCHEMA_MAX_BYTES", DEFAULT_MAX_BYTES))
    except ImportError:  # pragma: no cover - the engine also runs without Django
        pass
    return DEFAULT_MAX_BYTES


def _fail(
    message: str, code: str, line: int | None = None, column: int | None = None
) -> NoReturn:
    raise SchemaParseError([Problem(message, "", line, column, code=code)])


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def decode(text: str | bytes, max_bytes: int, *, utf8: bytes | None = None) -> str:
    """Check size and encoding; return the text (without a UTF-8 byte order mark).

    `utf8`: the text's UTF-8 encoding, when the caller has it already (the engine hashes it)."""
    return decode_sized(text, max_bytes, utf8=utf8)[0]


def decode_sized(
    text: str | bytes, max_bytes: int, *, utf8: bytes | None = None
) -> tuple[str, int]:
    """`decode`, and the size in UTF-8 bytes of the text it returns."""
    if isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
        if len(raw) > max_bytes:
            _fail(_too_large(len(raw), max_bytes), "too_large")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            _fail(
                "The schema is not UTF-8 text (it looks like a binary file or another encoding).",
                "not_utf8",
                *_position_in_prefix(raw[: exc.start].decode("utf-8", "replace")),
            )
    elif not isinstance(text, str):
        _fail("The schema must be text.", "not_text")
    else:
        if len(text) > max_bytes:  # UTF-8 never has fewer bytes than characters
            _fail(_too_large(len(text), max_bytes), "too_large")
        if utf8 is None:
            try:
                utf8 = text.encode("utf-8")
            except UnicodeEncodeError as exc:
                _fail(
                    "The schema contains text that is not valid Unicode.",
                    "not_utf8",
                    *_position(text, exc.start),
                )
        raw = utf8
        if len(raw) > max_bytes:
            _fail(_too_large(len(raw), max_bytes), "too_large")
    size = len(raw)
    if text.startswith("\ufeff"):
        text = text[1:]
        size -= 3
    if raw.translate(None, _NOT_CONTROL):
        control = _CONTROL.search(text)
        assert control is not None  # see _NOT_CONTROL
        _fail(
            "The schema contains control characters (such as NUL bytes): it looks like a "
            "binary file, not JSON or YAML text.",
            "binary",
            *_position(text, control.start()),
        )
    if not text or text.isspace():  # `not text.strip()`, without copying megabytes
        _fail("The schema is empty: paste a JSON or YAML OpenAPI document.", "empty")
    return text, size


def _position_in_prefix(prefix: str) -> tuple[int, int]:
    """Line and column just after `prefix`."""
    return _position(prefix, len(prefix))


def _too_large(size: int, max_bytes: int) -> str:
    return f"The schema is too large ({size:,} bytes); the limit is {max_bytes:,} bytes."


def parse(
    text: str | bytes, *, max_bytes: int | None = None, utf8: bytes | None = None
) -> ParsedDocument:
    """Parse a JSON or YAML OpenAPI document; raise `SchemaParseError` if it is not usable.

    `utf8`: the text's UTF-8 encoding, when the caller has it already."""
    limit = max_bytes_default() if max_bytes is None else max_bytes
    text = decode(text, limit, utf8=utf8)
    try:
        parsed = _parse_json(text)
    except json.JSONDecodeError as json_error:
        json_problem = Problem(
            f"The JSON can not be read: {json_error.msg}.",
            "",
            json_error.lineno,
            json_error.colno,
            code="parse_error",
        )
        start = text.lstrip()[:1]
        if _LOOKS_LIKE_JSON.match(text):
            # Meant as JSON (YAML flow style would rarely quote keys): even if the YAML
            # reader accepts it (`"info": }` is YAML for null), the JSON error is the answer.
            raise SchemaParseError([json_problem]) from None
        try:
            parsed = _parse_yaml(text, limit)
        except SchemaParseError as yaml_error:
            if start == "{":
                raise SchemaParseError([json_problem]) from None
            raise yaml_error from None
    if not isinstance(parsed.document, dict):
        kind = {list: "a list", str: "a single text value"}.get(
            type(parsed.document), "a single value"
        )
        _fail(
            f"The schema is {kind}; an OpenAPI document is a mapping of keys such as "
            "'openapi', 'info' and 'paths'.",
            "not_mapping",
            1,
            1,
        )
    return parsed


# JSON ---------------------------------------------------------------------------------------


class _NotFinite(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NotFinite(name)


class _TooLong(ValueError):
    pass


def _bounded_int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise _TooLong(literal)
    return int(literal)


def _too_long_message(literal: str) -> str:
    return (
        f"The number {literal[:20]}… has {len(literal.lstrip('-')):,} digits; numbers in a "
        f"schema may have at most {MAX_INT_DIGITS:,}."
    )


def _finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise _NotFinite(literal)
    return value


def _parse_json(text: str) -> ParsedDocument:
    duplicates: list[tuple[dict, str]] = []
    refs: set[str] = set()

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict:
        obj = dict(pairs)
        ref = obj.get("$ref")
        if type(ref) is str:
            refs.add(ref)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    duplicates.append((obj, key))
                seen.add(key)
        return obj

    try:
        document = json.loads(
            text,
            object_pairs_hook=pairs_hook,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except RecursionError:
        _fail(f"The schema is nested too deeply (more than {MAX_DEPTH} levels).", "too_deep")
    except _NotFinite as exc:
        _fail(
            f"{exc} is not a number JSON allows (NaN and infinite values can not be used).",
            "parse_error",
            *_position(text, max(text.find(str(exc)), 0)),
        )
    except _TooLong as exc:
        _fail(
            _too_long_message(str(exc)),
            "parse_error",
            *_position(text, max(text.find(str(exc)), 0)),
        )
    if has_lone_surrogate_escape(text):
        _refuse_lone_surrogates(document, text)
    depth = _max_depth(document)
    if depth > MAX_DEPTH:
        _fail(f"The schema is nested too deeply (more than {MAX_DEPTH} levels).", "too_deep")
    parsed = ParsedDocument(
        document=document, format="json", text=text, refs=refs, unique_keys=not duplicates
    )
    if duplicates:
        parsed.problems.extend(_json_duplicate_problems(document, duplicates))
    return parsed


def _refuse_lone_surrogates(document: Any, text: str) -> None:
    """JSON lets "\\ud800" stand alone; such a string is not Unicode text, and can be neither
    stored, nor sent, nor shown. Only called when the text has a surrogate escape at all."""
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, pointer = stack.pop()
        if type(node) is dict:
            for key, value in node.items():
                where = f"{pointer}/{escape_pointer_part(key)}"
                if _has_lone_surrogate(key):
                    _surrogate_problem(text, pointer, key)  # the key can not be in a pointer
                stack.append((value, where))
        elif type(node) is list:
            stack.extend((value, f"{pointer}/{i}") for i, value in enumerate(node))
        elif type(node) is str and _has_lone_surrogate(node):
            _surrogate_problem(text, pointer, node)


def _has_lone_surrogate(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _surrogate_problem(text: str, pointer: str, value: str) -> None:

    line, column = locate_json(text, [pointer]).get(pointer) or (None, None)
    raise SchemaParseError(
        [
            Problem(
                "This text contains a \\u escape of a lone UTF-16 surrogate (\\ud800 to "
                "\\udfff without its pair), which is not valid Unicode text. Remove it or "
                "write the character itself.",
                pointer,
                line,
                column,
                code="invalid_unicode",
            )
        ]
    )


def _max_depth(document: Any) -> int:
    """Deepest nesting of mappings and lists, without recursion: one level at a time, each
    built by one list comprehension (a 2 MB document's depth in a few milliseconds; one
    comprehension per level rather than per container halves the time)."""
    level = [document] if type(document) in (dict, list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return depth
        level = [
            child
            for node in level
            for child in (node.values() if type(node) is dict else node)
            if type(child) is dict or type(child) is list
        ]
    return depth


def _json_duplicate_problems(document: dict, duplicates: list[tuple[dict, str]]) -> list[Problem]:
    """Find where the objects with duplicate keys are (by identity) to give each a pointer."""
    wanted = {id(obj): obj for obj, _ in duplicates}
    where: dict[int, str] = {}
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack and len(where) < len(wanted):
        node, pointer = stack.pop()
        if type(node) is dict:
            if id(node) in wanted:
                where[id(node)] = pointer
            stack.extend((v, f"{pointer}/{escape_pointer_part(k)}") for k, v in node.items())
        elif type(node) is list:
            stack.extend((v, f"{pointer}/{i}") for i, v in enumerate(node))
    return [
        _duplicate_problem(f"{where.get(id(obj), '')}/{escape_pointer_part(key)}", key)
        for obj, key in duplicates
    ]


def _duplicate_problem(
    pointer: str, key: str, line: int | None = None, column: int | None = None
) -> Problem:
    # A warning, as the hosted editor reads such documents: the last one wins, here too
    # (json.loads and the YAML builder both keep the last), so what is checked is what runs.
    return Problem(
        f"The key '{key}' appears more than once in the same object; the last one counts and "
        "the earlier ones are ignored. Remove the earlier ones.",
        pointer,
        line,
        column,
        severity=WARNING,
        code="duplicate_key",
        fix_plan=(f"Remove the earlier '{key}'", "remove", pointer, "last_wins"),
    )


# YAML ---------------------------------------------------------------------------------------

_NO_KEY = object()


class _Extra:
    """What few containers need: an anchor name, values of merge keys (`<<`)."""

    __slots__ = ("anchor", "merges")

    def __init__(self, anchor=None):
        self.anchor = anchor
        self.merges: list | None = None


class _YamlBuilder:
    """Build plain dicts/lists/scalars straight from parser events (see module docstring)."""

    def __init__(
        self,
        loader_cls,
        text: str,
        fix_surrogates: bool = False,
        max_expansion: int = DEFAULT_MAX_BYTES,
    ):
        self.loader = loader_cls(text)
        self.max_expansion = max_expansion
        self.resolvers = loader_cls.yaml_implicit_resolvers
        self.fix_surrogates = fix_surrogates
        self.cache: dict[str, Any] = {}
        self.anchors: dict[str, Any] = {}
        self.open_anchors: set[str] = set()
        self.aliases = 0
        self.expansion = 0
        # Expanded size of each aliased node, by id (the node is kept alive in `sizes_of`), so
        # nested aliases are measured once each, not once per path that reaches them.
        self.sizes: dict[int, int] = {}
        self.sizes_of: list[Any] = []
        self.duplicates: list[Problem] = []
        self.marks: dict[int, list[Any]] = {}
        self.refs: set[str] = set()

    def build(self) -> Any:
        get = self.loader.get_event
        try:
            event = get()
            if event.__class__ is StreamStartEvent:
                event = get()
            if event.__class__ is StreamEndEvent:
                return None
            if event.__class__ is not DocumentStartEvent:  # pragma: no cover - parser invariant
                raise _refusal("The YAML stream does not start with a document.", event)
            root = self._document(get)
            event = get()
            if event.__class__ is DocumentEndEvent:
                event = get()
            if event.__class__ is not StreamEndEvent:
                raise _refusal(
                    "The text holds more than one YAML document; paste one OpenAPI document.",
                    event,
                )
            return root
        finally:
            self.loader.dispose()

    def _document(self, get):  # noqa: C901 - one tight loop, locals only: this is the hot path
        # The open container lives in locals; enclosing ones are saved on `stack`.
        # `marks` collects, per container, the start mark of each key (mapping) or item
        # (list), in order: ParsedDocument.locate reads them, so YAML problems are placed
        # without a second pass over the text.
        stack: list[tuple] = []
        container: Any = None
        marks: list[Any] = []
        is_map = False
        key: Any = _NO_KEY
        key_event: Any = None
        extra: _Extra | None = None
        resolvers = self.resolvers
        cache = self.cache
        no_key = _NO_KEY
        fix_surrogates = self.fix_surrogates
        all_marks = self.marks
        refs = self.refs
        while True:
            event = get()
            cls = event.__class__
            if cls is ScalarEvent:
                node = event.value
                tag = event.tag
                if tag is None and event.implicit[0]:
                    resolved = cache.get(node, no_key)
                    if resolved is no_key:
                        resolved = cache[node] = self._plain(node, resolvers, event)
                    node = resolved
                elif tag is None or tag == "!" or tag == _STR:
                    if fix_surrogates:
                        node = _join_surrogates(node, event)
                else:
                    node = self._tagged(tag, node, event)
                if event.anchor is not None:
                    self.anchors[event.anchor] = node
            elif cls is MappingStartEvent or cls is SequenceStartEvent:
                opening_map = cls is MappingStartEvent
                if event.tag is not None and event.tag not in ("!", _MAP, _SEQ):
                    raise _refusal(f"The YAML tag {event.tag} is not supported here.", event)
                if len(stack) >= MAX_DEPTH:
                    raise _refusal(
                        f"The schema is nested too deeply (more than {MAX_DEPTH} levels).",
                        event,
                        "too_deep",
                    )
                if is_map and key is no_key:
                    raise _refusal(
                        "A mapping or list can not be used as a key; keys must be plain text.",
                        event,
                    )
                if container is not None and not is_map:
                    marks.append(event.start_mark)
                stack.append((container, marks, is_map, key, key_event, extra))
                extra = None
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                    extra = _Extra(event.anchor)
                container = {} if opening_map else []
                marks = []
                is_map = opening_map
                key = no_key
                continue
            elif cls is MappingEndEvent or cls is SequenceEndEvent:
                node = container
                if extra is not None:
                    if extra.merges:
                        node = _merged(node, extra.merges)
                        marks = None  # type: ignore[assignment]  # keys no longer line up
                    if extra.anchor is not None:
                        self.open_anchors.discard(extra.anchor)
                        self.anchors[extra.anchor] = node
                if marks is not None:
                    all_marks[id(node)] = marks
                container, marks, is_map, key, key_event, extra = stack.pop()
                if container is None:
                    return node
            elif cls is AliasEvent:
                node = self._alias(event, stack, container, is_map, key)
            else:  # pragma: no cover - parser invariant
                raise _refusal("Unexpected YAML structure.", event)

            if container is None:  # a document that is a single scalar
                return "<<" if node is _MERGE_KEY else node
            if is_map:
                if key is no_key:
                    if type(node) is not str:
                        node = self._key(node, event)
                    key = node
                    key_event = event
                    continue
                if node is _MERGE_KEY:
                    node = "<<"  # '<<' is only the merge key in key position
                if key is _MERGE_KEY:
                    if extra is None:
                        extra = _Extra()
                    if extra.merges is None:
                        extra.merges = []
                    extra.merges.append((node, event))
                elif key in container:
                    self._duplicate(stack, container, key, key_event)
                    container[key] = node
                    if marks is not None:
                        marks[list(container).index(key)] = key_event.start_mark
                else:
                    container[key] = node
                    if marks is not None:
                        marks.append(key_event.start_mark)
                    if key == "$ref" and type(node) is str:
                        refs.add(node)
                key = no_key
            else:
                if cls is not MappingEndEvent and cls is not SequenceEndEvent:
                    marks.append(event.start_mark)
                container.append("<<" if node is _MERGE_KEY else node)

    def _plain(self, value: str, resolvers, event):
        for tag, regexp in resolvers.get(value[:1], ()):
            if regexp.match(value):
                if tag == _MERGE:
                    return _MERGE_KEY
                construct = _CONSTRUCT.get(tag)
                if construct is None:
                    return value  # e.g. '=' (the YAML 1.1 "value" tag): plain text here
                try:
                    node = construct(yaml.ScalarNode(tag, value))
                except ValueError:  # a decimal int longer than Python converts
                    raise _refusal(_too_long_message(value), event) from None
                if type(node) is int and node.bit_length() > _MAX_INT_BITS:
                    raise _refusal(_too_long_message(value), event)
                if isinstance(node, float) and not math.isfinite(node):
                    raise _refusal(
                        f"{value} is not a number JSON allows (NaN and infinite values can "
                        "not be used).",
                        event,
                    )
                return node
        return value

    def _tagged(self, tag: str, value: str, event):
        if tag == _TIMESTAMP:
            return value
        construct = _CONSTRUCT.get(tag)
        if construct is None:
            raise _refusal(f"The YAML tag {tag} is not supported in an OpenAPI document.", event)
        try:
            node = construct(yaml.ScalarNode(tag, value))
        except (ValueError, TypeError, KeyError):
            if len(value) > MAX_INT_DIGITS:
                raise _refusal(_too_long_message(value), event) from None
            raise _refusal(
                f"'{value}' is not a valid value for the YAML tag {tag}.", event
            ) from None
        if type(node) is int and node.bit_length() > _MAX_INT_BITS:
            raise _refusal(_too_long_message(value), event)
        if isinstance(node, float) and not math.isfinite(node):
            raise _refusal(f"{value} is not a number JSON allows.", event)
        return node

    def _alias(self, event, stack, container, is_map, key):
        name = event.anchor
        if name in self.open_anchors:
            raise _refusal(
                f"The alias *{name} refers to the node that contains it (a recursive "
                "structure), which an OpenAPI document can not be.",
                event,
                "yaml_alias",
            )
        if name not in self.anchors:
            raise _refusal(f"The alias *{name} refers to no anchor &{name} before it.", event)
        node = self.anchors[name]
        self.aliases += 1
        # Measure what this use repeats, never past the budget: a "billion laughs" document is
        # refused after at most `max_expansion` steps in all.
        size = self.sizes.get(id(node))
        if size is None:
            size = _expanded_size(node, self.max_expansion - self.expansion + 1, self.sizes)
            if type(node) in (dict, list):
                self.sizes[id(node)] = size
                self.sizes_of.append(node)
        self.expansion += size
        if self.aliases > MAX_ALIASES or self.expansion > self.max_expansion:
            if self.aliases > MAX_ALIASES:
                why = f"it uses more than {MAX_ALIASES:,} aliases"
            else:
                why = (
                    "written out in full, the repeated parts would add more than "
                    f"{self.max_expansion:,} characters (the schema size limit)"
                )
            refusal = _refusal(
                f"The YAML aliases (*name) make the document too large: {why}. Write the "
                "repeated parts out once and refer to them with $ref instead.",
                event,
                "yaml_alias",
            )
            refusal.problem.pointer = _pointer_at(stack, container, is_map, key)
            raise refusal
        return node

    @staticmethod
    def _key(node, event) -> Any:
        if node is _MERGE_KEY:
            return node
        if isinstance(node, dict | list):
            raise _refusal(
                "A mapping or list can not be used as a key; keys must be plain text.", event
            )
        # The key a JSON round trip gives (osv's reader does one): 200 → "200", true → "true".
        return json.dumps(node)

    def _duplicate(self, stack: list[tuple], container: dict, key: str, key_event) -> None:
        parts = []
        # stack[0] is the (None, ...) sentinel below the root; each saved entry is a parent
        # with the key (or list length) under which the next level sits.
        levels = [*stack[1:]]
        for parent, _, parent_is_map, parent_key, _, _ in levels:
            parts.append(escape_pointer_part(parent_key if parent_is_map else len(parent)))
        pointer = "".join("/" + p for p in parts) + "/" + escape_pointer_part(key)
        mark = key_event.start_mark
        self.duplicates.append(_duplicate_problem(pointer, key, mark.line + 1, mark.column + 1))


def _pointer_at(stack: list[tuple], container: Any, is_map: bool, key: Any) -> str:
    """The JSON pointer of the node about to be added to `container` (see `_document`)."""
    parts = [
        escape_pointer_part(parent_key if parent_is_map else len(parent))
        for parent, _, parent_is_map, parent_key, _, _ in [
            *stack[1:],
            (container, None, is_map, key, None, None),
        ]
        if parent is not None
    ]
    if is_map and key is _NO_KEY:
        parts.pop()  # an alias used as a key: point at its mapping
    return "".join("/" + p for p in parts)


def _expanded_size(node: Any, limit: int, known: dict[int, int] | None = None) -> int:
    """About the JSON characters of a value written out in full (shared parts each time they
    are reached); stops counting past `limit`, so the cost is bounded by the budget. `known`:
    sizes already measured, by id of the container."""
    size = 0
    stack = [node]
    while stack and size < limit:
        item = stack.pop()
        kind = type(item)
        if known and item is not node and id(item) in known:
            size += known[id(item)]
        elif kind is dict:
            size += 2 + sum(len(k) + 4 if type(k) is str else 8 for k in item)
            stack.extend(item.values())
        elif kind is list:
            size += 2 + len(item)
            stack.extend(item)
        elif kind is str:
            size += len(item) + 2
        elif kind is int:
            size += item.bit_length() // 3 + 1  # about its decimal digits, without str()
        else:
            size += 5  # float, true/false, null
    return size


def _count_nodes(node: Any, limit: int) -> int:
    """Nodes in a value, counting shared parts each time they are reached; stop at `limit`."""
    count = 0
    stack = [node]
    while stack and count < limit:
        item = stack.pop()
        count += 1
        if type(item) is dict:
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return count


class _MergeKey:
    """The YAML merge key `<<`, kept apart from a plain '<<' text key."""


_MERGE_KEY = _MergeKey()


def _merged(explicit: dict, merges: list) -> dict:
    """YAML 1.1 merge: explicit keys win; among merged mappings, earlier ones win."""
    sources: list[dict] = []
    for value, event in merges:
        if isinstance(value, dict):
            sources.append(value)
        elif isinstance(value, list) and all(isinstance(v, dict) for v in value):
            sources.extend(value)
        else:
            raise _refusal(
                "The value of a merge key (<<) must be a mapping or a list of mappings.", event
            )
    result: dict = {}
    for source in reversed(sources):
        result.update(source)
    result.update(explicit)
    return result


def _join_surrogates(value: str, event) -> str:
    """Pure PyYAML decodes "\\ud83d\\udc4d" as two lone surrogates; JSON joins them."""
    if not any("\ud800" <= ch <= "\udfff" for ch in value):
        return value
    try:
        return value.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise _refusal("The text contains an invalid Unicode escape.", event) from None


class _Refusal(Exception):
    def __init__(self, problem: Problem):
        self.problem = problem


def _refusal(message: str, event, code: str = "parse_error") -> _Refusal:
    mark = getattr(event, "start_mark", None)
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    return _Refusal(Problem(message, "", line, column, code=code))


def _parse_yaml(text: str, max_expansion: int = DEFAULT_MAX_BYTES) -> ParsedDocument:
    loaders: list[tuple[type, bool]] = [(_CLoader, False)] if _CLoader is not None else []
    loaders.append((_PyLoader, True))
    for loader_cls, fix_surrogates in loaders:
        builder = _YamlBuilder(loader_cls, text, fix_surrogates, max_expansion)
        try:
            document = builder.build()
        except _Refusal as refusal:
            raise SchemaParseError([refusal.problem]) from None
        except yaml.MarkedYAMLError as exc:
            if loader_cls is _CLoader and "invalid Unicode character escape" in str(exc.problem):
                # libyaml rejects the valid escaped surrogate pair "\ud83d\udc4d" (Twilio's
                # real, valid document has one); the pure-Python parser accepts it.
                continue
            raise SchemaParseError([_yaml_error_problem(exc, text)]) from None
        except yaml.YAMLError as exc:
            raise SchemaParseError(
                [Problem(f"The YAML can not be read: {exc}.", "", code="parse_error")]
            ) from None
        except RecursionError:  # pragma: no cover - the depth cap comes first
            _fail(f"The schema is nested too deeply (more than {MAX_DEPTH} levels).", "too_deep")
        if document is None:
            _fail("The schema is empty: paste a JSON or YAML OpenAPI document.", "empty")
        return ParsedDocument(
            document=document,
            format="yaml",
            text=text,
            problems=builder.duplicates,
            refs=builder.refs,
            marks=builder.marks,
        )
    raise AssertionError("unreachable")  # pragma: no cover


TAB_MESSAGE = (
    "The YAML can not be read: line {line} has a tab character where YAML expects spaces "
    "(YAML indents with spaces only). Replace the tab with spaces."
)


def _yaml_error_problem(exc: yaml.MarkedYAMLError, text: str = "") -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or exc.context or "unexpected text"
    message = f"The YAML can not be read: {what}"
    if exc.context and exc.problem:
        message += f" ({exc.context})"
    if mark is not None and (_tab_at(text, mark) or "tab" in str(exc.problem or "")):
        # libyaml says "found character that cannot start any token" for a tab, which does
        # not say which character: name it, since an invisible tab is what people paste.
        message = TAB_MESSAGE.format(line=mark.line + 1)
    return Problem(
        message.rstrip(".") + ".",
        "",
        mark.line + 1 if mark else None,
        mark.column + 1 if mark else None,
        code="parse_error",
    )


def _tab_at(text: str, mark) -> bool:
    """Whether the YAML error points at a tab, or at a line indented with one."""
    lines = text.split("\n")
    if not 0 <= mark.line < len(lines):
        return False
    line = lines[mark.line]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return line[mark.column : mark.column + 1] == "\t" or "\t" in indent
