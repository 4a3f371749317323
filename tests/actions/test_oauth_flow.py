"""The OAuth client flow end to end, over real HTTP on 127.0.0.1.

The happy path and access_denied run against the sandbox provider (django-oauth-toolkit served
by the live server); token endpoint failures against a fake provider (pytest-httpserver) and a
socket that never answers.
"""

import base64
import hashlib
import json
import time
from datetime import timedelta
from urllib.parse import parse_qs, unquote_plus

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from werkzeug import Response

from actions.models import ConnectedAccount, ConnectionStatus, OAuthState, TokenExchangeMethod
from actions.oauth.flow import MAX_PENDING_STATES_PER_USER, hash_state
from actions.oauth.tokens import access_token_for
from tests.actions.oauth_support import (
    Visitor,
    allow_private,
    fake_provider_action,
    query_of,
    sandbox_world,
    silent_server,
)
from tests.factories import add_member, make_action, make_gpt, make_user, make_workspace
from workspaces.models import AllowedDomain, Plan, Role

live = pytest.mark.django_db(transaction=True)


def raw_column(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def todos(world, token: str) -> int:
    visitor = Visitor()
    return visitor.get(
        f"{world.provider}/sandbox/api/todos", headers={"Authorization": f"Bearer {token}"}
    ).status_code


# The sandbox provider, both token exchange methods ---------------------------------------


@live
@pytest.mark.parametrize(
    "method", [TokenExchangeMethod.DEFAULT_POST, TokenExchangeMethod.BASIC_AUTH_HEADER]
)
def test_whole_flow_connects_the_account(live_server, settings, method):
    world = sandbox_world(live_server, settings, method=method)
    visitor = Visitor()
    visitor.login(world.site, world.user)

    authorize_url = visitor.start(world, next_path="/somewhere/after")
    params = query_of(authorize_url)
    assert authorize_url.startswith(f"{world.provider}/o/authorize/?")
    assert params["response_type"] == "code"
    assert params["client_id"] == world.application.client_id
    assert params["redirect_uri"] == f"{world.site}/aip/{world.gpt.pk}/oauth/callback"
    assert params["scope"] == "todos"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32

    callback = visitor.authorize_at_provider(authorize_url)
    assert callback.startswith(f"{world.site}/aip/{world.gpt.pk}/oauth/callback?")
    answer = visitor.get(callback)
    assert answer.status_code == 302, answer.text[:800]
    assert answer.headers["Location"] == "/somewhere/after"

    account = ConnectedAccount.objects.get(user=world.user, action=world.action)
    assert account.status == ConnectionStatus.ACTIVE
    assert account.scopes == "todos"
    assert account.gpt_id == world.gpt.pk and account.workspace_id == world.acme.pk
    assert account.refresh_token
    expected = timezone.now() + timedelta(
        seconds=settings.OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
    )
    assert abs((account.expires_at - expected).total_seconds()) < 60
    # Encrypted at rest: the raw columns never hold the tokens.
    assert account.access_token not in raw_column(
        "actions_connectedaccount", "access_token", account.pk
    )
    assert account.refresh_token not in raw_column(
        "actions_connectedaccount", "refresh_token", account.pk
    )
    # The state was burnt; only its hash was ever stored.
    state = OAuthState.objects.get(state_hash=hash_state(query_of(callback)["state"]))
    assert state.used_at is not None
    assert query_of(callback)["state"] not in json.dumps(
        list(OAuthState.objects.values()), default=str
    )

    # The token works at the sandbox API, and the runtime helper hands it out.
    token = access_token_for(user=world.user, action=world.action)
    assert token == account.access_token
    assert todos(world, token) == 200
    assert get_access_token_model().objects.filter(application=world.application).count() == 1

    # The page the user is sent back to tells them it worked.
    page = visitor.get(f"{world.site}/me/connections/")
    assert "is connected" in page.text and "To-do helper" in page.text


@live
def test_reconnecting_replaces_the_tokens(live_server, settings):
    world = sandbox_world(live_server, settings)
    visitor = Visitor()
    visitor.login(world.site, world.user)
    visitor.connect(world)
    first = ConnectedAccount.objects.get(user=world.user)
    first.status = ConnectionStatus.NEEDS_RECONNECT
    first.save()
    assert visitor.connect(world).status_code == 302
    second = ConnectedAccount.objects.get(user=world.user)
    assert second.pk == first.pk
    assert second.access_token != first.access_token
    assert second.status == ConnectionStatus.ACTIVE
    assert second.connected_at > first.connected_at


@live
def test_access_denied_at_the_provider(live_server, settings):
    world = sandbox_world(live_server, settings)
    visitor = Visitor()
    visitor.login(world.site, world.user)
    callback = visitor.authorize_at_provider(visitor.start(world), allow=False)
    assert query_of(callback)["error"] == "access_denied"
    page = visitor.get(callback)
    assert page.status_code == 403
    assert "You did not allow access" in page.text
    assert 'data-code="access_denied"' in page.text
    assert "Try again" in page.text
    assert not ConnectedAccount.objects.exists()


@live
def test_replayed_callback_is_refused(live_server, settings):
    world = sandbox_world(live_server, settings)
    visitor = Visitor()
    visitor.login(world.site, world.user)
    callback = visitor.authorize_at_provider(visitor.start(world))
    assert visitor.get(callback).status_code == 302
    token_before = ConnectedAccount.objects.get().access_token
    replay = visitor.get(callback)
    assert replay.status_code == 400
    assert 'data-code="state_used"' in replay.text
    assert "already used" in replay.text
    assert ConnectedAccount.objects.get().access_token == token_before


@live
def test_state_of_another_user_is_refused_and_left_for_its_owner(live_server, settings):
    world = sandbox_world(live_server, settings)
    alice, mallory = Visitor(), Visitor()
    alice.login(world.site, world.user)
    mallory.login(world.site, world.colleague)
    callback = alice.authorize_at_provider(alice.start(world))
    page = mallory.get(callback)
    assert page.status_code == 403
    assert 'data-code="state_other_user"' in page.text
    assert not ConnectedAccount.objects.exists()
    # The rightful user can still finish.
    assert alice.get(callback).status_code == 302
    assert ConnectedAccount.objects.get().user == world.user


# State checks without a provider (test client) -------------------------------------------


@pytest.fixture
def oauth_world(db, settings, fake):
    settings.SITE_URL = "http://testserver"
    allow_private(settings, fake.port)
    acme = make_workspace("Acme")
    make_workspace("Globex")
    user = add_member(acme, role=Role.MEMBER)
    gpt = make_gpt(acme, visibility="workspace")
    action = fake_provider_action(gpt, fake)
    client = Client()
    client.force_login(user)
    return {"user": user, "gpt": gpt, "action": action, "client": client, "acme": acme}


def start(client, action, next_path=None) -> dict:
    data = {"next": next_path} if next_path is not None else {}
    response = client.get(f"/actions/{action.pk}/oauth/start", data)
    assert response.status_code == 302, response.content[:500]
    return query_of(response["Location"])


def callback(client, gpt, **params):
    return client.get(f"/aip/{gpt.pk}/oauth/callback", params)


def token_reply(**extra):
    body = {"access_token": "at-1", "token_type": "Bearer", "refresh_token": "rt-1"}
    body.update(extra)
    return body


def test_start_stores_a_hashed_state_and_an_encrypted_verifier(oauth_world):
    params = start(oauth_world["client"], oauth_world["action"])
    pending = OAuthState.objects.get()
    assert pending.state_hash == hashlib.sha256(params["state"].encode()).hexdigest()
    assert pending.user == oauth_world["user"] and pending.action == oauth_world["action"]
    assert 43 <= len(pending.code_verifier) <= 128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(pending.code_verifier.encode()).digest())
    assert params["code_challenge"] == challenge.rstrip(b"=").decode()
    assert pending.code_verifier not in raw_column(
        "actions_oauthstate", "code_verifier", pending.pk
    )
    ttl = pending.expires_at - pending.created_at
    assert timedelta(minutes=9, seconds=59) <= ttl <= timedelta(minutes=10, seconds=1)
    assert params["scope"] == "todos read"
    assert pending.return_to == "/me/connections/"


def test_start_keeps_the_authorization_urls_own_query(oauth_world, fake):
    action = oauth_world["action"]
    action.authorization_url = f"http://127.0.0.1:{fake.port}/authorize?audience=api&state=x"
    action.save()
    params = start(oauth_world["client"], action)
    assert params["audience"] == "api"
    assert params["state"] != "x"


@pytest.mark.parametrize(
    "next_path, stored",
    [
        ("/gpts/7/chat?x=1", "/gpts/7/chat?x=1"),
        ("https://evil.example/steal", "/me/connections/"),
        ("//evil.example/steal", "/me/connections/"),
        ("/\\evil.example", "/me/connections/"),
        ("", "/me/connections/"),
    ],
)
def test_start_only_returns_users_to_this_site(oauth_world, next_path, stored):
    start(oauth_world["client"], oauth_world["action"], next_path)
    assert OAuthState.objects.get().return_to == stored


def test_pending_states_are_capped_per_user(oauth_world):
    for _ in range(MAX_PENDING_STATES_PER_USER + 5):
        start(oauth_world["client"], oauth_world["action"])
    assert (
        OAuthState.objects.filter(user=oauth_world["user"]).count() == MAX_PENDING_STATES_PER_USER
    )


def test_start_needs_login_and_membership(oauth_world):
    action = oauth_world["action"]
    anonymous = Client().get(f"/actions/{action.pk}/oauth/start")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    stranger = Client()
    stranger.force_login(add_member(make_workspace("Initech"), role=Role.OWNER))
    assert stranger.get(f"/actions/{action.pk}/oauth/start").status_code == 404
    assert oauth_world["client"].get("/actions/999999/oauth/start").status_code == 404
    assert not OAuthState.objects.exists()


def test_start_for_an_action_without_oauth_is_a_clear_page(oauth_world):
    action = make_action(oauth_world["gpt"], operations=("other",))
    page = oauth_world["client"].get(f"/actions/{action.pk}/oauth/start")
    assert page.status_code == 404
    assert b"does not use OAuth" in page.content


def test_start_respects_the_domain_policy(oauth_world):
    acme = oauth_world["acme"]
    acme.allow_all_domains = False
    acme.save()
    AllowedDomain.objects.create(workspace=acme, pattern="example.com")
    page = oauth_world["client"].get(f"/actions/{oauth_world['action'].pk}/oauth/start")
    assert page.status_code == 403
    assert b'data-code="domain_not_allowed"' in page.content
    assert not OAuthState.objects.exists()


def test_missing_state(oauth_world, fake):
    page = callback(oauth_world["client"], oauth_world["gpt"], code="abc")
    assert page.status_code == 400
    assert b'data-code="state_missing"' in page.content
    assert fake.log == []


def test_unknown_state(oauth_world, fake):
    page = callback(oauth_world["client"], oauth_world["gpt"], code="abc", state="made-up")
    assert page.status_code == 400
    assert b'data-code="state_unknown"' in page.content
    assert fake.log == []


def test_expired_state(oauth_world, fake):
    params = start(oauth_world["client"], oauth_world["action"])
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    page = callback(oauth_world["client"], oauth_world["gpt"], code="abc", state=params["state"])
    assert page.status_code == 400
    assert b'data-code="state_expired"' in page.content
    assert b"10 minutes" in page.content
    assert fake.log == []


def test_state_for_another_gpt(oauth_world, fake):
    params = start(oauth_world["client"], oauth_world["action"])
    other_gpt = make_gpt(oauth_world["acme"])
    page = callback(oauth_world["client"], other_gpt, code="abc", state=params["state"])
    assert page.status_code == 400
    assert b'data-code="state_mismatch"' in page.content
    assert fake.log == []


def test_callback_needs_login(oauth_world):
    params = start(oauth_world["client"], oauth_world["action"])
    page = Client().get(
        f"/aip/{oauth_world['gpt'].pk}/oauth/callback", {"code": "c", "state": params["state"]}
    )
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")
    assert OAuthState.objects.get().used_at is None


def test_provider_error_other_than_access_denied(oauth_world):
    params = start(oauth_world["client"], oauth_world["action"])
    page = callback(
        oauth_world["client"],
        oauth_world["gpt"],
        state=params["state"],
        error="invalid_scope",
        error_description="<script>alert(1)</script>",
    )
    assert page.status_code == 502
    assert b"invalid_scope" in page.content
    assert b"<script>alert(1)" not in page.content  # escaped


def test_missing_code(oauth_world):
    params = start(oauth_world["client"], oauth_world["action"])
    page = callback(oauth_world["client"], oauth_world["gpt"], state=params["state"])
    assert page.status_code == 400
    assert b'data-code="code_missing"' in page.content


# Code exchange against a fake provider ----------------------------------------------------


def form_of(request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.get_data(as_text=True)).items()}


def test_exchange_in_the_post_body(oauth_world, fake):
    fake.expect_oneshot_request("/token", method="POST").respond_with_json(
        token_reply(expires_in=120, scope="todos")
    )
    params = start(oauth_world["client"], oauth_world["action"], "/back/here")
    page = callback(
        oauth_world["client"], oauth_world["gpt"], code="the-code", state=params["state"]
    )
    assert page.status_code == 302 and page["Location"] == "/back/here"
    request, _ = fake.log[0]
    form = form_of(request)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "the-code"
    assert form["redirect_uri"] == f"http://testserver/aip/{oauth_world['gpt'].pk}/oauth/callback"
    assert form["client_id"] == "client-abc"
    assert form["client_secret"] == "s3cret/with+odd=chars"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest())
    assert challenge.rstrip(b"=").decode() == params["code_challenge"]
    account = ConnectedAccount.objects.get()
    assert (account.access_token, account.refresh_token, account.scopes) == (
        "at-1",
        "rt-1",
        "todos",
    )
    assert timedelta(seconds=100) < account.expires_at - timezone.now() <= timedelta(seconds=120)


def test_exchange_with_the_basic_header(oauth_world, fake):
    action = oauth_world["action"]
    action.token_exchange_method = TokenExchangeMethod.BASIC_AUTH_HEADER
    action.save()
    fake.expect_oneshot_request("/token", method="POST").respond_with_json(
        {"access_token": "at-2", "token_type": "bearer"}
    )
    params = start(oauth_world["client"], action)
    page = callback(oauth_world["client"], oauth_world["gpt"], code="c", state=params["state"])
    assert page.status_code == 302
    request, _ = fake.log[0]
    form = form_of(request)
    assert "client_secret" not in form and "client_id" not in form
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    assert (unquote_plus(client_id), unquote_plus(secret)) == (
        "client-abc",
        "s3cret/with+odd=chars",
    )
    account = ConnectedAccount.objects.get()
    # No scope in the reply: the requested scope; no expires_in: no expiry; no refresh token.
    assert (account.scopes, account.expires_at, account.refresh_token) == ("todos read", None, "")


@pytest.mark.parametrize(
    "respond, code, status",
    [
        (lambda h: h.respond_with_data("boom", status=500), "token_provider_error", 502),
        (
            lambda h: h.respond_with_data("<html>hi</html>", content_type="text/html"),
            "token_invalid_response",
            502,
        ),
        (lambda h: h.respond_with_json({"token_type": "Bearer"}), "token_invalid_response", 502),
        (lambda h: h.respond_with_json(["access_token"]), "token_invalid_response", 502),
        (
            lambda h: h.respond_with_json({"access_token": "x", "token_type": "mac"}),
            "token_invalid_response",
            502,
        ),
        (
            lambda h: h.respond_with_json(
                {"error": "invalid_grant", "error_description": "Code expired"}, status=400
            ),
            "token_refused",
            502,
        ),
        (lambda h: h.respond_with_data("nope", status=404), "token_provider_error", 502),
        (
            lambda h: h.respond_with_response(
                Response(status=302, headers={"Location": "http://127.0.0.1:1/elsewhere"})
            ),
            "token_provider_error",
            502,
        ),
        (
            lambda h: h.respond_with_data(b"\x89PNG\r\n", content_type="image/png"),
            "token_invalid_response",
            502,
        ),
    ],
)
def test_token_endpoint_failures_are_clear_pages(oauth_world, fake, respond, code, status):
    respond(fake.expect_oneshot_request("/token", method="POST"))
    params = start(oauth_world["client"], oauth_world["action"])
    page = callback(oauth_world["client"], oauth_world["gpt"], code="c", state=params["state"])
    assert page.status_code == status, page.content[:800]
    assert f'data-code="{code}"'.encode() in page.content
    assert b"Your account was not connected" in page.content
    assert b"Try again" in page.content
    assert b"s3cret" not in page.content and b"code_verifier" not in page.content
    assert not ConnectedAccount.objects.exists()
    # The state was used up even though the exchange failed: a replay can not retry the code.
    assert OAuthState.objects.get().used_at is not None


def test_refused_code_shows_the_providers_reason(oauth_world, fake):
    fake.expect_oneshot_request("/token", method="POST").respond_with_json(
        {"error": "invalid_grant", "error_description": "Code expired"}, status=400
    )
    params = start(oauth_world["client"], oauth_world["action"])
    page = callback(oauth_world["client"], oauth_world["gpt"], code="c", state=params["state"])
    assert b"invalid_grant" in page.content and b"Code expired" in page.content


def test_code_exchange_timeout(oauth_world, settings):
    silent = silent_server()
    try:
        port = silent.getsockname()[1]
        allow_private(settings, port)
        settings.OAUTH_TOKEN_TIMEOUT = 1.0
        action = oauth_world["action"]
        action.token_url = f"http://127.0.0.1:{port}/token"
        action.save()
        params = start(oauth_world["client"], action)
        began = time.monotonic()
        page = callback(oauth_world["client"], oauth_world["gpt"], code="c", state=params["state"])
        elapsed = time.monotonic() - began
    finally:
        silent.close()
    assert page.status_code == 504
    assert b'data-code="token_timeout"' in page.content
    assert b"did not answer" in page.content
    assert elapsed < 5
    assert not ConnectedAccount.objects.exists()


def test_token_endpoint_outside_the_outbound_allowlist(oauth_world, settings, fake):
    settings.OUTBOUND_ALLOW_PRIVATE = []
    params = start(oauth_world["client"], oauth_world["action"])
    page = callback(oauth_world["client"], oauth_world["gpt"], code="c", state=params["state"])
    assert page.status_code in (403, 502)
    assert fake.log == []
    assert not ConnectedAccount.objects.exists()


def test_token_endpoint_refused_by_the_domain_policy_at_exchange_time(oauth_world, fake):
    params = start(oauth_world["client"], oauth_world["action"])
    acme = oauth_world["acme"]
    acme.plan = Plan.ENTERPRISE
    acme.allow_all_domains = False  # the owner tightened the policy in the meantime
    acme.save()
    page = callback(oauth_world["client"], oauth_world["gpt"], code="c", state=params["state"])
    assert page.status_code == 403
    assert b'data-code="token_domain_not_allowed"' in page.content
    assert fake.log == []


def test_nothing_leaks_between_users(oauth_world, fake):
    """A second user's start does not disturb the first's state, and one user's connection
    is not another's."""
    fake.expect_oneshot_request("/token", method="POST").respond_with_json(token_reply())
    other = Client()
    other_user = make_user()
    add_member(oauth_world["acme"], other_user)
    other.force_login(other_user)
    mine = start(oauth_world["client"], oauth_world["action"])
    start(other, oauth_world["action"])
    assert (
        callback(
            oauth_world["client"], oauth_world["gpt"], code="c", state=mine["state"]
        ).status_code
        == 302
    )
    assert ConnectedAccount.objects.get().user == oauth_world["user"]
    assert OAuthState.objects.filter(user=other_user, used_at=None).count() == 1


@live
def test_revocation_is_seen_by_the_provider(live_server, settings):
    world = sandbox_world(live_server, settings)
    visitor = Visitor()
    visitor.login(world.site, world.user)
    assert visitor.connect(world).status_code == 302
    account = ConnectedAccount.objects.get()
    token = account.access_token
    assert todos(world, token) == 200
    confirm = visitor.get(f"{world.site}/me/connections/{account.pk}/revoke")
    assert confirm.status_code == 200 and "Revoke this connection?" in confirm.text
    done = visitor.post_form(f"{world.site}/me/connections/{account.pk}/revoke", {})
    assert done.status_code == 302
    assert not ConnectedAccount.objects.exists()
    assert not get_access_token_model().objects.filter(application=world.application).exists()
    assert (
        not get_refresh_token_model()
        .objects.filter(application=world.application, revoked=None)
        .exists()
    )
    assert todos(world, token) == 401
    page = visitor.get(f"{world.site}/me/connections/")
    assert "is revoked" in page.text


@live
def test_a_newcomer_connects_the_seeded_demo_on_first_run(live_server, settings):
    """`make run` seeds the To-do helper and its DOT application: connecting works at once,
    and seeding again changes nothing (the plaintext client secret is not lost)."""
    from io import StringIO

    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    from actions.models import Action, AuthType
    from tests.actions.oauth_support import World

    port = int(live_server.url.rsplit(":", 1)[1])
    settings.SITE_URL = f"http://127.0.0.1:{port}"
    allow_private(settings, port)
    call_command("seed_demo", stdout=StringIO())
    action = Action.objects.get(gpt__name="To-do helper")
    application = get_application_model().objects.get(name="Sandbox to-dos")
    secret_before = (action.oauth_client_secret, application.client_secret)
    call_command("seed_demo", stdout=StringIO())
    action.refresh_from_db()
    application.refresh_from_db()
    assert (action.oauth_client_secret, application.client_secret) == secret_before
    assert application.client_secret != action.oauth_client_secret  # hashed at the provider
    assert action.auth_type == AuthType.OAUTH and action.scope == "todos"
    assert action.oauth_client_id == application.client_id
    assert application.redirect_uris == f"{settings.SITE_URL}/aip/{action.gpt_id}/oauth/callback"
    assert {op.operation_id for op in action.operations.all()} >= {"listTodos", "createTodo"}

    from django.contrib.auth import get_user_model

    carol = get_user_model().objects.get(username="carol")
    world = World(
        site=settings.SITE_URL,
        provider=settings.SITE_URL,
        port=port,
        acme=action.workspace,
        globex=None,
        user=carol,
        colleague=None,
        stranger=None,
        gpt=action.gpt,
        action=action,
        application=application,
        client_secret=action.oauth_client_secret,
    )
    visitor = Visitor()
    visitor.get(f"{world.site}/accounts/login/")
    answer = visitor.post_form(
        f"{world.site}/accounts/login/", {"username": "carol", "password": "carol-demo-pass"}
    )
    assert answer.status_code == 302
    assert visitor.connect(world).status_code == 302
    token = access_token_for(user=carol, action=action)
    assert todos(world, token) == 200
