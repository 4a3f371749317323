"""Property-based: whatever the text, validate() returns a Verdict and never raises.

Also a differential check on mutations of the examples: every problem plain
openapi-spec-validator finds is reported by the engine too (the corpus test does the same on
real documents).
"""

from __future__ import annotations

import copy
import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions import openapi
from actions.openapi.examples import EXAMPLES
from actions.openapi.refs import LocalResolver, ref_problems
from actions.openapi.spec_checks import spec_problems
from tests.actions.test_openapi_corpus import _assert_osv_findings_reported

FAST = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _assert_verdict(verdict) -> None:
    assert isinstance(verdict, openapi.Verdict)
    data = verdict.as_dict()
    json.dumps(data)
    assert data["valid"] == (not data["errors"])
    assert len(verdict.errors) <= 50 and len(verdict.warnings) <= 50
    for problem in verdict.errors + verdict.warnings:
        assert isinstance(problem.message, str) and problem.message
        assert problem.pointer == "" or problem.pointer.startswith("/")


@FAST
@given(st.text(max_size=400))
def test_random_text(text):
    _assert_verdict(openapi.validate(text))


@FAST
@given(st.binary(max_size=300))
def test_random_bytes(raw):
    _assert_verdict(openapi.validate(raw))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "openapi",
                    "info",
                    "paths",
                    "servers",
                    "components",
                    "schemas",
                    "$ref",
                    "get",
                    "post",
                    "parameters",
                    "schema",
                    "responses",
                    "allOf",
                    "items",
                    "properties",
                    "default",
                    "required",
                    "name",
                    "in",
                    "url",
                    "title",
                    "version",
                    "/a",
                    "/a/{x}",
                    "200",
                    "x",
                ]
            )
            | st.text(max_size=6),
            children,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@FAST
@given(json_values, st.booleans())
def test_random_structures_as_json_and_yaml(value, as_yaml):
    if isinstance(value, dict):
        value.setdefault("openapi", "3.1.0")
    text = yaml.safe_dump(value) if as_yaml else json.dumps(value)
    _assert_verdict(openapi.validate(text))


_PET = yaml.safe_load(EXAMPLES[1]["schema"])
_WEATHER = json.loads(EXAMPLES[0]["schema"])

_PATHS = []


def _all_paths(node, path=()):
    _PATHS.append(path)
    if isinstance(node, dict):
        for key, value in node.items():
            _all_paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _all_paths(value, (*path, index))


_all_paths(_PET)


def _mutate(document, path, replacement):
    doc = copy.deepcopy(document)
    if not path:
        return replacement if isinstance(replacement, dict) else doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    return doc


replacements = st.one_of(
    json_values,
    st.sampled_from(
        [
            None,
            {},
            [],
            "",
            0,
            -1,
            True,
            "3.0.3",
            {"$ref": "#/components/schemas/Pet"},
            {"$ref": "#/nowhere"},
            {"$ref": "http://127.0.0.1:9/x"},
            {"type": "strin"},
            {"type": "integer", "default": "x"},
            {"allOf": [{"required": ["zz"]}]},
            {"pattern": "("},
            {"name": "limit", "in": "query"},
        ]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_PATHS), replacements, st.booleans())
def test_mutated_examples_and_agreement_with_osv(path, replacement, as_yaml):
    doc = _mutate(_PET, path, replacement)
    text = yaml.safe_dump(doc, sort_keys=False) if as_yaml else json.dumps(doc)
    verdict = openapi.validate(text)
    _assert_verdict(verdict)
    version = doc.get("openapi") if isinstance(doc, dict) else None
    if isinstance(version, str) and version[:3] in ("3.0", "3.1"):
        parsed = openapi.parse(text)
        resolver = LocalResolver(parsed.document)
        ours = ref_problems(parsed.document, resolver) + spec_problems(
            parsed.document, version[:3], resolver
        )
        _assert_osv_findings_reported(parsed.document, ours)
