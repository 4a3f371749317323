"""The API's JSON bodies: the orjson way (api/base.py `_fast`) answers exactly as the exact way
(depth scan, then `json.loads`) does, or leaves the body to it."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ParseError

from api import base
from api.base import DepthLimitedJSONParser


def _outcome(raw: bytes, *, fast: bool, encoding: str = "utf-8"):
    parser = DepthLimitedJSONParser()
    original = base._fast
    if not fast:
        base._fast = lambda *args: base._SLOW
    try:
        return ("ok", parser.parse(io.BytesIO(raw), parser_context={"encoding": encoding}))
    except ParseError as exc:
        return ("refused", str(exc.detail))
    finally:
        base._fast = original


def _same(raw: bytes, encoding: str = "utf-8") -> None:
    fast = _outcome(raw, fast=True, encoding=encoding)
    exact = _outcome(raw, fast=False, encoding=encoding)
    # repr: NaN != NaN, and -0.0 == 0 would hide a difference in type or sign.
    assert repr(fast) == repr(exact), raw[:80]


EDGE_CASES = [
    b'{"schema": "openapi: 3.1.0"}',
    b'{"a": 1, "b": 2, "a": 3}',  # duplicate keys: the last one, in the first one's place
    b'{"n": 18446744073709551615, "m": -9223372036854775808}',
    b'{"n": 18446744073709551616}',  # beyond 64 bits: orjson would give a float
    b'{"n": -9223372036854775809}',
    b'{"x": 1.5, "y": 1e2, "z": -0.0, "w": 1e400}',
    b'{"x": NaN}',
    b"[Infinity]",
    b'"\\ud800"',  # a lone surrogate escape: json.loads keeps it, orjson refuses
    b'{"\\udfff": 1}',
    b'"\\ud83d\\ude00"',
    b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8: not UTF-8
    b'"\xff"',
    b"\xef\xbb\xbf{}",  # byte order mark
    b"",
    b"  \n[1]\r\n",
    b"[1]\x00",
    b'"a\x01"',
    b'"a\x7f"',
    b'"\\u0000"',
    b"01",
    b"[1,]",
    b"true",
    b"nul",
    b"[" * 100 + b"]" * 100,
    b"[" * 101 + b"]" * 101,  # one level too deep
    b'{"a":' * 101 + b"1" + b"}" * 101,
    b"[" * 1_100 + b"]" * 1_100,  # deeper than orjson's own limit
    b"[" * 100_000,
    b'{"schema": "' + b"[" * 5_000 + b'"}',  # brackets in strings do not count
]


@pytest.mark.parametrize("raw", EDGE_CASES)
def test_fast_and_exact_parses_agree(raw):
    _same(raw)


def test_other_charsets_take_the_exact_way():
    raw = '{"name": "caf\u00e9"}'.encode("latin-1")
    assert base._fast(raw, "latin-1", 100) is base._SLOW
    _same(raw, encoding="latin-1")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_fast_and_exact_parses_agree_on_any_json(value):
    _same(json.dumps(value).encode("utf-8"))
    _same(json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_fast_and_exact_parses_agree_on_any_bytes(raw):
    _same(raw)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"[", b"]", b"{", b"}", b'"a":', b"1", b",", b'"', b" "])))
def test_fast_and_exact_parses_agree_on_bracket_soup(parts):
    _same(b"".join(parts))
