"""The MCP endpoints served for real: config.asgi under uvicorn on 127.0.0.1, in a thread.

The server is tests/conftest.py `asgi_site` (shared with the governance tables of
tests/api/test_api_governance.py). An upstream API (pytest-httpserver on 127.0.0.1) plays the
action's API; the deployment's private-address allowlist names its port.
"""

import pytest
from pytest_httpserver import HTTPServer

from actions.services import action_create
from tests.factories import add_member, make_gpt, make_workspace
from tests.mcp.support import schema_for
from workspaces.models import Plan, Role
from workspaces.services import domain_policy_update


@pytest.fixture(scope="module")
def upstream():
    httpd = HTTPServer(host="127.0.0.1", port=0)
    httpd.start()
    yield httpd
    httpd.clear()
    if httpd.is_running():
        httpd.stop()


@pytest.fixture
def api(upstream):
    upstream.clear()
    yield upstream
    upstream.clear()


@pytest.fixture
def site(asgi_site, settings, api):
    """The base URL of the running site (tests/conftest.py `asgi_site`); the upstream API's port
    is the deployment's private-address allowlist."""
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{api.port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    return asgi_site


@pytest.fixture
def world(site, api):
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE, mcp_enabled=True)
    globex = make_workspace("Globex", plan=Plan.ENTERPRISE, mcp_enabled=True)
    owner = add_member(acme, role=Role.OWNER)
    builder = add_member(acme, role=Role.BUILDER)
    member = add_member(acme, role=Role.MEMBER)
    stranger = add_member(globex, role=Role.OWNER)
    domain_policy_update(workspace=acme, actor=owner, allow_all=False, allowed=["127.0.0.1"])
    gpt = make_gpt(acme, created_by=builder, visibility="workspace", name="Weather helper")
    action = action_create(
        gpt=gpt, acting_user=builder, schema=schema_for(api.port), auth={"type": "none"}
    )
    other_gpt = make_gpt(globex, created_by=stranger, visibility="workspace", name="Globex bot")
    return {
        "site": site,
        "acme": acme,
        "globex": globex,
        "owner": owner,
        "builder": builder,
        "member": member,
        "stranger": stranger,
        "gpt": gpt,
        "action": action,
        "other_gpt": other_gpt,
        "api": api,
        "url": f"{site}/mcp/gpts/{gpt.pk}",
    }
