"""GPTs over the REST API: roles, product rules, isolation and query counts."""

import pytest

from gpts.models import GPT
from tests.api.conftest import weather_schema
from tests.factories import make_action, make_gpt

pytestmark = pytest.mark.django_db


def gpts_url(world):
    return f"/api/v1/workspaces/{world['acme'].slug}/gpts/"


def test_builder_creates_with_defaults(world, api):
    response = api(world["builder"]).post(gpts_url(world), {"name": "Helper"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["model"] == "gpt-5" and body["visibility"] == "only_me"
    assert body["workspace"] == world["acme"].slug and body["actions"] == []


def test_member_cannot_create(world, api):
    response = api(world["member"]).post(gpts_url(world), {"name": "Nope"}, format="json")
    assert response.status_code == 403
    assert not GPT.objects.exists()


@pytest.mark.parametrize(
    "body,code",
    [
        ({}, "invalid"),
        ({"name": ""}, "invalid"),
        ({"name": "x" * 121}, "invalid"),
        ({"name": "ok", "model": "gpt-99"}, "unknown_model"),
        ({"name": "ok", "visibility": "everyone"}, "invalid"),
        ({"name": "ok", "apps": "github"}, "invalid"),
        ({"name": "ok", "apps": ["teleport"]}, "unknown_app"),
    ],
)
def test_bad_gpt_input_is_a_clear_400(world, api, body, code):
    response = api(world["builder"]).post(gpts_url(world), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not GPT.objects.exists()


def test_malformed_json_is_a_400_not_a_500(world, api):
    client = api(world["builder"])
    response = client.generic("POST", gpts_url(world), "{not json", content_type="application/json")
    assert response.status_code == 400
    response = client.post(gpts_url(world), ["a", "list"], format="json")
    assert response.status_code == 400


def test_visibility_rules_for_members(world, api):
    shared = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    private = make_gpt(world["acme"], created_by=world["builder"], visibility="only_me")
    listed = {g["id"] for g in api(world["member"]).get(gpts_url(world)).json()["results"]}
    assert listed == {shared.pk}
    assert api(world["member"]).get(f"/api/v1/gpts/{private.pk}/").status_code == 404
    assert api(world["admin"]).get(f"/api/v1/gpts/{private.pk}/").status_code == 200
    response = api(world["member"]).patch(
        f"/api/v1/gpts/{shared.pk}/", {"name": "Mine"}, format="json"
    )
    assert response.status_code == 403


def test_builders_edit_their_own_and_admins_everything(world, api):
    gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    url = f"/api/v1/gpts/{gpt.pk}/"
    assert api(world["builder2"]).patch(url, {"name": "X"}, format="json").status_code == 403
    assert api(world["builder"]).patch(url, {"name": "Mine"}, format="json").status_code == 200
    assert api(world["admin"]).patch(url, {"name": "Ours"}, format="json").status_code == 200
    assert api(world["admin"]).delete(url).status_code == 204


def test_other_workspace_gpts_are_404_everywhere(world, api):
    theirs = make_gpt(world["globex"], created_by=world["stranger"], visibility="workspace")
    client = api(world["owner"])
    for method, url in [
        ("get", f"/api/v1/gpts/{theirs.pk}/"),
        ("patch", f"/api/v1/gpts/{theirs.pk}/"),
        ("delete", f"/api/v1/gpts/{theirs.pk}/"),
        ("get", f"/api/v1/gpts/{theirs.pk}/models/"),
        ("get", f"/api/v1/gpts/{theirs.pk}/actions/"),
        ("post", f"/api/v1/gpts/{theirs.pk}/actions/"),
        ("get", f"/api/v1/workspaces/{world['globex'].slug}/gpts/"),
    ]:
        response = getattr(client, method)(url, {}, format="json")
        assert response.status_code == 404, (method, url)
    assert GPT.objects.filter(pk=theirs.pk).exists()


def test_apps_and_actions_exclude_each_other(world, api):
    client = api(world["builder"])
    gpt = client.post(gpts_url(world), {"name": "A", "apps": ["github"]}, format="json").json()
    response = client.post(
        f"/api/v1/gpts/{gpt['id']}/actions/", {"schema": weather_schema()}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "apps_and_actions"

    other = client.post(gpts_url(world), {"name": "B"}, format="json").json()
    assert (
        client.post(
            f"/api/v1/gpts/{other['id']}/actions/", {"schema": weather_schema()}, format="json"
        ).status_code
        == 201
    )
    response = client.patch(f"/api/v1/gpts/{other['id']}/", {"apps": ["github"]}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "apps_and_actions"


def test_pro_models_are_refused_once_a_gpt_has_actions(world, api):
    client = api(world["builder"])
    gpt = client.post(gpts_url(world), {"name": "A", "model": "gpt-5-pro"}, format="json").json()
    response = client.post(
        f"/api/v1/gpts/{gpt['id']}/actions/", {"schema": weather_schema()}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "model_not_allowed_with_actions"

    client.patch(f"/api/v1/gpts/{gpt['id']}/", {"model": "gpt-5"}, format="json")
    assert (
        client.post(
            f"/api/v1/gpts/{gpt['id']}/actions/", {"schema": weather_schema()}, format="json"
        ).status_code
        == 201
    )
    models = {m["key"] for m in client.get(f"/api/v1/gpts/{gpt['id']}/models/").json()}
    assert "gpt-5-pro" not in models and "o3-pro" not in models and "gpt-5" in models
    response = client.patch(f"/api/v1/gpts/{gpt['id']}/", {"model": "o3-pro"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "model_not_allowed_with_actions"


def test_publishing_needs_a_privacy_policy_on_every_action(world, api):
    client = api(world["builder"])
    gpt = client.post(gpts_url(world), {"name": "A"}, format="json").json()
    action = client.post(
        f"/api/v1/gpts/{gpt['id']}/actions/", {"schema": weather_schema()}, format="json"
    ).json()
    for visibility in ("link", "store"):
        response = client.patch(
            f"/api/v1/gpts/{gpt['id']}/", {"visibility": visibility}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["code"] == "privacy_policy_required"
    assert (
        client.patch(
            f"/api/v1/gpts/{gpt['id']}/", {"visibility": "workspace"}, format="json"
        ).status_code
        == 200
    )
    client.patch(
        f"/api/v1/actions/{action['id']}/",
        {"privacy_policy_url": "https://weather.example.com/privacy"},
        format="json",
    )
    assert (
        client.patch(
            f"/api/v1/gpts/{gpt['id']}/", {"visibility": "store"}, format="json"
        ).status_code
        == 200
    )


def test_gpt_list_query_count_is_constant(world, api, django_assert_max_num_queries):
    for n in range(20):
        gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
        if n % 2:
            make_action(gpt, operations=[f"op{n}a", f"op{n}b"])
    with django_assert_max_num_queries(6):
        response = api(world["member"]).get(gpts_url(world))
    assert response.json()["count"] == 20


def test_pagination(world, api):
    for _ in range(7):
        make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    page = api(world["member"]).get(gpts_url(world) + "?limit=5").json()
    assert len(page["results"]) == 5 and page["count"] == 7 and page["next"]


@pytest.mark.parametrize("body", [{"name": "Nul\x00name"}, {"name": "ok", "apps": ["\x00"]},
                                  {"name": "ok", "instructions": "a\x00b"}])
def test_nul_characters_are_a_clear_400(world, api, body):
    response = api(world["builder"]).post(gpts_url(world), body, format="json")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert not GPT.objects.exists()
