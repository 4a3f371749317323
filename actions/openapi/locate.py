"""JSON pointer → (line, column) in the original text, computed only when a problem needs it.

Both finders walk the text once, descending only along the wanted pointers:
* JSON: a hand-written walk over objects and arrays on the path; every other value is skipped
  with the C decoder (`raw_decode`), so a 4 MB document costs at most one C-speed parse.
* YAML: libyaml's events (C), with subtrees that hold no wanted pointer skipped by counting
  start/end events.
A pointer that does not exist in the text (a missing key, a key merged in with `<<`, a node
behind an alias) gets the position of its nearest ancestor that does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from json.decoder import scanstring  # type: ignore[attr-defined]  # CPython, not in stubs

import yaml
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from actions.openapi.loaders import CONSTRUCT as _CONSTRUCT
from actions.openapi.loaders import CLoader as _CLoader
from actions.openapi.loaders import PyLoader as _PyLoader
from actions.openapi.problems import split_pointer

Position = tuple[int, int]
_WS = " \t\n\r"


class _Trie(dict):
    """token → child; `target` marks a wanted pointer ending here."""

    target: tuple[str, ...] | None = None


def _build_trie(pointers: Iterable[str]) -> _Trie:
    root = _Trie()
    for pointer in pointers:
        node = root
        parts = tuple(split_pointer(pointer))
        for part in parts:
            node = node.setdefault(part, _Trie())
        node.target = parts
    return root


def _nearest(pointers: Iterable[str], found: dict[tuple[str, ...], Position]) -> dict:
    result: dict[str, Position | None] = {}
    for pointer in pointers:
        parts = tuple(split_pointer(pointer))
        position = None
        for end in range(len(parts), -1, -1):
            position = found.get(parts[:end])
            if position is not None:
                break
        result[pointer] = position
    return result


# JSON ---------------------------------------------------------------------------------------


class _AllFound(Exception):
    pass


class _Offsets(dict):
    """path → offset of its key or item; with `remaining`, the walk stops once every wanted
    path has one (`_AllFound`)."""

    remaining: set[tuple[str, ...]] | None = None

    def __setitem__(self, path, offset):
        super().__setitem__(path, offset)
        if self.remaining is not None:
            self.remaining.discard(path)
            if not self.remaining:
                raise _AllFound


def locate_json(
    text: str,
    pointers: list[str],
    *,
    unique_keys: bool = False,
    root: dict[str, tuple[int, int]] | None = None,
) -> dict[str, Position | None]:
    """`unique_keys`: the text is known to repeat no key in an object (the parser checked),
    so the first occurrence of a key is the only one and the walk can stop as soon as every
    pointer is placed; otherwise it reads to the end, since the last occurrence wins. On a
    4 MB document that is the difference between the first few members and a whole parse.
    `root` (with `unique_keys`): where each member of the root object starts, key and value,
    as the parser found them; only the members a pointer is in are then walked (a Swagger
    document's `swagger` key is often the last of 1-4 MB)."""
    trie = _build_trie(pointers)
    offsets = _Offsets()
    decoder = json.JSONDecoder()
    start = _skip_ws(text, 0)
    offsets[()] = start
    if unique_keys:
        offsets.remaining = {tuple(split_pointer(p)) for p in pointers} - {()}
    try:
        if unique_keys and root is not None:
            for key, child in trie.items():
                if key in root:  # else a missing key: its parent's place, the root's
                    key_start, value_start = root[key]
                    offsets[(key,)] = key_start
                    if child:
                        _value(text, value_start, child, (key,), offsets, decoder)
        elif offsets.remaining is None or offsets.remaining:
            _walk_json(text, start, trie, (), offsets, decoder)
    except (ValueError, IndexError):  # not JSON after all: keep what was found
        pass
    except _AllFound:
        pass
    return _nearest(pointers, _to_positions(text, offsets))


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WS:
        index += 1
    return index


def _walk_json(text, index, trie, path, offsets, decoder) -> int:
    """Walk the value starting at `index` (no whitespace); return the index after it."""
    char = text[index]
    if char == "{":
        index = _skip_ws(text, index + 1)
        if text[index] == "}":
            return index + 1
        while True:
            key_start = index
            key, index = scanstring(text, index + 1)
            index = _skip_ws(text, index)
            index = _skip_ws(text, index + 1)  # past ':'
            child = trie.get(key)
            if child is not None:
                # The last occurrence wins, as in json.loads.
                offsets[(*path, key)] = key_start
                index = _value(text, index, child, (*path, key), offsets, decoder)
            else:
                index = decoder.raw_decode(text, index)[1]
            index = _skip_ws(text, index)
            if text[index] == "}":
                return index + 1
            index = _skip_ws(text, index + 1)  # past ','
    if char == "[":
        index = _skip_ws(text, index + 1)
        if text[index] == "]":
            return index + 1
        position = 0
        while True:
            child = trie.get(str(position))
            if child is not None:
                offsets[(*path, str(position))] = index
                index = _value(text, index, child, (*path, str(position)), offsets, decoder)
            else:
                index = decoder.raw_decode(text, index)[1]
            index = _skip_ws(text, index)
            if text[index] == "]":
                return index + 1
            index = _skip_ws(text, index + 1)
            position += 1
    return decoder.raw_decode(text, index)[1]


def _value(text, index, trie, path, offsets, decoder) -> int:
    if trie and text[index] in "{[":
        return _walk_json(text, index, trie, path, offsets, decoder)
    return decoder.raw_decode(text, index)[1]


def _to_positions(text: str, offsets: dict[tuple[str, ...], int]) -> dict:
    """Character offsets → (line, column), counting newlines once for all of them."""
    ordered = sorted(set(offsets.values()))
    line_of: dict[int, Position] = {}
    line, last, line_start = 1, 0, 0
    for offset in ordered:
        newlines = text.count("\n", last, offset)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", last, offset) + 1
        line_of[offset] = (line, offset - line_start + 1)
        last = offset
    return {path: line_of[offset] for path, offset in offsets.items()}


# YAML ---------------------------------------------------------------------------------------


def locate_yaml(text: str, pointers: list[str]) -> dict[str, Position | None]:

    trie = _build_trie(pointers)
    found: dict[tuple[str, ...], Position] = {}
    for loader_cls in (_CLoader, _PyLoader):
        if loader_cls is None:
            continue
        loader = loader_cls(text)
        try:
            _walk_yaml(loader, trie, found)
            break
        except yaml.YAMLError:
            continue  # libyaml may reject what the pure parser reads (see parse.py)
        finally:
            loader.dispose()
    found.setdefault((), (1, 1))
    return _nearest(pointers, found)


class _YFrame:
    __slots__ = ("is_map", "trie", "path", "key", "index")

    def __init__(self, is_map, trie, path):
        self.is_map = is_map
        self.trie = trie
        self.path = path
        self.key: str | None = None
        self.index = 0


def _key_text(loader_cls, event) -> str:
    """The key as the document has it (same resolution as parse.py: 200 → "200")."""
    value = event.value
    if event.tag is not None or not event.implicit[0]:
        return value
    for tag, regexp in loader_cls.yaml_implicit_resolvers.get(value[:1], ()):
        if regexp.match(value):

            construct = _CONSTRUCT.get(tag)
            if construct is None:
                return value
            return json.dumps(construct(yaml.ScalarNode(tag, value)))
    return value


def _walk_yaml(loader, trie: _Trie, found: dict) -> None:  # noqa: C901 - one event loop
    get = loader.get_event
    loader_cls = type(loader)
    stack: list[_YFrame] = []
    frame: _YFrame | None = None
    while True:
        event = get()
        cls = event.__class__
        if cls is StreamEndEvent:
            return
        if cls is MappingEndEvent or cls is SequenceEndEvent:
            frame = stack.pop() if stack else None
            if frame is not None:
                _advance(frame)
            continue
        is_node = cls in (ScalarEvent, MappingStartEvent, SequenceStartEvent, AliasEvent)
        if not is_node:
            continue
        if frame is None:
            path: tuple[str, ...] = ()
            child: _Trie | None = trie
        elif frame.is_map and frame.key is None:
            # A key: its position stands for the member.
            key = _key_text(loader_cls, event) if cls is ScalarEvent else "?"
            frame.key = key
            child = frame.trie.get(key) if frame.trie else None
            if child is not None:
                found[(*frame.path, key)] = (event.start_mark.line + 1, event.start_mark.column + 1)
            if cls is MappingStartEvent or cls is SequenceStartEvent:
                _skip(get)
            continue
        else:
            token = str(frame.key) if frame.is_map else str(frame.index)  # a key is set here
            path = (*frame.path, token)
            child = frame.trie.get(token) if frame.trie else None
            if child is not None and not frame.is_map:
                found[path] = (event.start_mark.line + 1, event.start_mark.column + 1)
        if cls is MappingStartEvent or cls is SequenceStartEvent:
            if child:  # something wanted inside
                if frame is not None:
                    stack.append(frame)
                frame = _YFrame(cls is MappingStartEvent, child, path)
                continue
            _skip(get)
        if frame is not None:
            _advance(frame)


def _advance(frame: _YFrame) -> None:
    if frame.is_map:
        frame.key = None
    else:
        frame.index += 1


def _skip(get) -> None:
    """Consume events up to the end of the container just opened."""
    depth = 1
    starts = (MappingStartEvent, SequenceStartEvent)
    ends = (MappingEndEvent, SequenceEndEvent)
    while depth:
        cls = get().__class__
        if cls in starts:
            depth += 1
        elif cls in ends:
            depth -= 1
