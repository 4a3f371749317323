"""parse(): JSON first, then YAML, and the limits an upload from anyone needs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from actions.openapi import SchemaParseError, format_schema, parse
from actions.openapi.parsing import MAX_DEPTH

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"


def _codes(text, **kwargs) -> list[str]:
    with pytest.raises(SchemaParseError) as caught:
        parse(text, **kwargs)
    return [problem.code for problem in caught.value.problems]


def test_json_and_yaml_are_told_apart():
    assert parse('{"openapi": "3.1.0"}').format == "json"
    assert parse("openapi: 3.1.0\n").format == "yaml"
    assert parse("{openapi: 3.1.0}").format == "yaml"  # a YAML flow mapping, not JSON


def test_broken_json_is_reported_with_the_json_error_and_position():
    with pytest.raises(SchemaParseError) as caught:
        parse('{\n  "openapi": "3.1.0",\n  "info": }\n')
    problem = caught.value.problems[0]
    assert problem.code == "parse_error"
    assert problem.message.startswith("The JSON can not be read")
    assert (problem.line, problem.column) == (3, 11)


def test_broken_yaml_is_reported_with_position():
    with pytest.raises(SchemaParseError) as caught:
        parse("openapi: 3.1.0\ninfo:\n  title: [unclosed\n")
    problem = caught.value.problems[0]
    assert problem.message.startswith("The YAML can not be read")
    assert problem.line is not None and problem.line >= 3


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("   \n# only a comment\n", "empty"),
        ("- a\n- b\n", "not_mapping"),
        ('"just text"', "not_mapping"),
        ("openapi: 3.1.0\x00", "binary"),
        ("a: 1\n---\nb: 2\n", "parse_error"),
        ('{"openapi": "3.1.0", "info": }', "parse_error"),
        ('{"a": NaN}', "parse_error"),
        ('{"a": 1e999}', "parse_error"),
        ("a: .inf\n", "parse_error"),
        ("a: !!binary aGVsbG8=\n", "parse_error"),
        ("a: !custom x\n", "parse_error"),
        ("? [a, b]\n: c\n", "parse_error"),
    ],
)
def test_refused_texts(text, code):
    assert _codes(text) == [code]


def test_size_cap_default_comes_from_settings(settings):
    settings.SCHEMA_MAX_BYTES = 100
    assert _codes("openapi: 3.1.0\n" + "#" * 200) == ["too_large"]
    assert parse("openapi: 3.1.0\n" + "#" * 50).document == {"openapi": "3.1.0"}
    # Counted in UTF-8 bytes, not characters.
    assert _codes("a: " + "é" * 60) == ["too_large"]
    assert _codes(b"a: 1\n" + b"#" * 200, max_bytes=50) == ["too_large"]


def test_bytes_must_be_utf8():
    assert parse("title: café".encode()).document == {"title": "café"}
    with pytest.raises(SchemaParseError) as caught:
        parse(b"a: 1\nb: \xff\xfe\n")
    assert caught.value.problems[0].code == "not_utf8"
    assert caught.value.problems[0].line == 2
    assert parse(b"\xef\xbb\xbfa: 1").document == {"a": 1}  # a UTF-8 byte order mark is fine


def _nested_json(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


def _nested_yaml(depth: int) -> str:
    return "".join("  " * i + "a:\n" for i in range(depth)) + "  " * depth + "b: 1\n"


def test_depth_cap():
    assert parse(_nested_json(MAX_DEPTH)).document
    assert _codes(_nested_json(MAX_DEPTH + 1)) == ["too_deep"]
    assert _codes(_nested_json(100_000)) == ["too_deep"]  # no RecursionError escapes
    assert parse(_nested_yaml(MAX_DEPTH - 1)).document
    assert _codes(_nested_yaml(MAX_DEPTH + 1)) == ["too_deep"]
    assert _codes("[" * 10_000 + "]" * 10_000) == ["too_deep"]


def test_billion_laughs_is_refused_fast_before_expansion():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join([f"*{previous}"] * 9) + "]")
    bomb = "\n".join(lines) + "\n"
    started = time.perf_counter()
    assert _codes(bomb) == ["yaml_alias"]
    assert time.perf_counter() - started < 0.5


def test_a_few_aliases_are_fine_and_recursive_ones_are_not():
    parsed = parse("x: &p {name: id, in: query}\ny: *p\nz: [*p, *p]\n")
    assert parsed.document["y"] == {"name": "id", "in": "query"}
    assert _codes("a: &a [*a]\n") == ["yaml_alias"]
    assert _codes("a: &a {b: *a}\n") == ["yaml_alias"]
    assert _codes("a: *nowhere\n") == ["parse_error"]


def test_yaml_merge_keys_follow_yaml_1_1():
    text = "base: &b {x: 1, y: 2}\nitem:\n  <<: *b\n  y: 3\nplain: '<<'\n"
    document = parse(text).document
    assert document["item"] == {"x": 1, "y": 3}
    assert document["plain"] == "<<"
    assert _codes("a: {<<: 1}\n") == ["parse_error"]


def test_yaml_values_are_json_values():
    document = parse(
        "date: 2024-01-02\nstamp: 2001-12-14t21:59:43.10-05:00\nyes: yes\n200: ok\n"
        "1.5: f\nnull: n\ntrue: t\noctal: 012\nhex: 0x1F\nbig: 1_000\nequals: =\n"
    ).document
    assert document == {
        "date": "2024-01-02",  # timestamps stay text (osv's reader does the same)
        "stamp": "2001-12-14t21:59:43.10-05:00",
        "true": "t",  # `yes:` is the boolean true in YAML 1.1; as a key it becomes "true"
        "200": "ok",
        "1.5": "f",
        "null": "n",
        "octal": 10,
        "hex": 31,
        "big": 1000,
        "equals": "=",
    }
    json.dumps(document)


def test_surrogate_pair_escapes_are_read_even_where_libyaml_refuses_them():
    # libyaml rejects the valid escape "\ud83d\udc4d" (see VALIDATOR_BASELINE.md, Twilio).
    assert parse('{"thumb": "\\ud83d\\udc4d"}').document == {"thumb": "\U0001f44d"}
    assert parse('thumb: "\\ud83d\\udc4d"\n').document == {"thumb": "\U0001f44d"}


def test_duplicate_keys_are_reported_with_their_place():
    parsed = parse('{\n  "a": 1,\n  "b": {"c": 1, "c": 2},\n  "a": 3\n}')
    assert parsed.document == {"a": 3, "b": {"c": 2}}
    found = {(p.pointer, p.code) for p in parsed.problems}
    assert found == {("/a", "duplicate_key"), ("/b/c", "duplicate_key")}
    parsed.place(parsed.problems)
    assert {p.pointer: p.line for p in parsed.problems} == {"/a": 4, "/b/c": 3}

    parsed = parse("a: 1\nlist:\n  - x: 1\n    x: 2\na: 3\n")
    assert {(p.pointer, p.line, p.column) for p in parsed.problems} == {
        ("/list/0/x", 4, 5),
        ("/a", 5, 1),
    }


YAML_TEXT = """\
openapi: 3.1.0
info:
  title: T
paths:
  /pets/{id}:
    get:
      parameters:
        - name: id
          in: path
      responses:
        '200':
          description: ok
"""


@pytest.mark.parametrize("as_json", [False, True])
def test_pointers_are_placed_at_line_and_column(as_json):
    text = json.dumps(yaml.safe_load(YAML_TEXT), indent=2) if as_json else YAML_TEXT
    parsed = parse(text)
    found = parsed.locate(
        [
            "",
            "/info/title",
            "/paths/~1pets~1{id}/get",
            "/paths/~1pets~1{id}/get/parameters/0/in",
            "/paths/~1pets~1{id}/get/responses/200/description",
            "/info/missing",
        ]
    )
    lines = {pointer: position[0] for pointer, position in found.items()}
    if as_json:
        assert lines["/info/title"] == 4
        assert lines["/paths/~1pets~1{id}/get/parameters/0/in"] == 12
        assert lines["/info/missing"] == 3  # a missing key: where its parent is
    else:
        assert found["/info/title"] == (3, 3)
        assert found["/paths/~1pets~1{id}/get"] == (6, 5)
        assert found["/paths/~1pets~1{id}/get/parameters/0/in"] == (9, 11)
        assert found["/paths/~1pets~1{id}/get/responses/200/description"] == (12, 11)
        assert found["/info/missing"] == (2, 1)
        assert found[""] == (1, 1)


def test_yaml_positions_behind_aliases_and_merges_fall_back_to_the_text():
    text = "defs:\n  p: &p {name: a, in: query}\nuse:\n  <<: *p\n  extra: 1\nref: *p\n"
    found = parse(text).locate(["/use/name", "/use/extra", "/ref/name"])
    assert found["/use/extra"] == (5, 3)
    assert found["/use/name"] == (3, 1)  # merged in: placed at the mapping that merges it
    assert found["/ref/name"] == (2, 10)  # behind an alias: placed in the anchored original


def _corpus_yaml(limit: int):
    for path in sorted((CORPUS / "openapi").iterdir()) + sorted(
        (CORPUS / "openapi-invalid").iterdir()
    ):
        if path.suffix in (".yaml", ".yml") and path.stat().st_size < limit:
            yield path


class _ReferenceLoader(yaml.CSafeLoader):
    """What osv's own reader does: CSafeLoader without timestamps (+ a JSON round trip)."""


_ReferenceLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


@pytest.mark.parametrize("path", list(_corpus_yaml(1_000_000)), ids=lambda p: p.name)
def test_the_fast_yaml_builder_reads_exactly_what_pyyaml_reads(path):
    text = path.read_text(encoding="utf-8")
    # Every corpus document is JSON-compatible (OpenAPI is a JSON data model).
    expected = json.loads(json.dumps(yaml.load(text, Loader=_ReferenceLoader)))
    assert parse(text).document == expected


def test_format_schema_keeps_order_and_format():
    expected_json = '{\n  "b": 1,\n  "a": {\n    "c": "é"\n  }\n}\n'
    assert format_schema('{"b": 1, "a": {"c": "é"}}') == expected_json
    expected_yaml = "b: 1\na:\n  c: é\n  d:\n  - 1\n  - 2\n"
    assert format_schema("b: 1\na: {c: é, d: [1, 2]}\n") == expected_yaml
    with pytest.raises(SchemaParseError):
        format_schema("{")
