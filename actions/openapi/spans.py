"""Where a mapping's members are in the text, so a fix can edit the text and keep the rest.

A fix (fixes.py) removes a member or inserts one; rewriting the whole document from the parsed
data would lose YAML comments, key order, quoting and the builder's layout. So both finders
report, for each wanted mapping, its members in text order — duplicates included — with the
character offsets of each key and of the end of its value, and whether the mapping is written
inline (`{...}`, every JSON object) or as a YAML block.

JSON: a walk over the objects on the wanted paths, skipping everything else with the C decoder
(as locate.py does). YAML: libyaml's events, whose marks carry character offsets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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

from actions.openapi.loaders import CLoader as _CLoader
from actions.openapi.loaders import PyLoader as _PyLoader
from actions.openapi.locate import _key_text
from actions.openapi.problems import split_pointer

_WS = " \t\n\r"


@dataclass
class Member:
    key: str
    key_start: int
    value_start: int
    value_end: int  # just after the value's last character


@dataclass
class MappingSpan:
    flow: bool  # `{...}` (JSON, or a YAML flow mapping)
    open_end: int  # flow: just after `{`; block: where the first key starts
    close_start: int  # flow: at `}`; block: just after the last value
    column: int  # block: the column (0-based) of the keys
    members: list[Member] = field(default_factory=list)


def mappings(text: str, format: str, pointers: list[str]) -> dict[str, MappingSpan]:
    """The spans of the mappings at `pointers` (missing or not mappings: left out)."""
    wanted = {tuple(split_pointer(p)): p for p in pointers}
    prefixes = {parts[:end] for parts in wanted for end in range(len(parts) + 1)}
    found: dict[tuple[str, ...], MappingSpan] = {}
    try:
        if format == "json":
            _JsonWalk(text, prefixes, wanted, found).run()
        else:
            _yaml_walk(text, prefixes, wanted, found)
    except (ValueError, IndexError, yaml.YAMLError):
        pass  # keep what was found
    return {wanted[parts]: span for parts, span in found.items()}


# JSON ---------------------------------------------------------------------------------------


class _JsonWalk:
    def __init__(self, text, prefixes, wanted, found):
        self.text = text
        self.prefixes = prefixes
        self.wanted = wanted
        self.found = found
        self.decoder = json.JSONDecoder()

    def skip_ws(self, index: int) -> int:
        text = self.text
        while index < len(text) and text[index] in _WS:
            index += 1
        return index

    def run(self) -> None:
        self.value(self.skip_ws(0), ())

    def value(self, index: int, path: tuple) -> int:
        char = self.text[index]
        if path in self.prefixes and char == "{":
            return self.obj(index, path)
        if path in self.prefixes and char == "[":
            return self.array(index, path)
        return self.decoder.raw_decode(self.text, index)[1]

    def obj(self, index: int, path: tuple) -> int:
        text = self.text
        span = MappingSpan(True, index + 1, index + 1, 0)
        index = self.skip_ws(index + 1)
        if text[index] != "}":
            while True:
                key_start = index
                key, index = scanstring(text, index + 1)
                index = self.skip_ws(self.skip_ws(index) + 1)
                value_start = index
                index = self.value(index, (*path, key))
                span.members.append(Member(key, key_start, value_start, index))
                index = self.skip_ws(index)
                if text[index] == "}":
                    break
                index = self.skip_ws(index + 1)
        span.close_start = index
        if path in self.wanted:
            self.found[path] = span
        return index + 1

    def array(self, index: int, path: tuple) -> int:
        text = self.text
        index = self.skip_ws(index + 1)
        if text[index] == "]":
            return index + 1
        position = 0
        while True:
            index = self.value(index, (*path, str(position)))
            index = self.skip_ws(index)
            if text[index] == "]":
                return index + 1
            index = self.skip_ws(index + 1)
            position += 1


# YAML ---------------------------------------------------------------------------------------


def _yaml_walk(text, prefixes, wanted, found) -> None:

    loader_cls: type = _CLoader if _CLoader is not None else _PyLoader
    loader = loader_cls(text)
    try:
        _walk(loader, _key_text, prefixes, wanted, found)
    finally:
        loader.dispose()


class _Frame:
    __slots__ = ("is_map", "path", "flow", "span", "key", "key_start", "value_start", "index")

    def __init__(self, is_map, path, flow, span):
        self.is_map = is_map
        self.path = path
        self.flow = flow
        self.span = span
        self.key = None
        self.key_start = 0
        self.value_start = 0
        self.index = 0


def _walk(loader, key_text, prefixes, wanted, found) -> None:  # noqa: C901 - one event loop
    get = loader.get_event
    stack: list[_Frame] = []
    last_end = 0  # end offset of the last thing written (scalar, alias, flow collection)

    def child_path(frame: _Frame | None):
        if frame is None:
            return ()
        return (*frame.path, frame.key if frame.is_map else str(frame.index))

    def close_value(frame: _Frame) -> None:
        if frame.is_map:
            if frame.span is not None:
                frame.span.members.append(
                    Member(str(frame.key), frame.key_start, frame.value_start, last_end)
                )
            frame.key = None
        else:
            frame.index += 1

    while True:
        event = get()
        cls = event.__class__
        if cls is StreamEndEvent:
            return
        frame = stack[-1] if stack else None
        if cls is MappingEndEvent or cls is SequenceEndEvent:
            done = stack.pop()
            if done.flow:
                last_end = event.end_mark.index
            if done.span is not None:
                done.span.close_start = event.start_mark.index if done.flow else last_end
                if done.path in wanted:
                    found[done.path] = done.span
            if stack:
                close_value(stack[-1])
            continue
        if cls not in (ScalarEvent, MappingStartEvent, SequenceStartEvent, AliasEvent):
            continue
        if frame is not None and frame.is_map and frame.key is None:
            # a key
            frame.key = key_text(type(loader), event) if cls is ScalarEvent else "?"
            frame.key_start = event.start_mark.index
            if frame.span is not None and not frame.span.members and not frame.flow:
                frame.span.open_end = event.start_mark.index
                frame.span.column = event.start_mark.column
            if cls in (MappingStartEvent, SequenceStartEvent):
                _skip(get)
            continue
        if frame is not None and frame.is_map:
            frame.value_start = event.start_mark.index
        path = child_path(frame)
        if cls is MappingStartEvent or cls is SequenceStartEvent:
            flow = bool(event.flow_style)
            span = None
            if cls is MappingStartEvent and path in wanted:
                start = event.end_mark.index if flow else event.start_mark.index
                span = MappingSpan(flow, start, start, event.start_mark.column)
            if path in prefixes:
                stack.append(_Frame(cls is MappingStartEvent, path, flow, span))
                continue
            last_end = _skip(get, flow, last_end)
        else:
            last_end = event.end_mark.index
        if frame is not None:
            close_value(frame)


def _skip(get, flow: bool = True, last_end: int = 0) -> int:
    """Consume the container just opened; return where its last written thing ends."""
    depth = 1
    flows = [flow]
    while depth:
        event = get()
        cls = event.__class__
        if cls is MappingStartEvent or cls is SequenceStartEvent:
            depth += 1
            flows.append(bool(event.flow_style))
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            depth -= 1
            if flows.pop():
                last_end = event.end_mark.index
        elif cls is ScalarEvent or cls is AliasEvent:
            last_end = event.end_mark.index
    return last_end
