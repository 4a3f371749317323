"""Invariants that must never break are enforced by the database itself."""

import pytest
from django.db import IntegrityError, connection, transaction

from actions.models import Action, ConnectedAccount, Consent, Operation
from tests.factories import add_member, make_action, make_gpt, make_user, make_workspace
from workspaces.models import AllowedDomain, Membership, Role

pytestmark = pytest.mark.django_db


def integrity_error(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_one_membership_per_user_and_workspace():
    workspace = make_workspace()
    user = add_member(workspace, role=Role.MEMBER)
    integrity_error(lambda: Membership.objects.create(workspace=workspace, user=user, role="admin"))
    Membership.objects.create(workspace=make_workspace(), user=user)  # another workspace is fine


def test_unknown_role_and_plan_rejected():
    workspace = make_workspace()
    integrity_error(
        lambda: Membership.objects.create(workspace=workspace, user=make_user(), role="god")
    )
    integrity_error(lambda: make_workspace(plan="platinum"))


def test_allowlist_entry_unique_per_workspace():
    first, second = make_workspace(), make_workspace()
    AllowedDomain.objects.create(workspace=first, pattern="example.com")
    integrity_error(lambda: AllowedDomain.objects.create(workspace=first, pattern="example.com"))
    AllowedDomain.objects.create(workspace=second, pattern="example.com")
    integrity_error(lambda: AllowedDomain.objects.create(workspace=second, pattern=""))


def test_operation_id_unique_within_gpt_across_actions():
    workspace = make_workspace()
    gpt = make_gpt(workspace)
    make_action(gpt, domain="a.example.com", operations=["listPets"])
    other = make_action(gpt, domain="b.example.com", operations=[])
    integrity_error(
        lambda: Operation.objects.create(
            action=other, gpt=gpt, operation_id="listPets", method="GET", path="/"
        )
    )
    # The same operationId on another GPT is fine.
    make_action(make_gpt(workspace), domain="a.example.com", operations=["listPets"])


def test_operation_id_format_enforced():
    gpt = make_gpt(make_workspace())
    action = make_action(gpt, operations=[])
    integrity_error(
        lambda: Operation.objects.create(
            action=action, gpt=gpt, operation_id="has space", method="GET", path="/"
        )
    )


def test_action_domains_unique_per_gpt_but_blank_allowed_twice():
    gpt = make_gpt(make_workspace())
    make_action(gpt, domain="api.example.com", operations=[])
    integrity_error(lambda: make_action(gpt, domain="api.example.com", operations=[]))
    Action.objects.create(gpt=gpt, workspace=gpt.workspace, domain="")
    Action.objects.create(gpt=gpt, workspace=gpt.workspace, domain="")


def test_custom_header_api_key_needs_a_header_name():
    gpt = make_gpt(make_workspace())
    integrity_error(
        lambda: Action.objects.create(
            gpt=gpt, workspace=gpt.workspace, auth_type="api_key", api_key_auth_type="custom"
        )
    )


def test_one_connection_and_one_consent_per_user():
    gpt = make_gpt(make_workspace())
    action = make_action(gpt)
    user = make_user()
    common = {"user": user, "action": action, "gpt": gpt, "workspace": gpt.workspace}
    ConnectedAccount.objects.create(access_token="t1", **common)
    integrity_error(lambda: ConnectedAccount.objects.create(access_token="t2", **common))
    Consent.objects.create(operation_id="getThing", **common)
    integrity_error(lambda: Consent.objects.create(operation_id="getThing", **common))


def test_secrets_are_encrypted_in_the_database():
    gpt = make_gpt(make_workspace())
    action = make_action(gpt, auth_type="api_key", api_key="sk-live-very-secret-9fA2")
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM actions_action WHERE id = %s", [action.pk])
        stored = cursor.fetchone()[0]
    assert "very-secret" not in stored
    assert stored.startswith("fernet:v1:")
    assert Action.objects.get(pk=action.pk).api_key == "sk-live-very-secret-9fA2"
