"""Keep some operations of a big document, and only the components they need.

An action may have at most 30 operations; the documents builders bring (Stripe, OpenAI,
PagerDuty, Sentry) have hundreds. `select_operations(text, names)` returns the same document
in the same format (JSON or YAML) with only the named operations under `paths` and, under
`components`, only what those operations reference, transitively (`$ref`s, discriminator
mappings, and the security schemes their security requirements name). Top-level tags are kept
when a kept operation uses them; webhooks, which are not operations an action runs, are dropped.

Names are operationIds or "METHOD /path" (any case for the method). Unknown names raise
`UnknownOperations` naming them all. The text is re-written from the parsed document: YAML
comments do not survive, which is why the editor shows the result for review before saving.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from actions.openapi.detect import METHODS, Operation, detect_operations
from actions.openapi.parsing import parse
from actions.openapi.problems import split_pointer

# Top-level sections whose entries a reference keeps whole (Swagger 2.0 has no components).
_SECTIONS_2 = ("definitions", "parameters", "responses", "securityDefinitions")


class UnknownOperations(ValueError):
    def __init__(self, names: list[str]):
        self.names = names
        shown = ", ".join(repr(n) for n in names[:10])
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        super().__init__(f"The schema has no operation {shown}{more}.")


def _operation_keys(document: dict) -> dict[str, tuple[str, str]]:
    """name → (path, method) for every operationId and every "METHOD /path"."""
    keys: dict[str, tuple[str, str]] = {}
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return keys
    for path, item in paths.items():
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            keys[f"{method.upper()} {path}"] = (path, method)
            operation_id = operation.get("operationId")
            if isinstance(operation_id, str):
                keys.setdefault(operation_id, (path, method))
    return keys


def _normalise(name: str) -> str:
    method, _, path = name.strip().partition(" ")
    if path and method.lower() in METHODS:
        return f"{method.upper()} {path.strip()}"
    return name.strip()


def _refs(node: Any, found: list[str]) -> None:
    stack = [node]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                found.append(ref)
            mapping = value.get("mapping")
            if isinstance(value.get("propertyName"), str) and isinstance(mapping, dict):
                found.extend(v for v in mapping.values() if isinstance(v, str))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _unit(ref: str) -> tuple[str, ...] | None:
    """The part of the document a local reference keeps: /components/<kind>/<name>, or a
    Swagger 2.0 section's entry; None for other or remote references."""
    if not ref.startswith("#/"):
        return None
    parts = split_pointer(ref[1:])
    if len(parts) >= 3 and parts[0] == "components":
        return tuple(parts[:3])
    if len(parts) >= 2 and parts[0] in _SECTIONS_2:
        return tuple(parts[:2])
    return None


def _get(document: dict, unit: tuple[str, ...]) -> Any:
    node: Any = document
    for token in unit:
        if not isinstance(node, dict) or token not in node:
            return None
        node = node[token]
    return node


def select_document(document: dict, names: list[str]) -> dict:  # noqa: C901 - one pass: kept paths, then what they reference
    keys = _operation_keys(document)
    wanted: dict[str, set[str]] = {}
    unknown = []
    for name in names:
        found = keys.get(_normalise(name)) if isinstance(name, str) else None
        if found is None:
            unknown.append(name)
            continue
        wanted.setdefault(found[0], set()).add(found[1])
    if unknown:
        raise UnknownOperations(unknown)

    paths: dict[str, Any] = {}
    declared = document.get("paths")
    source: dict = declared if isinstance(declared, dict) else {}
    for path, item in source.items():
        if path not in wanted:
            continue
        paths[path] = {
            key: value for key, value in item.items() if key not in METHODS or key in wanted[path]
        }
    kept_units: set[tuple[str, ...]] = set()
    todo: list[str] = []
    _refs(paths, todo)
    security_names: set[str] = set()
    for requirements in [document.get("security")] + [
        operation.get("security")
        for item in paths.values()
        for key, operation in item.items()
        if key in METHODS and isinstance(operation, dict)
    ]:
        if isinstance(requirements, list):
            for requirement in requirements:
                if isinstance(requirement, dict):
                    security_names.update(k for k in requirement if isinstance(k, str))
    while todo:
        unit = _unit(todo.pop())
        if unit is None or unit in kept_units:
            continue
        target = _get(document, unit)
        if target is None:
            continue  # a broken reference: the check after selection reports it
        kept_units.add(unit)
        _refs(target, todo)
    section = "components" if "components" in document else "securityDefinitions"
    for name in security_names:
        unit = (
            ("components", "securitySchemes", name)
            if section == "components"
            else ("securityDefinitions", name)
        )
        if _get(document, unit) is not None:
            kept_units.add(unit)

    result: dict[str, Any] = {}
    for key, value in document.items():
        if key == "paths":
            result["paths"] = paths
        elif key == "webhooks":
            continue
        elif key == "components" and isinstance(value, dict):
            components = {}
            for kind, entries in value.items():
                if not isinstance(entries, dict):
                    continue
                kept = {n: v for n, v in entries.items() if ("components", kind, n) in kept_units}
                if kept:
                    components[kind] = kept
            if components:
                result["components"] = components
        elif key in _SECTIONS_2 and isinstance(value, dict):
            kept = {n: v for n, v in value.items() if (key, n) in kept_units}
            if kept:
                result[key] = kept
        elif key == "tags" and isinstance(value, list):
            used = {
                tag
                for item in paths.values()
                for method, operation in item.items()
                if method in METHODS and isinstance(operation, dict)
                for tag in operation.get("tags") or []
                if isinstance(tag, str)
            }
            tags = [t for t in value if isinstance(t, dict) and t.get("name") in used]
            if tags:
                result["tags"] = tags
        else:
            result[key] = value
    return result


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # plain YAML: every node written out
        return True


def dump(document: dict, fmt: str, like: str = "") -> str:
    if fmt == "json":
        if "\n" not in like.strip():
            return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=10_000)


def select_operations(
    text: str, names: list[str], *, max_bytes: int | None = None
) -> tuple[str, list[Operation]]:
    """(the text keeping only `names`, its operations). Raises SchemaParseError when the
    text can not be read, UnknownOperations when a name is not one of its operations."""
    parsed = parse(text, max_bytes=max_bytes)
    selected = select_document(parsed.document, names)
    return dump(selected, parsed.format, parsed.text), detect_operations(selected, resolve=False)
