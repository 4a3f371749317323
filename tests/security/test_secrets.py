"""Secrets never leave in clear: not in the database, the API, the pages, the admin or the logs.

Known, distinctive secrets are put in through every door the product has: the world fixture
(services), the REST API (create and update an action), the editor form (a save, and a refused
save), the Django admin change form, a real OAuth code exchange against the server on 127.0.0.1
(access and refresh tokens), `issue_api_token` (a DOT bearer token) and a DOT application's
client secret. Then every place a secret could surface is searched:

- a `pg_dump` of the test database (the plaintexts must be absent, `fernet:v1:` values present);
- every API answer: lists, details, PATCH answers, runs (the request the runtime echoes, and an
  upstream API that echoes the credentials it received, also in a 500 and a 401);
- the editor and connection pages, and every admin changelist and change page as a superuser;
- every log record, at DEBUG for every logger, SQL included.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_application_model
from werkzeug import Response

from actions.models import Action, ConnectedAccount
from kernel.encryption import PREFIX, EncryptedTextField, mask_secret
from tests.security.conftest import OPERATION_ID, SECRETS, action_schema, all_routes, excluded
from tests.security.conftest import issue_token as issue_api_token

# Secrets that enter through the product's doors during the test (on top of SECRETS).
MORE = {
    "api_key_via_api": "user:SECRETBASICAPI-5c2a8e1f7d3b9046",
    "client_secret_via_api": "cs-SECRETVIAAPI-8d3f1a6c2e9b7054",
    "api_key_via_editor": "sk-SECRETEDITOR-2f7b9d4a1c8e6053",
    "api_key_refused_edit": "sk-SECRETREFUSED-6e1a3c8f2b7d9045",
    "api_key_via_admin": "sk-SECRETADMIN-9a4e2c7f1b6d8035",
    "access_via_oauth": "at-SECRETOAUTHACCESS-4d9b2f7a1e6c3058",
    "refresh_via_oauth": "rt-SECRETOAUTHREFRESH-1f6a9c3e7b2d8045",
    "dot_client_secret": "dot-SECRETAPPLICATION-7c1e5a9f3d2b6084",
}


def wire_forms(value: str) -> list[str]:
    """A secret and the forms it takes on the wire (Basic credentials are base64)."""
    return [value, base64.b64encode(value.encode()).decode()]


def find_leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [
        name for name, value in secrets.items() if any(form in text for form in wire_forms(value))
    ]


@pytest.fixture
def echoing_upstream(world):
    """The upstream API echoes the credentials it receives (as some APIs do in errors), the
    OAuth provider hands out known tokens."""
    server = world.server
    server.clear()

    def echo(status):
        def handler(request):
            body = {"authorization": request.headers.get("Authorization"), "args": request.args}
            return Response(json.dumps(body), status=status, content_type="application/json")

        return handler

    server.expect_request("/token").respond_with_json(
        {
            "access_token": MORE["access_via_oauth"],
            "refresh_token": MORE["refresh_via_oauth"],
            "token_type": "Bearer",
            "expires_in": 3600,
        }
    )
    server.expect_request("/weather").respond_with_handler(echo(200))
    server.expect_request("/notes").respond_with_handler(echo(500))
    return server


def exercise(world) -> list[tuple[str, str]]:
    """Put secrets in through every door and read back everything a person or program sees:
    (what, text) pairs. Replaced secrets stay in SECRETS and MORE: they must be gone too."""
    a = world.a
    seen: list[tuple[str, str]] = []
    owner, member = Client(), Client()
    owner.force_login(a.owner)
    member.force_login(a.member)

    def keep(what, response):
        seen.append((what, response.content.decode(errors="replace")))
        seen.append((f"{what} headers", str(dict(response.headers))))
        return response

    def api(client, method, path, body=None):
        response = getattr(client, method)(
            path,
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
        )
        return keep(f"{method.upper()} {path}", response)

    # The REST API: a Basic-auth action created, the OAuth action's secret replaced.
    gpt = owner.post(
        f"/api/v1/workspaces/{a.workspace.slug}/gpts/",
        {"name": "Basic"},
        content_type="application/json",
    ).json()
    created = api(
        owner,
        "post",
        f"/api/v1/gpts/{gpt['id']}/actions/",
        {
            "schema": action_schema(world.port, prefix="b"),
            "auth": {"type": "api_key", "api_key": MORE["api_key_via_api"], "auth_type": "basic"},
        },
    )
    assert created.status_code == 201, created.content
    basic_action = created.json()["id"]
    patched = api(
        owner,
        "patch",
        f"/api/v1/actions/{a.oauth_action.pk}/",
        {
            "auth": {
                "type": "oauth",
                "client_secret": MORE["client_secret_via_api"],
                "client_id": "acme-client",
                "authorization_url": f"http://127.0.0.1:{world.port}/authorize",
                "token_url": f"http://127.0.0.1:{world.port}/token",
                "scope": "read",
            }
        },
    )
    assert patched.status_code == 200, patched.content
    # An invalid update that names the secret: the error must not quote it.
    api(
        owner,
        "patch",
        f"/api/v1/actions/{a.action.pk}/",
        {
            "auth": {
                "type": "api_key",
                "api_key": SECRETS["api_key"] + "\n",
                "auth_type": "custom",
                "custom_header": "Bad Header",
            }
        },
    )

    # The editor: a save and a refused save (a bad custom header) with a typed key.
    form = {"schema": a.action.schema, "auth_type": "api_key", "api_key_auth_type": "bearer"}
    saved = owner.post(
        f"/editor/actions/{a.action.pk}/", {**form, "api_key": MORE["api_key_via_editor"]}
    )
    assert saved.status_code == 302, saved.content[:500]
    refused = keep(
        "editor refused save",
        owner.post(
            f"/editor/actions/{a.action.pk}/",
            {
                **form,
                "api_key": MORE["api_key_refused_edit"],
                "api_key_auth_type": "custom",
                "custom_header": "Bad Header",
            },
        ),
    )
    assert refused.status_code == 400

    # The admin: a superuser replaces the key through the change form.
    root = Client()
    root.force_login(world.superuser)
    change = reverse("admin:actions_action_change", args=[a.action.pk])
    data = admin_form_data(root.get(change))
    data["api_key"] = MORE["api_key_via_admin"]
    done = root.post(change, data)
    assert done.status_code == 302, done.content[:2000]
    assert Action.objects.get(pk=a.action.pk).api_key == MORE["api_key_via_admin"]

    # A real OAuth code exchange: the provider's tokens replace the member's connection.
    start = member.get(f"/actions/{a.oauth_action.pk}/oauth/start")
    assert start.status_code == 302, start.content[:500]
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    back = keep(
        "callback",
        member.get(
            f"/aip/{a.oauth_action.gpt_id}/oauth/callback", {"state": state, "code": "code-1"}
        ),
    )
    assert back.status_code == 302, back.content[:1000]
    account = ConnectedAccount.objects.get(user=a.member, action=a.oauth_action)
    assert account.access_token == MORE["access_via_oauth"]

    # Runs: the request the runtime shows, an upstream that echoes credentials (200 and 500).
    run = f"/api/v1/actions/{a.action.pk}/operations/{OPERATION_ID}/run"
    ok = api(owner, "post", run, {"arguments": {"location": "Paris"}, "consent": "allow"})
    assert ok.status_code == 200 and ok.json()["status"] == "ok", ok.content
    # The upstream did echo the key: the answer shows it masked, so masking was exercised.
    hint = mask_secret(MORE["api_key_via_admin"])
    assert hint in ok.json()["response"]["body"] and hint in str(ok.json()["request"])
    failed = api(
        owner,
        "post",
        f"/api/v1/actions/{a.action.pk}/operations/createNote/run",
        {"arguments": {"requestBody": {"title": "x"}}, "consent": "allow"},
    )
    assert failed.json()["status"] == "upstream_error", failed.content
    basic = api(
        owner,
        "post",
        f"/api/v1/actions/{basic_action}/operations/bgetWeather/run",
        {"arguments": {"location": "Paris"}, "consent": "allow"},
    )
    assert basic.json()["status"] == "ok", basic.content
    oauth = api(
        member,
        "post",
        f"/api/v1/actions/{a.oauth_action.pk}/operations/o{OPERATION_ID}/run",
        {"arguments": {"location": "Paris"}, "consent": "allow"},
    )
    assert oauth.json()["status"] == "ok", oauth.content
    # The provider now refuses the token: the 401 answer echoes request and response.
    world.server.clear()
    world.server.expect_request("/weather").respond_with_data(
        "denied " + MORE["access_via_oauth"], status=401
    )
    refused_token = api(
        member,
        "post",
        f"/api/v1/actions/{a.oauth_action.pk}/operations/o{OPERATION_ID}/run",
        {"arguments": {"location": "Paris"}, "consent": "allow"},
    )
    assert refused_token.json()["code"] == "oauth_required", refused_token.content

    # Everything readable: every GET route of the API and the pages, as owner and member.
    ids = {
        "slug": a.workspace.slug,
        "gpt_id": a.oauth_action.gpt_id,
        "action_id": a.oauth_action.pk,
        "import_id": a.schema_import.pk,
        "connection_id": account.pk,
        "consent_id": a.consent.pk,
        "operation_id": f"o{OPERATION_ID}",
    }
    for route in all_routes():
        if excluded(route) or route.route.startswith("^"):
            continue
        if any(k not in ids for k in route.kwargs):
            continue
        path = route.path(ids)
        for who, client in (("owner", owner), ("member", member)):
            response = client.get(path)
            if not response.streaming:
                keep(f"GET {path} as {who}", response)
    for action_id in (a.action.pk, basic_action):
        keep("action page", owner.get(f"/editor/actions/{action_id}/"))
        keep("action API", owner.get(f"/api/v1/actions/{action_id}/"))
    keep("revoke page", member.get(f"/me/connections/{account.pk}/revoke"))
    return seen


def admin_form_data(response) -> dict:
    """The POST a browser sends for an admin change page as rendered (nothing edited)."""
    from django.forms import BooleanField

    data: dict = {}

    def add(form):
        for bound in form:
            value = bound.value()
            if isinstance(bound.field, BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def all_secrets(extra: dict[str, str]) -> dict[str, str]:
    return {**SECRETS, **MORE, **extra}


@pytest.fixture
def dot_secrets(world) -> dict[str, str]:
    """A DOT bearer token and a DOT application's client secret (both hashed at rest)."""
    get_application_model().objects.create(
        name="Security app",
        client_type="confidential",
        authorization_grant_type="authorization-code",
        redirect_uris="http://127.0.0.1/cb",
        client_secret=MORE["dot_client_secret"],
        user=world.a.owner,
    )
    return {"dot_access_token": issue_api_token(world.a.owner.username)}


@pytest.fixture
def every_log(caplog):
    """caplog at DEBUG for every logger, including those that set their own level (Django's
    "django" is INFO) or do not propagate to the root logger."""
    caplog.set_level(logging.DEBUG)
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    for logger in loggers:
        caplog.set_level(logging.DEBUG, logger=logger.name)
    detached = [lg for lg in loggers if not lg.propagate]
    for logger in detached:
        logger.addHandler(caplog.handler)
    yield caplog
    for logger in detached:
        logger.removeHandler(caplog.handler)


def test_no_answer_page_or_log_shows_a_secret(world, echoing_upstream, dot_secrets, every_log):
    caplog = every_log
    connection.force_debug_cursor = True  # SQL and its parameters are logged too
    try:
        seen = exercise(world)
        # A request that fails with a bearer token in the header.
        bad = Client(headers={"Authorization": f"Bearer {dot_secrets['dot_access_token']}"})
        seen.append(("api with token", bad.get("/api/v1/workspaces/").content.decode()))
        bad.post("/api/v1/workspaces/", data="{not json", content_type="application/json")
    finally:
        connection.force_debug_cursor = False
    secrets = all_secrets(dot_secrets)
    leaks = [(what, find_leaks(text, secrets)) for what, text in seen]
    assert not [leak for leak in leaks if leak[1]], leaks
    assert len(seen) > 60
    records = caplog.records
    assert any(r.name == "django.db.backends" for r in records)  # the capture did capture
    logged = caplog.text + "\n".join(
        f"{r.getMessage()} {r.args!r} {getattr(r, 'sql', '')} {getattr(r, 'params', '')}"
        for r in records
    )
    assert not find_leaks(logged, secrets)


def test_the_admin_shows_no_secret(world, echoing_upstream, dot_secrets, client):
    """Every changelist, change page and history page of every registered model, as a
    superuser, after the secrets went through every door (audit rows and admin history too)."""
    exercise(world)
    client.force_login(world.superuser)
    pages = 0
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls = [reverse("admin:{}_{}_changelist".format(*info))]
        for obj in model_admin.get_queryset(type("R", (), {"user": world.superuser})())[:3]:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
            urls.append(reverse("admin:{}_{}_history".format(*info), args=[obj.pk]))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            pages += 1
            leaked = find_leaks(response.content.decode(), all_secrets(dot_secrets))
            assert not leaked, f"{url} shows {leaked}"
    assert pages > 40


@pytest.mark.django_db(transaction=True)
def test_the_database_holds_only_ciphertext(world, echoing_upstream, dot_secrets):
    exercise(world)
    dump = database_dump()
    assert "actions_connectedaccount" in dump  # the dump is real and complete
    leaked = find_leaks(dump, all_secrets(dot_secrets))
    assert not leaked, f"in clear in the database: {leaked}"
    stored = 0
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                with connection.cursor() as cursor:
                    cursor.execute(
                        f'SELECT "{field.column}" FROM "{model._meta.db_table}" '
                        f'WHERE "{field.column}" <> %s',
                        [""],
                    )
                    values = [row[0] for row in cursor.fetchall()]
                assert all(v.startswith(PREFIX) for v in values), (model, field.name)
                assert all(v in dump for v in values)
                stored += len(values)
    assert stored >= 8  # keys, client secrets, tokens, PKCE verifiers


def database_dump() -> str:
    """The whole database as text: pg_dump on PostgreSQL (committed data, hence the
    transactional test), SQLite's own dump otherwise."""
    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        return "\n".join(connection.connection.iterdump())
    binary = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    assert os.path.exists(binary), "pg_dump is needed for this test (postgresql-client)"
    command = [binary, "--data-only", "--no-owner", "--dbname", settings["NAME"]]
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings.get(key):
            command += [flag, str(settings[key])]
    env = {**os.environ, "PGPASSWORD": settings.get("PASSWORD") or ""}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout
