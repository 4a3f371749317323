"""The schema engine's C-speed shortcuts give what the plain ways they replace give.

* text checks (parsing.decode_sized): control characters found through the UTF-8 bytes,
  emptiness through `str.isspace`, the size from the encoding the engine already has;
* positions (locate_json with `unique_keys`): stopping once every pointer is placed, and
  walking only the root members the pointers are in (memo.py's skeleton says where they are),
  also after an edit moved them;
* the surrogate check of the API's text fields: UTF-8 encoding instead of an expression;
* positions of YAML problems from the start marks the builder keeps, as the text walk finds;
* reference chains followed by `LocalResolver.deref` with its inline test for a reference;
* and, end to end, the first verdict of each big corpus document with the shortcuts off.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from actions.openapi import engine, memo, parsing
from actions.openapi.locate import locate_json, locate_yaml
from actions.openapi.problems import SchemaParseError, escape_pointer_part
from actions.openapi.refs import LocalResolver, RefError
from api.serializers import StrictCharField

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "openapi"
BIG = sorted(
    (p for p in CORPUS.iterdir() if 1_000_000 <= p.stat().st_size <= 5_000_000),
    key=lambda p: p.stat().st_size,
)
BIG_JSON = [p for p in BIG if p.read_text(encoding="utf-8").lstrip().startswith("{")]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _plain_decode(text: str, max_bytes: int):
    """decode() as it was: regular expression, strip(), its own encoding."""
    if len(text) > max_bytes:
        return "too_large"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return "not_utf8"
    if size > max_bytes:
        return "too_large"
    if text.startswith("\ufeff"):
        text = text[1:]
        size -= 3
    control = _CONTROL.search(text)
    if control:
        return ("binary", parsing._position(text, control.start()))
    if not text.strip():
        return "empty"
    return (text, size)


def _decode(text: str, max_bytes: int, with_utf8: bool):
    try:
        utf8 = text.encode("utf-8") if with_utf8 else None
    except UnicodeEncodeError:
        utf8 = None
    try:
        return parsing.decode_sized(text, max_bytes, utf8=utf8)
    except SchemaParseError as exc:
        problem = exc.problems[0]
        if problem.code == "binary":
            return ("binary", (problem.line, problem.column))
        return problem.code


TEXT = st.text(
    st.sampled_from(
        ["a", " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u3000", "\x00", "\x1f"]
        + ["\x7f", "\x80", "é", "\ufeff", "\u2028", "😀", "\ud800", "{", ":"]
    ),
    max_size=30,
)


@settings(max_examples=500, deadline=None)
@given(TEXT, st.booleans(), st.integers(min_value=0, max_value=40))
def test_text_checks_agree_with_the_plain_ones(text, with_utf8, max_bytes):
    assert _decode(text, max_bytes, with_utf8) == _plain_decode(text, max_bytes)


def test_every_control_byte_is_told_apart():
    for code in range(256):
        text = f"openapi: 3.1.0 {chr(code)}"
        assert _decode(text, 100, True) == _plain_decode(text, 100), code


def _pointers(document: dict) -> list[str]:
    """Pointers all over the document: every path item and operation, each operation's first
    keys, some that do not exist, and the server URL the engine always places."""
    pointers = ["/servers/0/url", "/info/title", "/nowhere", "/paths/~1nowhere/get"]
    for url, item in (document.get("paths") or {}).items():
        base = f"/paths/{escape_pointer_part(url)}"
        pointers.append(base)
        if isinstance(item, dict):
            for method, operation in item.items():
                pointers.append(f"{base}/{method}/operationId")
                if isinstance(operation, dict):
                    pointers += [f"{base}/{method}/{escape_pointer_part(k)}" for k in operation]
                    pointers.append(f"{base}/{method}/responses/999/missing")
    for name in (document.get("components") or {}).get("schemas") or {}:
        pointers.append(f"/components/schemas/{escape_pointer_part(name)}/type")
    return pointers


@pytest.mark.parametrize("path", BIG_JSON, ids=lambda p: p.name)
def test_positions_with_unique_keys_are_those_of_the_whole_walk(path):
    text = path.read_text(encoding="utf-8")
    parsed = parsing.parse(text)
    assert parsed.unique_keys
    pointers = _pointers(parsed.document)
    for chosen in (pointers, pointers[:1], pointers[-3:], pointers[::7]):
        assert locate_json(text, chosen, unique_keys=True) == locate_json(text, chosen)


@pytest.mark.parametrize("path", BIG_JSON, ids=lambda p: p.name)
def test_positions_from_the_skeleton_are_those_of_the_whole_walk(path):
    text = path.read_text(encoding="utf-8")
    memo.clear()
    parsed = memo.parse(text, parsing.DEFAULT_MAX_BYTES)
    assert parsed is not None and parsed.root_members
    pointers = _pointers(parsed.document) + [f"/{escape_pointer_part(k)}" for k in parsed.document]
    assert parsed.locate(pointers) == locate_json(text, pointers)
    # An edit of the first description (in `info`, near the top) moves what follows it; the
    # next parse is incremental.
    first = text.index('"description": "') + len('"description": "')
    edited = text[:first] + "Edited. " + text[first:]
    reparsed = memo.parse(edited, parsing.DEFAULT_MAX_BYTES)
    memo.clear()
    assert reparsed is not None and reparsed.root_members != parsed.root_members
    assert reparsed.locate(pointers) == locate_json(edited, pointers)


def test_keys_are_unique_only_when_the_parser_says_so():
    assert parsing.parse('{"openapi": "3.1.0", "info": {}}').unique_keys
    repeated = parsing.parse('{"openapi": "3.1.0", "info": {"a": 1, "a": 2}}')
    assert not repeated.unique_keys
    assert [p.code for p in repeated.problems] == ["duplicate_key"]
    assert not parsing.parse("openapi: 3.1.0\n").unique_keys  # YAML: marks, not this walk


@pytest.mark.parametrize("path", BIG, ids=lambda p: p.name)
def test_big_documents_get_the_verdict_of_the_plain_ways(path, monkeypatch):
    text = path.read_text(encoding="utf-8")
    engine.clear_cache()
    fast = engine.validate(text).as_dict()

    def plain_decode_sized(text, max_bytes, *, utf8=None):
        outcome = _plain_decode(text, max_bytes)
        assert isinstance(outcome, tuple) and isinstance(outcome[0], str), outcome
        return outcome

    monkeypatch.setattr(parsing, "decode_sized", plain_decode_sized)
    monkeypatch.setattr(
        parsing,
        "locate_json",
        lambda text, pointers, *, unique_keys=False, root=None: locate_json(text, pointers),
    )
    engine.clear_cache()
    plain = engine.validate(text).as_dict()
    engine.clear_cache()
    assert fast == plain


@pytest.mark.parametrize(
    "text",
    ["plain ascii", "café", "😀 and ✓", "caf\u00e9 \ud800", "\udfff", "😀\udc00", "a\x00b"],
)
def test_the_api_surrogate_check_refuses_exactly_what_the_expression_finds(text):
    field = StrictCharField(allow_nul=True)
    found = re.search("[\ud800-\udfff]", text)
    if found is None:
        assert field.run_validation(text) == text
        return
    with pytest.raises(ValidationError) as caught:
        field.run_validation(text)
    assert f"U+{ord(found.group()):X}" in str(caught.value.detail)


BIG_YAML = [p for p in BIG if p not in BIG_JSON]


@pytest.mark.parametrize("path", BIG_YAML, ids=lambda p: p.name)
def test_positions_from_the_yaml_marks_are_those_of_the_text_walk(path):
    # The builder keeps each key's and item's start mark (not a number packed from it).
    text = path.read_text(encoding="utf-8")
    parsed = parsing.parse(text)
    assert parsed.marks
    pointers = _pointers(parsed.document)[::3] + [
        f"/{escape_pointer_part(k)}" for k in parsed.document
    ]
    assert parsed.locate(pointers) == locate_yaml(text, pointers)


def test_yaml_marks_place_keys_items_and_a_repeated_key():
    text = "openapi: 3.1.0\nlist:\n  - a\n  -   b\nmap:\n  k: 1\n  k: 2\n  'q': {x: [1, 2]}\n"
    parsed = parsing.parse(text)
    pointers = ["/openapi", "/list/0", "/list/1", "/map/k", "/map/q/x/1", "/map/nowhere"]
    assert parsed.locate(pointers) == locate_yaml(text, pointers)
    assert parsed.locate(["/list/1", "/map/k"]) == {"/list/1": (4, 7), "/map/k": (7, 3)}


def test_deref_follows_chains_and_refuses_loops_as_before():
    document = {
        "a": {"$ref": "#/b"},
        "b": {"$ref": "#/c", "description": "siblings are ignored"},
        "c": {"type": "string"},
        "self": {"$ref": "#/self"},
        "x": {"$ref": "#/y"},
        "y": {"$ref": "#/x"},
        "n": {"$ref": 5},
        "to_list": {"$ref": "#/list"},
        "list": [1],
    }
    resolver = LocalResolver(document)
    assert resolver.deref(document["a"], "/a") == ({"type": "string"}, "/c")
    assert resolver.deref(document["n"], "/n") == (document["n"], "/n")  # not a string
    assert resolver.deref([1], "/list") == ([1], "/list")
    assert resolver.deref("text", "/t") == ("text", "/t")
    assert resolver.deref(document["to_list"], "/to_list") == ([1], "/list")
    for name in ("self", "x"):
        with pytest.raises(RefError) as caught:
            resolver.deref(document[name], f"/{name}")
        assert caught.value.code == "ref_cycle"
    with pytest.raises(RefError) as caught:
        resolver.deref({"$ref": "#/nowhere"}, "/z")
    assert caught.value.code == "unresolved_ref"
