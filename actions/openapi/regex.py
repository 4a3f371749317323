"""Regular expressions written in a schema, evaluated in linear time (RE2) or not at all.

A `pattern` or a `patternProperties` key comes from whoever wrote the document: evaluated by
Python's backtracking `re`, `^(a+)+$` against 27 characters takes seconds, and a few such
values stall a worker. RE2 (google-re2) matches in time linear in the text, whatever the
pattern; its memory is capped per pattern (`_MAX_MEM`). What RE2 can not compile
(backreferences, lookaround, possessive quantifiers) is *not checked* — never handed to a
backtracking engine — and the engine warns about such a pattern (`unsupported_patterns`).

python-jsonschema calls `re.search` itself in four keywords (`pattern`, `patternProperties`,
`additionalProperties` next to `patternProperties`, and `unevaluatedProperties` through
`find_evaluated_property_keys_by_schema`); `linear()` returns a validator class with those four
replaced by RE2 versions that give the same messages. Everything that validates a value against
a schema from a document (default values here, run arguments in actions/runtime/request.py)
uses such a class. Patching the `re` module of jsonschema instead would change it for every
other user of the library in the process (schemathesis in the tests).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import re2
from jsonschema import validators as jsonschema_validators
from jsonschema._utils import extras_msg
from jsonschema.exceptions import ValidationError

from actions.openapi.problems import escape_pointer_part

_MAX_MEM = 8 << 20  # bytes of compiled program per pattern; more fails to compile → unchecked
_CACHE_SIZE = 1024
_UNSUPPORTED = object()

_lock = threading.Lock()
_compiled: dict[str, Any] = {}


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # an uncompilable pattern is an answer, not a log line
    options.max_mem = _MAX_MEM
    return options


_OPTIONS = _options()


def compile_linear(pattern: str) -> Any | None:
    """The RE2 program for `pattern`, or None if RE2 can not run it (not checked then)."""
    with _lock:
        found = _compiled.get(pattern)
    if found is None:
        try:
            found = re2.compile(pattern, options=_OPTIONS)
        except (re2.error, TypeError, ValueError, OverflowError):
            found = _UNSUPPORTED
        with _lock:
            if len(_compiled) >= _CACHE_SIZE:
                _compiled.clear()
            _compiled[pattern] = found
    return None if found is _UNSUPPORTED else found


def search(pattern: str, text: str) -> bool | None:
    """Does `pattern` match somewhere in `text`? None: RE2 can not run the pattern."""
    program = compile_linear(pattern)
    if program is None:
        return None
    try:
        return program.search(text) is not None
    except (re2.error, TypeError, ValueError, UnicodeEncodeError):
        return None  # e.g. a lone surrogate, which RE2's UTF-8 input can not hold


def unsupported_patterns(schema: Any) -> Iterator[tuple[str, str]]:
    """(relative pointer, pattern) of each `pattern` value and `patternProperties` key of one
    schema object that RE2 can not run."""
    if type(schema) is not dict:
        return
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and compile_linear(pattern) is None:
        yield "/pattern", pattern
    properties = schema.get("patternProperties")
    if type(properties) is dict:

        for key in properties:
            if isinstance(key, str) and compile_linear(key) is None:
                yield f"/patternProperties/{escape_pointer_part(key)}", key


# jsonschema keywords ------------------------------------------------------------------------


def _unrunnable(pattern: str) -> None:
    """A pattern RE2 can not run: a syntax error is raised as Python's `re` would raise it
    (the callers turn it into "can not be checked"); a valid one is simply not checked.
    Compiling with `re` is safe: only matching can backtrack."""
    re.compile(pattern)


def _matches(pattern: Any, text: Any) -> bool:
    """For the property keywords: an unrunnable pattern matches nothing (it is not checked)."""
    if not isinstance(pattern, str) or not isinstance(text, str):
        return False
    found = search(pattern, text)
    if found is None:
        _unrunnable(pattern)
    return bool(found)


def _pattern(validator, patrn, instance, schema):
    if not validator.is_type(instance, "string") or not isinstance(patrn, str):
        return
    found = search(patrn, instance)
    if found is None:
        _unrunnable(patrn)
    elif not found:
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            if _matches(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional(instance: dict, schema: dict) -> list:
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    return [
        key
        for key in instance
        if key not in properties and not any(_matches(p, key) for p in patterns)
    ]


def _additional_properties(validator, ap, instance, schema):
    """Draft 2020-12's keyword (OpenAPI 3.1), with RE2 for `patternProperties`."""
    if not validator.is_type(instance, "object"):
        return
    extras = set(_additional(instance, schema))
    if validator.is_type(ap, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], ap, path=extra)
    elif not ap and extras:
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            joined = ", ".join(repr(each) for each in sorted(extras))
            patterns = ", ".join(repr(each) for each in sorted(schema["patternProperties"]))
            yield ValidationError(f"{joined} {verb} not match any of the regexes: {patterns}")
        else:
            error = "Additional properties are not allowed (%s %s unexpected)"
            yield ValidationError(error % extras_msg(sorted(extras, key=str)))


def _additional_properties_oas30(validator, ap, instance, schema):
    """openapi-schema-validator's OpenAPI 3.0 keyword, with RE2 for `patternProperties`."""
    if not validator.is_type(instance, "object"):
        return
    extras = set(_additional(instance, schema))
    if not extras:
        return
    if validator.is_type(ap, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], ap, path=extra)
    elif validator.is_type(ap, "boolean") and not ap:
        error = "Additional properties are not allowed (%s %s unexpected)"
        yield ValidationError(error % extras_msg(extras))


def _is_valid(errors) -> bool:
    return next(errors, None) is None


def _evaluated_keys(validator, instance: dict, schema: Any) -> list:  # noqa: C901 - mirrors jsonschema's own keyword-by-keyword rules
    """jsonschema's `find_evaluated_property_keys_by_schema`, with RE2 for patterns."""
    if validator.is_type(schema, "boolean") or type(schema) is not dict:
        return []
    keys: list = []
    for keyword in ("$ref", "$dynamicRef"):
        reference = schema.get(keyword)
        if reference is not None:
            resolved = validator._resolver.lookup(reference)
            keys += _evaluated_keys(
                validator.evolve(schema=resolved.contents, _resolver=resolved.resolver),
                instance,
                resolved.contents,
            )
    properties = schema.get("properties")
    if isinstance(properties, dict) and validator.is_type(properties, "object"):
        keys += properties.keys() & instance.keys()
    for keyword in ("additionalProperties", "unevaluatedProperties"):
        if (subschema := schema.get(keyword)) is None:
            continue
        keys += (
            key for key, value in instance.items() if _is_valid(validator.descend(value, subschema))
        )
    if "patternProperties" in schema:
        for key in instance:
            for pattern in schema["patternProperties"]:
                if _matches(pattern, key):
                    keys.append(key)
    if "dependentSchemas" in schema:
        for key, subschema in schema["dependentSchemas"].items():
            if key in instance:
                keys += _evaluated_keys(validator, instance, subschema)
    for keyword in ("allOf", "oneOf", "anyOf"):
        for subschema in schema.get(keyword, []):
            if _is_valid(validator.descend(instance, subschema)):
                keys += _evaluated_keys(validator, instance, subschema)
    if "if" in schema:
        if validator.evolve(schema=schema["if"]).is_valid(instance):
            keys += _evaluated_keys(validator, instance, schema["if"])
            if "then" in schema:
                keys += _evaluated_keys(validator, instance, schema["then"])
        elif "else" in schema:
            keys += _evaluated_keys(validator, instance, schema["else"])
    return keys


def _unevaluated_properties(validator, unevaluated, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    evaluated = _evaluated_keys(validator, instance, schema)
    failed = []
    for key in instance:
        if key not in evaluated:
            for _ in validator.descend(instance[key], unevaluated, path=key, schema_path=key):
                failed.append(key)  # noqa: PERF401 - jsonschema's own shape
    if failed:
        if unevaluated is False:
            error = "Unevaluated properties are not allowed (%s %s unexpected)"
            yield ValidationError(error % extras_msg(sorted(failed, key=str)))
        else:
            error = (
                "Unevaluated properties are not valid under the given schema "
                "(%s %s unevaluated and invalid)"
            )
            yield ValidationError(error % extras_msg(failed))


def linear(validator_cls: Any, *, oas30: bool = False) -> Any:
    """`validator_cls` with every keyword that runs a document's regex on RE2."""
    keywords = {
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties_oas30 if oas30 else _additional_properties,
    }
    keywords["unevaluatedProperties"] = _unevaluated_properties
    present = validator_cls.VALIDATORS
    # Only replace what the dialect has: OpenAPI 3.0 knows no patternProperties keyword.
    return jsonschema_validators.extend(
        validator_cls, {name: fn for name, fn in keywords.items() if name in present}
    )
