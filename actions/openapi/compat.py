"""What the hosted editor accepts although the OpenAPI meta-schema does not: warnings, not errors.

Builders bring schemas that the hosted GPT editor accepts, and expect them accepted here. Where
a meta-schema violation does not change how a call is built, it is a warning with a plain fix:
* a field a Parameter object does not have (`constant: 5`, `example_value`): ignored;
* Swagger 2.0 style `type`, `enum`, `format`, `default`, ... beside (or instead of) the
  parameter's `schema`: they belong inside it; the runtime reads the schema;
* an `oauth2` security scheme without `flows`: the action's own OAuth settings are what the
  runtime uses, never the document's flows.
(Duplicate mapping keys, the last one winning, are warned about by parsing.py.)

`tolerate(document, version)` returns the document the meta-schema phase checks — a
copy-on-write view with those deviations taken out, the original untouched — and the warnings.
Every difference from openapi-spec-validator's verdict is written down, with its reason, in
DELIBERATE_DIFFERENCES (differences.py); tests run osv on a sample of each.
"""

from __future__ import annotations

from typing import Any

from actions.openapi.problems import WARNING, Problem, escape_pointer_part

PARAMETER_FIELDS = frozenset(
    {
        "name",
        "in",
        "description",
        "required",
        "deprecated",
        "allowEmptyValue",
        "style",
        "explode",
        "allowReserved",
        "schema",
        "content",
        "example",
        "examples",
    }
)
# Swagger 2.0 parameter fields that are schema keywords in OpenAPI 3.
SCHEMA_FIELDS = frozenset(
    {
        "type",
        "format",
        "items",
        "default",
        "enum",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "multipleOf",
        "nullable",
    }
)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class _View:
    """Copy-on-write: `writable(path)` gives a private copy of the node at `path`, copying
    each container on the way once; nothing of the original document is changed."""

    def __init__(self, document: dict):
        self.root = document
        self.copied: set[tuple] = set()

    def writable(self, path: tuple) -> Any:
        if () not in self.copied:
            self.root = dict(self.root)
            self.copied.add(())
        node = self.root
        for depth, token in enumerate(path):
            here = path[: depth + 1]
            child = node[token]
            if here not in self.copied:
                child = dict(child) if isinstance(child, dict) else list(child)
                node[token] = child
                self.copied.add(here)
            node = child
        return node


def _parameter_locations(document: dict):
    """(path tuple, parameter) of every Parameter object written out in the document."""
    paths = document.get("paths")
    if isinstance(paths, dict):
        for url, item in paths.items():
            if not isinstance(item, dict):
                continue
            yield from _listed(item.get("parameters"), ("paths", url, "parameters"))
            for method in METHODS:
                operation = item.get(method)
                if isinstance(operation, dict):
                    yield from _listed(
                        operation.get("parameters"), ("paths", url, method, "parameters")
                    )
    components = document.get("components")
    if isinstance(components, dict) and isinstance(components.get("parameters"), dict):
        for name, parameter in components["parameters"].items():
            if isinstance(parameter, dict):
                yield ("components", "parameters", name), parameter


def _listed(parameters: Any, path: tuple):
    if isinstance(parameters, list):
        for index, parameter in enumerate(parameters):
            if isinstance(parameter, dict):
                yield (*path, index), parameter


def _pointer(path: tuple) -> str:
    return "".join("/" + escape_pointer_part(part) for part in path)


def tolerate(document: dict, version: str) -> tuple[dict, list[Problem]]:  # noqa: C901 - one branch per tolerated deviation
    view = _View(document)
    problems: list[Problem] = []
    for path, parameter in _parameter_locations(document):
        if "$ref" in parameter:
            continue
        stray = [
            key
            for key in parameter
            if isinstance(key, str) and key not in PARAMETER_FIELDS and not key.startswith("x-")
        ]
        if not stray:
            continue
        pointer = _pointer(path)
        schema = parameter.get("schema")
        moves = {}
        for key in stray:
            where = f"{pointer}/{escape_pointer_part(key)}"
            if key in SCHEMA_FIELDS and "content" not in parameter:
                if isinstance(schema, dict) and "$ref" not in schema and key in schema:
                    problems.append(
                        Problem(
                            f"'{key}' beside the parameter's schema is ignored: the schema "
                            f"already has its own '{key}'. Remove it.",
                            where,
                            severity=WARNING,
                            code="parameter_schema_field",
                            fix_plan=(f"Remove '{key}'", "remove", where),
                        )
                    )
                elif isinstance(schema, dict) and "$ref" in schema:
                    problems.append(
                        Problem(
                            f"'{key}' is a schema keyword, not a parameter field: it is ignored "
                            "(the parameter's schema is a reference). Remove it, or put it in "
                            "the referenced schema.",
                            where,
                            severity=WARNING,
                            code="parameter_schema_field",
                            fix_plan=(f"Remove '{key}'", "remove", where),
                        )
                    )
                else:
                    moves[key] = parameter[key]
                    problems.append(
                        Problem(
                            f"'{key}' belongs inside the parameter's schema (this is how "
                            "Swagger 2.0 wrote it); move it there so the value is checked and "
                            "shown to the model.",
                            where,
                            severity=WARNING,
                            code="parameter_schema_field",
                            fix_plan=(
                                f"Move '{key}' into the schema",
                                "move",
                                where,
                                f"{pointer}/schema",
                            ),
                        )
                    )
            else:
                problems.append(
                    Problem(
                        f"'{key}' is not a field of a parameter and is ignored. Remove it "
                        "(or rename it x-{key} to keep it as an extension).".replace("{key}", key),
                        where,
                        severity=WARNING,
                        code="parameter_unknown_field",
                        fix_plan=(f"Remove '{key}'", "remove", where),
                    )
                )
        copy = view.writable(path)
        for key in stray:
            copy.pop(key, None)
        if moves and not isinstance(schema, dict) and "content" not in copy:
            copy["schema"] = dict(moves)
    components = document.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    if isinstance(schemes, dict):
        for name, scheme in schemes.items():
            if (
                isinstance(scheme, dict)
                and scheme.get("type") == "oauth2"
                and "flows" not in scheme
            ):
                path = ("components", "securitySchemes", name)
                problems.append(
                    Problem(
                        "This oauth2 security scheme has no 'flows'. The action's "
                        "Authentication settings (authorization URL, token URL, scope) are "
                        "what calls use, so this works, but other tools reading the document "
                        "will reject it: add flows.authorizationCode with those URLs.",
                        _pointer((*path, "type")),
                        severity=WARNING,
                        code="oauth2_without_flows",
                    )
                )
                view.writable(path)["flows"] = {}
    return view.root, problems
