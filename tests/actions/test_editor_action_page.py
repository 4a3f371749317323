"""The editor's action page: saving through the services, errors with their lines, write-only
secrets, the domain panel, roles, tenant isolation and a fixed number of queries."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from actions.models import Action, AuthType
from tests.api.conftest import weather_schema
from tests.factories import make_action, make_gpt
from tests.world import people
from workspaces.models import AllowedDomain, AuditEvent

pytestmark = pytest.mark.django_db

ACTION_PAGE_MAX_QUERIES = 6
SECRET = "sk-live-abcdefgh9fA2"


@pytest.fixture
def world(db):
    world = people()  # the shared cast (tests/world.py)
    world["gpt"] = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    return world


@pytest.fixture
def builder(client, world):
    client.force_login(world["builder"])
    return client


def html_of(response) -> str:
    return response.content.decode()


def new_url(gpt) -> str:
    return f"/editor/gpts/{gpt.pk}/actions/new"


def form(schema="", auth_type="none", **fields) -> dict:
    return {"schema": schema, "auth_type": auth_type, "privacy_policy_url": "", **fields}


# The page before any schema -----------------------------------------------------------------


def test_new_action_page(builder, world, settings):
    html = html_of(builder.get(new_url(world["gpt"])))
    assert "Operations in your schema will show here" in html
    assert f"{settings.SITE_URL}/aip/{world['gpt'].pk}/oauth/callback" in html
    for label in ("None", "API key", "OAuth", "Basic", "Bearer", "Custom header"):
        assert f"> {label}</label>" in html
    for text in ("Import from URL", "Weather (JSON)", "Pet Store (YAML)", "Blank template"):
        assert text in html
    assert ">Format</button>" in html and 'for="id_privacy_policy_url"' in html
    assert "static/editor/action.js" in html


def test_callback_url_is_stable_per_gpt(builder, world, settings):
    settings.SITE_URL = "https://gpts.example.org"
    action = make_action(world["gpt"], auth_type=AuthType.NONE)
    html = html_of(builder.get(f"/editor/actions/{action.pk}/"))
    assert f'value="https://gpts.example.org/aip/{world["gpt"].pk}/oauth/callback"' in html


@pytest.mark.parametrize(
    "allow_all,patterns,expected",
    [
        (True, [], "lets actions call any domain"),
        (False, [], "No domains are allowed by your workspace&#x27;s settings."),
        (False, ["api.example.com", "*.corp.example"], "subdomains of corp.example only"),
    ],
)
def test_allowed_domains_panel(builder, world, allow_all, patterns, expected):
    world["acme"].allow_all_domains = allow_all
    world["acme"].save()
    for pattern in patterns:
        AllowedDomain.objects.create(workspace=world["acme"], pattern=pattern)
    AllowedDomain.objects.create(workspace=world["globex"], pattern="globex-only.example")
    html = html_of(builder.get(new_url(world["gpt"])))
    assert expected in html
    assert "globex-only.example" not in html


# Saving -------------------------------------------------------------------------------------


def test_first_save_creates_the_action(builder, world):
    response = builder.post(
        new_url(world["gpt"]),
        form(
            weather_schema(),
            "api_key",
            api_key=SECRET,
            api_key_auth_type="custom",
            custom_header="X-Api-Key",
            privacy_policy_url="https://weather.example.com/privacy",
        ),
    )
    action = Action.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/editor/actions/{action.pk}/"
    assert action.api_key == SECRET and action.custom_header == "X-Api-Key"
    assert action.domain == "weather.example.com"
    html = html_of(builder.get(response["Location"]))
    assert "Action saved." in html
    assert SECRET not in html and "sk-…9fA2" in html
    assert "GetCurrentWeather" in html
    test_url = f"/editor/actions/{action.pk}/operations/GetCurrentWeather/test"
    assert f'href="{test_url}"' in html


def test_invalid_schema_is_shown_with_lines_and_nothing_saved(builder, world):
    broken = weather_schema().replace('"operationId": "GetCurrentWeather",', "")
    response = builder.post(new_url(world["gpt"]), form(broken, "api_key", api_key=SECRET))
    assert response.status_code == 400
    html = html_of(response)
    assert 'role="alert"' in html and "problem" in html
    lines = [int(n) for n in re.findall(r'data-line="(\d+)"', html)]
    assert lines and all(1 <= n <= broken.count("\n") + 1 for n in lines)
    assert "Line " in html
    # The builder's text is kept, the secret is not echoed, nothing is written.
    assert "Get temperature for a specific location" in html
    assert SECRET not in html and "secret you typed was not kept" in html
    assert not Action.objects.exists()


def test_unparseable_schema_keeps_the_text(builder, world):
    response = builder.post(new_url(world["gpt"]), form("openapi: [unclosed\n  title: x"))
    assert response.status_code == 400
    assert "openapi: [unclosed" in html_of(response)
    assert not Action.objects.exists()


def test_blank_secret_keeps_the_stored_one(builder, world):
    builder.post(
        new_url(world["gpt"]),
        form(weather_schema(), "api_key", api_key=SECRET, api_key_auth_type="bearer"),
    )
    action = Action.objects.get()
    response = builder.post(
        f"/editor/actions/{action.pk}/",
        form(weather_schema(), "api_key", api_key="", api_key_auth_type="basic"),
    )
    assert response.status_code == 302
    action.refresh_from_db()
    assert action.api_key == SECRET and action.api_key_auth_type == "basic"
    assert AuditEvent.objects.filter(workspace=world["acme"]).exists()


def test_auth_error_is_shown_next_to_its_field(builder, world):
    response = builder.post(
        new_url(world["gpt"]),
        form(weather_schema(), "api_key", api_key=SECRET, api_key_auth_type="custom"),
    )
    assert response.status_code == 400
    html = html_of(response)
    assert 'id="id_custom_header-error"' in html and "header name" in html
    # The API-key section stays open with the builder's choice.
    assert 'value="custom" checked' in html


def test_oauth_with_all_fields(builder, world):
    response = builder.post(
        new_url(world["gpt"]),
        form(
            weather_schema(),
            "oauth",
            client_id="client-1",
            client_secret="oauth-secret-123456",
            authorization_url="https://weather.example.com/oauth/authorize",
            token_url="https://weather.example.com/oauth/token",
            scope="read",
            token_exchange_method="basic_auth_header",
            revocation_url="",
        ),
    )
    assert response.status_code == 302, html_of(response)
    action = Action.objects.get()
    assert action.auth_type == "oauth" and action.token_exchange_method == "basic_auth_header"
    html = html_of(builder.get(response["Location"]))
    assert "oauth-secret-123456" not in html and 'value="client-1"' in html


def test_browser_line_breaks_are_stored_as_lf(builder, world):
    builder.post(new_url(world["gpt"]), form(weather_schema().replace("\n", "\r\n")))
    assert "\r" not in Action.objects.get().schema


def test_schema_of_a_refused_domain_is_refused(builder, world):
    world["acme"].allow_all_domains = False
    world["acme"].save()
    response = builder.post(new_url(world["gpt"]), form(weather_schema()))
    assert response.status_code == 400
    assert "No domains are allowed by your workspace" in html_of(response)
    assert not Action.objects.exists()


def test_delete(builder, world):
    action = make_action(world["gpt"])
    response = builder.post(f"/editor/actions/{action.pk}/delete")
    assert (
        response.status_code == 302 and response["Location"] == f"/editor/gpts/{world['gpt'].pk}/"
    )
    assert not Action.objects.exists()


# Roles and tenants --------------------------------------------------------------------------


def test_members_see_it_read_only(client, world):
    action = make_action(world["gpt"], schema="x", api_key=SECRET, auth_type="api_key")
    for user in (world["member"], world["builder2"]):
        client.force_login(user)
        response = client.get(f"/editor/actions/{action.pk}/")
        assert response.status_code == 200
        html = html_of(response)
        assert "only the GPT's builder, admins and owners change it" in html
        assert 'form="action-form"' not in html and "Delete action" not in html
        assert SECRET not in html
        assert client.post(f"/editor/actions/{action.pk}/", form("")).status_code == 403
        assert client.post(f"/editor/actions/{action.pk}/delete").status_code == 403
    action.refresh_from_db()
    assert action.schema == "x"


def test_another_workspace_gets_404(client, world):
    action = make_action(world["gpt"])
    client.force_login(world["stranger"])
    assert client.get(f"/editor/actions/{action.pk}/").status_code == 404
    assert client.post(f"/editor/actions/{action.pk}/", form("")).status_code == 404
    assert client.post(f"/editor/actions/{action.pk}/delete").status_code == 404
    assert Action.objects.filter(pk=action.pk).exists()


def test_login_required(client, world):
    action = make_action(world["gpt"])
    response = client.get(f"/editor/actions/{action.pk}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


# Query count --------------------------------------------------------------------------------


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_query_count_does_not_grow_with_operations(builder, world, django_assert_max_num_queries):
    world["acme"].allow_all_domains = False
    world["acme"].save()
    AllowedDomain.objects.create(workspace=world["acme"], pattern="example.com")
    one = make_action(world["gpt"], operations=("only",), schema="x")
    many = make_action(
        make_gpt(world["acme"], created_by=world["builder"]),
        operations=[f"op{n}" for n in range(30)],
        schema="x",
    )
    with django_assert_max_num_queries(ACTION_PAGE_MAX_QUERIES):
        builder.get(f"/editor/actions/{one.pk}/")
    with django_assert_max_num_queries(ACTION_PAGE_MAX_QUERIES):
        response = builder.get(f"/editor/actions/{many.pk}/")
    assert html_of(response).count('class="op-name"') == 30
    assert queries_for(builder, f"/editor/actions/{one.pk}/") == queries_for(
        builder, f"/editor/actions/{many.pk}/"
    )
