"""Small builders for test data. Tests always make two workspaces to check for leaks."""

import itertools

from django.contrib.auth import get_user_model

from actions.models import Action, Operation
from gpts.models import GPT
from workspaces.models import Membership, Plan, Role, Workspace

_seq = itertools.count(1)

PASSWORD = "correct-horse-battery"


def make_user(username: str | None = None, *, staff: bool = False, superuser: bool = False):
    username = username or f"user{next(_seq)}"
    return get_user_model().objects.create_user(
        username=username,
        password=PASSWORD,
        is_staff=staff or superuser,
        is_superuser=superuser,
    )


def make_workspace(name: str | None = None, *, plan: str = Plan.ENTERPRISE, **fields) -> Workspace:
    n = next(_seq)
    name = name or f"Workspace {n}"
    return Workspace.objects.create(name=name, slug=f"ws-{n}", plan=plan, **fields)


def add_member(workspace: Workspace, user=None, role: str = Role.MEMBER, **user_fields):
    user = user or make_user(**user_fields)
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


def make_gpt(workspace: Workspace, *, created_by=None, **fields) -> GPT:
    fields.setdefault("name", f"GPT {next(_seq)}")
    return GPT.objects.create(workspace=workspace, created_by=created_by, **fields)


def make_action(gpt: GPT, *, domain: str | None = None, operations=("getThing",), **fields):
    """An action row with operations written directly (no schema engine): for data-layer tests."""
    action = Action.objects.create(
        gpt=gpt,
        workspace=gpt.workspace,
        domain=domain or f"api{next(_seq)}.example.com",
        **fields,
    )
    for operation_id in operations:
        Operation.objects.create(
            action=action,
            gpt=gpt,
            operation_id=operation_id,
            method="GET",
            path=f"/{operation_id}",
            consequential=False,
        )
    return action
