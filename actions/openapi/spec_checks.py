"""openapi-spec-validator 0.9.0's checks, run on plain dicts, fast and without its traps.

osv validates in two phases and this module keeps both, with the same rules:
1. the official OpenAPI JSON Schema (the copy bundled in osv) applied to the whole document —
   here with jsonschema-rs, exactly as osv's own "jsonschema-rs" backend does it;
2. a walk of paths, parameters, responses and component schemas (osv's `keywords.py`):
   duplicate operationIds and parameters, unresolved path parameters, every schema object
   checked against its JSON Schema dialect, `required` names missing from `allOf`, default
   values checked against their schema.
Why not call osv: its walk goes through `jsonschema_path`, which fetches remote references,
caches every validated document for the life of the process (its issue #523: an unbounded
`lru_cache` on `SpecValidator.iter_errors`) and costs seconds on large documents, four fifths
of which are python-jsonschema checking each schema object against its dialect. Here:
* references are resolved only inside the document (`refs.LocalResolver`); nothing is fetched;
* nothing outlives the call except compiled validators for the fixed meta-schemas;
* each schema object is first checked with a jsonschema-rs validator compiled from the *same*
  meta-schema with osv's *own* format checks plugged in, and only a schema the fast check
  rejects goes through python-jsonschema, so the message is osv's;
* of a rejected schema object's errors, the first in the document is named, where osv names
  the first python-jsonschema meets, an order that depends on the process's hash seed
  (`_dialect_errors`): the same text gets the same verdict in every worker;
* the walk does not recurse without bound and does not crash on malformed documents (osv
  raises KeyError/TypeError/RecursionError on some): what it can not walk, it skips — the
  meta-schema phase has already reported why.
The corpus tests run plain osv on the same documents and check that every problem it finds is
also found here.
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema_rs
from jsonschema import validators as jsonschema_validators
from openapi_schema_validator import OAS30Validator, OAS31Validator
from openapi_schema_validator._dialects import OAS31_BASE_DIALECT_ID, OAS32_BASE_DIALECT_ID
from openapi_schema_validator._format import oas30_format_checker, oas31_format_checker
from openapi_schema_validator._specifications import REGISTRY as OAS_SPECIFICATIONS
from openapi_schema_validator.validators import check_openapi_schema
from openapi_spec_validator.schemas import schema_v30, schema_v31, schema_v32
from referencing import Registry
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

from actions.openapi import regex
from actions.openapi.messages import describe_py, describe_rs, short
from actions.openapi.problems import ERROR, WARNING, Problem, escape_pointer_part, to_pointer
from actions.openapi.refs import LocalResolver, RefError

# Kinds that openapi-spec-validator reports as errors but this engine reports as WARNINGS.
# Keep this the only such list; tests check each entry and that nothing else is downgraded.
DOWNGRADED_TO_WARNINGS: dict[str, str] = {
    # A `default` that does not match its own schema. Publishers ship such documents as valid
    # (PagerDuty REST: an integer parameter defaulting to '20 - incident_summary'; OpenAI:
    # `default: null` on non-nullable objects, `default: []` on a string enum). The document
    # still describes the API; the default is documentation, the runtime never relies on it.
    "default_mismatch": "A default value that does not match its schema.",
}

OPERATION_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# A schema object or default value larger than this is not handed to python-jsonschema,
# whose `uniqueItems`/`enum` checks are quadratic: the fast validator's verdict stands.
PY_CHECK_MAX_NODES = 5_000

_URL_FORMATTER = string.Formatter()


def _deny_retrieval(uri: str) -> Any:
    # Meta-schemas are all bundled; a validator asking for anything else gets nothing.
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # the stubs lag referencing


# Meta-schema phase ---------------------------------------------------------------------------


@cache
def _document_validator(version: str) -> Any:
    """jsonschema-rs validator for the OpenAPI document schema bundled in osv (as osv's
    "jsonschema-rs" backend builds it: `validator_cls_for(schema)(schema)`)."""
    schema = dict({"3.0": schema_v30, "3.2": schema_v32}.get(version, schema_v31))
    cls = jsonschema_rs.validator_cls_for(schema)
    return cls(schema, retriever=_deny_retrieval)


def _meta_schema_problems(document: dict, version: str) -> list[Problem]:
    problems = []
    for error in _document_validator(version).iter_errors(document):
        text, path = describe_rs(error)
        problems.append(Problem(text, to_pointer(path), code="meta_schema", source=error.message))
    return problems


# Schema objects against their dialect ----------------------------------------------------------


def _formats_in(schema: Any, found: set[str]) -> set[str]:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("format"), str):
                found.add(node["format"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


@cache
def _fast_schema_check(version: str) -> Any:
    """jsonschema-rs validator of the same meta-schema python-jsonschema uses in osv's
    `check_schema`, with python's own format functions (osv checks `format: regex` with
    Python's `re`; letting rs use its own regex engine would change the verdict)."""
    if version == "3.0":
        meta, checker = OAS30Validator.META_SCHEMA, oas30_format_checker
    else:
        meta, checker = OAS31Validator.META_SCHEMA, oas31_format_checker
    resources = [
        (uri, OAS_SPECIFICATIONS.contents(uri))
        for uri in OAS_SPECIFICATIONS
        if isinstance(OAS_SPECIFICATIONS.contents(uri), dict)
    ]
    names: set[str] = set()
    for _, contents in resources:
        _formats_in(contents, names)

    def conforms(name: str):
        return lambda value: checker.conforms(value, name)

    return jsonschema_rs.validator_for(
        meta,
        registry=jsonschema_rs.Registry(resources),
        retriever=_deny_retrieval,
        validate_formats=True,
        formats={name: conforms(name) for name in names},
    )


def _count_nodes(value: Any, limit: int) -> int:
    count, stack = 0, [value]
    while stack and count <= limit:
        node = stack.pop()
        count += 1
        if type(node) is dict:
            stack.extend(node.values())
        elif type(node) is list:
            stack.extend(node)
    return count


# Default values against their schema ------------------------------------------------------------

# Patterns in default values run on RE2 (see regex.py): linear time, or not checked at all.
_DefaultValidator30 = regex.linear(OAS30Validator, oas30=True)
_DefaultValidator31 = regex.linear(OAS31Validator)


# The walk -------------------------------------------------------------------------------------


def _children(value: Any) -> list[tuple[Any, Any]]:
    """(key, child) pairs as osv's SchemaPath iterates them: a mapping's members or a list's
    items, whichever the node is (the meta-schema phase reports a wrong kind)."""
    if type(value) is dict:
        return list(value.items())
    if type(value) is list:
        return list(enumerate(value))
    return []


class SpecWalk:
    """osv's `RootValidator` and the keyword validators under it, on plain data.

    Node identities (`id()`) are of objects inside `document`, which outlives the walk, so
    the visited sets are sound. Pointers are where a node really is in the document: after a
    `$ref`, the pointer is the target's.
    """

    def __init__(self, document: dict, version: str, resolver: LocalResolver):
        self.document = document
        self.version = version
        self.resolver = resolver
        self.problems: list[Problem] = []
        self.operation_ids: list[Any] = []
        self.visited: set[int] = set()
        self.meta_checked: set[int] = set()
        self._default_resolver: Any = None

    # helpers

    def _deref(self, node: Any, pointer: str) -> tuple[Any, str] | None:
        try:
            return self.resolver.deref(node, pointer)
        except RefError:
            return None  # reported once by refs.ref_problems

    def _add(self, code: str, message: str, pointer: str, source: str) -> None:
        severity = WARNING if code in DOWNGRADED_TO_WARNINGS else ERROR
        self.problems.append(Problem(message, pointer, None, None, severity, code, source))

    # root

    def run(self) -> list[Problem]:
        doc = self.document
        if "tags" in doc:
            self._tags(doc["tags"], "/tags")
        if "paths" in doc:
            found = self._deref(doc["paths"], "/paths")
            if found and type(found[0]) is dict:
                paths, pointer = found
                for url, item in paths.items():
                    self._path(url, item, f"{pointer}/{escape_pointer_part(url)}")
        if "components" in doc:
            found = self._deref(doc["components"], "/components")
            if found and type(found[0]) is dict and "schemas" in found[0]:
                schemas = self._deref(found[0]["schemas"], f"{found[1]}/schemas")
                if schemas:
                    for name, schema in _children(schemas[0]):
                        self._schema(schema, f"{schemas[1]}/{escape_pointer_part(name)}")
        return self.problems

    def _tags(self, tags: Any, pointer: str) -> None:
        found = self._deref(tags, pointer)
        if not found:
            return
        seen: set[str] = set()
        for index, tag in _children(found[0]):
            tag_found = self._deref(tag, f"{found[1]}/{index}")
            if not tag_found or type(tag_found[0]) is not dict:
                continue
            name = tag_found[0].get("name")
            if type(name) is not str:
                continue
            if name in seen:
                self._add(
                    "duplicate_tag",
                    f"The tag '{name}' is defined more than once.",
                    f"{tag_found[1]}/name",
                    f"Duplicate tag name '{name}'",
                )
            seen.add(name)

    # paths and operations

    def _path(self, url: str, item: Any, pointer: str) -> None:
        found = self._deref(item, pointer)
        if not found or type(found[0]) is not dict:
            return
        item, pointer = found
        path_parameters = None
        if "parameters" in item:
            path_parameters = self._deref(item["parameters"], f"{pointer}/parameters")
            if path_parameters:
                self._parameters(*path_parameters)
        for method, operation in item.items():
            if method in OPERATION_METHODS:
                self._operation(url, method, operation, f"{pointer}/{method}", path_parameters)

    def _parameters(self, parameters: Any, pointer: str) -> None:
        seen: set[tuple] = set()
        for index, parameter in _children(parameters):
            found = self._deref(parameter, f"{pointer}/{index}")
            if not found or type(found[0]) is not dict:
                continue
            parameter, parameter_pointer = found
            if "schema" in parameter:
                self._schema(parameter["schema"], f"{parameter_pointer}/schema")
            name, location = parameter.get("name"), parameter.get("in")
            if type(name) is not str or type(location) is not str:
                continue
            if (name, location) in seen:
                self._add(
                    "duplicate_parameter",
                    f"The {location} parameter '{name}' is defined more than once here.",
                    parameter_pointer,
                    f"Duplicate parameter '{name}'",
                )
            seen.add((name, location))

    def _path_parameter_names(self, found: tuple[Any, str] | None) -> Iterator[str]:
        if not found:
            return
        for index, parameter in _children(found[0]):
            resolved = self._deref(parameter, f"{found[1]}/{index}")
            if resolved and type(resolved[0]) is dict and resolved[0].get("in") == "path":
                name = resolved[0].get("name")
                if type(name) is str:
                    yield name

    def _operation(self, url, method, operation, pointer, path_parameters) -> None:  # noqa: C901 - hot loop over every operation (bench/schema_validate.py)
        found = self._deref(operation, pointer)
        if not found:
            return
        operation, pointer = found
        if type(operation) is not dict:
            operation = {}  # osv still checks the path's parameters for e.g. `get: null`
        if "operationId" in operation:
            operation_id = operation["operationId"]
            if operation_id is not None and operation_id in self.operation_ids:
                self._add(
                    "duplicate_operation_id",
                    f"The operationId '{operation_id}' is already used by another operation; "
                    "each operationId must be unique.",
                    f"{pointer}/operationId",
                    f"Operation ID '{operation_id}' for '{method}' in '{url}' is not unique",
                )
            self.operation_ids.append(operation_id)
        if "responses" in operation:
            responses = self._deref(operation["responses"], f"{pointer}/responses")
            if responses:
                self._responses(*responses)
        names: list[str] = []
        if "parameters" in operation:
            parameters = self._deref(operation["parameters"], f"{pointer}/parameters")
            if parameters:
                self._parameters(*parameters)
                names += self._path_parameter_names(parameters)
        if path_parameters is not None:
            names += self._path_parameter_names(path_parameters)
        try:
            in_url = {field for _, field, _, _ in _URL_FORMATTER.parse(url) if field}
        except ValueError:
            self._add(
                "invalid_path",
                f"The path '{short(url)}' has an unmatched '{{' or '}}'.",
                pointer.rsplit("/", 1)[0],
                f"Invalid path template '{url}'",
            )
            return
        declared = set(names)
        for name in sorted(in_url - declared):
            self._add(
                "path_parameter",
                f"The path has a placeholder {{{name}}} but the {method.upper()} operation "
                f"declares no path parameter '{name}'.",
                pointer,
                f"Path parameter '{name}' for '{method}' operation in '{url}' was not resolved",
            )
        for name in sorted(declared - in_url):
            self._add(
                "path_parameter",
                f"The {method.upper()} operation declares a path parameter '{name}' but the "
                f"path has no {{{name}}} placeholder.",
                pointer,
                f"Path parameter '{name}' for '{method}' operation in '{url}' was not resolved",
            )

    def _responses(self, responses: Any, pointer: str) -> None:
        if type(responses) is not dict:
            return
        for code, response in responses.items():
            found = self._deref(response, f"{pointer}/{escape_pointer_part(code)}")
            if not found or type(found[0]) is not dict or "content" not in found[0]:
                continue
            content = self._deref(found[0]["content"], f"{found[1]}/content")
            if not content or type(content[0]) is not dict:
                continue
            for media_type, media in content[0].items():
                media_found = self._deref(media, f"{content[1]}/{escape_pointer_part(media_type)}")
                if media_found and type(media_found[0]) is dict and "schema" in media_found[0]:
                    self._schema(media_found[0]["schema"], f"{media_found[1]}/schema")

    # schema objects

    def _schema(  # noqa: C901 - hot loop over every schema node (bench/schema_validate.py)
        self, schema: Any, pointer: str, require_properties: bool = True, meta_checked: bool = False
    ) -> None:
        found = self._deref(schema, pointer)
        if not found:
            return
        value, pointer = found
        if type(value) is not dict and type(value) is not bool:
            self._add(
                "schema_type",
                f"A schema must be an object (or true/false), not {short(value)}.",
                pointer,
                f"{value!r} is not of type 'object', 'boolean'",
            )
            return
        key = id(value)
        if not meta_checked and key not in self.meta_checked:
            self.meta_checked.add(key)
            if self._dialect_problem(value, pointer):
                return
        if key in self.visited:
            return
        self.visited.add(key)
        if type(value) is bool:
            return
        for where, pattern in regex.unsupported_patterns(value):
            self.problems.append(
                Problem(
                    f"The pattern {short(pattern)} uses features (such as backreferences or "
                    "lookaround) that are not evaluated here: values are not checked against "
                    "it. Rewrite it without them to have it checked.",
                    pointer + where,
                    severity=WARNING,
                    code="pattern_not_checked",
                )
            )

        nested_properties: list = []
        for keyword in ("allOf", "anyOf", "oneOf"):
            if keyword in value:
                members = self._deref(value[keyword], f"{pointer}/{keyword}")
                if not members:
                    continue
                for index, inner in _children(members[0]):
                    inner_pointer = f"{members[1]}/{escape_pointer_part(index)}"
                    self._schema(inner, inner_pointer, False, True)
                    if keyword == "allOf":
                        nested_properties += self._collect_properties(inner, inner_pointer)
        for keyword in ("not", "items"):
            if keyword in value:
                self._schema(value[keyword], f"{pointer}/{keyword}", False, True)
        properties: Any = {}
        if "properties" in value:
            found_properties = self._deref(value["properties"], f"{pointer}/properties")
            if found_properties:
                properties = found_properties[0] if type(found_properties[0]) is dict else {}
                for name, inner in _children(found_properties[0]):
                    self._schema(
                        inner,
                        f"{found_properties[1]}/{escape_pointer_part(name)}",
                        False,
                        True,
                    )
        if "allOf" in value and require_properties:
            required = self._deref(value.get("required"), f"{pointer}/required")
            names = required[0] if required and type(required[0]) is list else []
            defined = set(properties) | set(nested_properties)
            missing = sorted({n for n in names if type(n) is str} - defined)
            if missing:
                self._add(
                    "required_not_defined",
                    f"'required' lists {', '.join(repr(n) for n in missing)}, which no "
                    "'properties' of this schema or its allOf parts define.",
                    f"{pointer}/required",
                    f"Required list has not defined properties: {missing}",
                )
        if "default" in value:
            default = value["default"]
            if default is not None or value.get("nullable") is not True:
                self._default(value, default, f"{pointer}/default")

    def _collect_properties(self, schema: Any, pointer: str) -> set:
        """Every property name reachable through properties/allOf/anyOf/oneOf/items/not."""
        names: set = set()
        stack = [(schema, pointer)]
        seen: set[int] = set()
        while stack:
            found = self._deref(*stack.pop())
            if not found or type(found[0]) is not dict or id(found[0]) in seen:
                continue
            node, node_pointer = found
            seen.add(id(node))
            props = self._deref(node.get("properties"), f"{node_pointer}/properties")
            if props:
                names.update(key for key, _ in _children(props[0]))
            for keyword in ("allOf", "anyOf", "oneOf"):
                members = self._deref(node.get(keyword), f"{node_pointer}/{keyword}")
                if members:
                    stack.extend(
                        (inner, f"{members[1]}/{escape_pointer_part(i)}")
                        for i, inner in _children(members[0])
                    )
            for keyword in ("items", "not"):
                if keyword in node:
                    stack.append((node[keyword], f"{node_pointer}/{keyword}"))
        return names

    def _dialect_problem(self, value: Any, pointer: str) -> bool:
        """osv's `_validate_schema_meta`: is this schema object valid in its dialect?"""
        checker_cls: Any = OAS30Validator
        kwargs: dict = {}
        fast = self.version == "3.0"
        if self.version in ("3.1", "3.2"):
            dialect = self._dialect_of(value)
            if not isinstance(dialect, str):
                return self._dialect_error(pointer, dialect)
            checker_cls = jsonschema_validators.validator_for({"$schema": dialect}, default=None)
            if checker_cls is None:
                return self._dialect_error(pointer, dialect)
            kwargs = {"format_checker": oas31_format_checker}
            fast = dialect == OAS31_BASE_DIALECT_ID and self.version == "3.1"
        if fast:
            try:
                if _fast_schema_check(self.version).is_valid(value):
                    return False
            except (ValueError, OverflowError):
                pass  # not representable for the fast validator: ask python
        if _count_nodes(value, PY_CHECK_MAX_NODES) > PY_CHECK_MAX_NODES and fast:
            error = next(iter(_fast_schema_check(self.version).iter_errors(value)), None)
            if error is not None:
                text, path = describe_rs(error)
                self._add(
                    "schema_invalid",
                    f"This is not a valid schema: {text}",
                    pointer + to_pointer(path),
                    error.message,
                )
                return True
            return False
        try:
            errors = _dialect_errors(checker_cls, value, kwargs.get("format_checker", _UNSET))
        except RecursionError:
            self._add(
                "schema_invalid",
                "This schema is nested too deeply to check.",
                pointer,
                "RecursionError",
            )
            return True
        if not errors:
            return False
        # Reported: the first error, in the order of the document, that is not one of the
        # tolerated kinds; when every error is tolerated, each is a warning and the schema
        # counts as valid.
        error = next((e for e in errors if not _tolerated(e)), None)
        if error is None:
            self.problems.extend(_tolerated_warning(e, pointer) for e in errors)
            return False
        text, path = describe_py(error)
        self._add(
            "schema_invalid",
            f"This is not a valid schema: {text}",
            pointer + to_pointer(path),
            error.message,
        )
        return True

    def _dialect_of(self, value: Any) -> Any:
        if type(value) is dict and "$schema" in value:
            return value["$schema"]
        default = OAS32_BASE_DIALECT_ID if self.version == "3.2" else OAS31_BASE_DIALECT_ID
        return self.document.get("jsonSchemaDialect", default)

    def _dialect_error(self, pointer: str, dialect: Any) -> bool:
        self._add(
            "schema_dialect",
            f"Unknown JSON Schema dialect {short(dialect)}.",
            pointer,
            f"Unknown JSON Schema dialect: {dialect!r}",
        )
        return True

    def _default(self, schema: dict, default: Any, pointer: str) -> None:
        """osv's value validator: does the default match its schema?"""
        if _count_nodes(default, PY_CHECK_MAX_NODES) > PY_CHECK_MAX_NODES:
            return  # see PY_CHECK_MAX_NODES
        if self._default_resolver is None:
            registry: Registry = Registry(retrieve=_deny_retrieval).with_resource(  # type: ignore[call-arg]
                "", DRAFT202012.create_resource(self.document)
            )
            self._default_resolver = registry.resolver(base_uri="")
        if self.version == "3.0":
            validator_cls, checker = _DefaultValidator30, oas30_format_checker
        else:
            validator_cls, checker = _DefaultValidator31, oas31_format_checker
        try:
            validator = validator_cls(
                schema, _resolver=self._default_resolver, format_checker=checker
            )
            for error in validator.iter_errors(default):
                text, path = describe_py(error)
                self._add(
                    "default_mismatch",
                    f"The default value does not match its schema: {text}",
                    pointer + to_pointer(path),
                    error.message,
                )
        except Exception as exc:  # noqa: BLE001 - an unresolvable $ref, a bad regex...
            self._add(
                "default_mismatch",
                "The default value could not be checked against its schema.",
                pointer,
                f"{type(exc).__name__}: {exc}",
            )


def _tolerated(error: Any) -> str | None:
    """The kind of a dialect error that changes nothing about a call, or None."""
    path = list(error.absolute_path)
    last = path[-1] if path else None
    if error.validator == "uniqueItems" and last == "required":
        return "required_repeated"
    if error.validator == "type" and last == "$recursiveAnchor":
        return "schema_keyword_ignored"
    return None


def _tolerated_warning(error: Any, pointer: str) -> Problem:
    """The warning a tolerated dialect error of the schema object at `pointer` becomes:
    a name listed twice in `required` (the repeat changes nothing) or `$recursiveAnchor:
    true` (a 2019-09 keyword the 2020-12 dialect, and so the runtime's argument checks,
    ignore); OpenAI's own document has both."""
    where = pointer + to_pointer(list(error.absolute_path))
    if _tolerated(error) == "required_repeated":
        return Problem(
            "'required' names the same property more than once; the repeat changes "
            "nothing. Remove it.",
            where,
            severity=WARNING,
            code="required_repeated",
            source=error.message,
        )
    return Problem(
        "$recursiveAnchor is a JSON Schema 2019-09 keyword; OpenAPI 3.1 schemas "
        "(JSON Schema 2020-12) ignore it. Use $dynamicAnchor, or remove it.",
        where,
        severity=WARNING,
        code="schema_keyword_ignored",
        source=error.message,
        fix_plan=("Remove $recursiveAnchor", "remove", where),
    )


_UNSET: Any = object()


@cache
def _dialect_checker(checker_cls: Any, format_checker: Any) -> Any:
    """The validator `checker_cls.check_schema(value, format_checker=...)` builds, made once:
    openapi-schema-validator's (its own registry of meta-schemas, nothing fetched) for the
    OpenAPI dialects, jsonschema's own for the others."""
    meta = checker_cls.META_SCHEMA
    meta_cls = jsonschema_validators.validator_for(meta, default=checker_cls)
    if getattr(checker_cls.check_schema, "__func__", None) is check_openapi_schema:
        if format_checker is _UNSET:
            format_checker = checker_cls.FORMAT_CHECKER
        return meta_cls(meta, format_checker=format_checker, registry=OAS_SPECIFICATIONS)
    if format_checker is _UNSET:
        format_checker = meta_cls.FORMAT_CHECKER
    return meta_cls(meta, format_checker=format_checker)


def _dialect_errors(checker_cls: Any, value: Any, format_checker: Any) -> list[Any]:
    """Every error `check_schema` would find in the schema object `value`, in the order of
    the document (`check_schema` raises whichever it meets first, and python-jsonschema
    meets the members an `additionalProperties` covers in the order of a set: with
    another PYTHONHASHSEED, another worker process named another error of OpenAI's
    `FineTuneDPOHyperparameters`). Ties keep the validator's own order."""
    errors: list[Any] = []
    try:
        errors.extend(_dialect_checker(checker_cls, format_checker).iter_errors(value))
    except RecursionError:
        raise
    except Exception:  # noqa: BLE001 - failing after an error, check_schema raised that error
        if not errors:
            raise
    if len(errors) > 1:
        errors.sort(key=lambda error: document_order(value, error.absolute_path))
    return errors


def document_order(root: Any, path: Any) -> list[int]:
    """Where the node at `path` (keys and indexes from `root`) comes in `root`'s text: the
    position of each step among its siblings (mappings keep the order they were read in)."""
    order = []
    node = root
    for step in path:
        if type(node) is dict:
            keys = list(node)
            order.append(keys.index(step) if step in node else len(keys))
            node = node.get(step)
        elif type(node) is list and type(step) is int and 0 <= step < len(node):
            order.append(step)
            node = node[step]
        else:
            order.append(0)
            node = None
    return order


def spec_problems(
    document: dict, version: str, resolver: LocalResolver, meta_document: dict | None = None
) -> list[Problem]:
    """Everything openapi-spec-validator would report for this 3.0 or 3.1 document.

    `meta_document` is what the meta-schema phase checks instead of `document` when some
    violations are tolerated (compat.py); the walk always sees the document itself."""
    problems = _meta_schema_problems(document if meta_document is None else meta_document, version)
    problems.extend(SpecWalk(document, version, resolver).run())
    return problems
