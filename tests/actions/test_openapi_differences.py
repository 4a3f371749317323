"""DELIBERATE_DIFFERENCES: each row's sample really gets the verdict the row says from plain
openapi-spec-validator, and the opposite (or the written warning) from this engine."""

from __future__ import annotations

import pytest
import yaml
from openapi_spec_validator.shortcuts import get_validator_cls

from actions import openapi
from actions.openapi.differences import DELIBERATE_DIFFERENCES
from actions.openapi.spec_checks import DOWNGRADED_TO_WARNINGS


def osv_valid(text: str) -> bool:
    document = yaml.safe_load(text)  # osv's own reader: PyYAML, the last duplicate key wins
    return not list(get_validator_cls(document)(document).iter_errors())


@pytest.mark.parametrize("name", sorted(DELIBERATE_DIFFERENCES))
def test_each_difference_is_exactly_as_written(name):
    row = DELIBERATE_DIFFERENCES[name]
    assert row.reason
    assert osv_valid(row.sample) is row.osv_valid
    verdict = openapi.validate(row.sample)
    valid, severity, code = row.ours
    assert verdict.valid is valid
    problems = verdict.warnings if severity == "warning" else verdict.errors
    assert code in [problem.code for problem in problems]
    if valid:
        assert not verdict.errors
    # Every row is a real difference: the verdict differs, or a valid one carries a warning
    # osv does not give.
    assert verdict.valid != row.osv_valid or severity == "warning"
    # ...and the problem points at a line.
    assert all(p.line for p in problems if p.code == code)


def test_downgraded_kinds_are_in_the_table():
    assert set(DOWNGRADED_TO_WARNINGS) <= set(DELIBERATE_DIFFERENCES)


def test_a_sample_without_its_difference_gets_the_same_verdict_from_both():
    # The control: the base sample every row starts from is valid for osv and here.
    text = DELIBERATE_DIFFERENCES["missing_title"].sample.replace('title: ""', "title: Sample")
    assert osv_valid(text) is True
    assert openapi.validate(text).valid is True
