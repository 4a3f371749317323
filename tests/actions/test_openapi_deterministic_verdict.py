"""The same text gets the same verdict in every worker process.

python-jsonschema meets the members an `additionalProperties` covers in the order of a set, so
the error `check_schema` raises first depended on the process's PYTHONHASHSEED: two workers
named two different properties of the same schema (OpenAI's `FineTuneDPOHyperparameters`).
The engine names the first error in the document (spec_checks._dialect_errors); a validator
that fails after an error leaves that error, as check_schema did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator

from actions import openapi
from actions.openapi import spec_checks

ROOT = Path(__file__).resolve().parents[2]

# Twelve properties with the same dialect error (`exclusiveMinimum` is a number in 3.1): a
# set of twelve names is in document order for few seeds.
_PROPERTIES = "".join(
    f"""        p{i}:
          oneOf:
            - type: string
            - type: number
              exclusiveMinimum: true
"""
    for i in range(12)
)
DOCUMENT = f"""openapi: 3.1.0
info: {{title: Tuning, version: "1"}}
servers: [{{url: "https://api.example.com"}}]
paths:
  /tuning:
    get:
      operationId: getTuning
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                $ref: "#/components/schemas/Tuning"
components:
  schemas:
    Tuning:
      type: object
      properties:
{_PROPERTIES}"""

FIRST = "/components/schemas/Tuning/properties/p0/oneOf/1/exclusiveMinimum"

_PRINT_ERRORS = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from actions import openapi
verdict = openapi.validate(sys.stdin.read())
print(json.dumps([(p.code, p.pointer, p.line, p.column) for p in verdict.errors]))
"""


def test_the_first_error_in_the_document_is_named():
    verdict = openapi.validate(DOCUMENT)
    assert [(p.code, p.pointer) for p in verdict.errors] == [("schema_invalid", FIRST)]
    assert (
        verdict.errors[0].line
        == DOCUMENT.splitlines().index("              exclusiveMinimum: true") + 1
    )


def test_every_hash_seed_gives_the_same_verdict():
    answers = set()
    for seed in ("1", "2", "3", "4"):
        out = subprocess.run(
            [sys.executable, "-c", _PRINT_ERRORS],
            input=DOCUMENT,
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            cwd=ROOT,
        )
        answers.add(out.stdout.strip())
    assert len(answers) == 1, answers
    assert json.loads(answers.pop())[0][1] == FIRST


class _FailingChecker:
    """A meta-validator that meets `found` errors, then fails."""

    def __init__(self, found):
        self.found = found

    def iter_errors(self, value):
        yield from self.found
        raise ValueError("the validator failed")


def test_a_validator_failing_after_an_error_leaves_that_error(monkeypatch):
    # check_schema raised the first error it met before any later failure: that stands.
    error = ValidationError("True is not of type 'number'", path=["exclusiveMinimum"])
    monkeypatch.setattr(spec_checks, "_dialect_checker", lambda *_: _FailingChecker([error]))
    assert spec_checks._dialect_errors(OAS31Validator, {}, spec_checks._UNSET) == [error]


def test_a_validator_failing_before_any_error_fails(monkeypatch):
    monkeypatch.setattr(spec_checks, "_dialect_checker", lambda *_: _FailingChecker([]))
    with pytest.raises(ValueError):
        spec_checks._dialect_errors(OAS31Validator, {}, spec_checks._UNSET)
