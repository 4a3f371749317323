"""The action-domain policy in the workspace admin, through real requests as each kind of user.

Owners edit it (allow-all, the allowlist inline, the bulk paste), admins read it, members get no
admin, staff of another workspace see nothing of it, and other plans do not show it at all.
"""

import pytest
from django.forms import BooleanField
from django.urls import reverse
from django.utils.html import escape

from tests.factories import add_member, make_action, make_gpt, make_user, make_workspace
from tests.world import people
from workspaces.domains import DomainError, parse_allowlist_entry
from workspaces.models import AllowedDomain, AuditEvent, AuditKind, Plan, Role, Workspace
from workspaces.policy import NO_DOMAINS_ALLOWED

pytestmark = pytest.mark.django_db

# Both pages stay under these whatever the number of domains, actions and members.
MAX_CHANGELIST_QUERIES = 8
MAX_CHANGE_PAGE_QUERIES = 15


@pytest.fixture
def world():
    world = people(  # the shared cast (tests/world.py)
        plan_b=Plan.ENTERPRISE,
        allow_all_domains=False,
        staff=True,
        names={"owner": "olivia", "admin": "adam", "member": "mia", "stranger": "boris"},
        only=("owner", "admin", "member"),
    )
    AllowedDomain.objects.create(workspace=world["acme"], pattern="acme-tools.com")
    AllowedDomain.objects.create(workspace=world["globex"], pattern="globex-secret.net")
    return world


def change_url(workspace: Workspace) -> str:
    return reverse("admin:workspaces_workspace_change", args=[workspace.pk])


def form_data(response) -> dict:
    """The POST a browser would send for the change page as rendered (nothing edited)."""
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


def add_inline_row(data: dict, prefix: str, workspace: Workspace, **fields) -> None:
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    data[f"{prefix}-{index}-id"] = ""
    data[f"{prefix}-{index}-workspace"] = str(workspace.pk)
    for name, value in fields.items():
        data[f"{prefix}-{index}-{name}"] = value


def patterns(workspace: Workspace) -> list[str]:
    return sorted(
        AllowedDomain.objects.filter(workspace=workspace).values_list("pattern", flat=True)
    )


def open_page(client, user, workspace):
    client.force_login(user)
    response = client.get(change_url(workspace))
    assert response.status_code == 200
    return response


# Owner --------------------------------------------------------------------------------------


def test_owner_sees_the_editable_policy(client, world):
    response = open_page(client, world["owner"], world["acme"])
    html = response.content.decode()
    form = response.context["adminform"].form
    assert "Action-domain policy" in html
    assert "Allow all domains for GPT Actions" in html
    assert {"allow_all_domains", "bulk_domains"} <= set(form.fields)
    domains = next(
        i
        for i in response.context["inline_admin_formsets"]
        if i.formset.prefix == "allowed_domains"
    )
    assert "Add new domain" in html
    assert '"addText": "Add new domain"' in domains.inline_formset_data()
    assert domains.has_add_permission and domains.has_delete_permission
    assert "acme-tools.com" in html
    assert "globex-secret.net" not in html


def test_owner_toggles_allow_all(client, world):
    acme = world["acme"]
    data = form_data(open_page(client, world["owner"], acme))
    data["allow_all_domains"] = "on"
    response = client.post(change_url(acme), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    acme.refresh_from_db()
    assert acme.allow_all_domains is True
    event = AuditEvent.objects.get(workspace=acme, kind=AuditKind.POLICY_CHANGED)
    assert event.actor == world["owner"]
    assert (event.before, event.after) == ({"allow_all": False}, {"allow_all": True})


def test_owner_adds_and_removes_domains_with_the_inline(client, world):
    acme = world["acme"]
    data = form_data(open_page(client, world["owner"], acme))
    add_inline_row(data, "allowed_domains", acme, pattern=" API.Bücher.example. ")
    data["allowed_domains-0-DELETE"] = "on"  # acme-tools.com
    response = client.post(change_url(acme), data)
    assert response.status_code == 302
    assert patterns(acme) == ["api.xn--bcher-kva.example"]
    assert patterns(world["globex"]) == ["globex-secret.net"]
    rows = AuditEvent.objects.filter(workspace=acme).values_list("kind", "target", "actor")
    assert sorted(rows) == [
        (AuditKind.DOMAIN_ADDED, "api.xn--bcher-kva.example", world["owner"].pk),
        (AuditKind.DOMAIN_REMOVED, "acme-tools.com", world["owner"].pk),
    ]


@pytest.mark.parametrize(
    "entry",
    [
        "https://example.com",
        "example.com/api",
        "example.com:8443",
        "10.0.0.1",
        "[::1]",
        "a..example.com",
        ("x" * 64) + ".example.com",
        "*",
        "com",
        "co.uk",
        "github.io",
        "exa mple.com",
    ],
)
def test_owner_gets_the_parser_error_for_a_bad_inline_entry(client, world, entry):
    acme = world["acme"]
    with pytest.raises(DomainError) as refused:
        parse_allowlist_entry(entry)
    data = form_data(open_page(client, world["owner"], acme))
    data["allow_all_domains"] = "on"
    add_inline_row(data, "allowed_domains", acme, pattern=entry)
    response = client.post(change_url(acme), data)
    assert response.status_code == 200
    assert escape(str(refused.value)) in response.content.decode()
    assert patterns(acme) == ["acme-tools.com"]
    acme.refresh_from_db()
    assert acme.allow_all_domains is False  # one bad row refuses the whole form
    assert not AuditEvent.objects.exists()


def test_inline_refuses_a_domain_already_listed(client, world):
    acme = world["acme"]
    data = form_data(open_page(client, world["owner"], acme))
    add_inline_row(data, "allowed_domains", acme, pattern="ACME-tools.com.")
    response = client.post(change_url(acme), data)
    assert response.status_code == 200
    assert "already on the allowlist" in response.content.decode()
    assert patterns(acme) == ["acme-tools.com"]


def test_bulk_paste_with_a_bad_line_saves_nothing(client, world):
    acme = world["acme"]
    data = form_data(open_page(client, world["owner"], acme))
    data["allow_all_domains"] = "on"
    data["bulk_domains"] = "good.example.com\n\nhttps://bad.example.com/x\nfine.example.org\ncom\n"
    response = client.post(change_url(acme), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["bulk_domains"]
    assert errors == [
        "line 3: https://bad.example.com/x: Enter a domain name such as example.com, not a URL.",
        f"line 5: com: {_refusal('com')}",
    ]
    assert escape(errors[0]) in response.content.decode()
    assert patterns(acme) == ["acme-tools.com"]
    acme.refresh_from_db()
    assert acme.allow_all_domains is False
    assert not AuditEvent.objects.exists()


def test_bulk_paste_saves_normalised_and_audited(client, world):
    acme = world["acme"]
    data = form_data(open_page(client, world["owner"], acme))
    data["bulk_domains"] = (
        "  Example.COM.\n*.corp.example\r\nexample.com\nbücher.example\nacme-tools.com\n"
    )
    response = client.post(change_url(acme), data)
    assert response.status_code == 302
    assert patterns(acme) == [
        "*.corp.example",
        "acme-tools.com",
        "example.com",
        "xn--bcher-kva.example",
    ]
    added = AuditEvent.objects.filter(workspace=acme, kind=AuditKind.DOMAIN_ADDED)
    assert sorted(added.values_list("target", flat=True)) == [
        "*.corp.example",
        "example.com",
        "xn--bcher-kva.example",
    ]
    assert {event.actor for event in added} == {world["owner"]}
    assert AuditEvent.objects.filter(workspace=acme).count() == 3


def test_a_refusal_by_the_service_rolls_everything_back(client, world):
    """The service has the last word (here: the allowlist's size limit); the admin says why."""
    acme = world["acme"]
    AllowedDomain.objects.bulk_create(
        AllowedDomain(workspace=acme, pattern=f"d{i}.example.com") for i in range(9_999)
    )
    client.force_login(world["owner"])
    data = {
        "name": "Acme Renamed",
        "slug": acme.slug,
        "bulk_domains": "one.example.net\ntwo.example.net",
        "allowed_domains-TOTAL_FORMS": "0",
        "allowed_domains-INITIAL_FORMS": "0",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "invitations-TOTAL_FORMS": "0",
        "invitations-INITIAL_FORMS": "0",
        "action_access": "all",
        "approvals": "ask_before_changes",
    }
    response = client.post(change_url(acme), data)
    assert response.status_code == 302
    # The message waits for the next page (not this one: it lists 10,000 rows).
    listing = client.get(reverse("admin:workspaces_workspace_changelist"))
    assert "at most 10,000 domains" in listing.content.decode()
    acme.refresh_from_db()
    assert acme.name == "Acme"
    assert AllowedDomain.objects.filter(workspace=acme).count() == 10_000
    assert not AuditEvent.objects.exists()


def _refusal(entry: str) -> str:
    with pytest.raises(DomainError) as refused:
        parse_allowlist_entry(entry)
    return str(refused.value)


# Admin, member, stranger ------------------------------------------------------------------------


def test_admin_reads_the_policy_but_cannot_edit_it(client, world):
    response = open_page(client, world["admin"], world["acme"])
    html = response.content.decode()
    form = response.context["adminform"].form
    assert "Action-domain policy" in html and "acme-tools.com" in html
    assert "allow_all_domains" not in form.fields and "bulk_domains" not in form.fields
    domains = next(
        i
        for i in response.context["inline_admin_formsets"]
        if i.formset.prefix == "allowed_domains"
    )
    assert not (
        domains.has_add_permission or domains.has_change_permission or domains.has_delete_permission
    )
    assert domains.formset.max_num == 0


def test_admin_post_changes_nothing_of_the_policy(client, world):
    acme = world["acme"]
    # The admin crafts what an owner's browser would send.
    owner_form = form_data(open_page(client, world["owner"], acme))
    data = form_data(open_page(client, world["admin"], acme))
    data.update({key: value for key, value in owner_form.items() if key.startswith("allowed_")})
    data["allow_all_domains"] = "on"
    data["bulk_domains"] = "evil.example.com"
    data["allowed_domains-0-DELETE"] = "on"
    data["allowed_domains-0-pattern"] = "changed.example.com"
    add_inline_row(data, "allowed_domains", acme, pattern="sneaky.example.com")
    data["name"] = "Acme Renamed"
    response = client.post(change_url(acme), data)
    assert response.status_code == 302
    acme.refresh_from_db()
    assert acme.name == "Acme Renamed"  # admins do manage the workspace itself
    assert acme.allow_all_domains is False
    assert patterns(acme) == ["acme-tools.com"]
    assert not AuditEvent.objects.exists()


def test_member_gets_no_admin(client, world):
    client.force_login(world["member"])
    response = client.get(change_url(world["acme"]))
    assert response.status_code in (302, 403)
    assert "acme-tools.com" not in response.content.decode()
    response = client.post(change_url(world["acme"]), {"allow_all_domains": "on"})
    assert response.status_code in (302, 403)
    assert Workspace.objects.get(pk=world["acme"].pk).allow_all_domains is False


def test_staff_owner_of_another_workspace_sees_nothing(client, world):
    client.force_login(world["owner_b"])
    response = client.get(change_url(world["acme"]))
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert response.url == reverse("admin:index")
    response = client.post(change_url(world["acme"]), {"name": "Mine", "allow_all_domains": "on"})
    assert response.status_code in (302, 403, 404)
    acme = Workspace.objects.get(pk=world["acme"].pk)
    assert (acme.name, acme.allow_all_domains) == ("Acme", False)
    for name in ("workspace", "alloweddomain", "auditevent", "membership"):
        page = client.get(reverse(f"admin:workspaces_{name}_changelist"))
        assert page.status_code == 200
        html = page.content.decode()
        assert "acme-tools.com" not in html and "Acme" not in html
    search = client.get(reverse("admin:workspaces_alloweddomain_changelist"), {"q": "acme"})
    assert list(search.context["cl"].result_list) == []


@pytest.mark.parametrize("plan", [Plan.TEAM, Plan.FREE, Plan.PRO])
def test_other_plans_show_no_policy_section(client, world, plan):
    acme = world["acme"]
    Workspace.objects.filter(pk=acme.pk).update(plan=plan)
    response = open_page(client, world["owner"], acme)
    html = response.content.decode()
    # No controls, but one line saying what holds: every domain is allowed (issue 17).
    assert f"Every domain is allowed: the {Plan(plan).label} plan lets actions call any" in html
    assert "needs the Edu or Enterprise plan" in html
    assert "Allow all domains" not in html
    assert "Add new domain" not in html and "policy-preview" not in html
    prefixes = [i.formset.prefix for i in response.context["inline_admin_formsets"]]
    assert prefixes == ["memberships", "invitations"]
    data = form_data(response)
    data.update({"allow_all_domains": "on", "bulk_domains": "new.example.com"})
    assert client.post(change_url(acme), data).status_code == 302
    acme.refresh_from_db()
    assert acme.allow_all_domains is False and patterns(acme) == ["acme-tools.com"]
    assert not AuditEvent.objects.exists()


def test_edu_plan_shows_the_policy(client, world):
    Workspace.objects.filter(pk=world["acme"].pk).update(plan=Plan.EDU)
    response = open_page(client, world["owner"], world["acme"])
    assert "bulk_domains" in response.context["adminform"].form.fields


# The blocked-actions preview --------------------------------------------------------------------


@pytest.fixture
def actions(world):
    acme, globex = world["acme"], world["globex"]
    helper = make_gpt(acme, name="Helper")
    travel = make_gpt(acme, name="Travel")
    make_action(helper, domain="api.acme-tools.com", operations=["a1"])
    make_action(helper, domain="blocked.example.org", operations=["a2"])
    make_action(
        travel,
        domain="acme-tools.com",
        operations=["t1"],
        auth_type="oauth",
        authorization_url="https://acme-tools.com/authorize",
        token_url="https://tokens.example.net/token",
    )
    make_action(make_gpt(globex, name="Globex bot"), domain="globex-only.example", operations=["g"])
    return {"helper": helper, "travel": travel}


def preview_rows(response) -> list[tuple[str, str]]:
    return [(row.gpt_name, row.domain) for row in response.context["policy_preview"].blocked]


def test_preview_lists_exactly_the_blocked_actions(client, world, actions):
    response = open_page(client, world["owner"], world["acme"])
    assert preview_rows(response) == [
        ("Helper", "blocked.example.org"),
        ("Travel", "acme-tools.com"),
    ]
    html = response.content.decode()
    assert "The domain blocked.example.org is not allowed by your workspace" in html
    assert "OAuth token URL: The domain tokens.example.net is not allowed" in html
    assert "globex-only.example" not in html
    assert escape(NO_DOMAINS_ALLOWED) not in html


def test_preview_with_an_empty_allowlist_says_no_domains_are_allowed(client, world, actions):
    assert NO_DOMAINS_ALLOWED == "No domains are allowed by your workspace's settings."
    AllowedDomain.objects.filter(workspace=world["acme"]).delete()
    response = open_page(client, world["admin"], world["acme"])  # admins see it too
    assert len(preview_rows(response)) == 3
    assert {row.reason for row in response.context["policy_preview"].blocked} == {
        NO_DOMAINS_ALLOWED
    }
    assert escape(NO_DOMAINS_ALLOWED) in response.content.decode()


def test_preview_with_allow_all_blocks_nothing(client, world, actions):
    Workspace.objects.filter(pk=world["acme"].pk).update(allow_all_domains=True)
    response = open_page(client, world["owner"], world["acme"])
    assert preview_rows(response) == []
    assert "no action of this workspace is blocked" in response.content.decode()


def test_preview_follows_a_policy_change_at_once(client, world, actions):
    acme = world["acme"]
    data = form_data(open_page(client, world["owner"], acme))
    data["bulk_domains"] = "blocked.example.org\ntokens.example.net"
    assert client.post(change_url(acme), data).status_code == 302
    assert preview_rows(client.get(change_url(acme))) == []


# Query counts -----------------------------------------------------------------------------------


def _grow(world, n: int) -> None:
    acme = world["acme"]
    AllowedDomain.objects.bulk_create(
        AllowedDomain(workspace=acme, pattern=f"d{i}.example.com", created_by=world["owner"])
        for i in range(n)
    )
    for i in range(n // 10):
        add_member(acme, role=Role.BUILDER)
        make_action(make_gpt(acme), domain=f"x{i}.example.net", operations=[f"op{i}"])
        make_workspace(f"Other {i}")


@pytest.mark.parametrize("size", [1, 60])
def test_change_page_queries_are_constant(client, world, django_assert_max_num_queries, size):
    _grow(world, size)
    client.force_login(world["owner"])
    with django_assert_max_num_queries(MAX_CHANGE_PAGE_QUERIES):
        response = client.get(change_url(world["acme"]))
    assert response.status_code == 200
    assert len(patterns(world["acme"])) == size + 1


@pytest.mark.parametrize("size", [1, 60])
def test_changelist_queries_are_constant(client, world, django_assert_max_num_queries, size):
    _grow(world, size)
    client.force_login(world["owner"])
    with django_assert_max_num_queries(MAX_CHANGELIST_QUERIES):
        response = client.get(reverse("admin:workspaces_workspace_changelist"))
    assert [w.name for w in response.context["cl"].result_list] == ["Acme"]


def test_superuser_reads_the_policy_of_any_workspace(client, world):
    response = open_page(client, make_user(superuser=True), world["globex"])
    assert "globex-secret.net" in response.content.decode()
    assert "bulk_domains" not in response.context["adminform"].form.fields
