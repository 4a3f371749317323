"""A staff user who administers workspace A sees only A's objects, everywhere in the admin."""

import pytest
from django.urls import reverse

from actions.models import Action, Invocation, Operation, Review
from chat.models import Conversation, Message, ToolCall
from gpts.models import GPT
from tests.api.conftest import weather_schema
from tests.factories import add_member, make_action, make_gpt, make_user
from tests.world import people
from workspaces.invitations import invitation_create
from workspaces.models import AllowedDomain, AuditEvent, Invitation, Membership, Role, Workspace

pytestmark = pytest.mark.django_db

SCOPED_MODELS = [
    Workspace,
    Membership,
    AllowedDomain,
    AuditEvent,
    GPT,
    Action,
    Operation,
    Review,
    Invitation,
    Invocation,
    Conversation,
]


@pytest.fixture
def two_workspaces():
    cast = people(staff=True, only=("admin",))  # the shared cast (tests/world.py)
    acme, globex, admin_a, owner_b = cast["acme"], cast["globex"], cast["admin"], cast["owner_b"]
    for workspace, owner in ((acme, admin_a), (globex, owner_b)):
        gpt = make_gpt(workspace, name=f"{workspace.name} helper", created_by=owner)
        host, operation = f"api.{workspace.slug}.example", f"op_{workspace.slug}"
        # The text stored as is (no engine); an action saves only with a schema.
        make_action(
            gpt, domain=host, operations=[operation], schema=weather_schema(host, operation)
        )
        AllowedDomain.objects.create(workspace=workspace, pattern=f"{workspace.slug}.example")
        AuditEvent.objects.create(
            workspace=workspace,
            actor=owner,
            kind="policy_changed",
            target=f"{workspace.name} policy",
        )
        invitation_create(
            workspace=workspace, email=f"new@{workspace.slug}.example", role="member", actor=owner
        )
        user = add_member(workspace, role=Role.MEMBER, username=f"{workspace.slug}_talker")
        Invocation.objects.create(
            workspace=workspace,
            gpt=gpt,
            user=user,
            operation_id=f"op_{workspace.slug}",
            status="ok",
            channel="chat",
        )
        conversation = Conversation.objects.create(workspace=workspace, gpt=gpt, user=user)
        asked = Message.objects.create(
            workspace=workspace,
            conversation=conversation,
            role="assistant",
            content=f"{workspace.name} words",
        )
        ToolCall.objects.create(
            workspace=workspace,
            message=asked,
            call_id="call_1",
            operation_id=f"op_{workspace.slug}",
            status="ok",
            request={"method": "GET", "url": f"https://api.{workspace.slug}.example/x"},
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
    path = {"Workspace": "pk", "Operation": "action__workspace", "Review": "action__workspace"}.get(
        model.__name__, "workspace"
    )
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
            **(
                {"action__workspace": globex}
                if model in (Operation, Review)
                else {"workspace": globex}
            )
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
        "api_key",
        "sk-admin-set-1234",
        "X-Api-Key",
    )
    event = AuditEvent.objects.filter(kind="action_auth_changed").latest("id")
    assert event.actor == two_workspaces["admin_a"]
    assert "sk-admin-set-1234" not in str(event.after)


def test_a_conversation_shows_its_own_messages_and_calls_only(client, two_workspaces):
    acme, globex = two_workspaces["acme"], two_workspaces["globex"]
    client.force_login(two_workspaces["admin_a"])
    ours = Conversation.objects.get(workspace=acme)
    html = client.get(reverse("admin:chat_conversation_change", args=[ours.pk])).content.decode()
    assert "Acme words" in html and "op_" + acme.slug in html
    assert "Globex" not in html and globex.slug not in html
    # The changelist's filters offer only A's GPTs and people.
    page = client.get(changelist(Conversation)).content.decode()
    assert "Acme helper" in page and f"{acme.slug}_talker" in page
    assert "Globex helper" not in page and f"{globex.slug}_talker" not in page
    # Records: nothing to add, change or delete, even in A.
    url = reverse("admin:chat_conversation_change", args=[ours.pk])
    client.post(url.replace("/change/", "/delete/"), {"post": "yes"})
    assert Conversation.objects.filter(pk=ours.pk).exists()
    assert client.get(reverse("admin:chat_conversation_add")).status_code == 403


def test_the_invocation_log_filters_by_channel(client, two_workspaces):
    client.force_login(two_workspaces["admin_a"])
    response = client.get(changelist(Invocation), {"channel__exact": "chat"})
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert [row.workspace_id for row in shown] == [two_workspaces["acme"].pk]
    assert "channel" in response.context["cl"].list_display
    none = client.get(changelist(Invocation), {"channel__exact": "mcp"})
    assert list(none.context["cl"].result_list) == []
