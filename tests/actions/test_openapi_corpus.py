"""The schema engine against real documents written by others (shared/corpus, see SOURCES.md).

* every document parses and its operation count is the `ops` column of SOURCES.md;
* every problem plain openapi-spec-validator finds in an OpenAPI 3.0/3.1 document is reported
  by the engine too, at the same place or inside it — as an error, or as a warning for the
  kinds in DOWNGRADED_TO_WARNINGS;
* every document its source calls invalid is reported invalid, with pointers and lines.

Swagger 2.0 documents get the single "convert it first" error; their operations are still
counted by `detect_operations` (the count needs only `paths`), so the ops column is checked
for them too. The 3.2 document is checked against the 3.2 meta-schema (accepted since issue 16).

Large documents are costly (plain osv takes seconds on some): each is parsed, validated and
run through osv once per session, in module-scoped caches.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_schema_validator import OAS30Validator, OAS31Validator
from openapi_schema_validator._format import oas31_format_checker
from openapi_spec_validator.shortcuts import get_validator_cls

from actions import openapi
from actions.openapi.differences import DELIBERATE_DIFFERENCES
from actions.openapi.refs import LocalResolver, RefError, ref_problems
from actions.openapi.spec_checks import (
    _UNSET,
    DOWNGRADED_TO_WARNINGS,
    _dialect_errors,
    spec_problems,
)

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
VALID_DIR = CORPUS / "openapi"
INVALID_DIR = CORPUS / "openapi-invalid"


def _sources_table() -> dict[str, dict]:
    """Rows of the two file tables of SOURCES.md, keyed by 'openapi/<file>' etc."""
    rows: dict[str, dict] = {}
    section = None
    header: list[str] = []
    for line in (CORPUS / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("## openapi-invalid/"):
            section = "openapi-invalid"
        elif line.startswith("## openapi/"):
            section = "openapi"
        elif line.startswith("Full 40-hex"):
            section = None
        if section is None or not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0] == "file":
            header = cells
            continue
        if set(cells[0]) <= {"-", ":"}:
            continue
        row = dict(zip(header, cells, strict=False))
        rows[f"{section}/{row['file'].strip('`')}"] = row
    return rows


SOURCES = _sources_table()
VALID_FILES = sorted(p.name for p in VALID_DIR.iterdir())
INVALID_FILES = sorted(p.name for p in INVALID_DIR.iterdir())


def test_sources_table_covers_the_corpus():
    assert len(VALID_FILES) == 33 and len(INVALID_FILES) == 20
    assert {f"openapi/{name}" for name in VALID_FILES} | {
        f"openapi-invalid/{name}" for name in INVALID_FILES
    } == set(SOURCES)


@pytest.fixture(scope="module")
def checked():
    """file → (parsed, verdict, plain-osv errors or None), each computed at most once."""
    cache: dict[str, tuple] = {}

    def get(folder: str, name: str):
        key = f"{folder}/{name}"
        if key not in cache:
            text = (CORPUS / folder / name).read_text(encoding="utf-8")
            parsed = openapi.parse(text, max_bytes=8 * 1024 * 1024)
            verdict = openapi.validate(parsed)
            cache[key] = (parsed, verdict)
        return cache[key]

    return get


@pytest.mark.parametrize("name", VALID_FILES)
def test_corpus_document_parses_and_operations_are_counted(name, checked):
    parsed, verdict = checked("openapi", name)
    expected_ops = _sources_ops(parsed.document, SOURCES[f"openapi/{name}"]["ops"])
    assert len(openapi.detect_operations(parsed.document, resolve=False)) == expected_ops
    assert len(verdict.operations) == expected_ops
    version = SOURCES[f"openapi/{name}"]["version"]
    codes = [problem.code for problem in verdict.errors]
    if version.startswith("swagger"):
        assert codes == ["swagger_2"]
        assert verdict.errors[0].message == (
            "This is a Swagger 2.0 document; convert it to OpenAPI 3 (3.0 or 3.1) first."
        )
    elif version.startswith("3.2"):
        # Accepted since issue 16; its only error is the product's https rule.
        assert verdict.openapi_version == version
        assert codes == ["insecure_server"]
    else:
        assert verdict.openapi_version == version
        # Over 30 operations is a product error, never anything else for these.
        assert ("too_many_operations" in codes) == (expected_ops > openapi.MAX_OPERATIONS)
    for problem in verdict.errors + verdict.warnings:
        assert problem.message and "\n" not in problem.message
        if problem.code == "too_many_problems":
            continue
        assert problem.line is not None and problem.column is not None, problem


def _inline_operation_count(document: dict) -> int:
    """Operations as SOURCES.md counts them: written directly under `paths`, plus those of
    path items reached through a `$ref` (which SOURCES.md does not follow, but osv and the
    engine do: they are operations of the API)."""
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    count = 0
    for item in (document.get("paths") or {}).values():
        if isinstance(item, dict) and isinstance(item.get("$ref"), str):
            target: object = document
            for token in item["$ref"].lstrip("#/").split("/"):
                target = target.get(token, {}) if isinstance(target, dict) else {}
            item = target
        if isinstance(item, dict):
            count += sum(1 for key in item if key in methods)
    return count


def _sources_ops(document: dict, listed: str) -> int:
    """The `ops` column, corrected for path items behind a `$ref` (see above)."""
    direct = sum(
        1
        for item in (document.get("paths") or {}).values()
        if isinstance(item, dict)
        for key in item
        if key in {"get", "put", "post", "delete", "options", "head", "patch", "trace", "query"}
    )
    assert direct == int(listed), "SOURCES.md and the file disagree"
    return _inline_operation_count(document)


def _plain_osv_errors(document: dict) -> list[tuple[str, str, str]]:
    """(class, pointer, first line of message) for each error plain osv reports; an exception
    it raises (Unresolvable...) is one more entry."""
    found = []
    try:
        for error in get_validator_cls(document)(document).iter_errors():
            pointer = "".join(
                "/" + str(p).replace("~", "~0").replace("/", "~1") for p in error.path
            )
            found.append((type(error).__name__, pointer, error.message.split("\n")[0]))
    except Exception as exc:  # noqa: BLE001 - what osv raises is a finding too
        found.append((f"raised {type(exc).__name__}", "", str(exc)))
    return found


def _first_line(text: str | None) -> str:
    return (text or "").split("\n")[0]


def _another_pick_of_a_reported_schema(
    document: dict, ours: list[openapi.Problem], pointer: str, message: str
) -> bool:
    """osv names one dialect error per schema object, the first python-jsonschema meets, and
    that order depends on the process's PYTHONHASHSEED (spec_checks._dialect_errors); the
    engine names the first in the document. True when osv's `pointer` (relative to a schema
    object) and `message` are an error of a schema object the engine reports invalid."""
    version = str(document.get("openapi", ""))[:3]
    checker_cls, format_checker = (
        (OAS30Validator, _UNSET) if version == "3.0" else (OAS31Validator, oas31_format_checker)
    )
    for problem in ours:
        if problem.code != "schema_invalid":
            continue
        parts = problem.pointer.split("/")
        for end in range(len(parts) - 1, 0, -1):
            try:
                node, _ = LocalResolver(document).lookup("#" + "/".join(parts[:end]))
            except RefError:
                continue
            if type(node) is not dict:
                continue
            errors = _dialect_errors(checker_cls, node, format_checker)
            if any(
                "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in e.absolute_path)
                == pointer
                and e.message.split("\n")[0] == message
                for e in errors
            ):
                return True
    return False


def _assert_osv_findings_reported(document: dict, ours: list[openapi.Problem]) -> None:
    for kind, pointer, message in _plain_osv_errors(document):
        if kind.startswith("raised Unresolvable"):
            assert any(
                p.code in ("unresolved_ref", "remote_ref") and message in (p.source or "")
                for p in ours
            ), message
            continue
        if kind.startswith("raised"):
            # osv crashed on a malformed document; the engine must at least reject it.
            assert any(p.severity == "error" for p in ours), (kind, message)
            continue
        matches = [
            p
            for p in ours
            if _first_line(p.source) == message
            # osv's path is absolute for the document schema, relative to the schema object
            # for its per-schema checks; the engine may point deeper (the closest branch).
            and (
                not pointer
                or p.pointer == pointer
                or p.pointer.startswith(pointer + "/")
                or p.pointer.endswith(pointer)
            )
        ]
        if not matches and _another_pick_of_a_reported_schema(document, ours, pointer, message):
            continue
        assert matches, f"osv found {kind} at {pointer!r}: {message!r}; not reported"
        for problem in matches:
            # Every kind osv rejects and the engine only warns about is a written row.
            downgraded = problem.code in DOWNGRADED_TO_WARNINGS or (
                problem.code in DELIBERATE_DIFFERENCES
                and DELIBERATE_DIFFERENCES[problem.code].ours[1] == "warning"
            )
            assert problem.severity == ("warning" if downgraded else "error"), problem


@pytest.mark.parametrize(
    "name", [n for n in VALID_FILES if SOURCES[f"openapi/{n}"]["version"][:3] in ("3.0", "3.1")]
)
def test_every_osv_problem_is_reported(name, checked):
    parsed, verdict = checked("openapi", name)
    version = parsed.document["openapi"][:3]
    resolver = LocalResolver(parsed.document)
    # All of them (the verdict keeps at most 50 of each kind): the engine's own full list...
    ours = ref_problems(parsed.document, resolver) + spec_problems(
        parsed.document, version, resolver
    )
    _assert_osv_findings_reported(parsed.document, ours)
    # ...and what the verdict shows is drawn from it.
    shown = {(p.code, p.pointer) for p in verdict.errors + verdict.warnings}
    spec_codes = {p.code for p in ours}
    for problem in ours[:20]:
        assert (problem.code, problem.pointer) in shown or problem.code not in spec_codes


def test_known_osv_rejections_become_warnings(checked):
    """PagerDuty REST and OpenAI fail osv's default-value checks (VALIDATOR_BASELINE.md):
    those are the downgraded kind; OpenAI's other osv errors stay errors."""
    _, pagerduty = checked("openapi", "PagerDuty-api-schema__REST.json")
    assert [p.code for p in pagerduty.errors] == ["too_many_operations"]
    assert "default_mismatch" in {p.code for p in pagerduty.warnings}
    _, openai_doc = checked("openapi", "openai-openapi__openapi.yaml")
    assert {"schema_invalid", "too_many_operations"} <= {p.code for p in openai_doc.errors}
    assert "default_mismatch" in {p.code for p in openai_doc.warnings}


# What each invalid document must be reported for (SOURCES.md "note" column → our codes).
EXPECTED_INVALID = {
    "openapi-spec-validator__v3.0-empty.yaml": {"meta_schema"},
    "APIDevTools-swagger-parser__invalid-no-paths-or-webhooks.yaml": {"meta_schema"},
    "OAI-OpenAPI-Specification__v3.1-fail-unknown_container.yaml": {"meta_schema"},
    "OAI-OpenAPI-Specification__v3.1-fail-no_containers.yaml": {"meta_schema"},
    "OAI-OpenAPI-Specification__v3.1-fail-servers.yaml": {"meta_schema"},
    "OAI-OpenAPI-Specification__v3.1-fail-invalid_schema_types.yaml": {
        "meta_schema",
        "schema_type",
    },
    "OAI-OpenAPI-Specification__v3.1-fail-header-object-allowReserved.yaml": {"meta_schema"},
    "APIDevTools-swagger-parser__invalid-numeric-version.yaml": {"swagger_2"},
    "APIDevTools-swagger-parser__invalid-newer-version.yaml": {"unsupported_version"},
    "openapi-spec-validator__v3.0-missing-description.yaml": {"meta_schema"},
    "openapi-spec-validator__v3.0-property-missing-reference.yaml": {"remote_ref"},
    "OAI-OpenAPI-Specification__v3.1-fail-server_enum_empty.yaml": {"meta_schema"},
    "APIDevTools-swagger-parser__validate-spec-duplicate-operation-ids.yaml": {"swagger_2"},
    "APIDevTools-swagger-parser__validate-schema-invalid-param-location.yaml": {"swagger_2"},
    "APIDevTools-swagger-parser__validate-schema-ref-to-invalid-path.yaml": {"swagger_2"},
    "APIDevTools-swagger-parser__validate-spec-required-property-not-defined.yaml": {"swagger_2"},
    "APIDevTools-swagger-parser__validate-spec-path-placeholder-no-param.yaml": {"swagger_2"},
    "openapi-spec-validator__v2.0-missing-reference.yaml": {"swagger_2"},
    # Not detected by osv either (the 2022 schema copy lacks these rules); they fail on
    # product rules (no server URL), so they are still refused.
    "OAI-OpenAPI-Specification__v3.1-fail-link-object-no-body.yaml": {"missing_server"},
    "OAI-OpenAPI-Specification__v3.1-fail-example-examples.yaml": {"missing_server"},
}


@pytest.mark.parametrize("name", INVALID_FILES)
def test_invalid_corpus_documents_are_refused(name, checked):
    parsed, verdict = checked("openapi-invalid", name)
    assert not verdict.valid
    codes = {problem.code for problem in verdict.errors}
    assert EXPECTED_INVALID[name] <= codes, codes
    expected_ops = _sources_ops(parsed.document, SOURCES[f"openapi-invalid/{name}"]["ops"])
    assert len(openapi.detect_operations(parsed.document, resolve=False)) == expected_ops
    for problem in verdict.errors:
        assert problem.line is not None, problem
        assert re.fullmatch(r"(/[^/]*)*", problem.pointer), problem.pointer
    if parsed.document.get("openapi", "")[:3] in ("3.0", "3.1"):
        resolver = LocalResolver(parsed.document)
        version = parsed.document["openapi"][:3]
        ours = ref_problems(parsed.document, resolver) + spec_problems(
            parsed.document, version, resolver
        )
        _assert_osv_findings_reported(parsed.document, ours)


def test_numeric_swagger_version_is_still_recognised(checked):
    """`swagger: 2.0` as a YAML number makes plain osv raise a bare TypeError."""
    name = "APIDevTools-swagger-parser__invalid-numeric-version.yaml"
    _, verdict = checked("openapi-invalid", name)
    assert [p.code for p in verdict.errors] == ["swagger_2"]
    assert (verdict.errors[0].line, verdict.errors[0].column) == (1, 1)
