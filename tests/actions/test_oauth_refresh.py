"""Token refresh before a call: when it happens, what a refusal does, and the race.

Unit behaviour against a fake provider (pytest-httpserver); the real thing against the sandbox
provider on the live server, including several calls racing for one expired token.
"""

import threading
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.core.signals import request_started
from django.db import connection
from django.utils import timezone

from actions.models import ConnectedAccount, ConnectionStatus, TokenExchangeMethod
from actions.oauth.tokens import (
    OAuthRefreshUnavailable,
    OAuthRequired,
    access_token_for,
    mark_needs_reconnect,
)
from tests.actions.oauth_support import (
    Visitor,
    allow_private,
    fake_provider_action,
    sandbox_world,
)
from tests.factories import add_member, make_gpt, make_workspace
from workspaces.models import Role


@pytest.fixture
def world(db, settings, fake):
    settings.SITE_URL = "http://testserver"
    allow_private(settings, fake.port)
    acme = make_workspace("Acme")
    globex = make_workspace("Globex")
    user = add_member(acme, role=Role.MEMBER)
    gpt = make_gpt(acme, visibility="workspace")
    action = fake_provider_action(gpt, fake)
    other_action = fake_provider_action(make_gpt(globex), fake)
    return {"user": user, "gpt": gpt, "action": action, "other_action": other_action}


def connect(world, *, expires_in: int | None, refresh_token: str = "rt-old", **fields):
    return ConnectedAccount.objects.create(
        user=world["user"],
        action=world["action"],
        gpt=world["gpt"],
        workspace=world["action"].workspace,
        access_token="at-old",
        refresh_token=refresh_token,
        scopes="todos read",
        expires_at=None if expires_in is None else timezone.now() + timedelta(seconds=expires_in),
        **fields,
    )


def form_of(request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(request.get_data(as_text=True)).items()}


def test_no_connection_means_oauth_required(world):
    with pytest.raises(OAuthRequired) as caught:
        access_token_for(user=world["user"], action=world["action"])
    assert caught.value.authorize_url == (
        f"http://testserver/actions/{world['action'].pk}/oauth/start"
    )


def test_a_connection_for_another_action_does_not_count(world):
    ConnectedAccount.objects.create(
        user=world["user"],
        action=world["other_action"],
        gpt=world["other_action"].gpt,
        workspace=world["other_action"].workspace,
        access_token="theirs",
    )
    with pytest.raises(OAuthRequired):
        access_token_for(user=world["user"], action=world["action"])


def test_a_valid_token_is_used_as_is_and_marks_last_use(world, fake):
    account = connect(world, expires_in=3600)
    assert access_token_for(user=world["user"], action=world["action"]) == "at-old"
    account.refresh_from_db()
    assert account.last_used_at is not None
    assert fake.log == []


def test_a_token_without_expiry_is_never_refreshed(world, fake):
    connect(world, expires_in=None)
    assert access_token_for(user=world["user"], action=world["action"]) == "at-old"
    assert fake.log == []


@pytest.mark.parametrize("expires_in", [-30, 10])  # expired, or inside the 60 s margin
def test_an_expired_or_expiring_token_is_refreshed(world, fake, expires_in):
    account = connect(world, expires_in=expires_in)
    fake.expect_oneshot_request("/token", method="POST").respond_with_json(
        {
            "access_token": "at-new",
            "token_type": "Bearer",
            "refresh_token": "rt-new",
            "expires_in": 600,
        }
    )
    assert access_token_for(user=world["user"], action=world["action"]) == "at-new"
    form = form_of(fake.log[0][0])
    assert form == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-old",
        "scope": "todos read",  # Microsoft refuses a refresh without it
        "client_id": "client-abc",
        "client_secret": "s3cret/with+odd=chars",
    }
    account.refresh_from_db()
    assert (account.access_token, account.refresh_token) == ("at-new", "rt-new")
    assert timedelta(seconds=590) < account.expires_at - timezone.now() <= timedelta(seconds=600)
    assert account.status == ConnectionStatus.ACTIVE and account.last_used_at is not None


def test_refresh_with_the_basic_header_keeps_a_refresh_token_not_rotated(world, fake):
    action = world["action"]
    action.token_exchange_method = TokenExchangeMethod.BASIC_AUTH_HEADER
    action.save()
    account = connect(world, expires_in=-1)
    fake.expect_oneshot_request("/token", method="POST").respond_with_json(
        {"access_token": "at-new", "token_type": "Bearer", "expires_in": 600, "scope": "todos"}
    )
    assert access_token_for(user=world["user"], action=action) == "at-new"
    request = fake.log[0][0]
    assert request.headers["Authorization"].startswith("Basic ")
    assert "client_secret" not in form_of(request)
    account.refresh_from_db()
    assert (account.refresh_token, account.scopes) == ("rt-old", "todos")


@pytest.mark.parametrize("error", ["invalid_grant", "invalid_client", "unauthorized_client"])
def test_a_refused_refresh_asks_the_user_to_reconnect(world, fake, error):
    account = connect(world, expires_in=-1)
    fake.expect_oneshot_request("/token", method="POST").respond_with_json(
        {"error": error}, status=400
    )
    with pytest.raises(OAuthRequired) as caught:
        access_token_for(user=world["user"], action=world["action"])
    assert caught.value.authorize_url.endswith(f"/actions/{world['action'].pk}/oauth/start")
    assert not isinstance(caught.value, OAuthRefreshUnavailable)
    account.refresh_from_db()
    assert account.status == ConnectionStatus.NEEDS_RECONNECT
    assert account.access_token == "at-old"
    # Marked once: the next call does not bother the provider again.
    with pytest.raises(OAuthRequired):
        access_token_for(user=world["user"], action=world["action"])
    assert len(fake.log) == 1


def test_a_provider_outage_does_not_disconnect(world, fake):
    account = connect(world, expires_in=-1)
    fake.expect_oneshot_request("/token", method="POST").respond_with_data("down", status=503)
    with pytest.raises(OAuthRefreshUnavailable):
        access_token_for(user=world["user"], action=world["action"])
    account.refresh_from_db()
    assert account.status == ConnectionStatus.ACTIVE


def test_a_provider_outage_before_expiry_keeps_using_the_token(world, fake):
    connect(world, expires_in=20)
    fake.expect_oneshot_request("/token", method="POST").respond_with_data("down", status=500)
    assert access_token_for(user=world["user"], action=world["action"]) == "at-old"


def test_expired_without_refresh_token_needs_reconnecting(world, fake):
    account = connect(world, expires_in=-1, refresh_token="")
    with pytest.raises(OAuthRequired):
        access_token_for(user=world["user"], action=world["action"])
    account.refresh_from_db()
    assert account.status == ConnectionStatus.NEEDS_RECONNECT
    assert fake.log == []


def test_needs_reconnect_raises_without_calling_the_provider(world, fake):
    connect(world, expires_in=3600, status=ConnectionStatus.NEEDS_RECONNECT)
    with pytest.raises(OAuthRequired):
        access_token_for(user=world["user"], action=world["action"])
    assert fake.log == []


def test_mark_needs_reconnect(world):
    account = connect(world, expires_in=3600)
    mark_needs_reconnect(user=world["user"], action=world["action"])
    account.refresh_from_db()
    assert account.status == ConnectionStatus.NEEDS_RECONNECT


def test_refresh_timeout_is_reported_as_unavailable(world, settings):
    from tests.actions.oauth_support import silent_server

    silent = silent_server()
    try:
        port = silent.getsockname()[1]
        allow_private(settings, port)
        settings.OAUTH_TOKEN_TIMEOUT = 1.0
        world["action"].token_url = f"http://127.0.0.1:{port}/token"
        world["action"].save()
        connect(world, expires_in=-1)
        with pytest.raises(OAuthRefreshUnavailable) as caught:
            access_token_for(user=world["user"], action=world["action"])
    finally:
        silent.close()
    assert "did not answer" in caught.value.detail


# Against the sandbox provider ----------------------------------------------------------------

live = pytest.mark.django_db(transaction=True)


def connected_world(live_server, settings):
    world = sandbox_world(live_server, settings)
    visitor = Visitor()
    visitor.login(world.site, world.user)
    assert visitor.connect(world).status_code == 302
    return world


def expire(world) -> ConnectedAccount:
    ConnectedAccount.objects.filter(user=world.user).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )
    return ConnectedAccount.objects.get(user=world.user)


def api_status(world, token: str) -> int:
    return (
        Visitor()
        .get(f"{world.provider}/sandbox/api/todos", headers={"Authorization": f"Bearer {token}"})
        .status_code
    )


class TokenRequests:
    """Counts requests the provider's token endpoint receives (in the live server's thread)."""

    def __init__(self):
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, sender, environ=None, **kwargs):
        if environ and environ.get("PATH_INFO") == "/o/token/":
            with self._lock:
                self.count += 1


@pytest.fixture
def token_requests():
    counter = TokenRequests()
    request_started.connect(counter, weak=False)
    yield counter
    request_started.disconnect(counter)


@live
def test_refresh_against_the_sandbox_provider(live_server, settings, token_requests):
    world = connected_world(live_server, settings)
    old = expire(world)
    token_requests.count = 0
    token = access_token_for(user=world.user, action=world.action)
    assert token_requests.count == 1
    assert token != old.access_token
    account = ConnectedAccount.objects.get(user=world.user)
    assert account.refresh_token != old.refresh_token  # the provider rotates refresh tokens
    assert account.expires_at > timezone.now() + timedelta(minutes=30)
    assert api_status(world, token) == 200
    assert api_status(world, old.access_token) == 401


@live
def test_racing_calls_refresh_exactly_once(live_server, settings, token_requests):
    world = connected_world(live_server, settings)
    expire(world)
    token_requests.count = 0
    callers = 6
    barrier = threading.Barrier(callers)
    results: list[str] = []
    errors: list[BaseException] = []

    def call():
        try:
            barrier.wait(timeout=10)
            results.append(access_token_for(user=world.user, action=world.action))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert token_requests.count == 1
    assert len(results) == callers and len(set(results)) == 1
    account = ConnectedAccount.objects.get(user=world.user)
    assert account.status == ConnectionStatus.ACTIVE
    assert api_status(world, results[0]) == 200


@live
def test_a_refresh_token_revoked_at_the_provider_means_reconnect(live_server, settings):
    from oauth2_provider.models import get_refresh_token_model

    world = connected_world(live_server, settings)
    for refresh_token in get_refresh_token_model().objects.filter(application=world.application):
        refresh_token.revoke()
    expire(world)
    with pytest.raises(OAuthRequired) as caught:
        access_token_for(user=world.user, action=world.action)
    assert caught.value.authorize_url == f"{world.site}/actions/{world.action.pk}/oauth/start"
    assert ConnectedAccount.objects.get(user=world.user).status == ConnectionStatus.NEEDS_RECONNECT
