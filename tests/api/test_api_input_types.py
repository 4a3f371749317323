"""Wrong JSON types are a 400 `invalid` naming the field, never a 500 and never a write: the
views' InputSerializers check types before any service runs."""

import pytest

from actions.models import Action, SchemaImport
from gpts.models import GPT
from tests.api.conftest import weather_schema
from tests.factories import make_gpt
from workspaces.models import Workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def objects(world, api):
    gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    action = api(world["builder"]).post(
        f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": weather_schema()}, format="json"
    )
    assert action.status_code == 201, action.json()
    return {"gpt": gpt, "action_id": action.json()["id"]}


def assert_invalid(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"].startswith(f"{field}: "), body["detail"]
    assert body["fields"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": 5}, "name"),
        ({"name": True}, "name"),
        ({"name": None}, "name"),
        ({"name": "ok", "model": []}, "model"),
        ({"name": "ok", "description": {"a": 1}}, "description"),
        ({"name": "ok", "instructions": 3.5}, "instructions"),
        ({"name": "ok", "visibility": ["store"]}, "visibility"),
        ({"name": "ok", "apps": [1]}, "apps.0"),
        ({"name": "ok", "apps": {"github": True}}, "apps"),
    ],
)
def test_gpt_create(world, api, body, field):
    response = api(world["builder"]).post(
        f"/api/v1/workspaces/{world['acme'].slug}/gpts/", body, format="json"
    )
    assert_invalid(response, field)
    assert not GPT.objects.exists()


@pytest.mark.parametrize(
    "body,field",
    [({"name": 5}, "name"), ({"model": []}, "model"), ({"apps": "github"}, "apps")],
)
def test_gpt_update(world, api, objects, body, field):
    gpt = objects["gpt"]
    response = api(world["builder"]).patch(f"/api/v1/gpts/{gpt.pk}/", body, format="json")
    assert_invalid(response, field)
    gpt.refresh_from_db()
    assert gpt.name != "5" and gpt.apps == []


@pytest.mark.parametrize(
    "body,field",
    [
        ({"schema": 5}, "schema"),
        ({"schema": {"openapi": "3.1.0"}}, "schema"),
        ({"auth": "x"}, "auth"),
        ({"auth": ["api_key"]}, "auth"),
        ({"auth": {"type": 1}}, "auth.type"),
        ({"auth": {"type": "api_key", "api_key": 12345}}, "auth.api_key"),
        ({"auth": {"type": "oauth", "client_id": ["a"]}}, "auth.client_id"),
        ({"privacy_policy_url": 1}, "privacy_policy_url"),
    ],
)
def test_action_create_and_update(world, api, objects, body, field):
    client = api(world["builder"])
    gpt = objects["gpt"]
    before = Action.objects.get(pk=objects["action_id"]).updated_at
    assert_invalid(client.post(f"/api/v1/gpts/{gpt.pk}/actions/", body, format="json"), field)
    assert_invalid(
        client.patch(f"/api/v1/actions/{objects['action_id']}/", body, format="json"), field
    )
    assert Action.objects.count() == 1
    assert Action.objects.get(pk=objects["action_id"]).updated_at == before


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": 5}, "name"),
        ({"name": ["Acme"]}, "name"),
        ({"action_domains": "all"}, "action_domains"),
        ({"action_domains": {"allow_all": "false"}}, "action_domains.allow_all"),
        ({"action_domains": {"allow_all": 0}}, "action_domains.allow_all"),
        ({"action_domains": {"allowed": "example.com"}}, "action_domains.allowed"),
        ({"action_domains": {"allowed": [1]}}, "action_domains.allowed.0"),
    ],
)
def test_workspace_update(world, api, body, field):
    response = api(world["owner"]).patch(
        f"/api/v1/workspaces/{world['acme'].slug}/", body, format="json"
    )
    assert_invalid(response, field)
    workspace = Workspace.objects.get(pk=world["acme"].pk)
    assert workspace.name == "Acme" and workspace.allow_all_domains is True


@pytest.mark.parametrize("body,field", [({"name": 5}, "name"), ({"name": "ok", "slug": 1}, "slug")])
def test_workspace_create(world, api, body, field):
    response = api(world["member"]).post("/api/v1/workspaces/", body, format="json")
    assert_invalid(response, field)
    assert Workspace.objects.count() == 2


@pytest.mark.parametrize("url", [42, ["https://example.com"], None, {"href": "x"}])
def test_import_url(world, api, objects, url):
    response = api(world["builder"]).post(
        f"/api/v1/actions/{objects['action_id']}/imports/", {"url": url}, format="json"
    )
    assert_invalid(response, "url")
    assert not SchemaImport.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/schema/validate", "/api/v1/schema/format"])
@pytest.mark.parametrize("schema", [3, None, ["openapi: 3.1.0"], {"openapi": "3.1.0"}])
def test_schema_tools(world, api, path, schema):
    response = api(world["member"]).post(path, {"schema": schema}, format="json")
    assert_invalid(response, "schema")


def test_refusals_keep_their_sentences(world, api, objects):
    """The permission layer answers 403 permission_denied with the view's sentence."""
    member = api(world["member"])
    gpt = objects["gpt"]
    cases = [
        (
            member.patch(f"/api/v1/gpts/{gpt.pk}/", {"name": "x"}, format="json"),
            "Only the GPT's builder, admins and owners change it.",
        ),
        (
            member.post(f"/api/v1/gpts/{gpt.pk}/actions/", {}, format="json"),
            "Only the GPT's builder, admins and owners add actions.",
        ),
        (
            member.delete(f"/api/v1/actions/{objects['action_id']}/"),
            "Only the GPT's builder, admins and owners change its actions.",
        ),
        (
            member.post(
                f"/api/v1/actions/{objects['action_id']}/imports/", {"url": "x"}, format="json"
            ),
            "Only the GPT's builder, admins and owners import schemas.",
        ),
        (
            member.post(
                f"/api/v1/workspaces/{world['acme'].slug}/gpts/", {"name": "x"}, format="json"
            ),
            "Only builders, admins and owners create GPTs.",
        ),
        (
            api(world["builder"]).patch(
                f"/api/v1/workspaces/{world['acme'].slug}/", {"name": "x"}, format="json"
            ),
            "Only admins and owners change the workspace.",
        ),
    ]
    for response, detail in cases:
        assert response.status_code == 403
        assert response.json() == {"code": "permission_denied", "detail": detail}
    assert GPT.objects.get(pk=gpt.pk).name != "x"
    assert Workspace.objects.get(pk=world["acme"].pk).name == "Acme"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"arguments": []}, "arguments"),
        ({"arguments": "x"}, "arguments"),
        ({"consent": 5}, "consent"),
    ],
)
def test_run(world, api, objects, body, field):
    response = api(world["member"]).post(
        f"/api/v1/actions/{objects['action_id']}/operations/GetCurrentWeather/run",
        body,
        format="json",
    )
    assert_invalid(response, field)
