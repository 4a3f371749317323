"""Workspaces over the REST API: membership scoping and the owner-only domain policy."""

import pytest

from workspaces.models import AllowedDomain, AuditEvent, Workspace

pytestmark = pytest.mark.django_db


def test_list_shows_only_my_workspaces_with_my_role(world, api):
    response = api(world["builder"]).get("/api/v1/workspaces/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["slug"], r["role"]) for r in rows] == [(world["acme"].slug, "builder")]
    assert rows[0]["action_domains"] == {"allow_all": True, "allowed": []}


def test_anonymous_is_refused(world, api):
    assert api(None).get("/api/v1/workspaces/").status_code in (401, 403)


def test_creator_becomes_owner_and_plan_is_free(world, api):
    response = api(world["member"]).post(
        "/api/v1/workspaces/", {"name": "Side project"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["role"] == "owner"
    assert response.json()["plan"] == "free"


@pytest.mark.parametrize(
    "body", [{}, {"name": ""}, {"name": "x" * 500}, {"name": 12}, {"name": "ok", "slug": ["a"]}]
)
def test_bad_workspace_input_is_a_clear_400(world, api, body):
    response = api(world["member"]).post("/api/v1/workspaces/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["detail"]


def test_other_workspace_is_404(world, api):
    assert api(world["owner"]).get(f"/api/v1/workspaces/{world['globex'].slug}/").status_code == 404
    response = api(world["owner"]).patch(
        f"/api/v1/workspaces/{world['globex'].slug}/", {"name": "Mine now"}, format="json"
    )
    assert response.status_code == 404
    assert Workspace.objects.get(pk=world["globex"].pk).name == "Globex"


def test_owner_sets_the_domain_policy_and_it_is_audited(world, api):
    url = f"/api/v1/workspaces/{world['acme'].slug}/"
    response = api(world["owner"]).patch(
        url,
        {
            "action_domains": {
                "allow_all": False,
                "allowed": ["Example.COM.", "*.corp.example", "bücher.example"],
            }
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["action_domains"] == {
        "allow_all": False,
        "allowed": ["*.corp.example", "example.com", "xn--bcher-kva.example"],
    }
    kinds = sorted(
        AuditEvent.objects.filter(workspace=world["acme"]).values_list("kind", flat=True)
    )
    assert kinds == ["domain_added"] * 3 + ["policy_changed"]


def test_plan_is_read_only(world, api):
    url = f"/api/v1/workspaces/{world['acme'].slug}/"
    api(world["owner"]).patch(url, {"plan": "free"}, format="json")
    assert Workspace.objects.get(pk=world["acme"].pk).plan == "enterprise"


def test_admin_reads_but_cannot_change_the_policy(world, api):
    url = f"/api/v1/workspaces/{world['acme'].slug}/"
    assert api(world["admin"]).get(url).status_code == 200
    response = api(world["admin"]).patch(
        url, {"action_domains": {"allow_all": False}}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Workspace.objects.get(pk=world["acme"].pk).allow_all_domains is True


def test_policy_needs_enterprise_or_edu(world, api):
    url = f"/api/v1/workspaces/{world['globex'].slug}/"
    response = api(world["stranger"]).patch(
        url, {"action_domains": {"allow_all": False}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "policy_not_available"


@pytest.mark.parametrize(
    "entry",
    [
        "https://example.com",
        "example.com/path",
        "example.com:443",
        "10.0.0.1",
        "a..example.com",
        "*",
        "com",
        "co.uk",
        "x" * 64 + ".example.com",
    ],
)
def test_invalid_entries_save_nothing(world, api, entry):
    url = f"/api/v1/workspaces/{world['acme'].slug}/"
    response = api(world["owner"]).patch(
        url,
        {"action_domains": {"allow_all": False, "allowed": ["good.example", entry]}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_domain"
    assert not AllowedDomain.objects.exists()
    assert Workspace.objects.get(pk=world["acme"].pk).allow_all_domains is True


def test_workspace_list_query_count_is_constant(world, api, django_assert_max_num_queries):
    from tests.factories import add_member, make_workspace

    user = world["builder"]
    for _ in range(15):
        workspace = make_workspace()
        add_member(workspace, user=user)
        AllowedDomain.objects.create(workspace=workspace, pattern="a.example")
        AllowedDomain.objects.create(workspace=workspace, pattern="b.example")
    with django_assert_max_num_queries(4):
        response = api(user).get("/api/v1/workspaces/")
    assert response.json()["count"] == 16
