"""Issue 16, points 1, 2 and 4 on real corpus documents: tolerated deviations are warnings
whose fix gives back exactly the document before the deviation was added, and problems point at
the offending key, not at its parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions import openapi
from actions.openapi.fixes import apply_fix
from actions.openapi.spans import mappings

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
DOCUMENTS = [
    "OAI-OpenAPI-Specification__v3.0-petstore.yaml",
    "OAI-OpenAPI-Specification__v3.0-petstore-expanded.yaml",
    "readmeio-oas-examples__3.1-train-travel.json",
    "box-openapi__openapi-v2025.0.json",
    "sonallux-spotify-web-api__fixed-spotify-open-api.yml",
    "twilio-oai__twilio_messaging_v1.yaml",
]


def first_parameter_pointer(document: dict) -> str:
    for operation in openapi.detect_operations(document, resolve=False):
        item = document["paths"][operation.path]
        parameters = item[operation.method.lower()].get("parameters")
        if parameters and "$ref" not in parameters[0]:
            return f"{operation.pointer}/parameters/0"
    raise AssertionError("every document here has an inline parameter")


def inject(text: str, fmt: str, pointer: str, key: str, value: str) -> str:
    """`key: value` written as the first member of the mapping at `pointer`, in the text's
    own layout (what a builder's stray field looks like)."""
    span = mappings(text, fmt, [pointer])[pointer]
    first = span.members[0].key_start
    line_start = text.rfind("\n", 0, first) + 1
    indent = text[line_start:first]
    if fmt == "json":
        glue = ",\n" + indent if not indent.strip() else ", "
        return text[:first] + f'"{key}": {value}' + glue + text[first:]
    glue = "\n" + " " * span.column
    return text[:first] + f"{key}: {value}" + glue + text[first:]


def fixed_by(text: str, code: str) -> str:
    verdict = openapi.validate(text)
    [warning] = [w for w in verdict.warnings if w.code == code]
    assert warning.fix is not None
    return apply_fix(text, warning.fix)


@pytest.mark.parametrize("name", DOCUMENTS)
def test_unknown_parameter_field_warns_and_its_fix_restores_the_document(name):
    text = (CORPUS / "openapi" / name).read_text(encoding="utf-8")
    parsed = openapi.parse(text)
    pointer = first_parameter_pointer(parsed.document)
    broken = inject(text, parsed.format, pointer, "constant", "5")
    before = openapi.validate(text)
    after = openapi.validate(broken)
    assert [e.code for e in after.errors] == [e.code for e in before.errors]
    [warning] = [w for w in after.warnings if w.code == "parameter_unknown_field"]
    assert warning.pointer == f"{pointer}/constant"
    assert "constant" in broken.splitlines()[warning.line - 1]  # the key's own line
    assert fixed_by(broken, "parameter_unknown_field") == text


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_duplicate_key_warns_and_its_fix_restores_the_document(name):
    text = (CORPUS / "openapi" / name).read_text(encoding="utf-8")
    parsed = openapi.parse(text)
    broken = inject(text, parsed.format, "/info", "version", '"0.0.1-old"')
    verdict = openapi.validate(broken)
    assert [e.code for e in verdict.errors] == [e.code for e in openapi.validate(text).errors]
    assert "duplicate_key" in [w.code for w in verdict.warnings]
    assert fixed_by(broken, "duplicate_key") == text


@pytest.mark.parametrize("name", DOCUMENTS[:3])
def test_enum_beside_the_schema_moves_into_it(name):
    text = (CORPUS / "openapi" / name).read_text(encoding="utf-8")
    parsed = openapi.parse(text)
    pointer = first_parameter_pointer(parsed.document)
    broken = inject(text, parsed.format, pointer, "enum", '["a", "b"]')
    fixed = fixed_by(broken, "parameter_schema_field")
    verdict = openapi.validate(fixed)
    assert "parameter_schema_field" not in [w.code for w in verdict.warnings]
    node = openapi.parse(fixed).document
    for token in pointer.strip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    assert node["schema"]["enum"] == ["a", "b"] and "enum" not in node


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("OAI-OpenAPI-Specification__v3.1-fail-unknown_container.yaml", None),
        ("OAI-OpenAPI-Specification__v3.1-fail-header-object-allowReserved.yaml", "allowReserved"),
    ],
)
def test_a_field_not_allowed_points_at_that_field(name, key):
    text = (CORPUS / "openapi-invalid" / name).read_text(encoding="utf-8")
    verdict = openapi.validate(text)
    found = [e for e in verdict.errors if "not a field allowed here" in e.message]
    assert found
    for error in found:
        field = error.message.split("'")[1]
        assert error.pointer.endswith("/" + field)
        assert text.splitlines()[error.line - 1].lstrip().startswith(field)
        if key:
            assert field == key
