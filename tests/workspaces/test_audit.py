"""The audit log: a row for every policy, allowlist, membership and action-auth change, written by
the services the admin calls, never holding a secret; read-only and scoped in the admin."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from actions.services import action_update
from tests.api.conftest import weather_schema
from tests.factories import add_member, make_action, make_gpt, make_user, make_workspace
from tests.workspaces.test_admin_policy import add_inline_row, change_url, form_data, open_page
from tests.world import people
from workspaces.models import AllowedDomain, AuditEvent, AuditKind, Membership, Plan, Role

pytestmark = pytest.mark.django_db

MAX_AUDIT_CHANGELIST_QUERIES = 10


@pytest.fixture
def world():
    world = people(  # the shared cast (tests/world.py), with names the audit rows show
        plan_b=Plan.ENTERPRISE,
        allow_all_domains=False,
        staff=True,
        names={"owner": "olivia", "admin": "adam", "builder": "bea", "stranger": "boris"},
        only=("owner", "admin", "builder"),
    )
    AllowedDomain.objects.create(workspace=world["acme"], pattern="acme-tools.com")
    return world


def only_event(workspace, kind) -> AuditEvent:
    events = list(AuditEvent.objects.filter(workspace=workspace, kind=kind))
    assert len(events) == 1, events
    return events[0]


def member_row(data: dict, user) -> int:
    """The index of `user`'s row in the memberships inline of a rendered form."""
    for key, value in data.items():
        if key.startswith("memberships-") and key.endswith("-user") and str(value) == str(user.pk):
            return int(key.split("-")[1])
    raise AssertionError(f"{user} has no row")


def post_members(client, user, workspace, edit) -> object:
    data = form_data(open_page(client, user, workspace))
    edit(data)
    return client.post(change_url(workspace), data)


# One row per kind, with who, what, before and after ---------------------------------------------


def test_policy_change_is_recorded(client, world):
    started = timezone.now()
    data = form_data(open_page(client, world["owner"], world["acme"]))
    data["allow_all_domains"] = "on"
    assert client.post(change_url(world["acme"]), data).status_code == 302
    event = only_event(world["acme"], AuditKind.POLICY_CHANGED)
    assert event.actor == world["owner"]
    assert event.target == "Allow all domains for GPT Actions"
    assert (event.before, event.after) == ({"allow_all": False}, {"allow_all": True})
    assert started <= event.created_at <= timezone.now()


def test_allowlist_additions_and_removals_are_recorded(client, world):
    acme = world["acme"]
    data = form_data(open_page(client, world["owner"], acme))
    data["allowed_domains-0-DELETE"] = "on"
    add_inline_row(data, "allowed_domains", acme, pattern="*.Partner.example")
    assert client.post(change_url(acme), data).status_code == 302
    added = only_event(acme, AuditKind.DOMAIN_ADDED)
    removed = only_event(acme, AuditKind.DOMAIN_REMOVED)
    assert (added.actor, added.target, added.before, added.after) == (
        world["owner"],
        "*.partner.example",
        None,
        {"pattern": "*.partner.example"},
    )
    assert (removed.actor, removed.target, removed.before, removed.after) == (
        world["owner"],
        "acme-tools.com",
        {"pattern": "acme-tools.com"},
        None,
    )


def test_role_change_is_recorded(client, world):
    def edit(data):
        data[f"memberships-{member_row(data, world['builder'])}-role"] = Role.ADMIN

    assert post_members(client, world["admin"], world["acme"], edit).status_code == 302
    event = only_event(world["acme"], AuditKind.ROLE_CHANGED)
    assert (event.actor, event.target, event.before, event.after) == (
        world["admin"],
        "bea",
        {"role": "builder"},
        {"role": "admin"},
    )


def test_member_addition_and_removal_are_recorded(client, world):
    acme = world["acme"]
    # A user the owner already manages elsewhere, so the scoped user choices offer them.
    labs = make_workspace("Acme Labs")
    add_member(labs, world["owner"], role=Role.OWNER)
    newcomer = add_member(labs, role=Role.MEMBER, username="nina")

    def edit(data):
        data[f"memberships-{member_row(data, world['builder'])}-DELETE"] = "on"
        add_inline_row(data, "memberships", acme, user=str(newcomer.pk), role=Role.BUILDER)

    assert post_members(client, world["owner"], acme, edit).status_code == 302
    added = only_event(acme, AuditKind.MEMBER_ADDED)
    removed = only_event(acme, AuditKind.MEMBER_REMOVED)
    assert (added.actor, added.target, added.before, added.after) == (
        world["owner"],
        "nina",
        None,
        {"role": "builder"},
    )
    assert (removed.actor, removed.target, removed.before, removed.after) == (
        world["owner"],
        "bea",
        {"role": "builder"},
        None,
    )
    assert set(acme.memberships.values_list("user__username", flat=True)) == {
        "olivia",
        "adam",
        "nina",
    }


def test_action_auth_change_is_recorded_without_secrets(world):
    action = make_action(
        make_gpt(world["acme"], name="Helper"),
        domain="api.acme-tools.com",
        schema=weather_schema("api.acme-tools.com"),  # an action saves only with a schema
    )
    secret, rotated = "sk-live-TOPSECRET-4242", "sk-live-ROTATED-9999"
    action_update(
        action=action,
        acting_user=world["builder"],
        auth={
            "type": "api_key",
            "auth_type": "custom",
            "custom_header": "X-Key",
            "api_key": secret,
        },
    )
    action_update(
        action=action,
        acting_user=world["owner"],
        auth={"type": "api_key", "auth_type": "bearer", "api_key": rotated},
    )
    first, second = AuditEvent.objects.filter(
        workspace=world["acme"], kind=AuditKind.ACTION_AUTH_CHANGED
    ).order_by("id")
    assert first.actor == world["builder"] and second.actor == world["owner"]
    assert "api.acme-tools.com" in first.target
    assert (first.before["auth_type"], first.after["auth_type"]) == ("none", "api_key")
    assert (first.before["api_key"], first.after["api_key"]) == ("(empty)", "(set)")
    assert first.after["custom_header"] == "X-Key"
    assert (second.before["api_key_auth_type"], second.after["api_key_auth_type"]) == (
        "custom",
        "bearer",
    )
    stored = json.dumps([first.before, first.after, second.before, second.after])
    assert secret not in stored and rotated not in stored and "TOPSECRET" not in stored
    assert not AuditEvent.objects.filter(workspace=world["globex"]).exists()


def test_unchanged_auth_writes_no_row(world):
    action = make_action(
        make_gpt(world["acme"]),
        domain="api.acme-tools.com",
        schema=weather_schema("api.acme-tools.com"),
    )
    action_update(action=action, acting_user=world["owner"], auth={"type": "none"})
    assert not AuditEvent.objects.filter(kind=AuditKind.ACTION_AUTH_CHANGED).exists()


# Only owners manage owners ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "change", "message"),
    [
        ("builder", Role.OWNER, "Only an owner can make someone an owner."),
        ("owner", Role.MEMBER, "Only an owner can change or remove an owner."),
        ("owner", "DELETE", "Only an owner can change or remove an owner."),
    ],
)
def test_admin_cannot_touch_ownership(client, world, who, change, message):
    def edit(data):
        row = member_row(data, world[who])
        if change == "DELETE":
            data[f"memberships-{row}-DELETE"] = "on"
        else:
            data[f"memberships-{row}-role"] = change

    response = post_members(client, world["admin"], world["acme"], edit)
    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    roles = dict(world["acme"].memberships.values_list("user__username", "role"))
    assert roles == {"olivia": "owner", "adam": "admin", "bea": "builder"}
    assert not AuditEvent.objects.exists()


def test_admin_cannot_add_an_owner(client, world):
    labs = make_workspace("Acme Labs")
    add_member(labs, world["admin"], role=Role.ADMIN)
    friend = add_member(labs, username="frank")

    def edit(data):
        add_inline_row(data, "memberships", world["acme"], user=str(friend.pk), role=Role.OWNER)

    response = post_members(client, world["admin"], world["acme"], edit)
    assert response.status_code == 200
    assert "Only an owner can make someone an owner." in response.content.decode()
    assert not Membership.objects.filter(workspace=world["acme"], user=friend).exists()


def test_owner_promotes_and_the_last_owner_stays(client, world):
    acme = world["acme"]

    def promote(data):
        data[f"memberships-{member_row(data, world['admin'])}-role"] = Role.OWNER

    assert post_members(client, world["owner"], acme, promote).status_code == 302
    assert only_event(acme, AuditKind.ROLE_CHANGED).after == {"role": "owner"}

    def demote_everyone(data):
        for user in (world["owner"], world["admin"]):
            data[f"memberships-{member_row(data, user)}-role"] = Role.MEMBER

    response = post_members(client, world["owner"], acme, demote_everyone)
    assert response.status_code == 200
    assert "A workspace needs at least one owner." in response.content.decode()
    assert acme.memberships.filter(role=Role.OWNER).count() == 2


def test_member_rows_cannot_swap_users(client, world):
    labs = make_workspace("Acme Labs")
    add_member(labs, world["owner"], role=Role.OWNER)
    stranger = add_member(labs, username="sam")

    def edit(data):
        data[f"memberships-{member_row(data, world['builder'])}-user"] = str(stranger.pk)

    response = post_members(client, world["owner"], world["acme"], edit)
    assert response.status_code == 200
    assert "remove the row and add a new one" in response.content.decode()


def test_membership_admin_keeps_the_owner_rules(client, world):
    owner_membership = Membership.objects.get(user=world["owner"])
    builder_membership = Membership.objects.get(user=world["builder"])
    client.force_login(world["admin"])
    url = reverse("admin:workspaces_membership_change", args=[owner_membership.pk])
    response = client.post(url, {"role": Role.MEMBER})
    assert response.status_code == 200
    assert "Only an owner can change or remove an owner." in response.content.decode()
    delete = reverse("admin:workspaces_membership_delete", args=[owner_membership.pk])
    refused = client.post(delete, {"post": "yes"}, follow=True)
    assert "Only an owner can change or remove an owner." in refused.content.decode()
    assert Membership.objects.filter(pk=owner_membership.pk).exists()
    bulk = client.post(
        reverse("admin:workspaces_membership_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [owner_membership.pk, builder_membership.pk],
            "post": "yes",
        },
    )
    assert bulk.status_code == 403
    assert Membership.objects.filter(workspace=world["acme"]).count() == 3
    assert not AuditEvent.objects.exists()
    # The same admin may change a builder, and it is recorded.
    url = reverse("admin:workspaces_membership_change", args=[builder_membership.pk])
    assert client.post(url, {"role": Role.MEMBER}).status_code == 302
    event = only_event(world["acme"], AuditKind.ROLE_CHANGED)
    assert (event.actor, event.before, event.after) == (
        world["admin"],
        {"role": "builder"},
        {"role": "member"},
    )
    assert (
        client.post(
            reverse("admin:workspaces_membership_delete", args=[builder_membership.pk]),
            {"post": "yes"},
        ).status_code
        == 302
    )
    assert only_event(world["acme"], AuditKind.MEMBER_REMOVED).target == "bea"


# The audit log in the admin ---------------------------------------------------------------------


@pytest.fixture
def events(world):
    acme, globex = world["acme"], world["globex"]
    for kind, actor in [
        (AuditKind.POLICY_CHANGED, world["owner"]),
        (AuditKind.DOMAIN_ADDED, world["owner"]),
        (AuditKind.ROLE_CHANGED, world["admin"]),
    ]:
        AuditEvent.objects.create(workspace=acme, actor=actor, kind=kind, target=f"acme {kind}")
    AuditEvent.objects.create(
        workspace=globex, actor=world["owner_b"], kind=AuditKind.POLICY_CHANGED, target="globex"
    )
    return AuditEvent.objects.filter(workspace=acme)


def audit_list(client, **params):
    response = client.get(reverse("admin:workspaces_auditevent_changelist"), params)
    assert response.status_code == 200
    return response


def shown(response) -> set[str]:
    return {event.target for event in response.context["cl"].result_list}


def test_audit_log_cannot_be_added_edited_or_deleted(client, world, events):
    event = events.get(kind=AuditKind.POLICY_CHANGED)
    client.force_login(world["owner"])
    change = reverse("admin:workspaces_auditevent_change", args=[event.pk])
    assert client.get(reverse("admin:workspaces_auditevent_add")).status_code == 403
    page = client.get(change)
    assert page.status_code == 200  # readable
    assert 'name="_save"' not in page.content.decode()
    assert client.post(change, {"target": "forged", "kind": "member_added"}).status_code == 403
    assert client.post(change.replace("/change/", "/delete/"), {"post": "yes"}).status_code == 403
    assert audit_list(client).context["action_form"] is None  # no bulk actions, no delete
    bulk = client.post(
        reverse("admin:workspaces_auditevent_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert bulk.status_code in (200, 302, 403)
    event.refresh_from_db()
    assert (event.target, event.kind) == ("acme policy_changed", AuditKind.POLICY_CHANGED)
    assert AuditEvent.objects.count() == 4


def test_superuser_cannot_edit_the_audit_log_either(client, world, events):
    event = events.get(kind=AuditKind.POLICY_CHANGED)
    client.force_login(make_user(superuser=True))
    change = reverse("admin:workspaces_auditevent_change", args=[event.pk])
    assert client.post(change, {"target": "forged"}).status_code == 403
    assert client.post(change.replace("/change/", "/delete/"), {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, target="acme policy_changed").exists()


def test_audit_filters_work_and_are_scoped(client, world, events):
    acme, globex = world["acme"], world["globex"]
    labs = make_workspace("Acme Labs")
    add_member(labs, world["owner"], role=Role.OWNER)
    AuditEvent.objects.create(
        workspace=labs, actor=world["owner"], kind=AuditKind.MEMBER_ADDED, target="labs"
    )
    client.force_login(world["owner"])
    acme_rows = {"acme policy_changed", "acme domain_added", "acme role_changed"}
    assert shown(audit_list(client)) == acme_rows | {"labs"}
    assert shown(audit_list(client, workspace__id__exact=labs.pk)) == {"labs"}
    assert shown(audit_list(client, workspace__id__exact=acme.pk)) == acme_rows
    assert shown(audit_list(client, kind__exact=AuditKind.ROLE_CHANGED)) == {"acme role_changed"}
    assert shown(audit_list(client, actor__id__exact=world["admin"].pk)) == {"acme role_changed"}
    assert shown(
        audit_list(client, actor__id__exact=world["owner"].pk, workspace__id__exact=acme.pk)
    ) == {"acme policy_changed", "acme domain_added"}
    # Asking for the other workspace's rows, or its owner's, gives none of them.
    assert shown(audit_list(client, workspace__id__exact=globex.pk)) <= acme_rows | {"labs"}
    assert shown(audit_list(client, actor__id__exact=world["owner_b"].pk)) == set()
    assert shown(audit_list(client, q="globex")) == set()
    specs = {spec.title: spec for spec in audit_list(client).context["cl"].filter_specs}
    assert {label for _pk, label in specs["actor"].lookup_choices} == {"olivia", "adam"}
    assert {label for _pk, label in specs["workspace"].lookup_choices} == {"Acme", "Acme Labs"}
    assert {value for value, _label in specs["kind"].field.flatchoices} == set(AuditKind.values)


def test_staff_of_another_workspace_sees_none_of_the_log(client, world, events):
    client.force_login(world["owner_b"])
    assert shown(audit_list(client)) == {"globex"}
    page = client.get(reverse("admin:workspaces_auditevent_change", args=[events.first().pk]))
    assert page.status_code in (302, 404)


def test_audit_changelist_queries_are_constant(client, world, django_assert_max_num_queries):
    AuditEvent.objects.bulk_create(
        AuditEvent(
            workspace=world["acme"],
            actor=add_member(world["acme"]) if i % 10 == 0 else world["owner"],
            kind=AuditKind.DOMAIN_ADDED,
            target=f"d{i}.example.com",
            after={"pattern": f"d{i}.example.com"},
        )
        for i in range(80)
    )
    client.force_login(world["owner"])
    with django_assert_max_num_queries(MAX_AUDIT_CHANGELIST_QUERIES):
        response = audit_list(client)
    assert len(response.context["cl"].result_list) == 80
