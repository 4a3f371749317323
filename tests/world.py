"""One shared test world: two workspaces, a person per role in each, and `rows` of everything.

Every tenant-scoped test needs the same cast (an owner, an admin, a builder and a member in the
workspace under test, and a second workspace whose rows must never show), so it is built here
once instead of in a local fixture per module. `rows` scales every list (GPTs, actions,
connections, approvals, imports, invocations, audit rows, allowlist entries, invitations,
conversations with their messages and tool calls) so a test can show that a page's query count
does not grow with the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from actions.models import (
    Action,
    ConnectedAccount,
    Consent,
    Invocation,
    InvocationStatus,
    OAuthState,
    SchemaImport,
)
from chat.models import Conversation, Message, ToolCall
from gpts.models import GPT
from tests.factories import add_member, make_action, make_gpt, make_user, make_workspace
from workspaces.invitations import invitation_create
from workspaces.models import AllowedDomain, AuditEvent, AuditKind, Plan, Role, Workspace


@dataclass
class Tenant:
    """One workspace of the world and its people; `gpts`/`actions` hold `rows` of each."""

    workspace: Workspace
    owner: object
    admin: object
    builder: object
    member: object
    gpts: list[GPT] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)

    @property
    def gpt(self) -> GPT:
        return self.gpts[0]

    @property
    def action(self) -> Action:
        return self.actions[0]


@dataclass
class World:
    """Workspace `a` is the one under test; `b` is the neighbour nothing may leak to or from."""

    a: Tenant
    b: Tenant
    superuser: object
    rows: int


def _tenant(name: str, *, rows: int, plan: str) -> Tenant:
    workspace = make_workspace(name, plan=plan, allow_all_domains=False)
    tenant = Tenant(
        workspace=workspace,
        owner=add_member(workspace, role=Role.OWNER),
        admin=add_member(workspace, role=Role.ADMIN, staff=True),
        builder=add_member(workspace, role=Role.BUILDER),
        member=add_member(workspace, role=Role.MEMBER),
    )
    now = timezone.now()
    for n in range(rows):
        gpt = make_gpt(
            workspace, created_by=tenant.builder, name=f"{name} GPT {n}", visibility="workspace"
        )
        action = make_action(
            gpt,
            domain=f"api{n}.{workspace.slug}.example.com",
            operations=(f"list{n}", f"get{n}", f"make{n}"),
            auth_type="oauth",
            oauth_client_id="client",
            oauth_client_secret="client-secret-value",
            authorization_url=f"https://api{n}.{workspace.slug}.example.com/authorize",
            token_url=f"https://api{n}.{workspace.slug}.example.com/token",
            privacy_policy_url="https://example.com/privacy",
        )
        tenant.gpts.append(gpt)
        tenant.actions.append(action)
        ConnectedAccount.objects.create(
            user=tenant.member,
            action=action,
            gpt=gpt,
            workspace=workspace,
            access_token=f"access-{name}-{n}",
            refresh_token=f"refresh-{name}-{n}",
            scopes="read",
            expires_at=now + timedelta(hours=1),
        )
        Consent.objects.create(
            user=tenant.member, gpt=gpt, action=action, workspace=workspace, operation_id=f"get{n}"
        )
        SchemaImport.objects.create(
            action=action,
            gpt=gpt,
            workspace=workspace,
            url=f"https://api{n}.{workspace.slug}.example.com/openapi.json",
            requested_by=tenant.builder,
        )
        Invocation.objects.create(
            workspace=workspace,
            gpt=gpt,
            action=action,
            user=tenant.member,
            operation_id=f"get{n}",
            status=InvocationStatus.OK,
            http_status=200,
        )
        _conversation(tenant, gpt, n)
        OAuthState.objects.create(
            state_hash=f"{workspace.slug}-{n}".ljust(64, "0"),
            user=tenant.member,
            action=action,
            code_verifier="verifier",
            expires_at=now + timedelta(minutes=10),
        )
        AllowedDomain.objects.create(workspace=workspace, pattern=f"api{n}.{workspace.slug}.com")
        invitation_create(
            workspace=workspace,
            email=f"invitee{n}@{workspace.slug}.example",
            role=Role.MEMBER,
            actor=tenant.admin,
        )
        AuditEvent.objects.create(
            workspace=workspace,
            actor=tenant.owner,
            kind=AuditKind.DOMAIN_ADDED,
            target=f"api{n}.{workspace.slug}.com",
            after={"pattern": f"api{n}.{workspace.slug}.com"},
        )
    return tenant


# The usernames of `people()`; a test that asserts names (audit rows, filters) may rename them.
DEFAULT_NAMES = {
    "owner": "owner",
    "admin": "admin_a",
    "builder": "builder",
    "builder2": "builder2",
    "member": "member",
    "stranger": "stranger",
}


def people(
    *,
    plan_a: str = Plan.ENTERPRISE,
    plan_b: str = Plan.TEAM,
    allow_all_domains: bool = True,
    staff: bool = False,
    names: dict[str, str] | None = None,
    only: tuple[str, ...] | None = None,
) -> dict:
    """The cast alone, as the dict most modules index: Acme (`acme`) with one person per role
    (and a second builder), and Globex (`globex`) whose owner (`stranger`, also `owner_b`) must
    never see anything of Acme. No GPTs: each module adds the rows it is about.

    `staff` makes everyone staff (admin-site tests); `allow_all_domains=False` gives both
    workspaces an empty allowlist to fill; `only` keeps just those people of Acme (a test that
    counts members).
    """
    names = {**DEFAULT_NAMES, **(names or {})}
    acme = make_workspace("Acme", plan=plan_a, allow_all_domains=allow_all_domains)
    globex = make_workspace("Globex", plan=plan_b, allow_all_domains=allow_all_domains)
    cast = {"acme": acme, "globex": globex}
    for key, role in (
        ("owner", Role.OWNER),
        ("admin", Role.ADMIN),
        ("builder", Role.BUILDER),
        ("builder2", Role.BUILDER),
        ("member", Role.MEMBER),
    ):
        if only is None or key in only:
            cast[key] = add_member(acme, role=role, username=names[key], staff=staff)
    cast["stranger"] = cast["owner_b"] = add_member(
        globex, role=Role.OWNER, username=names["stranger"], staff=staff
    )
    return cast


def _conversation(tenant: Tenant, gpt: GPT, n: int) -> Conversation:
    """A member's conversation with `gpt` in which the model called an operation once."""
    workspace = tenant.workspace
    conversation = Conversation.objects.create(
        workspace=workspace, gpt=gpt, user=tenant.member, channel="chat"
    )

    def say(role: str, content: str, **fields) -> Message:
        return Message.objects.create(
            workspace=workspace, conversation=conversation, role=role, content=content, **fields
        )

    say("user", f"question {n}")
    asked = say("assistant", "")
    ToolCall.objects.create(
        workspace=workspace,
        message=asked,
        call_id=f"call_{n}",
        operation_id=f"get{n}",
        arguments='{"id": 1}',
        status="ok",
        request={"method": "GET", "url": f"https://api{n}.{workspace.slug}.example.com/get"},
        response={"status": 200, "headers": {}, "body": "{}"},
    )
    say("tool", '{"status": 200, "body": "{}"}', tool_call_id=f"call_{n}")
    say("assistant", f"answer {n}")
    return conversation


def build_world(*, rows: int = 1) -> World:
    return World(
        a=_tenant("Acme", rows=rows, plan=Plan.ENTERPRISE),
        b=_tenant("Globex", rows=rows, plan=Plan.ENTERPRISE),
        superuser=make_user(superuser=True),
        rows=rows,
    )
