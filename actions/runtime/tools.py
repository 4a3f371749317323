"""A GPT's operations as function-calling tool definitions, the format assistant APIs accept:

    {"type": "function", "function": {"name": operationId, "description": ...,
                                      "parameters": <JSON Schema of the arguments object>}}

The arguments object is what the run endpoint takes: parameters by name (request.py decides the
names, so both always agree) and the request body under `requestBody`. OpenAPI 3.0 schemas are
rewritten into plain JSON Schema (`nullable`, boolean exclusive bounds, readOnly properties);
3.1 schemas already are JSON Schema and lose only OpenAPI's annotation keywords.
"""

from __future__ import annotations

from typing import Any

from actions.governance import exportable_operations
from actions.runtime.request import BODY_KEY, operation_arguments, operation_body

MAX_DESCRIPTION = 1024  # what the assistant APIs accept for a function's description
# OpenAPI-only keywords a JSON Schema consumer does not know (or misreads).
OPENAPI_ONLY = frozenset({"discriminator", "xml", "externalDocs", "example", "nullable"})
SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_SINGLES = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)


def json_schema(schema: Any, *, openapi_version: str) -> Any:
    """`schema` (an OpenAPI Schema Object) as JSON Schema for a request's input."""
    if not isinstance(schema, dict):
        return schema
    legacy = openapi_version.startswith("3.0")
    if "$ref" in schema:
        # Only cycles survive the engine's inlining; describe them as "any value" rather than
        # hand out a pointer into a document the consumer does not have.
        return {"description": schema.get("description", "")} if schema.get("description") else {}
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in OPENAPI_ONLY or key.startswith("x-"):
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {
                name: json_schema(sub, openapi_version=openapi_version)
                for name, sub in value.items()
                # A readOnly property is never sent in a request.
                if not (isinstance(sub, dict) and sub.get("readOnly"))
            }
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [json_schema(sub, openapi_version=openapi_version) for sub in value]
        elif key in SCHEMA_SINGLES and isinstance(value, dict):
            out[key] = json_schema(value, openapi_version=openapi_version)
        else:
            out[key] = value
    if "properties" in out and isinstance(out.get("required"), list):
        out["required"] = [name for name in out["required"] if name in out["properties"]]
        if not out["required"]:
            del out["required"]
    if legacy:
        _legacy_bounds(out)
        if schema.get("nullable") is True:
            _allow_null(out)
    return out


def _legacy_bounds(out: dict) -> None:
    # 3.0 (draft 4): `exclusiveMinimum: true` qualifies `minimum`; JSON Schema wants a number.
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if out.get(exclusive) is True and bound in out:
            out[exclusive] = out.pop(bound)
        elif isinstance(out.get(exclusive), bool):
            del out[exclusive]


def _allow_null(out: dict) -> None:
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    elif isinstance(kind, list) and "null" not in kind:
        out["type"] = [*kind, "null"]
    if isinstance(out.get("enum"), list) and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]


def arguments_schema(operation, *, openapi_version: str) -> dict:
    """The JSON Schema of the `arguments` object of `operation`."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg in operation_arguments(operation):
        schema = dict(json_schema(arg.schema, openapi_version=openapi_version) or {})
        if arg.description and "description" not in schema:
            schema["description"] = arg.description
        properties[arg.key] = schema
        if arg.required:
            required.append(arg.key)
    body = operation_body(operation)
    if body is not None:
        schema = dict(json_schema(body.schema, openapi_version=openapi_version) or {})
        if "description" not in schema:
            schema["description"] = body.description or f"The request body ({body.content_type})."
        properties[BODY_KEY] = schema
        if body.required:
            required.append(BODY_KEY)
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        result["required"] = required
    result["additionalProperties"] = False
    return result


def operation_description(operation) -> str:
    parts = [p.strip() for p in (operation.summary, operation.description) if p and p.strip()]
    if len(parts) == 2 and parts[1].startswith(parts[0]):
        parts = parts[1:]
    text = "\n\n".join(parts) or f"{operation.method.upper()} {operation.path}"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def tool_definition(operation, *, openapi_version: str) -> dict:
    return {
        "type": "function",
        "function": {
            "name": operation.operation_id,
            "description": operation_description(operation),
            "parameters": arguments_schema(operation, openapi_version=openapi_version),
        },
    }


def gpt_tools(*, actions) -> list[dict]:
    """Tool definitions for every operation of `actions` (operations prefetched, workspace
    loaded: `actions.selectors.callable_actions` gives them so) that the workspace lets be
    offered (actions/governance.py), in order."""
    return [
        tool_definition(operation, openapi_version=action.openapi_version or "3.1")
        for action in actions
        for operation in exportable_operations(action.operations.all(), workspace=action.workspace)
    ]
