"""/me/connections/ and /api/v1/me/connected-accounts/: a user's own connections and remembered
approvals, with Revoke; admins see counts, never tokens."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from actions.models import ConnectedAccount, ConnectionStatus, Consent
from tests.actions.oauth_support import allow_private, fake_provider_action
from tests.factories import add_member, make_gpt, make_user, make_workspace
from tests.openapi_responses import install
from workspaces.models import Role


def connection(user, action, **fields) -> ConnectedAccount:
    values = {
        "access_token": f"secret-access-{user.pk}-{action.pk}",
        "refresh_token": f"secret-refresh-{user.pk}-{action.pk}",
        "scopes": "todos read",
        "expires_at": timezone.now() + timedelta(hours=1),
    }
    values.update(fields)
    return ConnectedAccount.objects.create(
        user=user, action=action, gpt=action.gpt, workspace=action.workspace, **values
    )


@pytest.fixture
def world(db, settings, fake):
    settings.SITE_URL = "http://testserver"
    allow_private(settings, fake.port)
    acme = make_workspace("Acme")
    globex = make_workspace("Globex")
    user = add_member(acme, role=Role.MEMBER)
    add_member(globex, user)  # the same person in two workspaces
    neighbour = add_member(acme, role=Role.MEMBER)
    stranger = add_member(globex, role=Role.OWNER)
    todo_gpt = make_gpt(acme, name="To-do helper", visibility="workspace")
    crm_gpt = make_gpt(globex, name="CRM helper", visibility="workspace")
    todo = fake_provider_action(todo_gpt, fake)
    crm = fake_provider_action(crm_gpt, fake, revocation_url="", scope="contacts")
    mine = [
        connection(user, todo, last_used_at=timezone.now()),
        connection(user, crm, status=ConnectionStatus.NEEDS_RECONNECT, scopes="contacts"),
    ]
    theirs = [connection(neighbour, todo), connection(stranger, crm)]
    consent = Consent.objects.create(
        user=user, gpt=todo_gpt, action=todo, workspace=acme, operation_id="createTodo"
    )
    Consent.objects.create(
        user=neighbour, gpt=todo_gpt, action=todo, workspace=acme, operation_id="listTodos"
    )
    client = Client()
    client.force_login(user)
    return {
        "user": user,
        "neighbour": neighbour,
        "stranger": stranger,
        "todo": todo,
        "crm": crm,
        "mine": mine,
        "theirs": theirs,
        "consent": consent,
        "client": client,
        "acme": acme,
    }


def test_page_lists_only_my_connections_and_approvals(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        page = world["client"].get("/me/connections/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "To-do helper" in html and "CRM helper" in html
    assert "todos read" in html and "contacts" in html
    assert "Connected" in html and "Needs reconnecting" in html
    assert html.count('data-connection="') == 2
    for theirs in world["theirs"]:
        assert f'data-connection="{theirs.pk}"' not in html
    assert "never" in html  # the CRM connection was never used
    assert f"/actions/{world['crm'].pk}/oauth/start?next=/me/connections/" in html  # Reconnect
    assert f'data-consent="{world["consent"].pk}"' in html and "createTodo" in html
    assert "listTodos" not in html
    assert "secret-access" not in html and "secret-refresh" not in html


def test_page_query_count_does_not_grow_with_rows(world, django_assert_max_num_queries):
    for n in range(5):
        gpt = make_gpt(world["acme"], visibility="workspace")
        from actions.models import Action

        action = Action.objects.create(
            gpt=gpt, workspace=world["acme"], domain=f"api{n}.example.com", auth_type="oauth"
        )
        connection(world["user"], action)
        Consent.objects.create(
            user=world["user"], gpt=gpt, action=action, workspace=world["acme"], operation_id="x"
        )
    with django_assert_max_num_queries(6):
        assert world["client"].get("/me/connections/").status_code == 200


@pytest.mark.parametrize(
    "schema, title",
    [
        (
            '{"openapi": "3.1.0", "info": {"title": "Sandbox to-dos", "version": "1"}}',
            "Sandbox to-dos",
        ),
        ("openapi: 3.1.0\ninfo:\n  title: Pet Store\n  version: '1'\n", "Pet Store"),
        ("{not json", "api.example.com"),
        ("- a list", "api.example.com"),
        ("", "api.example.com"),
    ],
)
def test_actions_are_named_by_their_schema_title(schema, title):
    from actions import openapi
    from actions.models import Action
    from actions.oauth.selectors import action_title

    stored = openapi.validate(schema).title  # what _save stores
    assert action_title(Action(domain="api.example.com", schema=schema, title=stored)) == title


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("refresh_refused", "The provider refused to renew it"),
        ("revoked_at_provider", "Revoked at the provider"),
        ("action_settings_changed", "The action&#x27;s settings changed"),
        ("expired", "It expired and can not be renewed"),
    ],
)
def test_a_lapsed_connection_says_why_and_offers_reconnect(world, reason, shown):
    crm_connection = world["mine"][1]
    ConnectedAccount.objects.filter(pk=crm_connection.pk).update(status_reason=reason)
    html = world["client"].get("/me/connections/").content.decode()
    row = html.split(f'data-connection="{crm_connection.pk}"')[1].split("</tr>")[0]
    assert "Needs reconnecting" in row and shown in row
    assert (
        f'class="button" href="/actions/{world["crm"].pk}/oauth/start?next=/me/connections/"' in row
    )
    healthy = html.split(f'data-connection="{world["mine"][0].pk}"')[1].split("</tr>")[0]
    assert "Reconnect" not in healthy
    api = api_for(world["user"]).get("/api/v1/me/connected-accounts/").json()["results"]
    assert {row["id"]: row["status_reason"] for row in api}[crm_connection.pk] == reason


def test_page_needs_login():
    response = Client().get("/me/connections/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_empty_page(db):
    client = Client()
    client.force_login(make_user())
    html = client.get("/me/connections/").content.decode()
    assert "You have not connected any account" in html
    assert "Always allow" in html


def test_revoke_asks_for_confirmation_first(world, fake):
    mine = world["mine"][0]
    confirm = world["client"].get(f"/me/connections/{mine.pk}/revoke")
    assert confirm.status_code == 200
    assert b"Revoke this connection?" in confirm.content
    assert b'method="post"' in confirm.content
    assert ConnectedAccount.objects.filter(pk=mine.pk).exists()
    assert fake.log == []


def test_revoke_deletes_the_tokens_and_tells_the_provider(world, fake):
    fake.expect_ordered_request("/revoke", method="POST").respond_with_data("")
    fake.expect_ordered_request("/revoke", method="POST").respond_with_data("")
    mine = world["mine"][0]
    response = world["client"].post(f"/me/connections/{mine.pk}/revoke", follow=True)
    assert response.redirect_chain[-1][0] == "/me/connections/"
    assert b"is revoked" in response.content
    assert not ConnectedAccount.objects.filter(pk=mine.pk).exists()
    forms = [request.get_data(as_text=True) for request, _ in fake.log]
    assert f"token=secret-refresh-{mine.user_id}-{mine.action_id}" in forms[0]
    assert "token_type_hint=refresh_token" in forms[0]
    assert "client_secret=" in forms[0]  # RFC 7009 §2.1: the client authenticates
    assert f"token=secret-access-{mine.user_id}-{mine.action_id}" in forms[1]
    assert "token_type_hint=access_token" in forms[1]
    assert all(theirs.pk for theirs in world["theirs"])
    assert ConnectedAccount.objects.filter(pk__in=[t.pk for t in world["theirs"]]).count() == 2


def test_revoke_without_a_revocation_endpoint_calls_nobody(world, fake):
    crm_connection = world["mine"][1]
    response = world["client"].post(f"/me/connections/{crm_connection.pk}/revoke")
    assert response.status_code == 302
    assert not ConnectedAccount.objects.filter(pk=crm_connection.pk).exists()
    assert fake.log == []


def test_revoke_when_the_provider_fails_still_deletes_and_says_so(world, fake):
    fake.expect_oneshot_request("/revoke", method="POST").respond_with_data("down", status=503)
    mine = world["mine"][0]
    response = world["client"].post(f"/me/connections/{mine.pk}/revoke", follow=True)
    assert not ConnectedAccount.objects.filter(pk=mine.pk).exists()
    assert b"could not be told" in response.content


def test_nobody_revokes_someone_elses_connection(world, fake):
    for theirs in world["theirs"]:
        assert world["client"].get(f"/me/connections/{theirs.pk}/revoke").status_code == 404
        assert world["client"].post(f"/me/connections/{theirs.pk}/revoke").status_code == 404
    assert ConnectedAccount.objects.filter(pk__in=[t.pk for t in world["theirs"]]).count() == 2
    assert fake.log == []


def test_revoke_a_remembered_approval(world):
    consent = world["consent"]
    confirm = world["client"].get(f"/me/approvals/{consent.pk}/revoke")
    assert confirm.status_code == 200 and b"Revoke this approval?" in confirm.content
    response = world["client"].post(f"/me/approvals/{consent.pk}/revoke", follow=True)
    assert b"will ask for approval again" in response.content
    assert not Consent.objects.filter(pk=consent.pk).exists()
    theirs = Consent.objects.get(user=world["neighbour"])
    assert world["client"].post(f"/me/approvals/{theirs.pk}/revoke").status_code == 404
    assert Consent.objects.filter(pk=theirs.pk).exists()


# The REST API --------------------------------------------------------------------------------


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_api_lists_my_connections(world, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = api_for(world["user"]).get("/api/v1/me/connected-accounts/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    rows = {row["id"]: row for row in body["results"]}
    todo_connection = world["mine"][0]
    assert set(rows) == {account.pk for account in world["mine"]}
    row = rows[todo_connection.pk]
    assert set(row) == {
        "id",
        "gpt",
        "action",
        "domain",
        "scopes",
        "connected_at",
        "last_used_at",
        "status",
        "status_reason",
    }
    assert row["gpt"] == world["todo"].gpt_id and row["action"] == world["todo"].pk
    assert row["domain"] == "127.0.0.1"
    assert row["scopes"] == ["todos", "read"]
    assert row["status"] == "active" and row["last_used_at"]
    assert row["status_reason"] is None
    assert rows[world["mine"][1].pk]["status"] == "needs_reconnect"
    assert rows[world["mine"][1].pk]["last_used_at"] is None
    assert "secret-" not in response.content.decode()


def test_api_delete(world, fake):
    fake.expect_request("/revoke", method="POST").respond_with_data("")
    mine = world["mine"][0]
    client = api_for(world["user"])
    answer = client.delete(f"/api/v1/me/connected-accounts/{mine.pk}/")
    assert answer.status_code == 200
    assert answer.json()["provider_notified"] is True
    assert "revocation endpoint" in answer.json()["detail"]
    assert not ConnectedAccount.objects.filter(pk=mine.pk).exists()
    assert len(fake.log) == 2
    again = client.delete(f"/api/v1/me/connected-accounts/{mine.pk}/")
    assert again.status_code == 404 and again.json()["code"] == "not_found"


def test_api_delete_of_someone_elses_connection_is_404(world, fake):
    theirs = world["theirs"][1]
    response = api_for(world["user"]).delete(f"/api/v1/me/connected-accounts/{theirs.pk}/")
    assert response.status_code == 404
    assert ConnectedAccount.objects.filter(pk=theirs.pk).exists()
    assert fake.log == []


def test_api_needs_authentication(db):
    assert APIClient().get("/api/v1/me/connected-accounts/").status_code in (401, 403)


def test_api_is_in_the_openapi_document(world):
    schema = api_for(world["user"]).get("/api/v1/schema/", {"format": "json"}).json()
    assert "/api/v1/me/connected-accounts/" in schema["paths"]
    assert "delete" in schema["paths"]["/api/v1/me/connected-accounts/{connection_id}/"]


# The admin -------------------------------------------------------------------------------------


def test_admin_shows_counts_not_tokens(world):
    owner = add_member(world["acme"], role=Role.OWNER, staff=True)
    admin = Client()
    admin.force_login(owner)
    actions_page = admin.get("/admin/actions/action/")
    assert actions_page.status_code == 200
    html = actions_page.content.decode()
    assert "Connected accounts" in html
    # The to-do action of Acme has two connections; Globex's action is not listed at all.
    assert 'class="field-connection_count">2<' in html
    assert "CRM helper" not in html
    connections_page = admin.get(
        "/admin/actions/connectedaccount/", {"action__id__exact": world["todo"].pk}
    )
    html = connections_page.content.decode()
    assert connections_page.status_code == 200
    assert "2 connected accounts" in html
    assert "secret-" not in html
    detail = admin.get(f"/admin/actions/connectedaccount/{world['mine'][0].pk}/change/")
    assert detail.status_code == 200 and "secret-" not in detail.content.decode()


@pytest.fixture(autouse=True)
def _answers_match_the_document(monkeypatch):
    """API answers here are checked against /api/v1/schema/ too (tests/openapi_responses.py)."""
    install(monkeypatch)
