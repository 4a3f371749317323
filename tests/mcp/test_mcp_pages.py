"""The MCP setting in the admin (owners edit it, admins read it) and the editor's
"Use in other assistants" section."""

import pytest
from django.urls import reverse

from tests.factories import add_member, make_gpt, make_workspace
from workspaces.models import AuditEvent, AuditKind, Plan, Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    workspace = make_workspace("Acme", plan=Plan.TEAM)
    return {
        "ws": workspace,
        "owner": add_member(workspace, role=Role.OWNER, staff=True),
        "admin": add_member(workspace, role=Role.ADMIN, staff=True),
        "builder": add_member(workspace, role=Role.BUILDER),
    }


def change_url(workspace):
    return reverse("admin:workspaces_workspace_change", args=[workspace.pk])


def test_admin_owner_edits_it_through_the_service(client, acme):
    client.force_login(acme["owner"])
    page = client.get(change_url(acme["ws"]))
    form = page.context["adminform"].form
    assert "mcp_enabled" in form.fields
    data = {"name": acme["ws"].name, "slug": acme["ws"].slug, "mcp_enabled": "on"}
    # The governance settings on the same form (DESIGN.md §7), left as they are.
    data |= {"action_access": acme["ws"].action_access, "approvals": acme["ws"].approvals}
    for inline in page.context["inline_admin_formsets"]:
        for bound in inline.formset.management_form:
            data[bound.html_name] = bound.value()
        for row in inline.formset.forms:
            for bound in row:
                if bound.value() is not None and bound.value() is not False:
                    data[bound.html_name] = bound.value()
    response = client.post(change_url(acme["ws"]), data)
    assert response.status_code == 302, response.content[:2000]
    acme["ws"].refresh_from_db()
    assert acme["ws"].mcp_enabled is True
    assert AuditEvent.objects.filter(kind=AuditKind.MCP_CHANGED, actor=acme["owner"]).exists()


def test_admin_admins_see_it_read_only(client, acme):
    client.force_login(acme["admin"])
    page = client.get(change_url(acme["ws"]))
    assert page.status_code == 200
    assert "mcp_enabled" not in page.context["adminform"].form.fields
    assert b"MCP endpoints on" in page.content


def test_editor_shows_the_mcp_url_and_says_when_off(client, acme, settings):
    settings.SITE_URL = "https://actions.example"
    gpt = make_gpt(acme["ws"], created_by=acme["builder"], name="Trip planner")
    client.force_login(acme["builder"])
    page = client.get(reverse("editor:gpt-detail", args=[gpt.pk])).content.decode()
    url = f"https://actions.example/mcp/gpts/{gpt.pk}"
    assert "Use in other assistants" in page and url in page
    assert f"claude mcp add --transport http trip-planner {url}" in page
    assert "mcpServers" in page
    assert "MCP is turned off" in page
    acme["ws"].mcp_enabled = True
    acme["ws"].save()
    page = client.get(reverse("editor:gpt-detail", args=[gpt.pk])).content.decode()
    assert "MCP is turned off" not in page
