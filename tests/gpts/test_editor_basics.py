"""The builder's basics and what a new user tripped over (issue 17, points 5 and 6): delete and
duplicate a GPT, its apps, search, the workspace on every page, Pro models said up front,
domain problems at the top, the Test page's breadcrumb, wording, names and times."""

import re

import pytest
from django.urls import reverse

from actions.models import Action, ConnectedAccount
from actions.services import action_create
from gpts.models import GPT
from tests.api.conftest import weather_schema
from tests.factories import add_member, make_action, make_gpt, make_workspace
from workspaces.models import AllowedDomain, AuditEvent, AuditKind, Plan, Role

pytestmark = pytest.mark.django_db

BIDI_NAME = "Trip \u202eplanner"  # a right-to-left override inside a GPT's name


@pytest.fixture
def world(db):
    acme = make_workspace("Acme Corp", plan=Plan.ENTERPRISE)
    globex = make_workspace("Globex", plan=Plan.TEAM)
    world = {
        "acme": acme,
        "globex": globex,
        "owner": add_member(acme, role=Role.OWNER, username="owner"),
        "builder": add_member(acme, role=Role.BUILDER, username="builder"),
        "builder2": add_member(acme, role=Role.BUILDER, username="builder2"),
        "member": add_member(acme, role=Role.MEMBER, username="member"),
        "stranger": add_member(globex, role=Role.OWNER, username="stranger"),
    }
    world["gpt"] = make_gpt(
        acme, created_by=world["builder"], name="Weather", visibility="workspace"
    )
    return world


def html_of(response) -> str:
    return response.content.decode()


def as_user(client, user):
    client.force_login(user)
    return client


def gpt_url(gpt) -> str:
    return reverse("editor:gpt-detail", args=[gpt.pk])


# Delete and duplicate -----------------------------------------------------------------------


def test_delete_asks_first_then_deletes_through_the_service(client, world):
    gpt = world["gpt"]
    client = as_user(client, world["builder"])
    page = html_of(client.get(gpt_url(gpt)))
    delete_url = reverse("editor:gpt-delete", args=[gpt.pk])
    assert f'href="{delete_url}"' in page
    confirm = client.get(delete_url)
    assert confirm.status_code == 200 and GPT.objects.filter(pk=gpt.pk).exists()
    html = html_of(confirm)
    assert "This can not be undone" in html and 'method="post"' in html
    response = client.post(delete_url)
    assert response.status_code == 302 and response["Location"] == reverse("editor:gpt-list")
    assert not GPT.objects.filter(pk=gpt.pk).exists()
    assert AuditEvent.objects.filter(kind=AuditKind.GPT_DELETED, target="Weather").exists()


@pytest.mark.parametrize("who", ["member", "builder2"])
def test_who_may_not_edit_neither_deletes_nor_duplicates(client, world, who):
    gpt = world["gpt"]
    client = as_user(client, world[who])
    page = html_of(client.get(gpt_url(gpt)))
    assert "Delete GPT" not in page and ">Duplicate<" not in page
    for name in ("editor:gpt-delete", "editor:gpt-duplicate"):
        url = reverse(name, args=[gpt.pk])
        assert client.get(url).status_code == 403
        assert client.post(url).status_code == 403
    assert GPT.objects.count() == 1


def test_a_stranger_gets_404(client, world):
    client = as_user(client, world["stranger"])
    for name in ("editor:gpt-delete", "editor:gpt-duplicate"):
        assert client.post(reverse(name, args=[world["gpt"].pk])).status_code == 404
    assert GPT.objects.count() == 1


def test_duplicate_asks_first_then_opens_the_copy(client, world):
    gpt = world["gpt"]
    action_create(gpt=gpt, acting_user=world["builder"], schema=weather_schema())
    client = as_user(client, world["builder"])
    url = reverse("editor:gpt-duplicate", args=[gpt.pk])
    confirm = html_of(client.get(url))
    assert "Copy of Weather" in confirm and "Acme Corp" in confirm
    assert GPT.objects.count() == 1
    response = client.post(url)
    copy = GPT.objects.exclude(pk=gpt.pk).get()
    assert response.status_code == 302 and response["Location"] == gpt_url(copy)
    assert copy.actions.get().domain == "weather.example.com"


def test_a_refused_duplicate_says_why_and_makes_nothing(client, world):
    gpt = world["gpt"]
    action_create(gpt=gpt, acting_user=world["builder"], schema=weather_schema())
    acme = world["acme"]
    acme.allow_all_domains = False
    acme.save()
    AllowedDomain.objects.create(workspace=acme, pattern="other.example.com")
    response = as_user(client, world["builder"]).post(
        reverse("editor:gpt-duplicate", args=[gpt.pk])
    )
    assert response.status_code == 400
    assert "weather.example.com" in html_of(response)
    assert GPT.objects.count() == 1 and Action.objects.count() == 1


# Apps -----------------------------------------------------------------------------------------


def test_apps_are_listed_ticked_and_removable(client, world):
    gpt = world["gpt"]
    GPT.objects.filter(pk=gpt.pk).update(apps=["github", "box"])
    client = as_user(client, world["builder"])
    html = html_of(client.get(gpt_url(gpt)))
    # Every app of the catalogue is offered, the GPT's own ticked.
    for key, label in (("google_drive", "Google Drive"), ("sharepoint", "SharePoint")):
        assert f'value="{key}" >' in html and label in html
    assert re.search(r'value="github" checked', html) and re.search(r'value="box" checked', html)
    # The notice that says to remove the apps points where they are.
    assert 'href="#apps"' in html and "remove its apps" in html
    assert "Create new action" not in html
    form = {"name": "Weather", "model": "gpt-5", "visibility": "workspace", "apps_shown": "1"}
    response = client.post(gpt_url(gpt), {**form, "apps": ["box"]})
    assert response.status_code == 302
    gpt.refresh_from_db()
    assert gpt.apps == ["box"]
    client.post(gpt_url(gpt), form)  # nothing ticked: every app removed
    gpt.refresh_from_db()
    assert gpt.apps == []
    assert "Create new action" in html_of(client.get(gpt_url(gpt)))


def test_an_unknown_app_is_refused_next_to_the_apps(client, world):
    form = {"name": "Weather", "apps_shown": "1", "apps": ["myspace"]}
    response = as_user(client, world["builder"]).post(gpt_url(world["gpt"]), form)
    assert response.status_code == 400
    assert 'id="id_apps-error"' in html_of(response) and "myspace" in html_of(response)


def test_a_gpt_with_actions_shows_no_apps_fieldset(client, world):
    make_action(world["gpt"])
    html = html_of(as_user(client, world["builder"]).get(gpt_url(world["gpt"])))
    assert 'name="apps"' not in html and 'name="apps_shown"' not in html


# Search ---------------------------------------------------------------------------------------


def test_search_keeps_the_gpts_whose_name_or_description_match(client, world):
    make_gpt(world["acme"], created_by=world["builder"], name="Travel desk", description="Flights")
    make_gpt(world["acme"], created_by=world["builder"], name="HR", description="Leave and flights")
    make_gpt(world["globex"], created_by=world["stranger"], name="Globex flights")
    client = as_user(client, world["builder"])
    html = html_of(client.get("/editor/", {"q": "  FLIGHTS "}))
    assert "Travel desk" in html and "HR" in html
    assert "Weather" not in html and "Globex flights" not in html
    assert "2 GPTs matching" in html and 'value="FLIGHTS"' in html
    html = html_of(client.get("/editor/", {"q": "leave flights"}))  # every word must match
    assert "HR" in html and "Travel desk" not in html and "1 GPT matching" in html
    html = html_of(client.get("/editor/", {"q": "nothing-like-it"}))
    assert "No GPT matches" in html


@pytest.mark.parametrize("query", ["%", "_", "\\", "' OR 1=1 --", "x" * 5000])
def test_hostile_searches_are_plain_text(client, world, query):
    response = as_user(client, world["builder"]).get("/editor/", {"q": query})
    assert response.status_code == 200
    assert "Weather" not in html_of(response)


def test_the_pager_keeps_the_search(client, world, settings):
    from editor import gpt_views

    for n in range(3):
        make_gpt(world["acme"], created_by=world["builder"], name=f"Alpha {n}")
    original = gpt_views.GPTS_PER_PAGE
    gpt_views.GPTS_PER_PAGE = 2
    try:
        html = html_of(as_user(client, world["builder"]).get("/editor/", {"q": "alpha"}))
    finally:
        gpt_views.GPTS_PER_PAGE = original
    assert 'href="?q=alpha&amp;page=2"' in html


# The workspace on every editor page -----------------------------------------------------------


def test_every_editor_page_names_the_workspace(client, world):
    gpt = world["gpt"]
    action = action_create(gpt=gpt, acting_user=world["builder"], schema=weather_schema())
    client = as_user(client, world["builder"])
    urls = [
        "/editor/",
        "/editor/gpts/new",
        gpt_url(gpt),
        reverse("editor:gpt-delete", args=[gpt.pk]),
        reverse("editor:gpt-duplicate", args=[gpt.pk]),
        reverse("editor:action-new", args=[gpt.pk]),
        reverse("editor:action-detail", args=[action.pk]),
        reverse("editor:operation-test", args=[action.pk, "GetCurrentWeather"]),
    ]
    for url in urls:
        html = html_of(client.get(url))
        assert "Acme Corp" in html, url


# Pro models, said before the builder writes an action ----------------------------------------


def test_a_pro_model_is_said_up_front_with_the_way_out(client, world):
    gpt = world["gpt"]
    GPT.objects.filter(pk=gpt.pk).update(model="gpt-5-pro")
    client = as_user(client, world["builder"])
    page = html_of(client.get(gpt_url(gpt)))
    assert 'id="actions-unavailable"' in page
    assert "GPT-5 Pro can not use actions" in page and "GPT-5 mini" in page
    assert 'href="#id_model"' in page and "Create new action" not in page
    new = html_of(client.get(reverse("editor:action-new", args=[gpt.pk])))
    assert 'id="actions-unavailable"' in new and "GPT-5 Pro can not use actions" in new
    assert f'href="{gpt_url(gpt)}"' in new
    # The refusal at Save names models by label, not by id.
    response = client.post(
        reverse("editor:action-new", args=[gpt.pk]),
        {"schema": weather_schema(), "auth_type": "none", "privacy_policy_url": ""},
    )
    html = html_of(response)
    assert response.status_code == 400 and "GPT-5 mini" in html and "gpt-5-mini" not in html


def test_a_gpt_that_can_take_actions_shows_no_such_notice(client, world):
    client = as_user(client, world["builder"])
    assert 'id="actions-unavailable"' not in html_of(client.get(gpt_url(world["gpt"])))
    new = html_of(client.get(reverse("editor:action-new", args=[world["gpt"].pk])))
    assert 'id="actions-unavailable"' not in new


def test_model_refusals_name_labels(world):
    from gpts.services import check_model
    from kernel.errors import RuleViolation

    with pytest.raises(RuleViolation) as refused:
        check_model(model="o3-pro", has_actions=True)
    assert refused.value.detail == (
        "o3-pro can not use actions. Choose one of: GPT-5, GPT-5 mini, GPT-4.1, GPT-4o, o3."
    )


# Domain problems at the top and in the status ------------------------------------------------


def test_a_blocked_domain_heads_the_action_page_and_is_the_status(client, world):
    action = action_create(gpt=world["gpt"], acting_user=world["builder"], schema=weather_schema())
    acme = world["acme"]
    acme.allow_all_domains = False
    acme.save()
    AllowedDomain.objects.create(workspace=acme, pattern="other.example.com")
    html = html_of(
        as_user(client, world["builder"]).get(reverse("editor:action-detail", args=[action.pk]))
    )
    top = html.index('id="domain-problem"')
    assert top < html.index('id="action-form"')
    assert "weather.example.com" in html[top : html.index("</div>", top)]
    status = re.search(r'<p id="schema-status"[^>]*>(.*?)</p>', html, re.S)
    assert 'class="schema-status invalid"' in status.group(0)
    assert status.group(1).startswith("Not allowed: ") and "Valid" not in status.group(1)
    # The page's script is told, so its live check does not say "Valid" either.
    assert '"domainProblem": {"message":' in html and '"host": "weather.example.com"' in html


def test_an_allowed_action_has_no_domain_problem(client, world):
    action = action_create(gpt=world["gpt"], acting_user=world["builder"], schema=weather_schema())
    html = html_of(
        as_user(client, world["builder"]).get(reverse("editor:action-detail", args=[action.pk]))
    )
    assert 'id="domain-problem"' not in html and '"domainProblem": null' in html
    assert "Valid — 1 action" in html


# The Test page's breadcrumb -------------------------------------------------------------------


def test_the_test_page_breadcrumb_leads_back_for_everyone(client, world):
    action = action_create(gpt=world["gpt"], acting_user=world["builder"], schema=weather_schema())
    url = reverse("editor:operation-test", args=[action.pk, "GetCurrentWeather"])
    for who in ("builder", "member"):
        html = html_of(as_user(client, world[who]).get(url))
        crumbs = html[
            html.index('class="crumbs"') : html.index("</nav>", html.index('class="crumbs"'))
        ]
        for target in (
            reverse("editor:gpt-list"),
            gpt_url(world["gpt"]),
            reverse("editor:action-detail", args=[action.pk]),
        ):
            assert f'href="{target}"' in crumbs, (who, target)
        # The action page it links to opens for a member, read-only.
        assert (
            as_user(client, world[who])
            .get(reverse("editor:action-detail", args=[action.pk]))
            .status_code
            == 200
        )


# Wording --------------------------------------------------------------------------------------


def test_one_schema_error_is_singular(client, world):
    make_action(world["gpt"], errors=[{"message": "Broken", "pointer": "", "line": 1}])
    html = html_of(as_user(client, world["builder"]).get(gpt_url(world["gpt"])))
    assert "1 schema error<" in html and "error(s)" not in html


def test_the_schema_refusal_is_singular_for_one_problem(world):
    from actions.services import check_schema
    from kernel.errors import RuleViolation

    with pytest.raises(RuleViolation) as refused:
        check_schema(gpt=world["gpt"], text="openapi: 3.1.0\ninfo:\n\ttitle: x\n")
    assert refused.value.detail.startswith("The schema has 1 problem: ")
    assert "(s)" not in refused.value.detail
    # ... and the YAML error names the tab.
    assert "tab character" in refused.value.detail and "line 3" in refused.value.detail


def test_wildcard_entries_say_they_allow_only_subdomains(client, world):
    acme = world["acme"]
    acme.allow_all_domains = False
    acme.save()
    AllowedDomain.objects.create(workspace=acme, pattern="*.corp.example")
    AllowedDomain.objects.create(workspace=acme, pattern="example.org")
    html = html_of(
        as_user(client, world["builder"]).get(reverse("editor:action-new", args=[world["gpt"].pk]))
    )
    assert "subdomains of corp.example only, not corp.example itself" in html
    assert "example.org and its subdomains" in html
    assert "each with its subdomains" not in html


# Names: the same everywhere, Unicode beside punycode, isolated direction ------------------------


def test_an_action_is_named_by_title_with_domain_in_the_editor_and_connections(client, world):
    action = action_create(gpt=world["gpt"], acting_user=world["builder"], schema=weather_schema())
    title = action.title
    assert title
    ConnectedAccount.objects.create(
        user=world["member"], action=action, gpt=world["gpt"], workspace=world["acme"]
    )
    expected = (
        f'<bdi>{title}</bdi> <span class="action-domain">'
        '(<code class="host">weather.example.com</code>)</span>'
    )
    builder = as_user(client, world["builder"])
    assert expected in html_of(builder.get(gpt_url(world["gpt"])))
    assert expected in html_of(builder.get(reverse("editor:action-detail", args=[action.pk])))
    member = as_user(client, world["member"])
    assert expected in html_of(member.get("/me/connections/"))


def test_idn_hosts_show_their_unicode_form_beside_punycode(client, world):
    acme = world["acme"]
    acme.allow_all_domains = False
    acme.save()
    AllowedDomain.objects.create(workspace=acme, pattern="xn--bcher-kva.example")
    make_action(world["gpt"], domain="api.xn--bcher-kva.example")
    client = as_user(client, world["builder"])
    new = html_of(client.get(reverse("editor:action-new", args=[world["gpt"].pk])))
    assert '<code class="host">xn--bcher-kva.example</code>' in new
    assert "(<bdi>bücher.example</bdi>)" in new
    page = html_of(client.get(gpt_url(world["gpt"])))
    assert "(<bdi>api.bücher.example</bdi>)" in page


def test_a_bidi_override_in_a_name_is_isolated(client, world):
    GPT.objects.filter(pk=world["gpt"].pk).update(name=BIDI_NAME)
    client = as_user(client, world["builder"])
    for url in ("/editor/", gpt_url(world["gpt"])):
        html = html_of(client.get(url))
        # Every occurrence of the name in the page's body sits in a <bdi>, or in an input
        # whose direction is its own (dir="auto").
        body = html[html.index("<main") :]
        isolated = body.count(f"<bdi>{BIDI_NAME}</bdi>")
        isolated += body.count(f'dir="auto" value="{BIDI_NAME}"')
        assert body.count(BIDI_NAME) == isolated > 0, url


# Times with their zone ------------------------------------------------------------------------


def test_connections_show_times_with_their_zone(client, world):
    action = make_action(world["gpt"])
    ConnectedAccount.objects.create(
        user=world["member"], action=action, gpt=world["gpt"], workspace=world["acme"]
    )
    html = html_of(as_user(client, world["member"]).get("/me/connections/"))
    assert re.search(r"<time [^>]*>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", html)


def test_admin_times_show_their_zone(client, world):
    from django.utils import formats, timezone

    assert formats.date_format(timezone.now(), "DATETIME_FORMAT").endswith(" UTC")
    assert formats.date_format(timezone.now(), "SHORT_DATETIME_FORMAT").endswith(" UTC")


def test_the_admin_names_an_action_the_same_way():
    assert str(Action(title="Get weather", domain="w.example")) == "Get weather (w.example)"
    assert str(Action(domain="w.example")) == "w.example"
    assert str(Action(pk=7)) == "Action 7"
