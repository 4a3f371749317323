"""actions.selectors.actions_blocked_by_policy: which actions the domain policy blocks now, and
the pages that show it (API errors, editor, tool export), all with the same reason."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from actions.selectors import SERVER_POINTER, actions_blocked_by_policy
from tests.factories import add_member, make_action, make_gpt, make_workspace
from workspaces.domains import NO_DOMAINS_ALLOWED
from workspaces.models import AllowedDomain, Plan, Role, Workspace

TOKEN_REFUSED = "The domain tokens.example.net is not allowed by your workspace's settings."


@pytest.fixture
def world(db):
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE, allow_all_domains=False)
    make_workspace("Globex")
    owner = add_member(acme, role=Role.OWNER)
    AllowedDomain.objects.bulk_create(
        AllowedDomain(workspace=acme, pattern=p) for p in ["acme-tools.com", "*.acme.dev"]
    )
    gpt = make_gpt(acme, name="Helper", created_by=owner, visibility="workspace")
    ok = make_action(gpt, domain="api.acme-tools.com", operations=["ok"], schema="x")
    server = make_action(gpt, domain="acme.dev", operations=["parent"], schema="x")
    token = make_action(
        gpt,
        domain="acme-tools.com",
        operations=["oauth"],
        schema="x",
        auth_type="oauth",
        authorization_url="https://acme-tools.com/authorize",
        token_url="https://Tokens.Example.NET./token",
    )
    return {"acme": acme, "owner": owner, "gpt": gpt, "ok": ok, "server": server, "token": token}


def blocked_now(world):
    actions = [world["ok"], world["server"], world["token"]]
    return actions_blocked_by_policy(workspace=world["acme"], actions=actions)


def test_server_hosts_then_oauth_urls(world):
    blocked = blocked_now(world)
    assert set(blocked) == {world["server"].pk, world["token"].pk}
    server = blocked[world["server"].pk]
    assert (server.host, server.pointer, server.label) == ("acme.dev", SERVER_POINTER, "")
    assert server.reason == "The domain acme.dev is not allowed by your workspace's settings."
    token = blocked[world["token"].pk]
    assert (token.host, token.pointer) == ("tokens.example.net", "auth.token_url")
    assert token.reason == f"OAuth token URL: {TOKEN_REFUSED}"


def test_an_empty_allowlist_blocks_every_action_with_the_exact_sentence(world):
    AllowedDomain.objects.filter(workspace=world["acme"]).delete()
    blocked = blocked_now(world)
    assert len(blocked) == 3
    assert {b.reason for b in blocked.values()} == {NO_DOMAINS_ALLOWED}


@pytest.mark.parametrize("change", [{"allow_all_domains": True}, {"plan": Plan.TEAM}])
def test_no_restriction_blocks_nothing_without_a_query(world, change, django_assert_num_queries):
    Workspace.objects.filter(pk=world["acme"].pk).update(**change)
    world["acme"].refresh_from_db()
    with django_assert_num_queries(0):
        assert blocked_now(world) == {}


def test_one_allowlist_query_for_any_number_of_actions(world, django_assert_num_queries):
    many = [
        make_action(world["gpt"], domain=f"x{i}.example.org", operations=[f"o{i}"])
        for i in range(30)
    ]
    with django_assert_num_queries(1):
        blocked = actions_blocked_by_policy(workspace=world["acme"], actions=many)
    assert len(blocked) == 30


def test_an_invalid_oauth_url_is_a_reason_not_a_crash(world):
    type(world["token"]).objects.filter(pk=world["token"].pk).update(token_url="https://a b/")
    world["token"].refresh_from_db()
    reason = blocked_now(world)[world["token"].pk].reason
    assert reason.startswith("OAuth token URL: ")


# The pages ------------------------------------------------------------------------------------


def test_the_api_reports_the_same_errors(world):
    client = APIClient()
    client.force_authenticate(world["owner"])
    listed = client.get(f"/api/v1/gpts/{world['gpt'].pk}/actions/").json()
    errors = {a["id"]: a["errors"] for a in listed}
    assert errors[world["ok"].pk] == []
    assert errors[world["token"].pk] == [
        {
            "message": f"OAuth token URL: {TOKEN_REFUSED}",
            "pointer": "auth.token_url",
            "line": None,
            "column": None,
            "code": "domain_not_allowed",
        }
    ]
    (server_error,) = errors[world["server"].pk]
    assert server_error["pointer"] == SERVER_POINTER
    one = client.get(f"/api/v1/actions/{world['token'].pk}/").json()
    assert one["errors"] == errors[world["token"].pk]


def test_the_tool_export_leaves_blocked_actions_out(world):
    client = APIClient()
    client.force_authenticate(world["owner"])
    tools = client.get(f"/api/v1/gpts/{world['gpt'].pk}/tools/").json()
    assert [t["function"]["name"] for t in tools] == ["ok"]


def test_the_editor_shows_the_reason(world):
    client = Client()
    client.force_login(world["owner"])
    page = client.get(f"/editor/gpts/{world['gpt'].pk}/").content.decode()
    assert "OAuth token URL: The domain tokens.example.net is not allowed" in page
    assert "The domain acme.dev is not allowed" in page
    action_page = client.get(f"/editor/actions/{world['token'].pk}/").content.decode()
    assert "OAuth token URL: The domain tokens.example.net is not allowed" in action_page
