"""The security suite's shared world: two workspaces full of objects, real credentials, a real
HTTP server on 127.0.0.1 for the actions to call, and helpers to walk the URL configuration.

Workspace A ("Acme") holds one object of every kind a URL can name (GPT, action with operations,
schema import, OAuth connection, remembered approval, pending OAuth state); workspace B
("Globex") holds its own, so "what B sees of A" and "what B sees of itself" can both be checked.
Every secret is a distinctive string (`SECRETS`) that later tests hunt for.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from werkzeug import Response

from actions.approvals import approval_request
from actions.models import (
    Action,
    ConnectedAccount,
    Consent,
    Invocation,
    OAuthState,
    Operation,
    SchemaImport,
)
from actions.services import action_create
from chat.models import Conversation, Message, ToolCall
from gpts.models import GPT
from tests.factories import add_member, make_gpt, make_user, make_workspace
from tests.openapi_responses import install
from workspaces.invitations import invitation_create
from workspaces.models import (
    AllowedDomain,
    AuditEvent,
    Invitation,
    Membership,
    Plan,
    Role,
    Workspace,
)
from workspaces.services import domain_policy_update

# Distinctive plaintexts: long enough that a chance match is impossible, each unique so a hit
# names the leak. Never reuse them as anything but secrets.
SECRETS = {
    "api_key": "sk-SECRETAPIKEY-4f1c9a7e2b8d6035",
    "client_secret": "cs-SECRETCLIENT-9e2d7b1a4c6f8053",
    "access_token": "at-SECRETACCESS-3b8e1f6a9c2d7045",
    "refresh_token": "rt-SECRETREFRESH-7a4c2e9b1d6f3058",
    "b_api_key": "sk-SECRETOTHERWS-1d5e8a2c7b4f9063",
}

# Path prefixes no tenant test walks, each with the reason:
EXCLUDED_PREFIXES = {
    # Django admin: tenant scoping is tests/workspaces/test_admin_scoping.py's business (every
    # changelist and object URL of every scoped model, as a staff admin of the other workspace).
    "admin/": "covered by tests/workspaces/test_admin_scoping.py",
    # django-oauth-toolkit's provider endpoints: their objects (applications, tokens) belong to
    # the DOT user, not to a workspace, and DOT scopes them to request.user itself.
    "o/": "django-oauth-toolkit provider, objects scoped to the user by DOT",
    # The sandbox is a stand-in for a third-party API (DESIGN.md §3): its to-dos belong to the
    # bearer token's user, not to a workspace (tests/sandbox/test_sandbox_api.py).
    "sandbox/": "demo third-party API, scoped by its own bearer tokens",
    # RFC 9728 protected-resource metadata: public by design and the same document for any id,
    # existing or not (tests/mcp/test_mcp_auth.py), so it tells nobody which GPTs exist.
    ".well-known/oauth-protected-resource/": "public discovery, identical for every id",
}

OPERATION_ID = "getWeather"


def action_schema(port: int, *, host: str = "127.0.0.1", prefix: str = "") -> str:
    """An OpenAPI document whose server is the test HTTP server; one GET, one POST."""
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Security test API", "version": "1.0.0"},
        "servers": [{"url": f"http://{host}:{port}"}],
        "paths": {
            "/weather": {
                "get": {
                    "operationId": f"{prefix}{OPERATION_ID}",
                    "summary": "Current weather",
                    "x-openai-isConsequential": False,
                    "parameters": [
                        {
                            "name": "location",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            },
            "/notes": {
                "post": {
                    "operationId": f"{prefix}createNote",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
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


def issue_token(username: str) -> str:
    """A bearer token exactly as `manage.py issue_api_token` prints it (last line)."""
    out = io.StringIO()
    call_command("issue_api_token", username, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@dataclass
class Tenant:
    workspace: Workspace
    owner: object
    member: object
    gpt: GPT
    action: Action
    oauth_action: Action
    schema_import: SchemaImport
    connection: ConnectedAccount
    consent: Consent
    state: OAuthState
    conversation: Conversation
    invitation: Invitation
    invitation_token: str


@dataclass
class World:
    port: int
    a: Tenant
    b: Tenant
    superuser: object
    server: object
    extra: dict = field(default_factory=dict)  # what a test module adds to the world


def _tenant(name: str, *, port: int, api_key: str, secrets: dict | None) -> Tenant:
    workspace = make_workspace(name, plan=Plan.ENTERPRISE)
    owner = add_member(workspace, role=Role.OWNER, username=f"{name.lower()}_owner")
    member = add_member(workspace, role=Role.MEMBER, username=f"{name.lower()}_member")
    domain_policy_update(workspace=workspace, actor=owner, allow_all=False, allowed=["127.0.0.1"])
    gpt = make_gpt(workspace, created_by=owner, name=f"{name} helper", visibility="workspace")
    action = action_create(
        gpt=gpt,
        acting_user=owner,
        schema=action_schema(port),
        auth={"type": "api_key", "api_key": api_key, "auth_type": "bearer"},
        privacy_policy_url="https://example.com/privacy",
    )
    # A second GPT for the OAuth action: two actions of one GPT may not share a domain.
    oauth_gpt = make_gpt(workspace, created_by=owner, name=f"{name} oauth", visibility="workspace")
    base = f"http://127.0.0.1:{port}"
    oauth_action = action_create(
        gpt=oauth_gpt,
        acting_user=owner,
        schema=action_schema(port, prefix="o"),
        auth={
            "type": "oauth",
            "client_id": f"{name.lower()}-client",
            "client_secret": (secrets or {}).get("client_secret", f"{name}-client-secret-x1"),
            "authorization_url": f"{base}/authorize",
            "token_url": f"{base}/token",
            "revocation_url": f"{base}/revoke",
            "scope": "read",
            "token_exchange_method": "default_post",
        },
    )
    schema_import = SchemaImport.objects.create(
        action=action,
        gpt=action.gpt,
        workspace=workspace,
        url=f"{base}/openapi.json",
        requested_by=owner,
    )
    tokens = secrets or {"access_token": f"{name}-access-x1", "refresh_token": f"{name}-refresh-x1"}
    connection = ConnectedAccount.objects.create(
        user=member,
        action=oauth_action,
        gpt=oauth_gpt,
        workspace=workspace,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        scopes="read",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    consent = Consent.objects.create(
        user=member, gpt=gpt, action=action, workspace=workspace, operation_id=OPERATION_ID
    )
    state = OAuthState.objects.create(
        state_hash=hashlib.sha256(f"{name}-state".encode()).hexdigest(),
        user=member,
        action=oauth_action,
        code_verifier=f"{name}-verifier-" + "v" * 50,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    Invocation.objects.create(
        workspace=workspace,
        gpt=gpt,
        action=action,
        user=member,
        operation_id=OPERATION_ID,
        status="ok",
        http_status=200,
    )
    conversation = Conversation.objects.create(workspace=workspace, gpt=gpt, user=member)
    Message.objects.create(
        workspace=workspace, conversation=conversation, role="user", content=f"{name} hello"
    )
    invitation, invitation_token = invitation_create(
        workspace=workspace, email=f"newcomer@{name.lower()}.example", role=Role.MEMBER, actor=owner
    )
    return Tenant(
        conversation=conversation,
        workspace=workspace,
        owner=owner,
        member=member,
        gpt=gpt,
        action=action,
        oauth_action=oauth_action,
        schema_import=schema_import,
        connection=connection,
        consent=consent,
        state=state,
        invitation=invitation,
        invitation_token=invitation_token,
    )


@pytest.fixture
def upstream(httpserver):
    """The API every action calls (and the OAuth provider's endpoints): always a small JSON."""
    httpserver.expect_request(re.compile(r"/token")).respond_with_json(
        {"access_token": "fresh-access-x1", "token_type": "Bearer", "expires_in": 3600}
    )
    httpserver.expect_request(re.compile(r"/revoke")).respond_with_data("", status=200)
    httpserver.expect_request(re.compile(r".*")).respond_with_response(
        Response(json.dumps({"ok": True}), status=200, content_type="application/json")
    )
    return httpserver


@pytest.fixture
def world(db, settings, upstream) -> World:
    port = upstream.port
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    settings.SITE_URL = "http://testserver"
    a = _tenant(
        "Acme",
        port=port,
        api_key=SECRETS["api_key"],
        secrets={
            "client_secret": SECRETS["client_secret"],
            "access_token": SECRETS["access_token"],
            "refresh_token": SECRETS["refresh_token"],
        },
    )
    b = _tenant("Globex", port=port, api_key=SECRETS["b_api_key"], secrets=None)
    superuser = make_user("root", superuser=True)
    return World(port=port, a=a, b=b, superuser=superuser, server=upstream)


@pytest.fixture(autouse=True)
def _no_name_lookups(monkeypatch):
    """Names other than localhost are never resolved: a DNS query is traffic off this machine,
    and generated inputs (schemathesis, imports) are full of made-up host names."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host or "")
        if name in ("localhost", "") or re.fullmatch(r"[\d.]+|[0-9a-fA-F:]+", name):
            return real(host, *args, **kwargs)
        raise socket.gaierror(
            socket.EAI_NONAME, f"name lookups are off in the security suite: {name}"
        )

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, called in-process inside the test's transaction.

    Django's own test client does the same: a real server closes "old" database connections
    at each request's start and end, which would end the test's transaction.
    """
    from django.core.handlers.wsgi import WSGIHandler

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


# kwarg name → how to name workspace A's object, and an id that exists nowhere.
OBJECT_KWARGS = {
    "slug": (lambda a: a.workspace.slug, "no-such-workspace"),
    "gpt_id": (lambda a: a.gpt.pk, 987654321),
    "action_id": (lambda a: a.action.pk, 987654321),
    "import_id": (lambda a: a.schema_import.pk, 987654321),
    "connection_id": (lambda a: a.connection.pk, 987654321),
    "consent_id": (lambda a: a.consent.pk, 987654321),
    "operation_id": (lambda a: OPERATION_ID, "noSuchOperation"),
    "conversation_id": (lambda a: a.conversation.pk, 987654321),
    "user_id": (lambda a: a.member.pk, 987654321),
    "invitation_id": (lambda a: a.invitation.pk, 987654321),
    # An approval waiting for workspace A's member (actions/approvals.py): its URL's token.
    "token": (
        lambda a: approval_request(
            user=a.member, action=a.action, operation_id=OPERATION_ID, arguments={}, prompt={}
        ),
        "no-such-approval-token-000000000000",
    ),
}

# Routes whose kwarg is a credential, not an object reference: whoever holds the value may use
# it, whatever workspace they are in, so "B gets 404" does not apply. Each has its own test.
CAPABILITY_ROUTES = {
    "invitations/<str:token>/": "an invitation link: the token is the credential "
    "(tests/api/test_api_governance.py, tests/security/test_tenant_isolation.py)",
}


# Walking the URL configuration ----------------------------------------------------------------

CONVERTER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern of config.urls with its full route text and its view."""

    route: str  # e.g. "api/v1/gpts/<int:gpt_id>/"
    callback: object
    name: str | None

    @property
    def kwargs(self) -> list[str]:
        return [m["name"] for m in CONVERTER.finditer(self.route)]

    def path(self, values: dict[str, object]) -> str:
        return "/" + CONVERTER.sub(lambda m: str(values[m["name"]]), self.route)

    @property
    def view_class(self):
        return getattr(self.callback, "view_class", None) or getattr(self.callback, "cls", None)


def all_routes() -> list[Route]:
    """Every URL pattern reachable from config.urls, with regex routes (the admin's) kept as
    their regex text."""
    routes: list[Route] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            text = str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + text)
            elif isinstance(entry, URLPattern):
                routes.append(Route(prefix + text, entry.callback, entry.name))

    walk(get_resolver().url_patterns, "")
    return routes


def excluded(route: Route) -> bool:
    return route.route in CAPABILITY_ROUTES or any(
        route.route.startswith(prefix) for prefix in EXCLUDED_PREFIXES
    )


# Fingerprints of a workspace's rows --------------------------------------------------------------


def tenant_rows(workspace: Workspace) -> dict[str, str]:
    """A digest per table of everything that belongs to `workspace` (decrypted values included),
    so any change by a request shows as a different digest."""
    querysets = {
        "workspace": Workspace.objects.filter(pk=workspace.pk),
        "membership": Membership.objects.filter(workspace=workspace),
        "allowed_domain": AllowedDomain.objects.filter(workspace=workspace),
        "audit": AuditEvent.objects.filter(workspace=workspace),
        "gpt": GPT.objects.filter(workspace=workspace),
        "action": Action.objects.filter(workspace=workspace),
        "operation": Operation.objects.filter(action__workspace=workspace),
        "import": SchemaImport.objects.filter(workspace=workspace),
        "connection": ConnectedAccount.objects.filter(workspace=workspace),
        "consent": Consent.objects.filter(workspace=workspace),
        "oauth_state": OAuthState.objects.filter(action__workspace=workspace),
        "invocation": Invocation.objects.filter(workspace=workspace),
        "conversation": Conversation.objects.filter(workspace=workspace),
        "message": Message.objects.filter(workspace=workspace),
        "tool_call": ToolCall.objects.filter(workspace=workspace),
        "invitation": Invitation.objects.filter(workspace=workspace),
    }
    digests = {}
    for name, queryset in querysets.items():
        rows = [
            {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
            for obj in queryset.order_by("pk")
        ]
        text = json.dumps(rows, default=str, sort_keys=True)
        digests[name] = f"{len(rows)}:{hashlib.sha256(text.encode()).hexdigest()}"
    return digests


@pytest.fixture(autouse=True)
def _answers_match_the_document(monkeypatch):
    """Every API answer a security test gets through the test client is checked against
    /api/v1/schema/ (tests/openapi_responses.py): refusals must be declared ones too."""
    install(monkeypatch)
