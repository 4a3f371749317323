"""The MCP endpoints served for real: config.asgi under uvicorn on 127.0.0.1, in a thread.

pytest-django's live_server is WSGI-only and the MCP endpoints are ASGI (mcp_gateway/server.py),
so the site is served here the way `make run` serves it. The test database must be visible to
the server's threads, hence transactional_db. An upstream API (pytest-httpserver on 127.0.0.1)
plays the action's API; the deployment's private-address allowlist names its port.
"""

import asyncio
import secrets
import socket
import threading
import time
from datetime import timedelta

import pytest
import uvicorn
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value
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


def _close_thread_connections():
    # The server's ORM calls run in asgiref's single thread for sync code; close its
    # connections so the test database can be flushed and dropped.
    asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())


@pytest.fixture
def site(transactional_db, settings, api):
    """The base URL of a running site; SITE_URL is set to it (the MCP resource identifier and
    the authorization server's issuer are built from it)."""
    from config.asgi import build_application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings.SITE_URL = base
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{api.port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    # Under ASGI each Django request runs in its own thread: persistent connections would leak.
    db_settings = connections.settings["default"]
    saved_age = db_settings.get("CONN_MAX_AGE")
    db_settings["CONN_MAX_AGE"] = 0
    server = uvicorn.Server(
        uvicorn.Config(build_application(), lifespan="on", log_level="warning", workers=1)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the ASGI server did not start")
        time.sleep(0.02)
    yield base
    server.should_exit = True
    thread.join(15)
    sock.close()
    _close_thread_connections()
    db_settings["CONN_MAX_AGE"] = saved_age


def issue_token(user, scope="mcp", *, resource=None, days=1):
    """A platform access token as `manage.py issue_api_token` makes one (optionally bound to a
    resource, as an authorization-code grant with RFC 8707 `resource` makes one)."""
    application, _ = get_application_model().objects.get_or_create(
        name="tests",
        defaults={"client_type": "confidential", "authorization_grant_type": "client-credentials"},
    )
    raw = secrets.token_urlsafe(32)
    token = get_access_token_model()(
        user=user,
        application=application,
        expires=timezone.now() + timedelta(days=days),
        scope=scope,
        resource=[resource] if resource else [],
    )
    set_token_value(token, raw)
    token.save()
    return raw


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
