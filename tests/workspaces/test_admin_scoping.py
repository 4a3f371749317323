"""A staff user who administers workspace A sees only A's objects, everywhere in the admin."""

import pytest
from django.urls import reverse

from actions.models import Action, Operation
from gpts.models import GPT
from tests.factories import add_member, make_action, make_gpt, make_user, make_workspace
from workspaces.models import AllowedDomain, AuditEvent, Membership, Role, Workspace

pytestmark = pytest.mark.django_db

SCOPED_MODELS = [Workspace, Membership, AllowedDomain, AuditEvent, GPT, Action, Operation]


@pytest.fixture
def two_workspaces():
    acme, globex = make_workspace("Acme"), make_workspace("Globex")
    admin_a = add_member(acme, role=Role.ADMIN, staff=True)
    owner_b = add_member(globex, role=Role.OWNER, staff=True)
    for workspace, owner in ((acme, admin_a), (globex, owner_b)):
        gpt = make_gpt(workspace, name=f"{workspace.name} helper", created_by=owner)
        make_action(
            gpt, domain=f"api.{workspace.slug}.example", operations=[f"op_{workspace.slug}"]
        )
        AllowedDomain.objects.create(workspace=workspace, pattern=f"{workspace.slug}.example")
        AuditEvent.objects.create(
            workspace=workspace,
            actor=owner,
            kind="policy_changed",
            target=f"{workspace.name} policy",
        )
    return {"acme": acme, "globex": globex, "admin_a": admin_a, "owner_b": owner_b}


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_changelists_show_no_row_of_another_workspace(client, two_workspaces, model):
    client.force_login(two_workspaces["admin_a"])
    response = client.get(changelist(model))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    path = {"Workspace": "pk", "Operation": "action__workspace"}.get(model.__name__, "workspace")
    theirs = set(
        model.objects.filter(
            **{path: two_workspaces["globex"]}
            if path != "pk"
            else {"pk": two_workspaces["globex"].pk}
        ).values_list("pk", flat=True)
    )
    assert theirs and shown and not (shown & theirs)


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda m: m.__name__)
def test_object_urls_of_another_workspace_are_not_found(client, two_workspaces, model):
    client.force_login(two_workspaces["admin_a"])
    globex = two_workspaces["globex"]
    obj = (
        globex
        if model is Workspace
        else model.objects.filter(
            **({"action__workspace": globex} if model is Operation else {"workspace": globex})
        ).first()
    )
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])
    response = client.get(url)
    # The admin redirects to its index with "doesn't exist" for objects outside the queryset.
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert response.url == reverse("admin:index")
    assert obj.__class__.objects.filter(pk=obj.pk).exists()
    delete = client.post(url.replace("/change/", "/delete/"), {"post": "yes"})
    assert delete.status_code in (302, 403, 404)
    assert obj.__class__.objects.filter(pk=obj.pk).exists()


def test_autocomplete_returns_only_own_workspace(client, two_workspaces):
    client.force_login(two_workspaces["admin_a"])
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "gpts",
            "model_name": "gpt",
            "field_name": "workspace",
            "term": "",
        },
    )
    assert response.status_code == 200
    names = {row["text"] for row in response.json()["results"]}
    assert names == {"Acme"}


def test_foreign_key_choices_are_scoped(client, two_workspaces):
    client.force_login(two_workspaces["admin_a"])
    response = client.get(reverse("admin:gpts_gpt_add"))
    assert response.status_code == 200
    choices = {str(w) for w in response.context["adminform"].form.fields["workspace"].queryset}
    assert choices == {"Acme"}


def test_members_and_non_staff_get_no_admin(client, two_workspaces):
    member = add_member(two_workspaces["acme"], role=Role.MEMBER, staff=True)
    client.force_login(member)
    assert client.get(changelist(GPT)).status_code in (302, 403)
    outsider = make_user(staff=False)
    client.force_login(outsider)
    assert client.get(changelist(GPT)).status_code == 302


def test_superuser_sees_everything(client, two_workspaces):
    client.force_login(make_user(superuser=True))
    response = client.get(changelist(GPT))
    assert len(response.context["cl"].result_list) == 2


def test_secrets_are_masked_in_the_action_form(client, two_workspaces):
    action = Action.objects.get(workspace=two_workspaces["acme"])
    action.auth_type, action.api_key = "api_key", "sk-live-topsecret-9fA2"
    action.save()
    client.force_login(two_workspaces["admin_a"])
    html = client.get(reverse("admin:actions_action_change", args=[action.pk])).content.decode()
    assert "topsecret" not in html
    assert "sk-…9fA2" in html


def test_admin_auth_edits_go_through_the_service_rules(client, two_workspaces):
    """The admin can not save what the API would refuse, and its changes are audited."""
    action = Action.objects.get(workspace=two_workspaces["acme"])
    client.force_login(two_workspaces["admin_a"])
    url = reverse("admin:actions_action_change", args=[action.pk])
    form = {
        "privacy_policy_url": "",
        "auth_type": "api_key",
        "api_key": "",
        "api_key_auth_type": "custom",
        "custom_header": "Bad Header",
        "token_exchange_method": "default_post",
        "operations-TOTAL_FORMS": "0",
        "operations-INITIAL_FORMS": "0",
    }
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "valid header name" in refused.content.decode()
    action.refresh_from_db()
    assert action.auth_type == "none"

    form.update({"api_key": "sk-admin-set-1234", "custom_header": "X-Api-Key"})
    saved = client.post(url, form)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    action.refresh_from_db()
    assert (action.auth_type, action.api_key, action.custom_header) == (
        "api_key", "sk-admin-set-1234", "X-Api-Key")
    event = AuditEvent.objects.filter(kind="action_auth_changed").latest("id")
    assert event.actor == two_workspaces["admin_a"]
    assert "sk-admin-set-1234" not in str(event.after)
