"""Re-check after a small edit (actions/openapi/memo.py): same verdict as a cold check.

The invariant: whatever the edit (a value changed, a line deleted, a key added, the syntax
broken, a control character or a lone surrogate typed), validating the edited text right
after the original gives exactly the verdict a cold `validate` of the edited text gives —
compared as `as_dict()`, plus the parsed document itself (key order included).
Edits are systematic and seeded: several hundred over the JSON examples and corpus documents
(with the size threshold lowered so small documents take the incremental path too) and a few
on a large corpus document at the real threshold. Chains of edits check that section spans
are carried forward correctly.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from actions import openapi
from actions.openapi import engine, memo
from actions.openapi.examples import EXAMPLES
from actions.openapi.parsing import parse
from actions.openapi.problems import SchemaParseError

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "openapi"
SMALL_JSON = [
    "readmeio-oas-examples__3.1-train-travel.json",
    "PagerDuty-api-schema__scim.json",
    "box-openapi__openapi-v2025.0.json",
    "OAI-OpenAPI-Specification__v3.0-api-with-examples.json",
]
LARGE_JSON = "twilio-oai__twilio_api_v2010.json"


def _mutate(text: str, rng: random.Random) -> str:
    """One small edit of the kinds a builder makes while typing (some break the JSON)."""
    kind = rng.randrange(9)
    position = rng.randrange(len(text))
    if kind == 0:  # change a string value: type inside the next string
        quote = text.find('": "', position)
        if quote < 0:
            return text + " "
        cut = quote + 4
        return text[:cut] + rng.choice(["Edited ", "x", "é", "{", "\\n"]) + text[cut:]
    if kind == 1:  # change a number or a boolean
        for old, new in (("true", "false"), ("false", "true"), ("0", "7"), ("1", "12")):
            found = text.find(old, position)
            if found >= 0:
                return text[:found] + new + text[found + len(old) :]
        return text
    if kind == 2:  # delete a line
        start = text.rfind("\n", 0, position) + 1
        end = text.find("\n", position)
        return text[:start] + (text[end + 1 :] if end >= 0 else "")
    if kind == 3:  # add a key to the next object
        brace = text.find("{", position)
        if brace < 0:
            return text
        key = rng.choice(['"x-added": 1, ', '"description": "dup", ', '"$ref": "#/nowhere", '])
        return text[: brace + 1] + key + text[brace + 1 :]
    if kind == 4:  # break the syntax: drop one structural character
        for index in range(position, len(text)):
            if text[index] in '{}[]:,"':
                return text[:index] + text[index + 1 :]
        return text
    if kind == 5:  # a character parsing refuses
        return text[:position] + rng.choice(["\x00", "\ud800", "\x7f"]) + text[position:]
    if kind == 6:  # whitespace only
        return text[:position] + rng.choice([" ", "\n", "\t"]) + text[position:]
    if kind == 7:  # replace a whole string value (e.g. an operationId or a $ref target)
        quote = text.find('": "', position)
        end = text.find('"', quote + 4) if quote >= 0 else -1
        if end < 0:
            return text
        return text[: quote + 4] + rng.choice(["", "a b", "#/components/x", "3.1.0"]) + text[end:]
    return text[:position] + text[position + rng.randrange(1, 40) :]  # delete a few characters


def _cold(text: str) -> tuple[dict, str | None]:
    """The cold verdict, and the parsed document as JSON text (None: unusable, or it has
    duplicate keys, which the incremental path never serves). The parse cache is switched
    off meanwhile and put back, so a chain of edits keeps its cached spans."""
    kept, threshold = memo._cache.entries.copy(), memo.MIN_CHARS
    try:
        openapi.clear_cache()
        memo.MIN_CHARS = 1 << 62  # nothing goes through memo.py: the plain cold check
        verdict = openapi.validate(text).as_dict()
        engine._cache.clear()
    finally:
        memo._cache.entries, memo.MIN_CHARS = kept, threshold
    try:
        parsed = parse(text)
    except SchemaParseError:
        return verdict, None
    return verdict, None if parsed.problems else json.dumps(parsed.document)


def _recheck(text: str) -> tuple[dict, str | None, bool]:
    """Validate `text` after whatever the parse cache holds (the editor's previous texts),
    the verdict cache cleared so it is really recomputed; say whether the incremental path
    served it, and what parse it served."""
    engine._cache.clear()
    cached = memo._cache.recent()
    incremental = bool(cached) and memo._edited(cached[0], text, 5 << 20) is not None
    verdict = openapi.validate(text).as_dict()
    parsed = memo.parse(text, 5 << 20)
    return verdict, (json.dumps(parsed.document) if parsed else None), incremental


def _check_chain(text: str, rng: random.Random, edits: int) -> int:
    """Successive edits of one document, validated one after the other as the editor does;
    every step compared with a cold check of the same text."""
    openapi.clear_cache()
    openapi.validate(text)
    served = 0
    for _ in range(edits):
        edited = _mutate(text, rng)
        verdict, document, incremental = _recheck(edited)
        cold_verdict, cold_document = _cold(edited)
        assert verdict == cold_verdict
        if document is not None:  # memo served a parse: it must be the cold parse
            assert document == cold_document
        assert not incremental or cold_document is not None
        served += incremental
        if cold_document is not None and rng.random() < 0.7:
            text = edited  # keep going from the edited text (spans must follow)
        else:
            _recheck(text)  # the builder undoes the edit
    return served


@pytest.fixture
def small_threshold(monkeypatch):
    monkeypatch.setattr(memo, "MIN_CHARS", 0)
    yield
    openapi.clear_cache()


@pytest.mark.parametrize("name", SMALL_JSON)
def test_recheck_equals_cold_check_on_corpus_documents(name, small_threshold):
    text = (CORPUS / name).read_text(encoding="utf-8")
    served = _check_chain(text, random.Random(name), 60)
    assert served >= 20  # the incremental path really ran (not only the cold fallback)


@pytest.mark.parametrize("key", [e["key"] for e in EXAMPLES if e["format"] == "json"])
def test_recheck_equals_cold_check_on_examples(key, small_threshold):
    text = next(e["schema"] for e in EXAMPLES if e["key"] == key)
    served = _check_chain(text, random.Random(key), 80)
    assert served >= 10


def test_recheck_of_a_large_document_at_the_real_threshold():
    text = (CORPUS / LARGE_JSON).read_text(encoding="utf-8")
    assert len(text) >= memo.MIN_CHARS
    served = _check_chain(text, random.Random(7), 6)
    assert served >= 2
    openapi.clear_cache()


def test_an_edit_in_one_operation_reports_exactly_what_a_cold_check_does(small_threshold):
    """A targeted edit with a visible effect: an operationId made invalid, then restored."""
    text = (CORPUS / SMALL_JSON[0]).read_text(encoding="utf-8")
    document = json.loads(text)
    operation_id = next(
        op["operationId"]
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    )
    broken = text.replace(f'"{operation_id}"', '"not valid!"', 1)
    openapi.clear_cache()
    openapi.validate(text)
    verdict, _, incremental = _recheck(broken)
    assert incremental
    assert "invalid_operation_id" in {p["code"] for p in verdict["errors"]}
    assert verdict == _cold(broken)[0]
    verdict, _, incremental = _recheck(text)
    assert incremental and verdict == _cold(text)[0]


def test_spans_follow_an_edit_that_changes_the_length(small_threshold):
    """Edit the first path item (longer), then the last one: the second edit is served
    incrementally only if the later spans were shifted by the first edit's length."""
    text = (CORPUS / SMALL_JSON[1]).read_text(encoding="utf-8")
    paths = list(json.loads(text)["paths"])
    first = text.index(json.dumps(paths[0])) + len(json.dumps(paths[0])) + 2
    edited = text[: first + 1] + '"x-note": "' + "n" * 50 + '", ' + text[first + 1 :]
    openapi.clear_cache()
    openapi.validate(text)
    verdict, _, incremental = _recheck(edited)
    assert incremental and verdict == _cold(edited)[0]
    last = edited.index(json.dumps(paths[-1])) + len(json.dumps(paths[-1])) + 2
    again = edited[: last + 1] + '"summary": "Edited", ' + edited[last + 1 :]
    verdict, _, incremental = _recheck(again)
    assert incremental and verdict == _cold(again)[0]


def test_a_broken_reference_typed_in_one_section_is_reported(small_threshold):
    text = (CORPUS / SMALL_JSON[1]).read_text(encoding="utf-8")
    path = list(json.loads(text)["paths"])[0]
    at = text.index(json.dumps(path)) + len(json.dumps(path)) + 3
    edited = text[:at] + '"parameters": [{"$ref": "#/components/parameters/Nope"}], ' + text[at:]
    openapi.clear_cache()
    openapi.validate(text)
    verdict, _, incremental = _recheck(edited)
    assert incremental
    assert "unresolved_ref" in {p["code"] for p in verdict["errors"]}
    assert verdict == _cold(edited)[0]


def test_nesting_typed_in_one_section_is_measured_in_the_whole_document(small_threshold):
    from actions.openapi.parsing import MAX_DEPTH

    text = (CORPUS / SMALL_JSON[1]).read_text(encoding="utf-8")
    path = list(json.loads(text)["paths"])[0]
    at = text.index(json.dumps(path)) + len(json.dumps(path)) + 3
    deep = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)  # too deep only below /paths/<p>
    edited = text[:at] + f'"x-deep": {deep}, ' + text[at:]
    openapi.clear_cache()
    openapi.validate(text)
    verdict, _, _ = _recheck(edited)
    assert [p["code"] for p in verdict["errors"]] == ["too_deep"]
    assert verdict == _cold(edited)[0]


def test_the_parse_cache_is_bounded_and_skips_small_documents():
    openapi.clear_cache()
    small = next(e["schema"] for e in EXAMPLES if e["key"] == "weather")
    openapi.validate(small)
    assert memo._cache.entries == {}  # under MIN_CHARS: nothing kept
    large = (CORPUS / LARGE_JSON).read_text(encoding="utf-8")
    for suffix in ("", " ", "  ", "   "):
        openapi.validate(large + suffix)
    assert len(memo._cache.entries) <= memo.ENTRIES
    openapi.clear_cache()
    assert memo._cache.entries == {}
