"""Validator errors → sentences a builder understands (no Python reprs of whole objects).

Two sources: jsonschema-rs errors (the OpenAPI meta-schema applied to the document) and
python-jsonschema errors (schema objects checked against their dialect, default values checked
against their schema). For "none of the alternatives match" errors (`oneOf`/`anyOf`), the
alternative that came closest is explained instead, and its location is used.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema.exceptions import best_match

MAX_SHOWN = 60


def short(value: Any) -> str:
    """A value as JSON, cut to a readable length."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a value"


_TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _types(types: Any) -> str:
    if isinstance(types, str):
        types = [types]
    words = [_TYPE_WORDS.get(str(t), str(t)) for t in types]
    return " or ".join(words) if words else "another type"


def _names(names: Any) -> str:
    names = list(names)
    quoted = ", ".join(f"'{n}'" for n in names[:5])
    return quoted + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def sentence(keyword: str, details: dict, instance: Any, fallback: str) -> str:  # noqa: C901 - one wording per JSON Schema keyword, read as a table
    """The sentence for one failed keyword (shared by both validators)."""
    if keyword == "required":
        return f"The required field '{details.get('property')}' is missing."
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        unexpected = details.get("unexpected") or []
        if len(unexpected) == 1:
            return f"'{unexpected[0]}' is not a field allowed here."
        return f"These fields are not allowed here: {_names(unexpected)}."
    if keyword == "type":
        return f"Expected {_types(details.get('types'))} here, found {kind_of(instance)}."
    if keyword == "enum":
        options = details.get("options") or []
        return f"{short(instance)} is not one of the allowed values: {short(options)}."
    if keyword == "const":
        return f"The value must be {short(details.get('expected'))}."
    if keyword == "pattern":
        return f"{short(instance)} does not match the pattern {details.get('pattern')}."
    if keyword == "format":
        return f"{short(instance)} is not a valid {details.get('format')}."
    if keyword == "uniqueItems":
        return f"The list {short(instance)} has the same item more than once."
    if keyword in ("minItems", "minLength", "minProperties"):
        noun = {"minItems": "item", "minLength": "character", "minProperties": "field"}[keyword]
        limit = details.get("limit")
        if limit == 1 and keyword == "minItems":
            return "The list must not be empty."
        return f"Needs at least {limit} {noun}{'' if limit == 1 else 's'}."
    if keyword in ("maxItems", "maxLength", "maxProperties"):
        noun = {"maxItems": "item", "maxLength": "character", "maxProperties": "field"}[keyword]
        return f"Can have at most {details.get('limit')} {noun}s."
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        words = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "more than",
            "exclusiveMaximum": "less than",
        }
        return f"{short(instance)} must be {words[keyword]} {details.get('limit')}."
    if keyword == "multipleOf":
        return f"{short(instance)} must be a multiple of {details.get('multiple_of')}."
    if keyword in ("oneOf", "anyOf"):
        return "This does not match any of the forms allowed here."
    if keyword == "not":
        return "This value is not allowed here."
    if keyword == "falseSchema":
        return "Nothing is allowed here."
    return _clean(fallback)


def _clean(message: str) -> str:
    message = " ".join(message.split())
    if len(message) > 300:
        message = message[:299] + "…"
    return message if message.endswith((".", "?", "!", "…")) else message + "."


# jsonschema-rs ------------------------------------------------------------------------------


def _rs_details(kind: Any) -> dict:
    name = type(kind).__name__
    if name == "Required":
        return {"property": kind.property}
    if name in ("AdditionalProperties", "UnevaluatedProperties"):
        return {"unexpected": list(kind.unexpected)}
    if name == "Type":
        return {"types": list(kind.types)}
    if name == "Enum":
        return {"options": list(kind.options)}
    if name == "Constant":
        return {"expected": kind.expected_value}
    if name == "Pattern":
        return {"pattern": kind.pattern}
    if name == "Format":
        return {"format": kind.format}
    if hasattr(kind, "limit"):
        return {"limit": kind.limit}
    if name == "MultipleOf":
        return {"multiple_of": kind.multiple_of}
    return {}


_RS_KEYWORDS = {
    "OneOfNotValid": "oneOf",
    "OneOfMultipleValid": "oneOfMultiple",
    "AnyOf": "anyOf",
    "Constant": "const",
    "FalseSchema": "falseSchema",
}


def _rs_keyword(kind: Any) -> str:
    name = type(kind).__name__
    return _RS_KEYWORDS.get(name, name[:1].lower() + name[1:])


def _is_reference_branch(errors: list) -> bool:
    """The branch that wanted a Reference Object (`$ref`): rarely what the author meant."""
    return any(type(e.kind).__name__ == "Required" and e.kind.property == "$ref" for e in errors)


def closest_rs_error(error: Any, depth: int = 0) -> Any:
    """For oneOf/anyOf failures, descend into the alternative that came closest."""
    kind = error.kind
    context = getattr(kind, "context", None)
    if not context or depth > 8 or type(kind).__name__ == "OneOfMultipleValid":
        return error
    branches = [branch for branch in context if branch]
    if not branches:
        return error

    def score(branch: list) -> tuple:
        deepest = max(len(e.instance_path) for e in branch)
        return (_is_reference_branch(branch), -deepest, len(branch))

    best = min(branches, key=score)
    deepest = max(best, key=lambda e: len(e.instance_path))
    return closest_rs_error(deepest, depth + 1)


def describe_rs(error: Any) -> tuple[str, list]:
    """(sentence, instance path) for a jsonschema-rs error, after picking the closest branch."""
    chosen = closest_rs_error(error)
    kind = chosen.kind
    keyword = _rs_keyword(kind)
    path = list(chosen.instance_path)
    if keyword == "oneOfMultiple":
        text = "This matches more than one of the forms allowed here; it must match exactly one."
    else:
        text = sentence(keyword, _rs_details(kind), chosen.instance, chosen.message)
    if keyword == "required":
        path.append(kind.property)  # point at the missing field (its parent's line)
    elif keyword in ("additionalProperties", "unevaluatedProperties"):
        unexpected = list(getattr(kind, "unexpected", None) or [])
        if unexpected:
            path.append(unexpected[0])  # point at the offending key, not its parent
    return text, path


# python-jsonschema --------------------------------------------------------------------------


def _py_details(error: Any) -> dict:
    keyword = error.validator
    value = error.validator_value
    if keyword == "required":
        # "'x' is a required property": the missing name is the first quoted word.
        missing = [
            name
            for name in (value or [])
            if isinstance(error.instance, dict) and name not in error.instance
        ]
        return {"property": missing[0] if missing else ", ".join(map(str, value or []))}
    if keyword == "type":
        return {"types": value}
    if keyword == "enum":
        return {"options": value}
    if keyword == "const":
        return {"expected": value}
    if keyword == "pattern":
        return {"pattern": value}
    if keyword == "format":
        return {"format": value}
    if keyword in ("additionalProperties", "unevaluatedProperties"):
        if isinstance(error.instance, dict):
            allowed = set((error.schema or {}).get("properties", {}))
            return {"unexpected": [k for k in error.instance if k not in allowed]}
        return {}
    if keyword == "multipleOf":
        return {"multiple_of": value}
    return {"limit": value}


def describe_py(error: Any) -> tuple[str, list]:
    """(sentence, relative path) for a python-jsonschema error."""

    chosen = error
    for _ in range(8):
        if chosen.validator in ("oneOf", "anyOf") and chosen.context:
            chosen = best_match(chosen.context)
        else:
            break
    details = _py_details(chosen)
    text = sentence(str(chosen.validator), details, chosen.instance, chosen.message)
    path = list(chosen.absolute_path)
    if chosen.validator == "required" and isinstance(chosen.instance, dict):
        path.append(details["property"])
    elif details.get("unexpected"):
        path.append(details["unexpected"][0])  # the offending key, not its parent
    return text, path
