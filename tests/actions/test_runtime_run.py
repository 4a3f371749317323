"""The action runtime end to end: the run endpoint → runtime → a real HTTP server on 127.0.0.1.

Actions are created through the same service as the editor (schema engine included) and point
at a pytest-httpserver bound to 127.0.0.1; the deployment's private-address allowlist names its
port. What the server received (`server.log`) is the proof of what was, or was not, sent.
"""

import base64
import json
import socket

import pytest
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from werkzeug import Response

from actions import openapi
from actions.models import (
    ConnectedAccount,
    Consent,
    Invocation,
    InvocationStatus,
)
from actions.services import action_create, action_update
from tests.factories import add_member, make_gpt, make_workspace
from tests.openapi_responses import install
from workspaces.models import Plan, Role
from workspaces.services import domain_policy_update

API_KEY = "sk-live-1234567890abcdef"


def schema_for(port: int, *, host: str = "127.0.0.1", weather_consequential=None) -> str:
    weather = {
        "operationId": "getWeather",
        "summary": "Current weather",
        "parameters": [
            {"name": "location", "in": "query", "required": True, "schema": {"type": "string"}},
            {"name": "days", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        ],
        "responses": {"200": {"description": "OK"}},
    }
    if weather_consequential is not None:
        weather["x-openai-isConsequential"] = weather_consequential
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Runtime test API", "version": "1.0.0"},
        "servers": [{"url": f"http://{host}:{port}"}],
        "paths": {
            "/weather": {"get": weather},
            "/things/{name}": {
                "get": {
                    "operationId": "getThing",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            },
            "/notes": {
                "post": {
                    "operationId": "createNote",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["title"],
                                    "properties": {"title": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {"201": {"description": "Created"}},
                }
            },
        },
    }
    return json.dumps(document, indent=2)


@pytest.fixture(scope="module")
def server():
    httpd = HTTPServer(host="127.0.0.1", port=0)
    httpd.start()
    yield httpd
    httpd.clear()
    if httpd.is_running():
        httpd.stop()


@pytest.fixture
def api_server(server):
    server.clear()
    yield server
    server.clear()


@pytest.fixture
def world(db, settings, api_server):
    port = api_server.port
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}", f"localhost:{port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    settings.SITE_URL = "http://platform.test"
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    globex = make_workspace("Globex", plan=Plan.TEAM)
    owner = add_member(acme, role=Role.OWNER)
    builder = add_member(acme, role=Role.BUILDER)
    member = add_member(acme, role=Role.MEMBER)
    stranger = add_member(globex, role=Role.OWNER)
    domain_policy_update(workspace=acme, actor=owner, allow_all=False, allowed=["127.0.0.1"])

    def new_action(auth=None, **schema_options):
        gpt = make_gpt(acme, created_by=builder, visibility="workspace")
        return action_create(
            gpt=gpt,
            acting_user=builder,
            schema=schema_for(port, **schema_options),
            auth=auth or {"type": "none"},
        )

    return {
        "acme": acme,
        "globex": globex,
        "owner": owner,
        "builder": builder,
        "member": member,
        "stranger": stranger,
        "new_action": new_action,
        "action": new_action(),
        "server": api_server,
        "port": port,
    }


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def run(user, action, operation_id, arguments=None, consent=None):
    body = {"arguments": arguments if arguments is not None else {}}
    if consent is not None:
        body["consent"] = consent
    return client_for(user).post(
        f"/api/v1/actions/{action.pk}/operations/{operation_id}/run", body, format="json"
    )


def received(server) -> list:
    return [request for request, _response in server.log]


WEATHER = {"location": "Paris", "days": 2}


def weather_reply(server, **headers):
    server.expect_request("/weather").respond_with_json(
        {"temperature_c": 21.5}, headers=headers or None
    )


# Approvals ----------------------------------------------------------------------------------


def test_consent_required_then_allow_then_asked_again(world):
    server, member, action = world["server"], world["member"], world["action"]
    weather_reply(server)

    asked = run(member, action, "getWeather", WEATHER)
    assert asked.status_code == 409
    prompt = asked.json()
    assert prompt["code"] == "consent_required"
    assert prompt["domain"] == "127.0.0.1"
    assert prompt["gpt"] == {"id": action.gpt_id, "name": action.gpt.name}
    assert prompt["always_allow_offered"] is True
    assert prompt["choices"] == ["allow", "always_allow", "decline"]
    assert prompt["request"]["method"] == "GET"
    assert prompt["request"]["url"] == (
        f"http://127.0.0.1:{world['port']}/weather?location=Paris&days=2"
    )
    assert received(server) == []  # asking sends nothing

    allowed = run(member, action, "getWeather", WEATHER, consent="allow")
    assert allowed.status_code == 200, allowed.json()
    result = allowed.json()
    assert result["status"] == "ok"
    assert result["response"]["status"] == 200
    assert json.loads(result["response"]["body"]) == {"temperature_c": 21.5}
    assert result["request"]["url"].endswith("/weather?location=Paris&days=2")
    [seen] = received(server)
    assert seen.args.to_dict() == {"location": "Paris", "days": "2"}

    # "Allow" is for this call only.
    assert run(member, action, "getWeather", WEATHER).status_code == 409
    assert not Consent.objects.exists()


def test_always_allow_is_remembered_listed_and_revoked(world):
    server, member, action = world["server"], world["member"], world["action"]
    weather_reply(server)

    assert run(member, action, "getWeather", WEATHER, consent="always_allow").status_code == 200
    again = run(member, action, "getWeather", WEATHER)  # no consent needed now
    assert again.status_code == 200
    assert len(received(server)) == 2

    # Per user: a colleague is still asked.
    colleague = add_member(world["acme"], role=Role.MEMBER)
    assert run(colleague, action, "getWeather", WEATHER).status_code == 409

    listing = client_for(member).get("/api/v1/me/consents/")
    assert listing.status_code == 200
    [consent] = listing.json()["results"]
    assert set(consent) == {"id", "gpt", "action", "operation_id", "created_at"}
    assert (consent["gpt"], consent["action"], consent["operation_id"]) == (
        action.gpt_id,
        action.pk,
        "getWeather",
    )
    assert client_for(colleague).get("/api/v1/me/consents/").json()["results"] == []
    # Someone else's approval is a 404, and stays.
    assert client_for(colleague).delete(f"/api/v1/me/consents/{consent['id']}/").status_code == 404
    assert (
        client_for(world["stranger"]).get(f"/api/v1/me/consents/{consent['id']}/").status_code
        == 404
    )

    assert client_for(member).delete(f"/api/v1/me/consents/{consent['id']}/").status_code == 204
    assert not Consent.objects.exists()
    assert run(member, action, "getWeather", WEATHER).status_code == 409


def test_always_allow_is_refused_for_a_consequential_operation(world):
    server, member, action = world["server"], world["member"], world["action"]
    response = run(member, action, "createNote", {"requestBody": {"title": "x"}}, "always_allow")
    assert response.status_code == 400
    assert response.json()["code"] == "always_allow_not_offered"
    assert not Consent.objects.exists()
    assert received(server) == []

    prompt = run(member, action, "createNote", {"requestBody": {"title": "x"}}).json()
    assert prompt["always_allow_offered"] is False
    assert prompt["choices"] == ["allow", "decline"]
    assert prompt["request"]["body"] == '{"title":"x"}'


def test_a_consequential_operation_asks_every_time(world):
    server, member, action = world["server"], world["member"], world["action"]
    server.expect_request("/notes", method="POST").respond_with_json({"id": 1}, status=201)
    for _ in range(2):
        assert run(member, action, "createNote", {"requestBody": {"title": "a"}}).status_code == 409
        done = run(member, action, "createNote", {"requestBody": {"title": "a"}}, "allow")
        assert done.status_code == 200
        assert done.json()["response"]["status"] == 201
    assert [json.loads(r.get_data()) for r in received(server)] == [{"title": "a"}] * 2
    assert received(server)[0].headers["Content-Type"] == "application/json"


def test_decline_is_recorded_and_sends_nothing(world):
    server, member, action = world["server"], world["member"], world["action"]
    response = run(member, action, "createNote", {"requestBody": {"title": "x"}}, "decline")
    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    assert received(server) == []
    invocation = Invocation.objects.get()
    assert (invocation.status, invocation.user, invocation.operation_id) == (
        InvocationStatus.DECLINED,
        member,
        "createNote",
    )


def test_unknown_consent_value_is_a_400(world):
    response = run(world["member"], world["action"], "getWeather", WEATHER, consent="yes")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_consent"


def test_a_change_of_the_consequential_flag_forgets_the_approval(world):
    member, builder, action = world["member"], world["builder"], world["action"]
    weather_reply(world["server"])
    assert run(member, action, "getWeather", WEATHER, "always_allow").status_code == 200

    # Re-saving the same flags keeps the approval...
    action_update(action=action, acting_user=builder, schema=schema_for(world["port"]))
    assert Consent.objects.count() == 1
    # ...explicitly non-consequential is the same flag as a GET's default...
    action_update(
        action=action,
        acting_user=builder,
        schema=schema_for(world["port"], weather_consequential=False),
    )
    assert Consent.objects.count() == 1
    # ...but turning it consequential withdraws it.
    action_update(
        action=action,
        acting_user=builder,
        schema=schema_for(world["port"], weather_consequential=True),
    )
    assert not Consent.objects.exists()
    prompt = run(member, action, "getWeather", WEATHER).json()
    assert prompt["code"] == "consent_required"
    assert prompt["always_allow_offered"] is False


# Authentication -----------------------------------------------------------------------------

BASIC_PAIR = "alice:s3cret-pass"


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ({"type": "none"}, "Authorization", None),
        (
            {"type": "api_key", "api_key": BASIC_PAIR, "auth_type": "basic"},
            "Authorization",
            "Basic " + base64.b64encode(BASIC_PAIR.encode()).decode(),
        ),
        (
            {"type": "api_key", "api_key": API_KEY, "auth_type": "bearer"},
            "Authorization",
            f"Bearer {API_KEY}",
        ),
        (
            {
                "type": "api_key",
                "api_key": API_KEY,
                "auth_type": "custom",
                "custom_header": "X-Api-Key",
            },
            "X-Api-Key",
            API_KEY,
        ),
    ],
    ids=["none", "basic", "bearer", "custom"],
)
def test_api_key_auth_is_injected_and_masked(world, auth, header, expected):
    server, member = world["server"], world["member"]
    action = world["new_action"](auth=auth)
    # The API echoes what it got: the user must still not see the builder's key.
    server.expect_request("/weather").respond_with_handler(
        lambda request: Response(
            json.dumps({"got": request.headers.get(header)}),
            content_type="application/json",
        )
    )
    response = run(member, action, "getWeather", WEATHER, "allow")
    assert response.status_code == 200, response.json()
    [seen] = received(server)
    assert seen.headers.get(header) == expected
    if expected is None:
        assert "Authorization" not in response.json()["request"]["headers"]
        return
    text = response.content.decode()
    secret = auth["api_key"]
    assert secret not in text
    assert base64.b64encode(secret.encode()).decode() not in text
    sent = response.json()["request"]["headers"][header]
    assert "…" in sent
    assert "…" in json.loads(response.json()["response"]["body"])["got"]


def oauth_action(world):
    port = world["port"]
    return world["new_action"](
        auth={
            "type": "oauth",
            "client_id": "client-1",
            "client_secret": "client-secret-1",
            "authorization_url": f"http://127.0.0.1:{port}/authorize",
            "token_url": f"http://127.0.0.1:{port}/token",
            "scope": "read",
        }
    )


def test_oauth_sends_the_users_stored_token(world):
    server, member = world["server"], world["member"]
    action = oauth_action(world)
    ConnectedAccount.objects.create(
        user=member,
        action=action,
        gpt=action.gpt,
        workspace=action.workspace,
        access_token="user-access-token-42",
    )
    server.expect_request("/weather").respond_with_json({"ok": True})
    response = run(member, action, "getWeather", WEATHER, "allow")
    assert response.status_code == 200, response.json()
    assert received(server)[0].headers["Authorization"] == "Bearer user-access-token-42"
    assert "user-access-token-42" not in response.content.decode()


def test_oauth_without_a_connection_answers_401_with_the_authorize_url(world):
    server, member = world["server"], world["member"]
    action = oauth_action(world)
    # Another user's connection is not this user's.
    ConnectedAccount.objects.create(
        user=world["owner"],
        action=action,
        gpt=action.gpt,
        workspace=action.workspace,
        access_token="owners-token",
    )
    response = run(member, action, "getWeather", WEATHER, "allow")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "oauth_required"
    assert body["authorize_url"] == f"http://platform.test/actions/{action.pk}/oauth/start"
    assert received(server) == []
    assert Invocation.objects.get().error_code == "oauth_required"


# Refusals before anything is sent -----------------------------------------------------------


def test_argument_mismatch_names_the_argument_and_sends_nothing(world):
    server, member, action = world["server"], world["member"], world["action"]
    response = run(member, action, "getWeather", {"location": "Paris", "days": "three"}, "allow")
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["argument"]) == ("invalid_arguments", "days")
    assert "days" in body["detail"]

    missing = run(member, action, "getWeather", {"days": 1}, "allow").json()
    assert missing["argument"] == "location"
    body_missing = run(member, action, "createNote", {}, "allow").json()
    assert body_missing["argument"] == "requestBody"
    assert received(server) == []
    assert set(Invocation.objects.values_list("error_code", flat=True)) == {"invalid_arguments"}


def test_domain_policy_is_checked_at_call_time(world):
    server, member, action = world["server"], world["member"], world["action"]
    domain_policy_update(workspace=world["acme"], actor=world["owner"], allowed=["example.com"])
    response = run(member, action, "getWeather", WEATHER, "allow")
    assert response.status_code == 403
    assert response.json()["code"] == "domain_not_allowed"
    assert "127.0.0.1" in response.json()["detail"]
    assert received(server) == []
    assert Invocation.objects.get().status == InvocationStatus.REFUSED

    domain_policy_update(workspace=world["acme"], actor=world["owner"], allowed=[])
    empty = run(member, action, "getWeather", WEATHER, "allow").json()
    assert empty["detail"] == "No domains are allowed by your workspace's settings."


def test_a_redirect_to_a_host_the_policy_forbids_is_refused(world):
    """The allowlist holds 127.0.0.1 only. `localhost` reaches the same server (and the
    deployment allows it as a private address), so only the workspace policy can stop it."""
    server, member, action, port = world["server"], world["member"], world["action"], world["port"]
    server.expect_request("/things/hop").respond_with_response(
        Response(status=302, headers={"Location": f"http://localhost:{port}/things/landed"})
    )
    server.expect_request("/things/landed").respond_with_json({"landed": True})
    response = run(member, action, "getThing", {"name": "hop"}, "allow")
    assert response.status_code == 403, response.json()
    assert response.json()["code"] == "domain_not_allowed"
    assert "localhost" in response.json()["detail"]
    assert [r.path for r in received(server)] == ["/things/hop"]

    # The same redirect is followed once the policy allows the name.
    domain_policy_update(
        workspace=world["acme"], actor=world["owner"], allowed=["127.0.0.1", "localhost"]
    )
    server.clear_log()
    followed = run(member, action, "getThing", {"name": "hop"}, "allow")
    assert followed.status_code == 200, followed.json()
    assert json.loads(followed.json()["response"]["body"]) == {"landed": True}
    assert [r.path for r in received(server)] == ["/things/hop", "/things/landed"]


def test_private_address_not_allowed_by_the_deployment(world, settings):
    server, member, action = world["server"], world["member"], world["action"]
    settings.OUTBOUND_ALLOW_PRIVATE = []
    response = run(member, action, "getWeather", WEATHER, "allow")
    assert response.status_code == 403
    assert response.json()["code"] == "address_not_allowed"
    assert received(server) == []


def test_another_workspaces_action_is_a_404(world):
    server, action = world["server"], world["action"]
    response = run(world["stranger"], action, "getWeather", WEATHER, "allow")
    assert response.status_code == 404
    assert run(world["member"], action, "noSuchOperation", {}, "allow").status_code == 404
    assert received(server) == []
    assert not Invocation.objects.exists()


# What the API answers -----------------------------------------------------------------------


def test_429_is_reported_with_retry_after_and_not_retried(world):
    server, member, action = world["server"], world["member"], world["action"]
    server.expect_request("/things/busy").respond_with_json(
        {"error": "slow down"}, status=429, headers={"Retry-After": "30"}
    )
    response = run(member, action, "getThing", {"name": "busy"}, "allow")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rate_limited"
    assert body["retry_after"] == "30"
    assert body["response"]["status"] == 429
    assert body["response"]["retry_after"] == "30"
    assert len(received(server)) == 1
    invocation = Invocation.objects.get()
    assert (invocation.status, invocation.error_code, invocation.http_status) == (
        InvocationStatus.ERROR,
        "rate_limited",
        429,
    )


def test_5xx_is_reported_and_not_retried(world):
    server, member, action = world["server"], world["member"], world["action"]
    server.expect_request("/things/down").respond_with_data("maintenance", status=503)
    body = run(member, action, "getThing", {"name": "down"}, "allow").json()
    assert body["status"] == "upstream_error"
    assert body["response"]["status"] == 503
    assert body["response"]["body"] == "maintenance"
    assert body["retry_after"] is None
    assert len(received(server)) == 1


def test_an_api_error_status_is_passed_on_as_an_answer(world):
    server, member, action = world["server"], world["member"], world["action"]
    server.expect_request("/things/gone").respond_with_json({"error": "nope"}, status=404)
    body = run(member, action, "getThing", {"name": "gone"}, "allow").json()
    assert (body["status"], body["response"]["status"]) == ("ok", 404)


def test_a_binary_response_is_an_error(world):
    server, member, action = world["server"], world["member"], world["action"]
    server.expect_request("/things/image").respond_with_data(
        b"\x89PNG\r\n\x1a\n\x00\x00\x00", content_type="image/png"
    )
    response = run(member, action, "getThing", {"name": "image"}, "allow")
    assert response.status_code == 502
    assert response.json()["code"] == "binary_response"
    assert Invocation.objects.get().error_code == "binary_response"


def test_a_response_over_the_limit_is_an_error(world):
    server, member, action = world["server"], world["member"], world["action"]
    server.expect_request("/things/huge").respond_with_data("x" * 100_001)
    response = run(member, action, "getThing", {"name": "huge"}, "allow")
    assert response.status_code == 502
    assert response.json()["code"] == "response_too_large"


def test_a_silent_api_times_out_with_504(world, settings):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    silent_port = sock.getsockname()[1]
    try:
        settings.OUTBOUND_ALLOW_PRIVATE = [
            *settings.OUTBOUND_ALLOW_PRIVATE,
            f"127.0.0.1:{silent_port}",
        ]
        action = world["action"]
        # Only the server moves: what _save stores for it, written directly.
        action.schema = schema_for(silent_port)
        action.server_url = openapi.validate(action.schema).servers[0]
        action.save(update_fields=["schema", "server_url"])
        settings.ACTION_CALL_TIMEOUT_SECONDS = 0.5
        response = run(world["member"], action, "getWeather", WEATHER, "allow")
        assert response.status_code == 504
        assert response.json()["code"] == "timeout"
    finally:
        sock.close()


# Records ------------------------------------------------------------------------------------


def test_invocations_hold_outcomes_never_secrets_or_bodies(world):
    server, member = world["server"], world["member"]
    action = world["new_action"](
        auth={"type": "api_key", "api_key": API_KEY, "auth_type": "bearer"}
    )
    server.expect_request("/notes", method="POST").respond_with_json(
        {"note": "secret-body-marker-reply"}, status=201
    )
    run(member, action, "createNote", {"requestBody": {"title": "secret-body-marker"}}, "allow")
    run(member, action, "createNote", {"requestBody": {"title": 5}}, "allow")
    run(member, action, "createNote", {"requestBody": {"title": "x"}}, "decline")
    rows = list(Invocation.objects.order_by("id").values())
    assert [(r["status"], r["error_code"], r["http_status"]) for r in rows] == [
        ("ok", "", 201),
        ("error", "invalid_arguments", None),
        ("declined", "", None),
    ]
    first = rows[0]
    assert (first["user_id"], first["gpt_id"], first["workspace_id"], first["action_id"]) == (
        member.pk,
        action.gpt_id,
        world["acme"].pk,
        action.pk,
    )
    assert first["request_bytes"] == len(b'{"title":"secret-body-marker"}')
    assert first["response_bytes"] > 0
    assert first["duration_ms"] >= 0
    dumped = json.dumps(rows, default=str)
    assert API_KEY not in dumped
    assert "secret-body-marker" not in dumped


def test_consent_list_query_count_does_not_grow(world, django_assert_max_num_queries):
    member = world["member"]
    action = world["action"]
    other_gpts = [make_gpt(world["acme"], created_by=world["builder"]) for _ in range(5)]
    for gpt in other_gpts:
        Consent.objects.create(
            user=member, gpt=gpt, action=action, workspace=world["acme"], operation_id="getWeather"
        )
    Consent.objects.create(
        user=world["owner"],
        gpt=action.gpt,
        action=action,
        workspace=world["acme"],
        operation_id="getWeather",
    )
    client = client_for(member)
    with django_assert_max_num_queries(2):
        response = client.get("/api/v1/me/consents/")
    assert response.json()["count"] == 5


def test_answers_match_the_apis_own_openapi_document(world):
    """The run result and a consent read back conform to what /api/v1/schema/ promises."""
    from openapi_schema_validator import OAS30Validator

    server, member, action = world["server"], world["member"], world["action"]
    document = client_for(member).get("/api/v1/schema/", {"format": "json"}).json()

    def check(component, value):
        schema = {"$ref": f"#/components/schemas/{component}", "components": document["components"]}
        OAS30Validator(schema).validate(value)

    paths = document["paths"]
    assert "post" in paths["/api/v1/actions/{action_id}/operations/{operation_id}/run"]
    assert "get" in paths["/api/v1/gpts/{gpt_id}/tools/"]
    assert "delete" in paths["/api/v1/me/consents/{consent_id}/"]

    weather_reply(server)
    result = run(member, action, "getWeather", WEATHER, "always_allow").json()
    check("RunResult", result)
    consent = client_for(member).get("/api/v1/me/consents/").json()["results"][0]
    check("Consent", consent)


def test_workspace_admins_see_their_runs_in_the_admin_and_no_others(world):
    from django.test import Client

    server, member, action = world["server"], world["member"], world["action"]
    weather_reply(server)
    run(member, action, "getWeather", WEATHER, "allow")
    other_gpt = make_gpt(world["globex"], created_by=world["stranger"], name="Globex secret GPT")
    Invocation.objects.create(
        workspace=world["globex"], gpt=other_gpt, operation_id="globexOnlyOp", status="ok"
    )
    admin = Client()
    admin.force_login(add_member(world["acme"], role=Role.ADMIN, staff=True))
    page = admin.get("/admin/actions/invocation/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "getWeather" in html
    assert "globexOnlyOp" not in html
    assert "Globex secret GPT" not in html


def test_an_api_refusing_the_oauth_token_asks_the_user_to_reconnect(world):
    server, member = world["server"], world["member"]
    action = oauth_action(world)
    account = ConnectedAccount.objects.create(
        user=member,
        action=action,
        gpt=action.gpt,
        workspace=action.workspace,
        access_token="revoked-at-the-provider",
    )
    server.expect_request("/weather").respond_with_json({"error": "invalid_token"}, status=401)
    response = run(member, action, "getWeather", WEATHER, "allow")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "oauth_required"
    assert body["authorize_url"] == f"http://platform.test/actions/{action.pk}/oauth/start"
    assert body["response"]["status"] == 401
    assert "revoked-at-the-provider" not in response.content.decode()
    account.refresh_from_db()
    assert account.status == "needs_reconnect"
    assert account.status_reason == "revoked_at_provider"
    assert len(received(server)) == 1  # no refresh token: nothing to retry with


# The Preview page (its behaviour in a browser: tests/browser/test_preview.py) ---------------


def test_preview_page_is_generated_from_the_operation_and_scoped(world):
    from django.test import Client

    action = world["action"]
    url = f"/editor/actions/{action.pk}/operations/createNote/test"
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/accounts/login/")

    member = Client()
    member.force_login(world["member"])
    page = member.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-run-url="/api/v1/actions/{action.pk}/operations/createNote/run"' in html
    assert 'data-arg="requestBody"' in html
    assert "consequential: asks for approval every time" in html
    weather = member.get(f"/editor/actions/{action.pk}/operations/getWeather/test").content
    assert b'data-arg="location" data-kind="string"' in weather
    assert b'data-arg="days" data-kind="integer"' in weather

    assert member.get(f"/editor/actions/{action.pk}/operations/nope/test").status_code == 404
    stranger = Client()
    stranger.force_login(world["stranger"])
    assert stranger.get(url).status_code == 404


@pytest.fixture(autouse=True)
def _answers_match_the_document(monkeypatch):
    """API answers here are checked against /api/v1/schema/ too (tests/openapi_responses.py)."""
    install(monkeypatch)
