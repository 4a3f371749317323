"""Mechanical fixes for warnings: text edits the editor applies with one click.

A warning that can be fixed without a decision (remove a field that does nothing, move `enum`
into the parameter's schema, drop the earlier of two duplicate keys) carries a *plan* from the
check that found it; `materialize` turns the plans of the reported warnings into edits of the
text — never a re-serialised document, which would lose the builder's comments and layout.

An edit is `{"start", "end", "text"}`: replace the text between two offsets. Offsets count
UTF-16 code units, as a browser's textarea does, so the editor applies them as they are; the
Python side (`apply_fix`, the tests) converts back. Edits of one fix never overlap and are
applied from the last to the first.

Plans:
* `("remove", pointer)` — remove the member at `pointer` (every occurrence but the last one
  when `last_wins`, i.e. a duplicate key);
* `("move", pointer, target)` — remove the member and add it to the mapping at `target`
  (or, when `target` does not exist, add `target`'s key to its parent holding the member).
"""

from __future__ import annotations

import json
import re
from typing import Any

from actions.openapi.problems import escape_pointer_part, split_pointer
from actions.openapi.spans import MappingSpan, Member, mappings

_PLAIN_KEY = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _parent(pointer: str) -> tuple[str, str]:
    parts = split_pointer(pointer)
    return "".join("/" + escape_pointer_part(p) for p in parts[:-1]), parts[-1]


def _lookup(document: Any, pointer: str) -> Any:
    node = document
    for token in split_pointer(pointer):
        if isinstance(node, dict):
            node = node[token]
        else:
            node = node[int(token)]
    return node


def _member_text(fmt: str, key: str, value: Any) -> str:
    rendered = json.dumps(value, ensure_ascii=False)
    if fmt == "json":
        return f"{json.dumps(key, ensure_ascii=False)}: {rendered}"
    shown = key if _PLAIN_KEY.match(key) else json.dumps(key, ensure_ascii=False)
    return f"{shown}: {rendered}"


def _removal(span: MappingSpan, index: int) -> tuple[int, int, str]:
    members = span.members
    member = members[index]
    if index + 1 < len(members):
        return member.key_start, members[index + 1].key_start, ""
    if index > 0:
        return members[index - 1].value_end, member.value_end, ""
    return member.key_start, member.value_end, "{}" if not span.flow else ""


def _insertion(text: str, fmt: str, span: MappingSpan, member_text: str) -> tuple[int, int, str]:
    if span.flow:
        if not span.members:
            return span.open_end, span.open_end, member_text
        first = span.members[0].key_start
        line_start = text.rfind("\n", 0, first) + 1
        indent = text[line_start:first]
        if line_start > span.open_end - 1 and not indent.strip():
            return first, first, f"{member_text},\n{indent}"
        return first, first, f"{member_text}, "
    if not span.members:
        return span.open_end, span.open_end, member_text
    first = span.members[0].key_start
    return first, first, f"{member_text}\n{' ' * span.column}"


def _edits(text: str, fmt: str, document: Any, plan: tuple) -> list[tuple[int, int, str]] | None:
    kind = plan[0]
    pointer = plan[1]
    parent, key = _parent(pointer)
    wanted = [parent]
    if kind == "move":
        wanted.append(plan[2])
    spans = mappings(text, fmt, wanted)
    span = spans.get(parent)
    if span is None:
        return None
    indexes = [i for i, m in enumerate(span.members) if m.key == key]
    if not indexes:
        return None
    if kind == "remove":
        drop = indexes[:-1] if plan[2:] == ("last_wins",) else indexes[-1:]
        # Several removals in one mapping: remove from the last, each against the original.
        return [_removal(span, i) for i in drop]
    if kind == "move":
        try:
            value = _lookup(document, pointer)
        except (KeyError, IndexError, ValueError, TypeError):
            return None
        edits = [_removal(span, indexes[-1])]
        target = spans.get(plan[2])
        if target is not None:
            edits.append(_insertion(text, fmt, target, _member_text(fmt, key, value)))
        else:
            target_parent, target_key = _parent(plan[2])
            if target_parent != parent:
                return None
            edits.append(_insertion(text, fmt, span, _member_text(fmt, target_key, {key: value})))
        return edits
    return None


def _overlap(edits: list[tuple[int, int, str]]) -> bool:
    ordered = sorted(edits)
    return any(a[1] > b[0] for a, b in zip(ordered, ordered[1:], strict=False))


def materialize(text: str, fmt: str, document: Any, problems: list) -> None:
    """Give each problem that has a fix plan its `fix` (label and edits), when it can be
    computed on this text (a plan through an alias or a merge key can not: no fix)."""
    astral = _ASTRAL.search(text) is not None
    for problem in problems:
        plan = getattr(problem, "fix_plan", None)
        if not plan:
            continue
        label, plan = plan[0], plan[1:]
        try:
            edits = _edits(text, fmt, document, plan)
        except (ValueError, IndexError, KeyError, TypeError):
            edits = None
        if not edits or _overlap(edits):
            continue
        edits.sort(reverse=True)
        problem.fix = {
            "label": label,
            "edits": [
                {
                    "start": _utf16(text, start, astral),
                    "end": _utf16(text, end, astral),
                    "text": new,
                }
                for start, end, new in edits
            ],
        }


def _utf16(text: str, offset: int, astral: bool) -> int:
    if not astral:
        return offset
    return offset + len(_ASTRAL.findall(text, 0, offset))


def _from_utf16(text: str, offset: int) -> int:
    units = 0
    for index, char in enumerate(text):
        if units >= offset:
            return index
        units += 2 if ord(char) > 0xFFFF else 1
    return len(text)


def apply_fix(text: str, fix: dict) -> str:
    """The text with a fix's edits applied (what the editor does, for tests and the API)."""
    astral = _ASTRAL.search(text) is not None
    for edit in sorted(fix["edits"], key=lambda e: e["start"], reverse=True):
        start, end = edit["start"], edit["end"]
        if astral:
            start, end = _from_utf16(text, start), _from_utf16(text, end)
        text = text[:start] + edit["text"] + text[end:]
    return text


__all__ = ["Member", "apply_fix", "materialize"]
