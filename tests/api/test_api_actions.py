"""Actions over the REST API: schema verdicts, write-only secrets, domain rules, isolation."""

import json

import pytest

from actions.models import Action, Operation
from tests.api.conftest import weather_schema
from tests.factories import make_gpt
from workspaces.models import AllowedDomain, AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def gpt(world):
    return make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")


def actions_url(gpt):
    return f"/api/v1/gpts/{gpt.pk}/actions/"


def test_create_action_detects_operations(world, api, gpt):
    response = api(world["builder"]).post(
        actions_url(gpt), {"schema": weather_schema()}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["domain"] == "weather.example.com"
    assert body["operations"] == [
        {
            "operation_id": "GetCurrentWeather",
            "method": "GET",
            "path": "/location",
            "summary": "Get temperature for a specific location",
            "consequential": False,
            "enabled": True,
            "review": "approved",
        }
    ]
    assert body["errors"] == [] and body["auth"] == {"type": "none"}
    assert body["callback_url"].endswith(f"/aip/{gpt.pk}/oauth/callback")


def test_invalid_schema_is_refused_with_the_engine_errors(world, api, gpt):
    broken = weather_schema().replace('"operationId": "GetCurrentWeather",', "")
    response = api(world["builder"]).post(actions_url(gpt), {"schema": broken}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_schema"
    assert body["errors"] and all(
        {"message", "pointer", "line", "column"} <= set(e) for e in body["errors"]
    )
    assert not Action.objects.exists()


def test_unparseable_schema_is_refused_and_existing_kept(world, api, gpt):
    client = api(world["builder"])
    action = client.post(actions_url(gpt), {"schema": weather_schema()}, format="json").json()
    response = client.patch(
        f"/api/v1/actions/{action['id']}/", {"schema": "{{{ not yaml"}, format="json"
    )
    assert response.status_code == 400
    assert Action.objects.get(pk=action["id"]).schema == weather_schema()
    assert Operation.objects.filter(action_id=action["id"]).count() == 1


def test_api_key_is_write_only(world, api, gpt):
    client = api(world["builder"])
    response = client.post(
        actions_url(gpt),
        {
            "schema": weather_schema(),
            "auth": {
                "type": "api_key",
                "api_key": "sk-live-abcdefgh9fA2",
                "auth_type": "custom",
                "custom_header": "X-Api-Key",
            },
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    text = json.dumps(response.json())
    assert "abcdefgh" not in text
    assert response.json()["auth"] == {
        "type": "api_key",
        "api_key_hint": "sk-…9fA2",
        "auth_type": "custom",
        "custom_header": "X-Api-Key",
    }
    action_id = response.json()["id"]
    # Changing only the header keeps the stored key.
    response = client.patch(
        f"/api/v1/actions/{action_id}/",
        {"auth": {"type": "api_key", "auth_type": "bearer"}},
        format="json",
    )
    assert response.status_code == 200
    assert Action.objects.get(pk=action_id).api_key == "sk-live-abcdefgh9fA2"
    event = AuditEvent.objects.filter(kind="action_auth_changed").latest("id")
    assert "abcdefgh" not in json.dumps([event.before, event.after])


@pytest.mark.parametrize(
    "auth,field",
    [
        ({"type": "api_key", "auth_type": "bearer"}, "api key"),
        ({"type": "api_key", "api_key": "k", "auth_type": "custom"}, "header"),
        (
            {
                "type": "api_key",
                "api_key": "k",
                "auth_type": "custom",
                "custom_header": "Bad Header",
            },
            "header",
        ),
        ({"type": "api_key", "api_key": "k\r\nX-Evil: 1"}, "line breaks"),
        ({"type": "oauth"}, "client id"),
        ({"type": "magic"}, "auth.type"),
        ("none", "auth"),
    ],
)
def test_bad_auth_is_a_clear_400(world, api, gpt, auth, field):
    response = api(world["builder"]).post(
        actions_url(gpt), {"schema": weather_schema(), "auth": auth}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["detail"].lower()
    assert not Action.objects.exists()


def test_oauth_urls_must_share_the_api_domain(world, api, gpt):
    oauth = {
        "type": "oauth",
        "client_id": "abc",
        "client_secret": "s3cret-value-1234",
        "authorization_url": "https://evil.example.net/authorize",
        "token_url": "https://weather.example.com/token",
        "scope": "read",
    }
    response = api(world["builder"]).post(
        actions_url(gpt), {"schema": weather_schema(), "auth": oauth}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "oauth_domain_mismatch"
    oauth["authorization_url"] = "https://accounts.google.com/o/oauth2/auth"
    response = api(world["builder"]).post(
        actions_url(gpt), {"schema": weather_schema(), "auth": oauth}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["auth"]["client_secret_hint"] == "s3…1234"
    assert "s3cret" not in json.dumps(response.json())


def test_duplicate_domains_are_refused(world, api, gpt):
    client = api(world["builder"])
    assert (
        client.post(actions_url(gpt), {"schema": weather_schema()}, format="json").status_code
        == 201
    )
    response = client.post(
        actions_url(gpt), {"schema": weather_schema(operation_id="Other")}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Action sets cannot have duplicate domains - weather.example.com already exists on "
        "another action"
    )


def test_operation_ids_are_unique_within_the_gpt(world, api, gpt):
    client = api(world["builder"])
    client.post(actions_url(gpt), {"schema": weather_schema()}, format="json")
    response = client.post(
        actions_url(gpt), {"schema": weather_schema("other.example.com")}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "duplicate_operation_id"


def test_blocked_domain_is_a_403_and_policy_changes_apply_at_once(world, api, gpt):
    acme = world["acme"]
    acme.allow_all_domains = False
    acme.save()
    client = api(world["builder"])
    response = client.post(actions_url(gpt), {"schema": weather_schema()}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "domain_not_allowed"
    assert "No domains are allowed by your workspace's settings." in response.json()["detail"]

    AllowedDomain.objects.create(workspace=acme, pattern="example.com")
    response = client.post(actions_url(gpt), {"schema": weather_schema()}, format="json")
    assert response.status_code == 201

    AllowedDomain.objects.all().delete()
    AllowedDomain.objects.create(workspace=acme, pattern="other.example")
    shown = client.get(f"/api/v1/actions/{response.json()['id']}/").json()
    assert [e["code"] for e in shown["errors"]] == ["domain_not_allowed"]


def test_other_workspace_actions_are_404(world, api):
    theirs = make_gpt(world["globex"], created_by=world["stranger"], visibility="workspace")
    action = (
        api(world["stranger"])
        .post(actions_url(theirs), {"schema": weather_schema()}, format="json")
        .json()
    )
    client = api(world["owner"])
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(f"/api/v1/actions/{action['id']}/", {}, format="json")
        assert response.status_code == 404
    response = client.post(
        f"/api/v1/actions/{action['id']}/imports/",
        {"url": "https://weather.example.com/openapi.json"},
        format="json",
    )
    assert response.status_code == 404


def test_members_cannot_change_actions(world, api, gpt):
    action = (
        api(world["builder"])
        .post(actions_url(gpt), {"schema": weather_schema()}, format="json")
        .json()
    )
    client = api(world["member"])
    assert client.get(f"/api/v1/actions/{action['id']}/").status_code == 200
    assert (
        client.patch(
            f"/api/v1/actions/{action['id']}/", {"privacy_policy_url": ""}, format="json"
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/actions/{action['id']}/").status_code == 403


def test_oversized_body_is_413(world, api, gpt, settings):
    settings.REQUEST_MAX_BYTES = 1024 * 1024
    big = "x" * (1024 * 1024)
    response = api(world["builder"]).post(actions_url(gpt), {"schema": big}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert "1 MB" in response.json()["detail"]


def test_a_schema_over_its_limit_in_a_body_under_its_limit_is_a_400(world, api, gpt):
    big = "x" * (7 * 1024 * 1024)  # the body fits (REQUEST_MAX_BYTES), the schema does not
    response = api(world["builder"]).post(actions_url(gpt), {"schema": big}, format="json")
    assert response.status_code == 400
    assert "MB" in response.json()["detail"] or response.json().get("errors")


def test_bearer_token_from_the_command(world, gpt):
    from io import StringIO

    from django.core.management import call_command
    from django.test import Client

    out = StringIO()
    call_command("issue_api_token", "builder", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    client = Client()
    response = client.get(actions_url(gpt), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert client.get(actions_url(gpt), HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_action_list_query_count_is_constant(world, api, gpt, django_assert_max_num_queries):
    from tests.factories import make_action

    for n in range(10):
        make_action(gpt, operations=[f"op{n}_{i}" for i in range(5)])
    with django_assert_max_num_queries(6):
        response = api(world["member"]).get(actions_url(gpt))
    assert len(response.json()) == 10


# An action needs a schema ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"schema": ""}, {"schema": " \n\t "}, {"auth": {"type": "none"}}],
    ids=["nothing", "empty", "whitespace", "auth-only"],
)
def test_creating_an_action_without_a_schema_is_refused(world, api, gpt, body):
    response = api(world["builder"]).post(actions_url(gpt), body, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "code": "schema_required",
        "detail": "Add a schema before saving: paste one, import it from a URL, or start from "
        "an example.",
        "field": "schema",
    }
    assert not Action.objects.filter(gpt=gpt).exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("schema", ["", "   ", "\n\n"])
def test_clearing_an_actions_schema_is_refused(world, api, gpt, schema):
    client = api(world["builder"])
    created = client.post(actions_url(gpt), {"schema": weather_schema()}, format="json").json()
    before = Action.objects.get(pk=created["id"])
    response = client.patch(
        f"/api/v1/actions/{created['id']}/",
        {"schema": schema, "privacy_policy_url": "https://example.com/privacy"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "schema_required"
    after = Action.objects.get(pk=created["id"])
    assert (after.schema, after.domain, after.privacy_policy_url, after.updated_at) == (
        before.schema,
        before.domain,
        before.privacy_policy_url,
        before.updated_at,
    )
    assert list(after.operations.values_list("operation_id", flat=True)) == ["GetCurrentWeather"]


def test_an_empty_action_from_before_the_rule_saves_only_with_a_schema(world, api, gpt):
    empty = Action.objects.create(gpt=gpt, workspace=gpt.workspace)  # as failed imports left
    client = api(world["builder"])
    refused = client.patch(
        f"/api/v1/actions/{empty.pk}/", {"auth": {"type": "none"}}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["code"] == "schema_required"
    given = client.patch(
        f"/api/v1/actions/{empty.pk}/", {"schema": weather_schema()}, format="json"
    )
    assert given.status_code == 200, given.json()
    assert Action.objects.get(pk=empty.pk).domain == "weather.example.com"
