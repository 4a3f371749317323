"""The editor's GPT pages: list, create, a GPT's page; roles, tenant isolation, query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gpts.models import GPT
from tests.factories import make_action, make_gpt
from tests.world import people
from workspaces.models import AllowedDomain

pytestmark = pytest.mark.django_db

# Fixed budgets: the pages must not grow with the number of GPTs, actions or operations.
LIST_MAX_QUERIES = 5
GPT_PAGE_MAX_QUERIES = 6


@pytest.fixture
def world(db):
    return people()  # the shared cast (tests/world.py)


def login(client, user):
    client.force_login(user)
    return client


def html_of(response) -> str:
    return response.content.decode()


# Access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/editor/", "/editor/gpts/new", "/editor/gpts/1/", "/editor/gpts/1/actions/new"]
)
def test_pages_require_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


def test_list_shows_only_what_the_user_may_see(client, world):
    shared = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    private = make_gpt(world["acme"], created_by=world["builder"], name="Private draft")
    foreign = make_gpt(world["globex"], created_by=world["stranger"], name="Globex secret")
    html = html_of(login(client, world["member"]).get("/editor/"))
    assert shared.name in html
    assert private.name not in html and foreign.name not in html
    assert "Create a GPT" not in html  # members do not create GPTs

    html = html_of(login(client, world["builder"]).get("/editor/"))
    assert shared.name in html and private.name in html and foreign.name not in html
    assert 'href="/editor/gpts/new"' in html


def test_gpt_of_another_workspace_is_404(client, world):
    foreign = make_gpt(world["globex"], created_by=world["stranger"])
    client = login(client, world["owner"])
    assert client.get(f"/editor/gpts/{foreign.pk}/").status_code == 404
    assert client.post(f"/editor/gpts/{foreign.pk}/", {"name": "Taken"}).status_code == 404
    assert client.get(f"/editor/gpts/{foreign.pk}/actions/new").status_code == 404
    foreign.refresh_from_db()
    assert foreign.name != "Taken"


# Creating -----------------------------------------------------------------------------------


def test_builder_creates_a_gpt(client, world):
    response = login(client, world["builder"]).post(
        "/editor/gpts/new",
        {
            "workspace": world["acme"].slug,
            "name": "  Travel helper ",
            "description": "Plans trips",
            "instructions": "Be brief.",
            "model": "gpt-4o",
            "visibility": "workspace",
        },
    )
    gpt = GPT.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/editor/gpts/{gpt.pk}/"
    assert (gpt.name, gpt.model, gpt.visibility) == ("Travel helper", "gpt-4o", "workspace")
    assert gpt.created_by == world["builder"] and gpt.workspace == world["acme"]
    page = html_of(client.get(response["Location"]))
    assert "Created Travel helper" in page and "Create new action" in page


def test_create_refusal_keeps_the_input(client, world):
    response = login(client, world["builder"]).post(
        "/editor/gpts/new",
        {"workspace": world["acme"].slug, "name": "   ", "description": "Kept description"},
    )
    assert response.status_code == 400
    html = html_of(response)
    assert "Give the GPT a name." in html and 'id="id_name-error"' in html
    assert 'value="Kept description"' in html
    assert not GPT.objects.exists()


def test_create_in_a_workspace_not_yours_is_refused(client, world):
    response = login(client, world["builder"]).post(
        "/editor/gpts/new", {"workspace": world["globex"].slug, "name": "Sneaky"}
    )
    assert response.status_code == 400
    assert "Choose one of your workspaces." in html_of(response)
    assert not GPT.objects.exists()


def test_members_can_not_create(client, world):
    client = login(client, world["member"])
    assert client.get("/editor/gpts/new").status_code == 403
    assert (
        client.post("/editor/gpts/new", {"workspace": world["acme"].slug, "name": "X"}).status_code
        == 403
    )
    assert not GPT.objects.exists()


# A GPT's page -------------------------------------------------------------------------------


def test_gpt_page_shows_the_fields_and_actions(client, world):
    gpt = make_gpt(
        world["acme"], created_by=world["builder"], description="Weather", instructions="Hi"
    )
    action = make_action(gpt, domain="weather.example.com", operations=("a", "b"))
    html = html_of(login(client, world["builder"]).get(f"/editor/gpts/{gpt.pk}/"))
    for label in ("Name", "Description", "Instructions", "Model", "Visibility"):
        assert f">{label}</label>" in html
    assert f'href="/editor/actions/{action.pk}/"' in html and "weather.example.com" in html
    assert "2 operations" in html
    assert f'href="/editor/gpts/{gpt.pk}/actions/new"' in html


def test_model_picker_offers_only_models_allowed_with_actions(client, world):
    gpt = make_gpt(world["acme"], created_by=world["builder"])
    client = login(client, world["builder"])
    assert 'value="gpt-5-pro"' in html_of(client.get(f"/editor/gpts/{gpt.pk}/"))
    make_action(gpt)
    html = html_of(client.get(f"/editor/gpts/{gpt.pk}/"))
    assert 'value="gpt-5-pro"' not in html and 'value="o3-pro"' not in html
    assert 'value="o1-mini"' not in html and 'value="gpt-4o"' in html


def test_update_saves_through_the_service(client, world):
    gpt = make_gpt(world["acme"], created_by=world["builder"])
    response = login(client, world["builder"]).post(
        f"/editor/gpts/{gpt.pk}/",
        {
            "name": "Renamed",
            "description": "d",
            "instructions": "i",
            "model": "o3",
            "visibility": "workspace",
        },
    )
    assert response.status_code == 302
    gpt.refresh_from_db()
    assert (gpt.name, gpt.model, gpt.visibility) == ("Renamed", "o3", "workspace")
    assert "Saved." in html_of(client.get(response["Location"]))


def test_pro_model_with_actions_is_refused_next_to_the_picker(client, world):
    gpt = make_gpt(world["acme"], created_by=world["builder"], model="gpt-5")
    make_action(gpt)
    response = login(client, world["builder"]).post(
        f"/editor/gpts/{gpt.pk}/", {"name": "Kept name", "model": "gpt-5-pro"}
    )
    assert response.status_code == 400
    html = html_of(response)
    assert 'id="id_model-error"' in html and "can not use actions" in html
    assert 'value="Kept name"' in html
    gpt.refresh_from_db()
    assert gpt.model == "gpt-5" and gpt.name != "Kept name"


def test_publishing_needs_privacy_policy_urls(client, world):
    gpt = make_gpt(world["acme"], created_by=world["builder"])
    make_action(gpt, domain="api.example.com")
    response = login(client, world["builder"]).post(
        f"/editor/gpts/{gpt.pk}/", {"name": gpt.name, "visibility": "store"}
    )
    assert response.status_code == 400
    assert 'id="id_visibility-error"' in html_of(response)
    assert "privacy policy URL" in html_of(response)
    gpt.refresh_from_db()
    assert gpt.visibility == "only_me"


def test_members_read_only_and_other_builders_can_not_edit(client, world):
    gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace", name="G")
    for user in (world["member"], world["builder2"]):
        client = login(client, user)
        response = client.get(f"/editor/gpts/{gpt.pk}/")
        assert response.status_code == 200
        html = html_of(response)
        assert "only its builder, admins and owners change it" in html
        assert 'form="gpt-form"' not in html and "Create new action" not in html
        assert client.post(f"/editor/gpts/{gpt.pk}/", {"name": "Hijacked"}).status_code == 403
        assert client.get(f"/editor/gpts/{gpt.pk}/actions/new").status_code == 403
    gpt.refresh_from_db()
    assert gpt.name == "G"
    # The workspace owner edits every GPT of the workspace.
    response = login(client, world["owner"]).post(f"/editor/gpts/{gpt.pk}/", {"name": "By owner"})
    assert response.status_code == 302


def test_gpt_page_flags_actions_the_policy_now_refuses(client, world):
    world["acme"].allow_all_domains = False
    world["acme"].save()
    AllowedDomain.objects.create(workspace=world["acme"], pattern="ok.example.com")
    gpt = make_gpt(world["acme"], created_by=world["builder"])
    make_action(gpt, domain="ok.example.com", schema="x")
    make_action(gpt, domain="blocked.example.org", schema="x", operations=("other",))
    html = html_of(login(client, world["builder"]).get(f"/editor/gpts/{gpt.pk}/"))
    assert "blocked.example.org is not allowed" in html
    assert html.count('class="badge warn"') == 1


def test_apps_gpt_offers_no_actions(client, world):
    gpt = make_gpt(world["acme"], created_by=world["builder"], apps=["github"])
    html = html_of(login(client, world["builder"]).get(f"/editor/gpts/{gpt.pk}/"))
    assert "either apps or actions" in html and "Create new action" not in html


# Query counts -------------------------------------------------------------------------------


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url)
    assert response.status_code == 200
    return len(context.captured_queries)


def test_list_query_count_does_not_grow_with_gpts(client, world, django_assert_max_num_queries):
    client = login(client, world["builder"])
    gpt = make_gpt(world["acme"], created_by=world["builder"])
    make_action(gpt)
    with django_assert_max_num_queries(LIST_MAX_QUERIES):
        client.get("/editor/")
    few = queries_for(client, "/editor/")
    for n in range(19):
        other = make_gpt(world["acme"], created_by=world["builder2"], visibility="workspace")
        make_action(other, operations=(f"op{n}",))
    with django_assert_max_num_queries(LIST_MAX_QUERIES):
        response = client.get("/editor/")
    assert html_of(response).count('class="gpt-card"') == 20
    assert queries_for(client, "/editor/") == few


def test_gpt_page_query_count_does_not_grow_with_actions(
    client, world, django_assert_max_num_queries
):
    world["acme"].allow_all_domains = False  # the policy check is part of the page
    world["acme"].save()
    client = login(client, world["builder"])
    gpt = make_gpt(world["acme"], created_by=world["builder"])
    make_action(gpt, operations=("first",))
    url = f"/editor/gpts/{gpt.pk}/"
    with django_assert_max_num_queries(GPT_PAGE_MAX_QUERIES):
        client.get(url)
    few = queries_for(client, url)
    for n in range(9):
        make_action(gpt, operations=(f"a{n}", f"b{n}", f"c{n}"))
    with django_assert_max_num_queries(GPT_PAGE_MAX_QUERIES):
        response = client.get(url)
    assert html_of(response).count('class="action-name"') == 10
    assert queries_for(client, url) == few
