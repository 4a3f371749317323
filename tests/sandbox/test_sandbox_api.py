"""The sandbox demo API: weather for all, a to-do list per user behind the sandbox's own OAuth
provider (django-oauth-toolkit), and the OpenAPI document the demo action is built from."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    set_token_value,
)
from openapi_spec_validator import validate

from sandbox.models import Todo
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def application():
    model = get_application_model()
    return model.objects.create(
        name="Sandbox to-dos",
        client_type=model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=model.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://testserver/aip/1/oauth/callback",
    )


def issue(application, user, *, scope="todos", expires_in=3600, raw=None) -> str:
    """A provider-issued access token (stored hashed, as the provider does)."""
    raw = raw or f"token-{user.pk}-{scope.replace(' ', '-')}-{expires_in}"
    token = get_access_token_model()(
        user=user,
        application=application,
        scope=scope,
        expires=timezone.now() + timedelta(seconds=expires_in),
    )
    set_token_value(token, raw)
    token.save()
    return raw


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def send(client: Client, method: str, path: str, body=None):
    if method == "get":
        return client.get(path)
    data = json.dumps(body) if body is not None and not isinstance(body, str | bytes) else body
    return getattr(client, method)(path, data=data, content_type="application/json")


def test_weather_is_open_and_deterministic():
    first = Client().get("/sandbox/weather/location", {"location": "Paris"})
    assert first.status_code == 200
    again = Client().get("/sandbox/weather/location", {"location": "paris"}).json()
    assert first.json() == again | {"location": "Paris"}
    assert Client().get("/sandbox/weather/location").status_code == 400


def test_todos_crud_for_the_tokens_owner(application):
    alice = make_user("alice")
    client = bearer(issue(application, alice))
    assert client.get("/sandbox/api/todos").json() == {"todos": []}
    created = send(client, "post", "/sandbox/api/todos", {"title": "  Buy milk "})
    assert created.status_code == 201
    todo = created.json()
    assert todo["title"] == "Buy milk" and todo["done"] is False
    assert Todo.objects.get().owner == alice
    updated = send(client, "patch", f"/sandbox/api/todos/{todo['id']}", {"done": True})
    assert updated.status_code == 200 and updated.json()["done"] is True
    assert client.get(f"/sandbox/api/todos/{todo['id']}").json()["done"] is True
    assert client.get("/sandbox/api/todos", {"done": "false"}).json() == {"todos": []}
    assert len(client.get("/sandbox/api/todos", {"done": "true"}).json()["todos"]) == 1
    deleted = client.delete(f"/sandbox/api/todos/{todo['id']}")
    assert deleted.status_code == 200 and deleted.json() == {"deleted": True, "id": todo["id"]}
    assert not Todo.objects.exists()


def test_users_see_only_their_own_todos(application):
    alice, bob = make_user(), make_user()
    alices = Todo.objects.create(owner=alice, title="Alice's")
    bob_client = bearer(issue(application, bob))
    assert bob_client.get("/sandbox/api/todos").json() == {"todos": []}
    for method in ("get", "patch", "delete"):
        response = send(bob_client, method, f"/sandbox/api/todos/{alices.pk}", {"done": True})
        assert response.status_code == 404, method
    alices.refresh_from_db()
    assert alices.done is False


@pytest.mark.parametrize(
    "headers",
    [{}, {"HTTP_AUTHORIZATION": "Bearer nope"}, {"HTTP_AUTHORIZATION": "Basic Zm9vOmJhcg=="}],
)
def test_no_valid_token_is_401_with_a_challenge(application, headers):
    response = Client(**headers).get("/sandbox/api/todos")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"] == "invalid_token"


def test_expired_token_is_401(application):
    client = bearer(issue(application, make_user(), expires_in=-10))
    assert client.get("/sandbox/api/todos").status_code == 401


def test_token_in_the_query_string_is_refused(application):
    token = issue(application, make_user())
    assert Client().get("/sandbox/api/todos", {"access_token": token}).status_code == 401


def test_token_without_the_todos_scope_is_403(application):
    client = bearer(issue(application, make_user(), scope="read"))
    response = client.get("/sandbox/api/todos")
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]


def test_session_cookies_do_not_count(application):
    client = Client()
    client.force_login(make_user())
    assert client.get("/sandbox/api/todos").status_code == 401


@pytest.mark.parametrize(
    "body, error",
    [
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ({}, "invalid_title"),
        ({"title": ""}, "invalid_title"),
        ({"title": "x" * 201}, "invalid_title"),
        ({"title": 5}, "invalid_title"),
        ({"title": "ok", "done": "yes"}, "invalid_done"),
    ],
)
def test_bad_todos_are_400(application, body, error):
    client = bearer(issue(application, make_user()))
    response = send(client, "post", "/sandbox/api/todos", body)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert not Todo.objects.exists()


def test_oversized_body_is_413(application):
    client = bearer(issue(application, make_user()))
    response = send(client, "post", "/sandbox/api/todos", {"title": "x" * 20_000})
    assert response.status_code == 413


def test_bad_filter_and_method(application):
    client = bearer(issue(application, make_user()))
    assert client.get("/sandbox/api/todos", {"done": "maybe"}).status_code == 400
    assert client.put("/sandbox/api/todos").status_code == 405


def test_the_list_is_capped(application, monkeypatch):
    from sandbox import views

    monkeypatch.setattr(views, "MAX_ITEMS_PER_USER", 2)
    client = bearer(issue(application, make_user()))
    for title in ("a", "b"):
        assert send(client, "post", "/sandbox/api/todos", {"title": title}).status_code == 201
    assert send(client, "post", "/sandbox/api/todos", {"title": "c"}).status_code == 409


def test_openapi_document(settings):
    settings.SITE_URL = "http://127.0.0.1:8123"
    response = Client().get("/sandbox/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)  # a valid OpenAPI 3.1 document
    assert document["servers"] == [{"url": "http://127.0.0.1:8123/sandbox/api"}]
    operations = {
        op["operationId"]
        for path in document["paths"].values()
        for op in path.values()
        if isinstance(op, dict)
    }
    assert operations == {"listTodos", "createTodo", "getTodo", "updateTodo", "deleteTodo"}
    flow = document["components"]["securitySchemes"]["sandbox_oauth"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == "http://127.0.0.1:8123/o/authorize/"
    assert flow["tokenUrl"] == "http://127.0.0.1:8123/o/token/"
    assert "todos" in flow["scopes"]
