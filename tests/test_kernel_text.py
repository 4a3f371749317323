"""kernel.text.utf8: the same bytes as `encode`, the last large one reused by identity only."""

from __future__ import annotations

import pytest

from kernel import text


def test_same_bytes_as_encode_and_reused_for_the_same_object():
    large = "é" * text.MIN_CHARS
    first = text.utf8(large)
    assert first == large.encode("utf-8")
    assert text.utf8(large) is first


def test_an_equal_but_other_text_is_encoded_afresh():
    large = "ü" * text.MIN_CHARS
    kept = text.utf8(large)
    other = "".join(["ü" * (text.MIN_CHARS - 1), "ü"])  # equal, another object
    assert other == large and other is not large
    again = text.utf8(other)
    assert again == kept and again is not kept


def test_small_texts_are_not_kept():
    large = "a" * text.MIN_CHARS
    kept = text.utf8(large)
    small = "ß" * 10
    assert text.utf8(small) == small.encode("utf-8")
    assert text.utf8(large) is kept  # the small one did not replace it


def test_a_lone_surrogate_raises_as_encode_does():
    with pytest.raises(UnicodeEncodeError):
        text.utf8("x\ud800" * text.MIN_CHARS)
    with pytest.raises(UnicodeEncodeError):
        text.utf8("\udfff")
