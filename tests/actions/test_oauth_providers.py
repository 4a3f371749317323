"""Connected accounts against emulated real-world providers, each through the whole flow:
start → the provider's authorize endpoint → callback → run → forced refresh → revoke.

The providers (tests/actions/providers.py) are pytest-httpserver on 127.0.0.1 with the quirks
of GitHub, Google, Microsoft, Salesforce, Notion, Slack and a rotating-refresh-token server.
The platform is reached through Django's test client and the REST API, the provider over real
HTTP, and every call the runtime makes goes through the guarded outbound client.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from actions.models import ConnectedAccount, ConnectionReason, ConnectionStatus, Consent
from actions.services import action_create, action_update
from tests.actions.providers import (
    CLIENT_SECRET,
    PROVIDERS,
    SCOPE,
    EmulatedProvider,
    Journey,
    Quirks,
    with_quirks,
)
from tests.factories import add_member, make_gpt, make_workspace
from workspaces.models import Plan, Role
from workspaces.services import domain_policy_update


@pytest.fixture
def world(db, settings, fake):
    settings.SITE_URL = "http://testserver"
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{fake.port}", f"localhost:{fake.port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    owner = add_member(acme, role=Role.OWNER)
    builder = add_member(acme, role=Role.BUILDER)
    member = add_member(acme, role=Role.MEMBER)
    domain_policy_update(
        workspace=acme, actor=owner, allow_all=False, allowed=["127.0.0.1", "localhost"]
    )

    def provider_action(quirks: Quirks | str = "google", **auth):
        quirks = PROVIDERS[quirks] if isinstance(quirks, str) else quirks
        provider = EmulatedProvider(fake, quirks)
        gpt = make_gpt(acme, created_by=builder, visibility="workspace")
        action = action_create(
            gpt=gpt, acting_user=builder, schema=provider.schema(), auth=provider.auth(**auth)
        )
        return provider, action, Journey(user=member, action=action, provider=provider)

    return {
        "acme": acme,
        "builder": builder,
        "member": member,
        "new": provider_action,
        "fake": fake,
    }


def account_of(journey) -> ConnectedAccount:
    return ConnectedAccount.objects.get(user=journey.user, action=journey.action)


def force_expiry(account: ConnectedAccount) -> None:
    ConnectedAccount.objects.filter(pk=account.pk).update(
        expires_at=timezone.now() - timedelta(seconds=5)
    )


# Every provider, the whole way ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_the_whole_journey_with_each_provider(world, name):
    provider, action, journey = world["new"](name)

    answer = journey.connect()
    assert answer.status_code == 302, answer.content[:800]
    assert answer["Location"] == "/me/connections/"
    account = account_of(journey)
    assert account.status == ConnectionStatus.ACTIVE and account.status_reason == ""
    assert account.scopes == SCOPE
    first_refresh = account.refresh_token
    assert first_refresh
    if provider.quirks.expires_in is None:
        assert account.expires_at is None  # Salesforce, Notion: no expiry stated
    else:
        assert account.expires_at is not None

    ran = journey.run({"q": "hello"})
    assert ran.status_code == 200, ran.json()
    assert json.loads(ran.json()["response"]["body"]) == {"user": "ada", "q": "hello"}
    # Slack's `bot` token, like every other, travels as Bearer.
    assert provider.api_calls[-1] == f"Bearer {account.access_token}"

    # Forced refresh, the way this provider would force it: a stated expiry that has passed,
    # or (no expiry stated) the API answering 401.
    if provider.quirks.expires_in is None:
        provider.expire_access_tokens()
    else:
        force_expiry(account)
    ran = journey.run({"q": "again"})
    assert ran.status_code == 200, ran.json()
    refreshes = [f for f in provider.token_requests if f.get("grant_type") == "refresh_token"]
    assert len(refreshes) == 1
    assert refreshes[0]["scope"] == SCOPE  # Microsoft refuses a refresh without it
    if provider.quirks.basic_only:
        assert all("client_secret" not in form for form in provider.token_requests)
    account.refresh_from_db()
    assert account.status == ConnectionStatus.ACTIVE
    assert provider.api_calls[-1] == f"Bearer {account.access_token}"
    if provider.quirks.rotate_refresh_tokens:
        assert account.refresh_token != first_refresh
    else:
        assert account.refresh_token == first_refresh  # Google sends none back: ours is kept
    assert not any(grant.revoked for grant in provider.grants)  # no refresh token was reused

    gone = journey.disconnect(account.pk)
    assert gone.status_code == 200
    assert gone.json()["provider_notified"] is True, gone.json()
    assert "revocation endpoint" in gone.json()["detail"]
    assert "token endpoint" not in gone.json()["detail"]
    assert provider.grants[0].revoked
    assert [r["token_type_hint"] for r in provider.revocations] == [
        "refresh_token",
        "access_token",
    ]
    assert not ConnectedAccount.objects.filter(pk=account.pk).exists()


# GitHub: refusals with HTTP 200, form-encoded replies -------------------------------------------


def test_github_refusing_a_bad_code_with_200_is_shown_as_a_refusal(world):
    provider, action, journey = world["new"]("github")
    callback = journey.authorize(journey.start())
    code = callback.split("code=")[1].split("&")[0]
    page = journey.callback(callback.replace(code, "code-forged"))
    assert page.status_code == 502
    html = page.content.decode()
    assert "The provider refused the sign-in" in html
    assert "bad_verification_code" in html and "The code is wrong." in html
    assert not ConnectedAccount.objects.exists()


def test_a_refused_refresh_marks_the_connection_and_stops_asking(world):
    provider, action, journey = world["new"]("github")
    journey.connect()
    account = account_of(journey)
    provider.revoke_everything()  # the user removed the app on github.com
    force_expiry(account)

    ran = journey.run()
    assert ran.status_code == 401
    body = ran.json()
    assert body["code"] == "oauth_required"
    assert "invalid_grant" in body["detail"]
    account.refresh_from_db()
    assert account.status == ConnectionStatus.NEEDS_RECONNECT
    assert account.status_reason == ConnectionReason.REFRESH_REFUSED
    asked = len(provider.token_requests)

    again = journey.run()
    assert again.status_code == 401 and again.json()["code"] == "oauth_required"
    assert len(provider.token_requests) == asked  # the token endpoint is not hit again

    listed = journey.api.get("/api/v1/me/connected-accounts/").json()["results"][0]
    assert listed["status"] == "needs_reconnect"
    assert listed["status_reason"] == "refresh_refused"
    page = journey.client.get("/me/connections/").content.decode()
    assert "The provider refused to renew it" in page
    assert f'href="/actions/{action.pk}/oauth/start?next=/me/connections/"' in page

    # Reconnect from the page: the connection is healthy again and the reason is gone.
    answer = journey.connect()
    assert answer["Location"] == "/me/connections/"
    account.refresh_from_db()
    assert (account.status, account.status_reason) == (ConnectionStatus.ACTIVE, "")
    assert journey.run().status_code == 200


# Salesforce: no expires_in, so a 401 is the only sign -----------------------------------------


def test_a_401_then_a_refused_refresh_means_reconnect(world):
    provider, action, journey = world["new"]("salesforce")
    journey.connect()
    provider.revoke_everything()
    ran = journey.run()
    assert ran.status_code == 401 and ran.json()["code"] == "oauth_required"
    assert len(provider.api_calls) == 1  # no retry without a fresh token
    account = account_of(journey)
    assert account.status_reason == ConnectionReason.REFRESH_REFUSED


def test_a_401_again_after_a_successful_refresh_means_reconnect(world, monkeypatch):
    provider, action, journey = world["new"]("salesforce")
    journey.connect()
    monkeypatch.setattr(provider, "live_access_tokens", lambda: set())  # the API refuses all
    ran = journey.run()
    assert ran.status_code == 401
    assert len(provider.api_calls) == 2  # retried exactly once
    account = account_of(journey)
    assert account.status == ConnectionStatus.NEEDS_RECONNECT
    assert account.status_reason == ConnectionReason.REVOKED
    assert account.access_token not in ran.content.decode()


def test_a_401_without_a_refresh_token_means_reconnect_without_a_refresh(world):
    provider, action, journey = world["new"]("salesforce")
    journey.connect()
    ConnectedAccount.objects.filter(user=journey.user).update(refresh_token="")
    provider.expire_access_tokens()
    asked = len(provider.token_requests)
    assert journey.run().status_code == 401
    assert len(provider.token_requests) == asked
    assert account_of(journey).status_reason == ConnectionReason.REVOKED


# Microsoft: a refresh must carry the scope ------------------------------------------------------


def test_microsoft_refuses_a_refresh_without_scope_and_says_so(world):
    provider, action, journey = world["new"]("microsoft", scope="")
    journey.connect()
    force_expiry(account_of(journey))
    ran = journey.run()
    assert ran.status_code == 401
    assert "AADSTS90009" in ran.json()["detail"]
    assert account_of(journey).status_reason == ConnectionReason.REFRESH_REFUSED


# Rotating refresh tokens ---------------------------------------------------------------------


def test_rotating_refresh_tokens_are_never_reused(world):
    provider, action, journey = world["new"]("rotating")
    journey.connect()
    seen = {account_of(journey).refresh_token}
    for _ in range(3):
        force_expiry(account_of(journey))
        assert journey.run().status_code == 200
        seen.add(account_of(journey).refresh_token)
    assert len(seen) == 4
    assert not provider.grants[0].revoked
    sent = [f["refresh_token"] for f in provider.token_requests if "refresh_token" in f]
    assert len(sent) == len(set(sent)) == 3


# Token types ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token_type", ["bot", "user", "bearer", "BEARER"])
def test_bearer_tokens_under_another_name_are_sent_as_bearer(world, token_type):
    provider, action, journey = world["new"](with_quirks("slack", token_type=token_type))
    assert journey.connect().status_code == 302
    assert journey.run().status_code == 200
    assert provider.api_calls[-1].startswith("Bearer at-")


@pytest.mark.parametrize("token_type", ["mac", "DPoP"])
def test_proof_of_possession_tokens_are_refused_at_connect(world, token_type):
    provider, action, journey = world["new"](with_quirks("google", token_type=token_type))
    page = journey.connect()
    assert page.status_code == 502
    assert "proven with a key" in page.content.decode()
    assert not ConnectedAccount.objects.exists()


# Revocation reports the truth -------------------------------------------------------------------


def test_revoking_the_refresh_token_first_is_enough_when_the_provider_refuses_the_second(world):
    provider, action, journey = world["new"](with_quirks("google", revoke_second_token_error=""))
    journey.connect()
    provider.quirks = with_quirks("google", revoke_second_token_error="unsupported_token_type")
    answer = journey.disconnect(account_of(journey).pk)
    assert answer.json()["provider_notified"] is True


def test_a_failed_revocation_names_the_revocation_endpoint(world):
    provider, action, journey = world["new"]("google")
    journey.connect()
    account = account_of(journey)
    world["fake"].clear()  # the provider is gone: every request is answered 500
    answer = journey.disconnect(account.pk)
    assert answer.status_code == 200
    body = answer.json()
    assert body["provider_notified"] is False
    assert "revocation endpoint" in body["detail"] and "token endpoint" not in body["detail"]
    assert not ConnectedAccount.objects.filter(pk=account.pk).exists()


def test_the_revoke_page_says_what_happened(world):
    provider, action, journey = world["new"]("slack")
    journey.connect()
    answer = journey.client.post(f"/me/connections/{account_of(journey).pk}/revoke", follow=True)
    assert b"is revoked" in answer.content
    assert b"revocation endpoint confirmed" in answer.content


# Grants do not outlive what they were given for (issue 12.7) -----------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"scope": "profile read write"},
        {"client_id": "another-client"},
        {"token_url": "TOKEN2"},
    ],
)
def test_changing_what_the_grant_was_for_asks_users_to_reconnect(world, change):
    provider, action, journey = world["new"]("google")
    journey.connect()
    account = account_of(journey)
    pending = journey.authorize(journey.start())  # a sign-in begun under the old settings
    if change.get("token_url") == "TOKEN2":
        change = {"token_url": f"{provider.base}/token?tenant=2"}
    action_update(action=action, acting_user=world["builder"], auth=provider.auth(**change))

    account.refresh_from_db()
    assert account.status == ConnectionStatus.NEEDS_RECONNECT
    assert account.status_reason == ConnectionReason.SETTINGS_CHANGED
    assert account.access_token == "" and account.refresh_token == ""
    late = journey.callback(pending)
    assert late.status_code == 400 and b"state_unknown" in late.content
    calls = len(provider.api_calls)
    ran = journey.run()
    assert ran.status_code == 401 and ran.json()["code"] == "oauth_required"
    assert len(provider.api_calls) == calls  # the old token was not sent
    page = journey.client.get("/me/connections/").content.decode()
    assert "The action&#x27;s settings changed" in page
    listed = journey.api.get("/api/v1/me/connected-accounts/").json()["results"][0]
    assert listed["status_reason"] == "action_settings_changed"


def test_changing_the_api_host_asks_users_to_reconnect(world, fake):
    provider, action, journey = world["new"]("google")
    journey.connect()
    moved = provider.schema().replace("127.0.0.1", "localhost")
    localhost = {
        key: value.replace("127.0.0.1", "localhost") if isinstance(value, str) else value
        for key, value in provider.auth().items()
    }
    action_update(action=action, acting_user=world["builder"], schema=moved, auth=localhost)
    assert account_of(journey).status_reason == ConnectionReason.SETTINGS_CHANGED


def test_unrelated_changes_keep_the_connection(world):
    provider, action, journey = world["new"]("google")
    journey.connect()
    before = account_of(journey)
    action_update(
        action=action,
        acting_user=world["builder"],
        auth=provider.auth(revocation_url=""),
        schema=provider.schema().replace("Emulated API", "Renamed API"),
        privacy_policy_url="https://example.com/privacy",
    )
    after = account_of(journey)
    assert after.status == ConnectionStatus.ACTIVE
    assert after.access_token == before.access_token
    assert journey.run().status_code == 200


def test_revoking_a_connection_ended_by_a_settings_change_calls_nobody(world):
    provider, action, journey = world["new"]("google")
    journey.connect()
    action_update(action=action, acting_user=world["builder"], auth=provider.auth(scope="x"))
    answer = journey.disconnect(account_of(journey).pk)
    assert answer.status_code == 200
    assert answer.json()["provider_notified"] is False
    assert "nothing to revoke" in answer.json()["detail"]
    assert provider.revocations == []


# A remembered "Always allow" covers the operation as it was ------------------------------------


def consent_schema(base: str, method: str, path: str, consequential: bool = False) -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": "Things", "version": "1"},
            "servers": [{"url": base}],
            "paths": {
                path: {
                    method: {
                        "operationId": "thing",
                        "x-openai-isConsequential": consequential,
                        "responses": {"200": {"description": "OK"}},
                    }
                }
            },
        }
    )


@pytest.mark.parametrize(
    ("method", "path", "consequential", "kept"),
    [
        ("get", "/things", False, True),  # same operation: the approval stands
        ("delete", "/things", False, False),  # GET approved, DELETE now: forgotten
        ("get", "/other-things", False, False),
        ("get", "/things", True, False),
    ],
)
def test_always_allow_belongs_to_method_path_and_flag(
    world, fake, method, path, consequential, kept
):
    base = f"http://127.0.0.1:{fake.port}"
    fake.expect_request("/things").respond_with_json({"ok": True})
    gpt = make_gpt(world["acme"], visibility="workspace")
    action = action_create(
        gpt=gpt, acting_user=world["builder"], schema=consent_schema(base, "get", "/things")
    )
    journey = Journey(user=world["member"], action=action, provider=None)
    answer = journey.api.post(
        f"/api/v1/actions/{action.pk}/operations/thing/run",
        {"arguments": {}, "consent": "always_allow"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    assert Consent.objects.filter(user=world["member"], operation_id="thing").exists()

    action_update(
        action=action,
        acting_user=world["builder"],
        schema=consent_schema(base, method, path, consequential),
    )
    assert Consent.objects.filter(user=world["member"], operation_id="thing").exists() is kept
    again = journey.api.post(
        f"/api/v1/actions/{action.pk}/operations/thing/run", {"arguments": {}}, format="json"
    )
    assert again.status_code == (200 if kept else 409)


def test_the_client_secret_is_never_on_the_callback_page(world):
    """A provider that echoes the refused request (see tests/security for every shape)."""
    provider, action, journey = world["new"](with_quirks("google", echo_request_in_errors=True))
    callback = journey.authorize(journey.start())
    page = journey.callback(callback.replace("code=", "code=x"))
    html = page.content.decode()
    assert page.status_code == 502 and "You sent:" in html
    assert CLIENT_SECRET not in html
    assert "code-" not in html.split("You sent:")[1]  # the code is masked too
