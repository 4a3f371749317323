"""Preview: the Test page of one detected operation, in the builder's editor.

The page is a form generated from the operation's parameters and request body schema. Its script
(static/editor/preview.js) posts the values to the run endpoint with the session, so the test
goes through exactly the runtime a GPT uses: the same approval prompt, policy checks, auth and
limits. It then shows what was sent (secrets masked) and what came back, like a debugger.
"""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from actions.governance import operation_refusal
from actions.models import Action
from actions.runtime.request import (
    BODY_KEY,
    Argument,
    BodySpec,
    operation_arguments,
    operation_body,
    server_url,
)
from actions.runtime.tools import json_schema
from actions.selectors import action_access_for_member
from api.permissions import requires_access
from kernel.errors import RuleViolation
from workspaces.selectors import Access

# What an input of each JSON type looks like, and how the script turns its text into a value.
WIDGETS = {"integer": "number", "number": "number", "boolean": "select", "string": "text"}


def _kind(schema: dict) -> str:
    """The JSON type a field holds: the schema's type (ignoring "null"), else a guess."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if any(key in schema for key in ("allOf", "anyOf", "oneOf")):
        return "json"
    return "string"


def _skeleton(schema: dict, depth: int = 0):
    """A starting value for a JSON textarea: the example or default, else required fields."""
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    kind = _kind(schema)
    if depth > 4:
        return None
    if kind == "object":
        props = schema.get("properties") or {}
        required = schema.get("required") or list(props)
        return {name: _skeleton(props[name], depth + 1) for name in required if name in props}
    if kind == "array":
        return []
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    return {"integer": 0, "number": 0, "boolean": False, "string": ""}.get(kind)


def parameter_field(arg: Argument, *, openapi_version: str) -> dict:
    schema = json_schema(arg.schema, openapi_version=openapi_version) or {}
    kind = _kind(schema)
    enum = schema.get("enum") if isinstance(schema.get("enum"), list) else None
    widget = "select" if enum else WIDGETS.get(kind, "json")
    return {
        "key": arg.key,
        "id": f"arg-{arg.key}".replace(".", "-"),
        "location": arg.location,
        "required": arg.required,
        "kind": "json" if widget == "json" else kind,
        "widget": widget,
        "choices": [json.dumps(v) if not isinstance(v, str) else v for v in enum] if enum else [],
        "description": arg.description or schema.get("description", ""),
        "placeholder": str(schema.get("example", schema.get("default", ""))),
        "initial": json.dumps(_skeleton(schema), indent=2) if widget == "json" else "",
        "type_label": kind + (f" ({schema['format']})" if schema.get("format") else ""),
    }


def body_field(body: BodySpec, *, openapi_version: str) -> dict:
    schema = json_schema(body.schema, openapi_version=openapi_version) or {}
    media = body.content_type.split(";")[0].strip().lower()
    text_body = media.startswith("text/")
    return {
        "key": BODY_KEY,
        "id": "arg-requestBody",
        "required": body.required,
        "content_type": body.content_type,
        "kind": "string" if text_body else "json",
        "description": body.description or schema.get("description", ""),
        "initial": "" if text_body else json.dumps(_skeleton(schema), indent=2),
    }


@login_required
@require_GET
@requires_access(action_access_for_member, denied="You may not test this action.")
def operation_test(
    request: HttpRequest, action_id: int, operation_id: str, *, access: Access[Action]
) -> HttpResponse:
    """The Test page. Anyone who may run the action may test it here (the same rights as the
    run endpoint); a stranger's action is a 404."""
    action = access.obj
    operation = next(
        (op for op in action.operations.all() if op.operation_id == operation_id), None
    )
    if operation is None:
        raise Http404("No such operation.")
    version = action.openapi_version or "3.1"
    body = operation_body(operation)
    try:
        endpoint = server_url(action) + operation.path
    except RuleViolation:
        endpoint = action.domain + operation.path
    context = {
        "action": action,
        "gpt": action.gpt,
        "operation": operation,
        "endpoint": endpoint,
        "fields": [
            parameter_field(a, openapi_version=version) for a in operation_arguments(operation)
        ],
        "body": body_field(body, openapi_version=version) if body else None,
        "run_url": f"/api/v1/actions/{action.pk}/operations/{operation.operation_id}/run",
        "can_edit": access.can_edit,
        # The runtime refuses it anyway; the page says so up front, with the reason.
        "refusal": operation_refusal(operation, action.workspace),
    }
    return render(request, "editor/preview.html", context)
