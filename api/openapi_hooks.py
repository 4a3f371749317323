"""Post-processing of the API's own OpenAPI document (drf-spectacular): the error answers.

Every error of the API has one shape, `{"code", "detail", ...}` (config/api_errors.py), and the
same few causes apply to every operation, so they are declared here once instead of on each
view: 401/403 everywhere (authentication, roles), 404 where the path names an object (also the
answer for another workspace's objects), 400/413/415 where a JSON body is read. A status a view
declares itself (the run endpoint's 409, 502...) is left as the view wrote it.
"""

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": 'Every error: a stable "code", a human "detail", sometimes more fields '
    '(e.g. "fields" for invalid input, "authorize_url" for oauth_required).',
    "properties": {
        "code": {"type": "string", "example": "not_found"},
        "detail": {"type": "string", "example": "Not found."},
    },
    "required": ["code", "detail"],
}
DESCRIPTIONS = {
    "400": "Invalid input (code names the rule; fields or errors say where).",
    "401": "No valid session or bearer token.",
    "403": "The caller's role does not allow this, or the workspace policy refuses it.",
    "404": "No such object, or one of a workspace the caller does not belong to.",
    "413": "The request body is too large.",
    "415": "The request body is not JSON.",
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _error_response(status: str) -> dict:
    return {
        "description": DESCRIPTIONS[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}
        },
    }


def add_error_responses(result, generator, request, public):
    """drf-spectacular POSTPROCESSING_HOOKS entry: declare the shared error answers."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in HTTP_METHODS:
                continue
            # Every request's path and query string are checked (NUL, lone surrogates: 400).
            statuses = ["400", "401", "403"]
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                statuses.append("404")
            if "requestBody" in operation:
                statuses += ["413", "415"]
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                responses.setdefault(status, _error_response(status))
    return result
