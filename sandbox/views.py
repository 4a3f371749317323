"""The sandbox demo API: a weather endpoint open to all and a to-do list behind OAuth 2.0.

It lets the whole product run on one machine: the demo GPT's actions call these endpoints
through the same guarded runtime as any external API.
"""

import hashlib
import json
from functools import wraps

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from oauth2_provider.oauth2_backends import get_oauthlib_core

from sandbox.models import Todo
from sandbox.openapi import todo_openapi_document

CONDITIONS = ["sunny", "cloudy", "rain", "snow", "windy", "fog"]


@require_GET
def weather_location(request):
    """GET /sandbox/weather/location?location=Paris: deterministic made-up weather."""
    location = request.GET.get("location", "").strip()
    if not location:
        return JsonResponse(
            {"error": "missing_location", "detail": "The query parameter location is required."},
            status=400,
        )
    if len(location) > 200:
        return JsonResponse(
            {"error": "invalid_location", "detail": "location is at most 200 characters."},
            status=400,
        )
    seed = int.from_bytes(hashlib.sha256(location.lower().encode()).digest()[:4], "big")
    return JsonResponse(
        {
            "location": location,
            "temperature_c": round(-5 + (seed % 400) / 10, 1),
            "conditions": CONDITIONS[seed % len(CONDITIONS)],
            "humidity": seed % 100,
        }
    )


# The to-do API ------------------------------------------------------------------------------
# Bearer tokens of the sandbox's own OAuth provider (django-oauth-toolkit), scope "todos". The
# token's user owns the list. No cookies are looked at, so CSRF does not apply.

TASKS_SCOPE = "todos"
MAX_ITEMS_PER_USER = 500
MAX_BODY_BYTES = 10_000


def _problem(status: int, error: str, detail: str, *, challenge: str | None = None):
    response = JsonResponse({"error": error, "detail": detail}, status=status)
    if challenge:
        response["WWW-Authenticate"] = challenge
    return response


def todos_protected(view):
    """Let the request through only with a valid access token carrying the todos scope
    (RFC 6750 answers: 401 invalid_token, 403 insufficient_scope)."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
        token = getattr(oauth_request, "access_token", None) if valid else None
        if token is None:
            return _problem(
                401,
                "invalid_token",
                "Send a valid access token of the sandbox provider as a Bearer token.",
                challenge='Bearer realm="sandbox", error="invalid_token"',
            )
        if not token.allow_scopes([TASKS_SCOPE]):
            return _problem(
                403,
                "insufficient_scope",
                f"The access token lacks the {TASKS_SCOPE} scope.",
                challenge=f'Bearer realm="sandbox", error="insufficient_scope", '
                f'scope="{TASKS_SCOPE}"',
            )
        request.resource_owner = token.user
        return view(request, *args, **kwargs)

    return wrapped


def todo_data(todo: Todo) -> dict:
    return {
        "id": todo.pk,
        "title": todo.title,
        "done": todo.done,
        "created_at": todo.created_at.isoformat(),
    }


def _json_body(request) -> tuple[dict | None, JsonResponse | None]:
    """The request's JSON object, or the 400 answer explaining why there is none."""
    if len(request.body) > MAX_BODY_BYTES:
        return None, _problem(413, "too_large", f"The body is over {MAX_BODY_BYTES} bytes.")
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None, _problem(400, "invalid_json", "The body must be JSON.")
    if not isinstance(data, dict):
        return None, _problem(400, "invalid_json", "The body must be a JSON object.")
    return data, None


def _clean_fields(data: dict, *, partial: bool) -> tuple[dict, JsonResponse | None]:
    fields: dict[str, str | bool] = {}
    if "title" in data or not partial:
        title = data.get("title")
        if not isinstance(title, str) or not title.strip() or len(title.strip()) > 200:
            return {}, _problem(400, "invalid_title", "title is text of 1 to 200 characters.")
        fields["title"] = title.strip()
    if "done" in data:
        if not isinstance(data["done"], bool):
            return {}, _problem(400, "invalid_done", "done is true or false.")
        fields["done"] = data["done"]
    return fields, None


@todos_protected
@require_http_methods(["GET", "POST"])
def todo_list(request):
    """GET /sandbox/api/todos[?done=true|false] and POST /sandbox/api/todos {"title","done"?}."""
    todos = Todo.objects.filter(owner=request.resource_owner)
    if request.method == "GET":
        done = request.GET.get("done", "").lower()
        if done in ("true", "false"):
            todos = todos.filter(done=done == "true")
        elif done:
            return _problem(400, "invalid_done", "done is true or false.")
        return JsonResponse({"todos": [todo_data(todo) for todo in todos]})
    data, problem = _json_body(request)
    if problem:
        return problem
    fields, problem = _clean_fields(data or {}, partial=False)
    if problem:
        return problem
    if todos.count() >= MAX_ITEMS_PER_USER:
        return _problem(
            409, "too_many", f"A list holds at most {MAX_ITEMS_PER_USER} to-dos: delete some."
        )
    todo = Todo.objects.create(owner=request.resource_owner, **fields)
    return JsonResponse(todo_data(todo), status=201)


@todos_protected
@require_http_methods(["GET", "PATCH", "DELETE"])
def todo_detail(request, todo_id: int):
    """GET, PATCH {"title"?, "done"?}, DELETE /sandbox/api/todos/{id}: the owner's only."""
    todo = Todo.objects.filter(owner=request.resource_owner, pk=todo_id).first()
    if todo is None:
        return _problem(404, "not_found", f"You have no to-do {todo_id}.")
    if request.method == "GET":
        return JsonResponse(todo_data(todo))
    if request.method == "DELETE":
        todo.delete()
        return JsonResponse({"deleted": True, "id": todo_id})
    data, problem = _json_body(request)
    if problem:
        return problem
    fields, problem = _clean_fields(data or {}, partial=True)
    if problem:
        return problem
    for name, value in fields.items():
        setattr(todo, name, value)
    if fields:
        todo.save(update_fields=list(fields))
    return JsonResponse(todo_data(todo))


@require_GET
def todo_openapi(request):
    """GET /sandbox/api/openapi.json: the to-do API's OpenAPI 3.1 document."""
    return JsonResponse(todo_openapi_document(), json_dumps_params={"indent": 2})
