"""Scopes are enforced and OAuth is no way around the roles (DESIGN.md §4), tried as an attacker.

A token handed to the sandbox's to-do app (`todos`) must not change an owner's domain policy; a
`read` token must not write; a deactivated person's tokens open nothing; a member can not
register an OAuth client to phish an owner; the consent page says what `write` means.
"""

import io
import json
import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value

from tests.factories import PASSWORD, add_member, make_user, make_workspace
from workspaces.models import AllowedDomain, Plan, Role

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def token_for(user, scope: str) -> str:
    out = io.StringIO()
    call_command("issue_api_token", user.username, "--scope", scope, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def bearer(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


@pytest.fixture
def owner_world():
    workspace = make_workspace("Acme", plan=Plan.ENTERPRISE)
    owner = add_member(workspace, role=Role.OWNER, username="the_owner")
    return workspace, owner


def patch_policy(client: Client, workspace):
    body = {"action_domains": {"allow_all": False, "allowed": ["evil.example"]}}
    return client.patch(
        f"/api/v1/workspaces/{workspace.slug}/", json.dumps(body), content_type="application/json"
    )


def create_gpt(client: Client, workspace):
    return client.post(
        f"/api/v1/workspaces/{workspace.slug}/gpts/",
        json.dumps({"name": "Planted"}),
        content_type="application/json",
    )


def test_a_todos_token_changes_no_domain_policy_and_reads_nothing(owner_world):
    workspace, owner = owner_world
    todos = bearer(token_for(owner, "todos"))
    answer = patch_policy(todos, workspace)
    assert answer.status_code == 403
    assert answer.json()["code"] == "permission_denied"
    assert "scope" in answer.json()["detail"]
    assert not AllowedDomain.objects.filter(workspace=workspace, pattern="evil.example").exists()
    assert todos.get("/api/v1/workspaces/").status_code == 403
    assert todos.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 403
    assert create_gpt(todos, workspace).status_code == 403
    assert todos.get("/api/v1/me/connected-accounts/").status_code == 403


def test_a_todos_token_still_opens_the_sandbox(owner_world):
    _, owner = owner_world
    assert bearer(token_for(owner, "todos")).get("/sandbox/api/todos").status_code == 200


def test_api_tokens_do_not_open_the_sandbox(owner_world):
    _, owner = owner_world
    answer = bearer(token_for(owner, "read write mcp")).get("/sandbox/api/todos")
    assert answer.status_code == 403 and answer.json()["error"] == "insufficient_scope"


def test_a_read_token_reads_but_can_not_write(owner_world):
    workspace, owner = owner_world
    reader = bearer(token_for(owner, "read"))
    assert reader.get("/api/v1/workspaces/").status_code == 200
    assert patch_policy(reader, workspace).status_code == 403
    assert create_gpt(reader, workspace).status_code == 403
    # HEAD and OPTIONS are reads, not a way around `write`.
    assert reader.options(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200
    assert workspace.gpts.count() == 0


def test_a_write_token_without_read_can_not_read(owner_world):
    workspace, owner = owner_world
    writer = bearer(token_for(owner, "write"))
    assert writer.get("/api/v1/workspaces/").status_code == 403
    assert create_gpt(writer, workspace).status_code == 201


def test_the_default_token_reads_and_writes(owner_world):
    workspace, owner = owner_world
    client = bearer(token_for(owner, "read write mcp"))
    assert patch_policy(client, workspace).status_code == 200
    assert client.get("/api/v1/workspaces/").status_code == 200


def test_a_session_is_not_scope_limited(owner_world, client):
    workspace, owner = owner_world
    client.force_login(owner)
    assert create_gpt(client, workspace).status_code == 201


def test_the_mcp_scope_exists_and_is_the_default(owner_world):
    _, owner = owner_world
    out = io.StringIO()
    call_command("issue_api_token", owner.username, stdout=out)
    raw = out.getvalue().strip().splitlines()[-1]
    token = get_access_token_model().objects.get(user=owner)
    assert token.scope == "read write mcp"
    assert bearer(raw).get("/api/v1/workspaces/").status_code == 200


@pytest.mark.parametrize("scope", ["admin", "read superpowers", "", "__all__"])
def test_issue_api_token_refuses_unknown_scopes(owner_world, scope):
    _, owner = owner_world
    with pytest.raises(CommandError, match="scope"):
        call_command("issue_api_token", owner.username, "--scope", scope, stdout=io.StringIO())


def test_an_inactive_users_tokens_open_nothing(owner_world):
    workspace, owner = owner_world
    raw = token_for(owner, "read write todos")
    owner.is_active = False
    owner.save()
    client = bearer(raw)
    assert client.get("/api/v1/workspaces/").status_code == 401
    assert create_gpt(client, workspace).status_code == 401
    assert patch_policy(client, workspace).status_code == 401
    assert client.get("/sandbox/api/todos").status_code == 401
    assert workspace.gpts.count() == 0
    with pytest.raises(CommandError, match="inactive"):
        call_command("issue_api_token", owner.username, stdout=io.StringIO())


def test_an_inactive_users_refresh_token_mints_nothing(owner_world):
    _, owner = owner_world
    model = get_application_model()
    app = model.objects.create(
        name="Some app",
        client_type=model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=model.GRANT_AUTHORIZATION_CODE,
        client_secret="app-secret-123",
        redirect_uris="http://127.0.0.1/cb",
    )
    access = get_access_token_model()(
        user=owner, application=app, scope="read", expires=timezone.now() + timedelta(hours=1)
    )
    set_token_value(access, "access-of-the-owner-1")
    access.save()
    from oauth2_provider.models import get_refresh_token_model

    refresh = get_refresh_token_model()(user=owner, application=app, access_token=access)
    set_token_value(refresh, "refresh-of-the-owner-1")
    refresh.save()
    owner.is_active = False
    owner.save()
    answer = Client().post(
        "/o/token/",
        {
            "grant_type": "refresh_token",
            "refresh_token": "refresh-of-the-owner-1",
            "client_id": app.client_id,
            "client_secret": "app-secret-123",
        },
    )
    assert answer.status_code in (400, 401)
    assert get_access_token_model().objects.filter(user=owner).count() == 1


@pytest.mark.parametrize(
    "path",
    [
        "/o/applications/",
        "/o/applications/register/",
    ],
)
def test_a_member_can_not_manage_oauth_clients(client, path):
    make_user("mallory")
    client.login(username="mallory", password=PASSWORD)
    assert client.get(path).status_code == 403
    answer = client.post(
        "/o/applications/register/",
        {
            "name": "Acme official",
            "client_type": "public",
            "authorization_grant_type": "authorization-code",
            "redirect_uris": "https://evil.example/cb",
            "algorithm": "",
        },
    )
    assert answer.status_code == 403
    assert not get_application_model().objects.exists()


def test_someone_elses_client_pages_are_closed_to_a_member(client):
    root = make_user("root", superuser=True)
    app = get_application_model().objects.create(
        name="Real", user=root, client_type="public",
        authorization_grant_type="authorization-code", redirect_uris="https://ok.example/cb",
    )
    make_user("mallory")
    client.login(username="mallory", password=PASSWORD)
    for suffix in ("", "update/", "delete/"):
        assert client.get(f"/o/applications/{app.pk}/{suffix}").status_code == 403
    assert client.post(f"/o/applications/{app.pk}/delete/").status_code == 403
    assert get_application_model().objects.filter(pk=app.pk).exists()


def test_anonymous_visitors_are_sent_to_log_in_and_superusers_get_the_pages(client):
    assert client.get("/o/applications/register/").status_code == 302
    make_user("root", superuser=True)
    client.login(username="root", password=PASSWORD)
    assert client.get("/o/applications/register/").status_code == 200


def test_unused_dot_routes_are_not_mounted(client):
    # /o/register/ is mounted for MCP clients (RFC 7591); tests/mcp/test_mcp_auth.py holds
    # what such clients may obtain (scope mcp, one GPT) and how registration is bounded.
    for path in ("/o/device-authorization/", "/o/userinfo/"):
        assert client.get(path).status_code == 404, path


def test_the_consent_page_says_what_write_means(client):
    model = get_application_model()
    app = model.objects.create(
        name="Friendly helper",
        client_type=model.CLIENT_PUBLIC,
        authorization_grant_type=model.GRANT_AUTHORIZATION_CODE,
        redirect_uris="http://127.0.0.1/cb",
    )
    make_user("owner")
    client.login(username="owner", password=PASSWORD)
    page = client.get(
        "/o/authorize/",
        {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": "http://127.0.0.1/cb",
            "scope": "read write",
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.content.decode())
    assert "Friendly helper" in text
    assert "Read your workspaces, GPTs, actions and connections" in text
    assert "Create, change and delete GPTs, actions and workspace settings" in text
    assert "domain policy" in text


def test_the_readme_token_line_works_on_a_make_run_checkout(tmp_path):
    """The README's line, verbatim, with the environment `make run` uses and nothing else: the
    settings refuse to start without SECRET_KEY unless DEBUG is on, which `make token` sets."""
    readme = (ROOT / "README.md").read_text()
    line = re.search(r"^(make token USER=\w+)$", readme, re.M)
    assert line, "README shows no `make token USER=...` line"
    # Not the environment of a `make test` this may run under either: a make inside make prints
    # "Entering/Leaving directory" lines (MAKELEVEL, MAKEFLAGS), which a person's shell does not.
    dropped = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "MAKELEVEL", "MAKEFLAGS", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    python = str(Path(os.sys.executable))
    setup = (
        "from django.contrib.auth.models import User; User.objects.create_user('alice')"
    )
    dev = {**env, "DEBUG": "true"}
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=dev, check=True)
    subprocess.run([python, "manage.py", "shell", "-c", setup], cwd=ROOT, env=dev, check=True)
    # `-o` keeps make from building a venv: the test runs inside one already.
    command = line.group(1).split() + [f"PY={python}", "-o", ".venv/bin/activate"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    assert "read write mcp" in done.stdout
