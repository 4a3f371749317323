"""`mcp_enabled` in the Workspace object: read by members, written by owners only, audited."""

from workspaces.models import AuditEvent, AuditKind


def url(world):
    return f"/api/v1/workspaces/{world['acme'].slug}/"


def test_members_read_it_off_by_default(world, api):
    body = api(world["member"]).get(url(world)).json()
    assert body["mcp_enabled"] is False


def test_owner_turns_it_on_and_off_audited(world, api):
    owner = api(world["owner"])
    response = owner.patch(url(world), {"mcp_enabled": True}, format="json")
    assert response.status_code == 200 and response.json()["mcp_enabled"] is True
    owner.patch(url(world), {"mcp_enabled": True}, format="json")  # no change, no row
    owner.patch(url(world), {"mcp_enabled": False}, format="json")
    events = AuditEvent.objects.filter(workspace=world["acme"], kind=AuditKind.MCP_CHANGED)
    assert [(e.before, e.after) for e in events.order_by("id")] == [
        ({"mcp_enabled": False}, {"mcp_enabled": True}),
        ({"mcp_enabled": True}, {"mcp_enabled": False}),
    ]
    assert events.first().actor == world["owner"]


def test_only_owners_write_it(world, api):
    for who in ("admin", "builder", "member"):
        response = api(world[who]).patch(url(world), {"mcp_enabled": True}, format="json")
        assert response.status_code == 403, who
    world["acme"].refresh_from_db()
    assert world["acme"].mcp_enabled is False
    assert not AuditEvent.objects.filter(kind=AuditKind.MCP_CHANGED).exists()
    stranger = api(world["stranger"]).patch(url(world), {"mcp_enabled": True}, format="json")
    assert stranger.status_code == 404


def test_hostile_values_are_400(world, api):
    owner = api(world["owner"])
    for value in ("yes", 1, None, [], {"x": 1}):
        response = owner.patch(url(world), {"mcp_enabled": value}, format="json")
        assert response.status_code == 400, value
        assert response.json()["code"]
    world["acme"].refresh_from_db()
    assert world["acme"].mcp_enabled is False
