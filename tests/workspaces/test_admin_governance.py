"""Governance in the admin: the workspace page's settings (owners change, admins read),
invitations from the workspace page, and the Actions review page's admin actions."""

import pytest
from django.core import mail

from actions.models import Operation, Review
from tests.factories import add_member, make_action, make_gpt, make_workspace
from workspaces.models import AuditEvent, AuditKind, Invitation, Plan, Role, Workspace

pytestmark = pytest.mark.django_db

REVIEW_URL = "/admin/actions/review/"


@pytest.fixture
def acme():
    acme, globex = make_workspace("Acme", plan=Plan.TEAM), make_workspace("Globex")
    people = {
        "owner": add_member(acme, role=Role.OWNER, staff=True, username="ann"),
        "admin": add_member(acme, role=Role.ADMIN, staff=True, username="erin"),
        "other": add_member(globex, role=Role.OWNER, staff=True, username="olga"),
    }
    for workspace in (acme, globex):
        gpt = make_gpt(workspace, name=f"{workspace.name} helper")
        make_action(
            gpt,
            domain=f"api.{workspace.slug}.example",
            operations=[f"list_{workspace.slug}", f"get_{workspace.slug}"],
        )
    return {"acme": acme, "globex": globex, **people}


def form_data(client, url):
    """The change form's current values, as the browser would post them back."""
    response = client.get(url)
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = value
    for formset in response.context["inline_admin_formsets"]:
        fs = formset.formset
        management = fs.management_form
        for name in management.fields:
            data[f"{fs.prefix}-{name}"] = management[name].value()
        for form in fs.forms:
            for name in form.fields:
                value = form[name].value()
                if value is not None and value is not False:
                    data[form.add_prefix(name)] = "on" if value is True else value
    return data


def test_owner_changes_governance_on_the_workspace_page_and_it_is_audited(client, acme):
    url = f"/admin/workspaces/workspace/{acme['acme'].pk}/change/"
    client.force_login(acme["owner"])
    data = form_data(client, url)
    data.update(action_access="read_only", approvals="always_ask", review_new_operations="on")
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    workspace = Workspace.objects.get(pk=acme["acme"].pk)
    assert (workspace.action_access, workspace.approvals, workspace.review_new_operations) == (
        "read_only",
        "always_ask",
        True,
    )
    assert (
        AuditEvent.objects.filter(kind=AuditKind.SETTINGS_CHANGED, actor=acme["owner"]).count() == 3
    )


def test_admins_read_governance_but_cannot_change_it(client, acme):
    url = f"/admin/workspaces/workspace/{acme['acme'].pk}/change/"
    client.force_login(acme["admin"])
    page = client.get(url)
    assert "Governance" in page.content.decode()
    assert "action_access" not in page.context["adminform"].form.fields
    data = form_data(client, url)
    data.update(action_access="read_only")
    client.post(url, data)
    assert Workspace.objects.get(pk=acme["acme"].pk).action_access == "all"


def test_admin_invites_by_email_from_the_workspace_page(
    client, acme, django_capture_on_commit_callbacks
):
    url = f"/admin/workspaces/workspace/{acme['acme'].pk}/change/"
    client.force_login(acme["admin"])
    data = form_data(client, url)
    data.update(invite_email="someone@example.org", invite_role="builder")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data, follow=True)
    assert response.status_code == 200
    invitation = Invitation.objects.get(workspace=acme["acme"])
    assert (invitation.email, invitation.role) == ("someone@example.org", "builder")
    assert "/invitations/" in response.content.decode()  # the link, in the success message
    [message] = mail.outbox
    assert "/invitations/" in message.body
    # An admin may not invite an owner: a form error, nothing saved.
    data = form_data(client, url)
    data.update(invite_email="boss@example.org", invite_role="owner")
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Only an owner" in response.content.decode()
    assert not Invitation.objects.filter(email="boss@example.org").exists()
    # Revoking from the pending list.
    page = client.get(url).content.decode()
    assert "someone@example.org" in page
    data = form_data(client, url)
    data["invitations-0-DELETE"] = "on"
    response = client.post(url, data)
    assert response.status_code == 302
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is not None
    assert AuditEvent.objects.filter(kind=AuditKind.INVITATION_REVOKED).count() == 1


def test_review_page_lists_the_admins_operations_only(client, acme):
    client.force_login(acme["admin"])
    response = client.get(REVIEW_URL)
    assert response.status_code == 200
    shown = {op.operation_id for op in response.context["cl"].result_list}
    assert shown == {f"list_{acme['acme'].slug}", f"get_{acme['acme'].slug}"}
    assert "Actions review" in client.get("/admin/").content.decode()


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [("disable", "enabled", False), ("approve", "review", "approved")],
)
def test_review_actions_change_operations_through_the_service(client, acme, action, field, value):
    Operation.objects.update(review="pending")
    client.force_login(acme["admin"])
    ours = list(Review.objects.filter(action__workspace=acme["acme"]).values_list("pk", flat=True))
    theirs = Review.objects.filter(action__workspace=acme["globex"]).values_list("pk", flat=True)
    response = client.post(REVIEW_URL, {"action": action, "_selected_action": [*ours, *theirs]})
    assert response.status_code == 302
    assert set(Operation.objects.filter(pk__in=ours).values_list(field, flat=True)) == {value}
    # Another workspace's rows are not in the admin's queryset: untouched.
    assert set(Operation.objects.filter(pk__in=theirs).values_list("enabled", "review")) == {
        (True, "pending")
    }
    assert AuditEvent.objects.filter(
        kind=AuditKind.OPERATION_CHANGED, actor=acme["admin"], workspace=acme["acme"]
    ).count() == len(ours)


def test_one_by_one_enable(client, acme):
    Operation.objects.update(enabled=False)
    client.force_login(acme["owner"])
    one = Review.objects.filter(action__workspace=acme["acme"]).first()
    client.post(REVIEW_URL, {"action": "enable", "_selected_action": [one.pk]})
    assert list(Operation.objects.filter(enabled=True).values_list("pk", flat=True)) == [one.pk]
