"""Each product rule holds whichever door a write comes through: the REST API, the editor's
form posts, and the Django admin's change forms (Django's test client, which skips CSRF as the
admin's own tests do). No management command writes GPTs or memberships, so none is driven.

A refusal is a 4xx (API), a 400 page with the message (editor) or a form error on a 200 page
(admin), and nothing is written; where a write is allowed, the services' audit rows follow.
"""

import os

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms import BooleanField
from django.urls import reverse
from rest_framework.test import APIClient

from actions.models import Action, ConnectedAccount, Consent, Invocation, SchemaImport
from gpts.models import GPT, Visibility
from kernel.errors import RuleViolation
from tests.factories import add_member, make_action, make_gpt, make_user, make_workspace
from workspaces.models import AuditEvent, AuditKind, Membership, Role
from workspaces.services import membership_add, membership_remove, membership_set_role

pytestmark = pytest.mark.django_db

PRO_MODEL = "gpt-5-pro"


@pytest.fixture
def world():
    acme = make_workspace("Acme")
    globex = make_workspace("Globex")
    initech = make_workspace("Initech", allow_all_domains=False)  # empty allowlist: nothing
    owner = add_member(acme, role=Role.OWNER, staff=True, username="olivia")
    add_member(globex, owner, role=Role.ADMIN)
    add_member(initech, owner, role=Role.OWNER)
    admin_user = add_member(acme, role=Role.ADMIN, staff=True, username="adam")
    member = add_member(acme, role=Role.MEMBER, staff=True, username="mia")
    owner_b = add_member(globex, role=Role.OWNER, staff=True, username="boris")
    gpt = make_gpt(acme, created_by=owner, name="Helper")
    action = make_action(gpt, domain="api.acme-tools.com", operations=["getThing"])
    return {
        "acme": acme,
        "globex": globex,
        "initech": initech,
        "owner": owner,
        "admin": admin_user,
        "member": member,
        "owner_b": owner_b,
        "gpt": gpt,
        "action": action,
    }


# Driving each entry point -----------------------------------------------------------------------


def form_data(response) -> dict:
    """The POST a browser sends for an admin change page as rendered (nothing edited)."""
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


def admin_errors(response) -> str:
    """Every error the admin page shows: the form's, the inlines' and the page's messages."""
    texts = []
    if response.context and "adminform" in response.context:
        texts.extend(str(e) for e in response.context["adminform"].form.errors.values())
        for inline in response.context["inline_admin_formsets"]:
            texts.extend(str(e) for e in inline.formset.non_form_errors())
            texts.extend(str(e) for e in inline.formset.errors)
    return " ".join(texts)


def admin_post(client, user, url, edit):
    client.force_login(user)
    page = client.get(url)
    assert page.status_code == 200
    data = form_data(page)
    edit(data)
    return client.post(url, data)


def gpt_change_url(gpt):
    return reverse("admin:gpts_gpt_change", args=[gpt.pk])


def change_gpt(entry: str, client, user, gpt, **fields):
    """Ask `entry` to change the GPT's fields; return (refused?, the message shown)."""
    if entry == "api":
        api = APIClient()
        api.force_authenticate(user)
        body = {k: (v.slug if k == "workspace" else v) for k, v in fields.items()}
        response = api.patch(f"/api/v1/gpts/{gpt.pk}/", body, format="json")
        return response.status_code >= 400, response.json().get("detail", "")
    if entry == "editor":
        client.force_login(user)
        data = {f: getattr(gpt, f) for f in ("name", "description", "instructions", "model")}
        data["visibility"] = gpt.visibility
        data.update({k: (v.slug if k == "workspace" else v) for k, v in fields.items()})
        response = client.post(reverse("editor:gpt-detail", args=[gpt.pk]), data)
        assert response.status_code in (302, 400)
        return response.status_code == 400, response.content.decode()

    def edit(data):
        for key, value in fields.items():
            data[key] = value.pk if key == "workspace" else value

    response = admin_post(client, user, gpt_change_url(gpt), edit)
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200, admin_errors(response)


ENTRY_POINTS = ["api", "editor", "admin"]


# GPT rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_no_pro_model_on_a_gpt_with_actions(client, world, entry):
    refused, message = change_gpt(entry, client, world["owner"], world["gpt"], model=PRO_MODEL)
    assert refused
    assert "can not use actions" in message
    assert GPT.objects.get(pk=world["gpt"].pk).model != PRO_MODEL


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("visibility", [Visibility.LINK, Visibility.STORE])
def test_no_publishing_while_an_action_lacks_a_privacy_policy(client, world, entry, visibility):
    refused, message = change_gpt(
        entry, client, world["owner"], world["gpt"], visibility=visibility
    )
    assert refused
    assert "privacy policy URL" in message
    assert GPT.objects.get(pk=world["gpt"].pk).visibility == Visibility.ONLY_ME


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_publishing_with_privacy_policies_is_allowed(client, world, entry):
    Action.objects.filter(pk=world["action"].pk).update(
        privacy_policy_url="https://acme-tools.com/privacy"
    )
    refused, message = change_gpt(
        entry, client, world["owner"], world["gpt"], visibility=Visibility.LINK
    )
    assert not refused, message
    assert GPT.objects.get(pk=world["gpt"].pk).visibility == Visibility.LINK


# The editor has no apps input: the API and the admin are the doors for apps.
@pytest.mark.parametrize("entry", ["api", "admin"])
def test_no_apps_on_a_gpt_with_actions(client, world, entry):
    apps = ["github"] if entry == "api" else '["github"]'
    refused, message = change_gpt(entry, client, world["owner"], world["gpt"], apps=apps)
    assert refused
    assert "either apps or actions" in message
    assert GPT.objects.get(pk=world["gpt"].pk).apps == []


@pytest.mark.parametrize("entry", ["api", "editor"])
def test_api_and_editor_never_move_a_gpt(client, world, entry):
    # Neither has a workspace input: the field is ignored (the GPT's other fields still save).
    change_gpt(entry, client, world["owner"], world["gpt"], workspace=world["globex"])
    assert GPT.objects.get(pk=world["gpt"].pk).workspace == world["acme"]
    assert Action.objects.get(pk=world["action"].pk).workspace == world["acme"]


def test_admin_moves_a_gpt_with_its_actions_and_their_rows(client, world):
    gpt, action, user = world["gpt"], world["action"], make_user()
    SchemaImport.objects.create(
        action=action, gpt=gpt, workspace=world["acme"], url="https://a.test/s"
    )
    ConnectedAccount.objects.create(
        user=user, action=action, gpt=gpt, workspace=world["acme"], access_token="t"
    )
    Consent.objects.create(
        user=user, gpt=gpt, action=action, workspace=world["acme"], operation_id="getThing"
    )
    Invocation.objects.create(
        workspace=world["acme"], gpt=gpt, action=action, operation_id="getThing", status="ok"
    )
    refused, message = change_gpt("admin", client, world["owner"], gpt, workspace=world["globex"])
    assert not refused, message
    globex = world["globex"]
    assert GPT.objects.get(pk=gpt.pk).workspace == globex
    for model in (Action, SchemaImport, ConnectedAccount, Consent, Invocation):
        assert set(model.objects.values_list("workspace_id", flat=True)) == {globex.pk}, model
    assert AuditEvent.objects.filter(workspace=world["acme"], kind=AuditKind.GPT_MOVED_OUT).exists()
    moved_in = AuditEvent.objects.get(workspace=globex, kind=AuditKind.GPT_MOVED_IN)
    assert moved_in.after["actions"] == ["api.acme-tools.com"]
    # The old tenant's admin no longer reaches the action.
    client.force_login(world["admin"])
    page = client.get(reverse("admin:actions_action_change", args=[action.pk]))
    assert page.status_code == 302


def test_admin_refuses_a_move_the_target_policy_forbids(client, world):
    refused, message = change_gpt(
        "admin", client, world["owner"], world["gpt"], workspace=world["initech"]
    )
    assert refused
    assert "api.acme-tools.com" in message
    assert Action.objects.get(pk=world["action"].pk).workspace == world["acme"]


def test_admin_of_one_workspace_cannot_move_a_gpt_to_another(client, world):
    refused, message = change_gpt(
        "admin", client, world["admin"], world["gpt"], workspace=world["globex"]
    )
    assert refused
    assert "valid choice" in message  # globex is not offered to acme's admin at all
    assert GPT.objects.get(pk=world["gpt"].pk).workspace == world["acme"]


@pytest.mark.parametrize("entry", ["api", "admin"])
def test_deleting_a_gpt_is_audited(client, world, entry):
    gpt = world["gpt"]
    if entry == "api":
        api = APIClient()
        api.force_authenticate(world["owner"])
        assert api.delete(f"/api/v1/gpts/{gpt.pk}/").status_code == 204
    else:
        client.force_login(world["owner"])
        url = reverse("admin:gpts_gpt_delete", args=[gpt.pk])
        assert client.post(url, {"post": "yes"}).status_code == 302
    assert not GPT.objects.filter(pk=gpt.pk).exists()
    event = AuditEvent.objects.get(workspace=world["acme"], kind=AuditKind.GPT_DELETED)
    assert event.actor == world["owner"]
    assert event.before["actions"] == ["api.acme-tools.com"]


@pytest.mark.parametrize("entry", ["api", "editor", "admin", "admin_inline"])
def test_deleting_an_action_is_audited(client, world, entry):
    action = world["action"]
    if entry == "api":
        api = APIClient()
        api.force_authenticate(world["owner"])
        assert api.delete(f"/api/v1/actions/{action.pk}/").status_code == 204
    elif entry == "editor":
        client.force_login(world["owner"])
        client.post(reverse("editor:action-delete", args=[action.pk]))
    elif entry == "admin":
        client.force_login(world["owner"])
        url = reverse("admin:actions_action_delete", args=[action.pk])
        assert client.post(url, {"post": "yes"}).status_code == 302
    else:

        def tick_delete(data):
            data["actions-0-DELETE"] = "on"

        response = admin_post(client, world["owner"], gpt_change_url(world["gpt"]), tick_delete)
        assert response.status_code == 302, admin_errors(response)
    assert not Action.objects.filter(pk=action.pk).exists()
    event = AuditEvent.objects.get(workspace=world["acme"], kind=AuditKind.ACTION_DELETED)
    assert event.actor == world["owner"]
    assert event.before["operations"] == ["getThing"]


# Action rules ------------------------------------------------------------------------------------


def save_action_without_schema(entry: str, client, user, action):
    """Ask `entry` to save `action` (one without a schema, as failed imports used to leave)
    with a privacy policy URL and no schema, and to create a new action of its GPT without
    one; return (both refused?, the messages shown)."""
    privacy = "https://acme-tools.com/privacy"
    if entry == "api":
        api = APIClient()
        api.force_authenticate(user)
        created = api.post(
            f"/api/v1/gpts/{action.gpt_id}/actions/", {"schema": " \n "}, format="json"
        )
        changed = api.patch(
            f"/api/v1/actions/{action.pk}/", {"privacy_policy_url": privacy}, format="json"
        )
        answers = (created, changed)
        return (
            all(a.status_code == 400 for a in answers),
            " ".join(a.json()["detail"] for a in answers),
        )
    if entry == "editor":
        client.force_login(user)
        form = {"schema": " \n ", "auth_type": "none", "privacy_policy_url": privacy}
        created = client.post(reverse("editor:action-new", args=[action.gpt_id]), form)
        changed = client.post(reverse("editor:action-detail", args=[action.pk]), form)
        answers = (created, changed)
        return (
            all(a.status_code == 400 for a in answers),
            " ".join(a.content.decode() for a in answers),
        )

    def edit(data):
        data["privacy_policy_url"] = privacy

    url = reverse("admin:actions_action_change", args=[action.pk])
    response = admin_post(client, user, url, edit)
    return response.status_code == 200, admin_errors(response)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_no_action_is_saved_without_a_schema(client, world, entry):
    action = world["action"]
    assert action.schema == ""
    refused, message = save_action_without_schema(entry, client, world["owner"], action)
    assert refused
    assert "Add a schema before saving" in message
    assert list(Action.objects.values_list("pk", "privacy_policy_url")) == [(action.pk, "")]
    assert not AuditEvent.objects.exists()


# Membership rules --------------------------------------------------------------------------------


def workspace_url(workspace):
    return reverse("admin:workspaces_workspace_change", args=[workspace.pk])


def member_row(data: dict, user) -> int:
    for key, value in data.items():
        if key.startswith("memberships-") and key.endswith("-user") and str(value) == str(user.pk):
            return int(key.split("-")[1])
    raise AssertionError(f"{user} has no row")


def change_role(entry: str, client, actor, workspace, user, role: str | None):
    """Set `user`'s role (None: remove them) through `entry`; return (refused?, message)."""
    membership = Membership.objects.get(workspace=workspace, user=user)
    if entry == "service":
        try:
            if role is None:
                membership_remove(membership=membership, actor=actor)
            else:
                membership_set_role(membership=membership, role=role, actor=actor)
        except RuleViolation as exc:
            return True, exc.detail
        return False, ""
    client.force_login(actor)
    if entry == "admin_inline":

        def edit(data):
            row = member_row(data, user)
            if role is None:
                data[f"memberships-{row}-DELETE"] = "on"
            else:
                data[f"memberships-{row}-role"] = role

        response = admin_post(client, actor, workspace_url(workspace), edit)
        return response.status_code == 200, admin_errors(response)
    url = reverse("admin:workspaces_membership_change", args=[membership.pk])
    if role is None:
        response = client.post(url.replace("/change/", "/delete/"), {"post": "yes"}, follow=True)
        still_there = Membership.objects.filter(pk=membership.pk).exists()
        return still_there, response.content.decode()

    def set_role(data):
        data["role"] = role

    response = admin_post(client, actor, url, set_role)
    return response.status_code == 200, admin_errors(response)


MEMBER_ENTRY_POINTS = ["service", "admin_inline", "admin_membership"]


@pytest.mark.parametrize("entry", MEMBER_ENTRY_POINTS)
@pytest.mark.parametrize("role", [Role.ADMIN, None], ids=["demote", "remove"])
def test_the_last_owner_stays(client, world, entry, role):
    refused, message = change_role(
        entry, client, world["owner"], world["acme"], world["owner"], role
    )
    assert refused
    assert "at least one owner" in message
    assert Membership.objects.get(workspace=world["acme"], user=world["owner"]).role == Role.OWNER


@pytest.mark.parametrize("entry", MEMBER_ENTRY_POINTS)
def test_superuser_cannot_remove_the_last_owner_either(client, world, entry):
    operator = make_user(superuser=True)
    refused, message = change_role(entry, client, operator, world["acme"], world["owner"], None)
    assert refused
    assert "at least one owner" in message


@pytest.mark.parametrize("entry", MEMBER_ENTRY_POINTS)
def test_an_admin_cannot_make_someone_owner(client, world, entry):
    refused, message = change_role(
        entry, client, world["admin"], world["acme"], world["member"], Role.OWNER
    )
    assert refused
    assert "Only an owner can make someone an owner." in message
    assert Membership.objects.get(workspace=world["acme"], user=world["member"]).role == Role.MEMBER


@pytest.mark.parametrize("entry", MEMBER_ENTRY_POINTS)
def test_an_admin_cannot_demote_the_owner(client, world, entry):
    add_member(world["acme"], role=Role.OWNER)  # not the last owner: the owner rule refuses
    refused, message = change_role(
        entry, client, world["admin"], world["acme"], world["owner"], Role.MEMBER
    )
    assert refused
    assert "Only an owner can change or remove an owner." in message


@pytest.mark.parametrize("entry", MEMBER_ENTRY_POINTS)
@pytest.mark.parametrize("actor", ["owner", "superuser"])
def test_owners_and_the_operator_make_owners(client, world, entry, actor):
    user = world["owner"] if actor == "owner" else make_user(superuser=True)
    refused, message = change_role(entry, client, user, world["acme"], world["member"], Role.OWNER)
    assert not refused, message
    assert Membership.objects.get(workspace=world["acme"], user=world["member"]).role == Role.OWNER
    event = AuditEvent.objects.get(workspace=world["acme"], kind=AuditKind.ROLE_CHANGED)
    assert (event.actor, event.after) == (user, {"role": "owner"})


def test_admin_adding_an_owner_is_refused_in_the_service_and_the_add_form(client, world):
    # A member of another workspace adam administers: a user the add form offers him.
    elsewhere = make_workspace("Elsewhere")
    add_member(elsewhere, world["admin"], role=Role.ADMIN)
    newcomer = add_member(elsewhere, role=Role.MEMBER)
    with pytest.raises(RuleViolation, match="Only an owner"):
        membership_add(
            workspace=world["acme"], user=newcomer, role=Role.OWNER, actor=world["admin"]
        )
    client.force_login(world["admin"])
    response = client.post(
        reverse("admin:workspaces_membership_add"),
        {"workspace": world["acme"].pk, "user": newcomer.pk, "role": Role.OWNER},
    )
    assert response.status_code == 200
    assert "Only an owner can make someone an owner." in admin_errors(response)
    assert not Membership.objects.filter(user=newcomer, workspace=world["acme"]).exists()


def test_members_do_not_manage_members(world):
    with pytest.raises(RuleViolation, match="Only owners and admins"):
        membership_add(
            workspace=world["acme"], user=make_user(), role=Role.MEMBER, actor=world["member"]
        )


def test_handing_over_ownership_in_one_save_works(client, world):
    """Promote the admin and remove yourself in one post: the plan keeps an owner throughout."""
    actor = world["owner"]

    def hand_over(data):
        data[f"memberships-{member_row(data, world['admin'])}-role"] = Role.OWNER
        data[f"memberships-{member_row(data, actor)}-DELETE"] = "on"

    response = admin_post(client, actor, workspace_url(world["acme"]), hand_over)
    assert response.status_code == 302, admin_errors(response)
    owners = Membership.objects.filter(workspace=world["acme"], role=Role.OWNER)
    assert list(owners.values_list("user", flat=True)) == [world["admin"].pk]


# The database keeps every row in its GPT's workspace (PostgreSQL) --------------------------------


# In CI the suite runs on PostgreSQL: there these tests must run, never skip.
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql" and not os.environ.get("CI"),
    reason="composite foreign keys are PostgreSQL-only",
)


@postgres_only
@pytest.mark.parametrize(
    "model", [Action, SchemaImport, ConnectedAccount, Consent, Invocation], ids=lambda m: m.__name__
)
def test_a_raw_update_separating_a_row_from_its_gpt_is_refused(world, model):
    gpt, action, user = world["gpt"], world["action"], make_user()
    rows = {
        Action: lambda: action,
        SchemaImport: lambda: SchemaImport.objects.create(
            action=action, gpt=gpt, workspace=world["acme"], url="https://a.test/s"
        ),
        ConnectedAccount: lambda: ConnectedAccount.objects.create(
            user=user, action=action, gpt=gpt, workspace=world["acme"], access_token="t"
        ),
        Consent: lambda: Consent.objects.create(
            user=user, gpt=gpt, action=action, workspace=world["acme"], operation_id="getThing"
        ),
        Invocation: lambda: Invocation.objects.create(
            workspace=world["acme"], gpt=gpt, action=action, operation_id="getThing", status="ok"
        ),
    }
    row = rows[model]()
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=row.pk).update(workspace=world["globex"])


@postgres_only
def test_a_raw_update_of_the_gpt_carries_its_rows_along(world):
    SchemaImport.objects.create(
        action=world["action"], gpt=world["gpt"], workspace=world["acme"], url="https://a.test/s"
    )
    GPT.objects.filter(pk=world["gpt"].pk).update(workspace=world["globex"])
    assert Action.objects.get(pk=world["action"].pk).workspace == world["globex"]
    assert SchemaImport.objects.get().workspace == world["globex"]


@postgres_only
def test_an_import_into_a_new_action_is_held_in_its_gpts_workspace(world):
    job = SchemaImport.objects.create(
        gpt=world["gpt"], workspace=world["acme"], url="https://a.test/s"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        SchemaImport.objects.filter(pk=job.pk).update(workspace=world["globex"])
    GPT.objects.filter(pk=world["gpt"].pk).update(workspace=world["globex"])
    assert SchemaImport.objects.get(pk=job.pk).workspace == world["globex"]
