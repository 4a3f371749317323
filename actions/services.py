"""Writes to actions: create, update (schema, authentication, privacy policy), delete.

Each write validates the whole new state first (schema engine, product rules, domain policy),
then saves it in one transaction, so a refused request leaves nothing half-written.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from actions import openapi
from actions.models import (
    Action,
    AuthType,
    ConnectedAccount,
    Consent,
    Invocation,
    Operation,
    OperationReview,
    SchemaImport,
)
from actions.oauth.tokens import connections_end_for_settings_change
from actions.rules import (
    auth_header_name,
    clean_auth,
    clean_privacy_policy_url,
    header_parameters_clear_of_auth,
    oauth_urls_match_server,
)
from gpts.catalogue import model_label, model_labels, models_for
from gpts.models import GPT, PUBLIC_VISIBILITIES
from gpts.services import LIMITS, gpt_create
from kernel.errors import RuleViolation
from outbound import is_insecure_destination_allowed
from workspaces.audit import audit_record
from workspaces.domains import DomainError, DomainNotAllowed, host_from_url
from workspaces.models import ADMIN_ROLES, BUILDER_ROLES, AuditKind, Membership, Workspace
from workspaces.policy import domain_check

AUTH_FIELDS = (
    "auth_type",
    "api_key",
    "api_key_auth_type",
    "custom_header",
    "oauth_client_id",
    "oauth_client_secret",
    "authorization_url",
    "token_url",
    "revocation_url",
    "scope",
    "token_exchange_method",
)


# What an OAuth grant was given for: a change of any of these ends the users' connections.
GRANT_FIELDS = ("auth_type", "domain", "token_url", "oauth_client_id", "scope")


def grant_snapshot(action: Action) -> tuple:
    return tuple(getattr(action, field) for field in GRANT_FIELDS)


def auth_snapshot(action: Action) -> dict:
    return {field: getattr(action, field) for field in AUTH_FIELDS}


@dataclass
class CheckedSchema:
    verdict: "openapi.Verdict"
    domain: str


def stored_schema_parts(verdict: "openapi.Verdict | None") -> dict:
    """What the read paths need from a saved schema, so that none of them parses it again: the
    first server's URL with its variables' defaults, `info.title`, and the components an
    operation's leftover `$ref`s point into. All empty for an action without a schema."""
    if verdict is None:
        return {"server_url": "", "title": "", "components": {}}
    return {
        "server_url": verdict.servers[0],
        "title": verdict.title[: Action._meta.get_field("title").max_length],
        "components": verdict.components,
    }


def insecure_host_allowed(host: str, port: int | None) -> bool:
    return is_insecure_destination_allowed(host, port)


def check_schema(*, gpt: GPT, text: str, action: Action | None = None) -> CheckedSchema:
    """Validate `text` as the schema of `action` (or a new action) of `gpt`."""
    verdict = openapi.validate(text, allow_insecure_host=insecure_host_allowed)
    if not verdict.valid:
        count = len(verdict.errors)
        raise RuleViolation(
            "invalid_schema",
            f"The schema has {count} problem{'' if count == 1 else 's'}: "
            f"{verdict.errors[0].message}",
            errors=[problem.as_dict() for problem in verdict.errors],
            warnings=[problem.as_dict() for problem in verdict.warnings],
        )
    # The engine derived the domain with workspaces.domains.host_from_url and reported any
    # problem with it as an error, so a valid verdict always has one: validate and save agree.
    domain = verdict.domain
    if domain is None:  # pragma: no cover - an engine invariant; never an empty error list
        problem = {
            "message": "The schema's server URL has no valid host.",
            "pointer": "/servers/0/url",
        }
        raise RuleViolation("invalid_schema", problem["message"], errors=[problem])
    longest = Action._meta.get_field("server_url").max_length or 2000
    if len(verdict.servers[0]) > longest:
        problem = {
            "message": f"The schema's server URL is over {longest} characters.",
            "pointer": "/servers/0/url",
        }
        raise RuleViolation("invalid_schema", problem["message"], errors=[problem])
    refusals = workspace_schema_problems(gpt=gpt, verdict=verdict, action=action)
    if refusals:
        first = refusals[0]
        extra = {"domain": first["domain"]} if first["code"] == "domain_not_allowed" else {}
        raise RuleViolation(first["code"], first["message"], status=first["status"], **extra)
    return CheckedSchema(verdict=verdict, domain=domain)


def workspace_schema_problems(
    *, gpt: GPT, verdict: "openapi.Verdict", action: Action | None = None
) -> list[dict]:
    """What saving this (valid) schema into `gpt` would be refused for, for the workspace's
    sake: a domain another action of the GPT has, an operationId another action of the GPT
    has, a domain the workspace does not allow. Each with the pointer it concerns; the live
    check (POST /schema/validate with `gpt`) shows them, and saving refuses the first."""
    domain = verdict.domain
    if domain is None:
        return []
    problems: list[dict] = []
    others = gpt.actions.exclude(pk=action.pk) if action and action.pk else gpt.actions.all()
    if others.filter(domain=domain).exists():
        problems.append(
            {
                "code": "duplicate_domain",
                "message": f"Action sets cannot have duplicate domains - {domain} already "
                "exists on another action",
                "pointer": "/servers/0/url",
                "status": 400,
            }
        )
    taken = set(
        Operation.objects.filter(gpt=gpt)
        .exclude(action=action if action else None)
        .values_list("operation_id", flat=True)
    )
    for op in verdict.operations:
        if op.operation_id in taken:
            problems.append(
                {
                    "code": "duplicate_operation_id",
                    "message": f"operationId {op.operation_id} is already used by another "
                    "action of this GPT.",
                    "pointer": f"{op.pointer}/operationId",
                    "status": 400,
                }
            )
    try:
        domain_check(workspace=gpt.workspace, host=domain)
    except DomainNotAllowed as exc:
        problems.append(
            {
                "code": "domain_not_allowed",
                "message": f"The schema's server {domain}: {exc.detail}",
                "pointer": "/servers/0/url",
                "status": 403,
                "domain": domain,
            }
        )
    return problems


def _check_domain(*, gpt: GPT, host: str, what: str) -> None:
    try:
        domain_check(workspace=gpt.workspace, host=host)
    except DomainNotAllowed as exc:
        raise RuleViolation(
            "domain_not_allowed", f"{what} {host}: {exc.detail}", status=403, domain=host
        ) from None


def _check_gpt_accepts_actions(gpt: GPT) -> None:
    if gpt.apps:
        raise RuleViolation(
            "apps_and_actions",
            "A GPT uses either apps or actions, never both: remove its apps before adding actions.",
        )
    allowed = {info.key for info in models_for(has_actions=True)}
    if gpt.model not in allowed:
        raise RuleViolation(
            "model_not_allowed_with_actions",
            f"{model_label(gpt.model)} can not use actions. Switch the GPT to one of: "
            + model_labels(allowed)
            + " first.",
        )


SCHEMA_REQUIRED = (
    "Add a schema before saving: paste one, import it from a URL, or start from an example."
)
PRIVACY_POLICY_REQUIRED = "A GPT shared publicly needs a privacy policy URL on every action."


def _check_schema_present(text: str) -> None:
    # An action without a schema does nothing; stored, it is only clutter (an empty action
    # left by each failed import used to pile up), so every door refuses to save one.
    if not text.strip():
        raise RuleViolation("schema_required", SCHEMA_REQUIRED, field="schema")


def _check_privacy_policy(gpt: GPT, url: str) -> None:
    if not url and gpt.visibility in PUBLIC_VISIBILITIES:
        raise RuleViolation(
            "privacy_policy_required", PRIVACY_POLICY_REQUIRED, field="privacy_policy_url"
        )


def new_action_check(*, gpt: GPT, privacy_policy_url: str = "") -> str:
    """Refuse what would refuse any new action of `gpt`, whatever its schema (apps, a model
    without actions, a public GPT and no privacy policy URL); the cleaned privacy policy URL
    otherwise. An import into a new action asks this before it queues the job, so a request
    bound to fail is a 400 at once; `action_create` asks it again when the job saves."""
    _check_gpt_accepts_actions(gpt)
    cleaned = clean_privacy_policy_url(privacy_policy_url)
    _check_privacy_policy(gpt, cleaned)
    return cleaned


@transaction.atomic
def action_create(
    *,
    gpt: GPT,
    acting_user,
    schema: str = "",
    auth: dict | None = None,
    privacy_policy_url: str = "",
) -> Action:
    """A new action of `gpt`; refused without a schema (`schema_required`), and by every
    rule a schema save obeys."""
    gpt = GPT.objects.select_for_update(of=("self",)).select_related("workspace").get(pk=gpt.pk)
    _check_gpt_accepts_actions(gpt)
    action = Action(gpt=gpt, workspace=gpt.workspace)
    return _save(
        action,
        acting_user=acting_user,
        schema=schema,
        auth=auth or {"type": "none"},
        privacy_policy_url=privacy_policy_url,
        creating=True,
    )


@transaction.atomic
def action_update(
    *,
    action: Action,
    acting_user,
    schema: str | None = None,
    auth: dict | None = None,
    privacy_policy_url: str | None = None,
) -> Action:
    # Lock the GPT: two concurrent saves must not both pass the duplicate-domain check.
    GPT.objects.select_for_update().get(pk=action.gpt_id)
    action = Action.objects.select_related("gpt__workspace").get(pk=action.pk)
    return _save(
        action,
        acting_user=acting_user,
        schema=schema,
        auth=auth,
        privacy_policy_url=privacy_policy_url,
        creating=False,
    )


def _save(action: Action, *, acting_user, schema, auth, privacy_policy_url, creating) -> Action:  # noqa: C901 - the whole save validated before anything is written, in one place
    gpt = action.gpt
    _check_schema_present(action.schema if schema is None else schema)
    before_auth = None if creating else auth_snapshot(action)
    before_grant = None if creating else grant_snapshot(action)
    # A schema is present (checked above): a new one is validated whole, else the stored stays.
    checked = None
    if schema is not None:
        checked = check_schema(gpt=gpt, text=schema, action=None if creating else action)
    server_host = checked.domain if checked else action.domain

    auth_values = None
    if auth is not None:
        auth_values = clean_auth(auth, current=auth_snapshot(action))
        oauth_urls_match_server(auth_values, server_host)
        for key in ("authorization_url", "token_url"):
            if auth_values.get(key):
                _check_domain(
                    gpt=gpt,
                    host=host_from_url(auth_values[key]),
                    what=f"The OAuth {key.replace('_', ' ')}",
                )
    elif checked and action.auth_type == AuthType.OAUTH:
        oauth_urls_match_server(auth_snapshot(action), server_host)

    if auth_values is not None or checked is not None:
        operations: Any = (
            checked.verdict.operations
            if checked is not None
            else action.operations.all()  # the schema stays: its operations do too
        )
        header_parameters_clear_of_auth(
            auth_header_name(auth_values if auth_values is not None else auth_snapshot(action)),
            operations,
        )

    if privacy_policy_url is not None:
        action.privacy_policy_url = clean_privacy_policy_url(privacy_policy_url)
        _check_privacy_policy(gpt, action.privacy_policy_url)
    elif creating:
        _check_privacy_policy(gpt, "")

    if auth_values is not None:
        for field, value in auth_values.items():
            setattr(action, field, value)
    if checked is not None:
        action.schema = schema
        action.domain = checked.domain
        action.schema_format = checked.verdict.format or ""
        action.openapi_version = checked.verdict.openapi_version or ""
        action.errors = []
        action.warnings = [p.as_dict() for p in checked.verdict.warnings]
        for field, value in stored_schema_parts(checked.verdict).items():
            setattr(action, field, value)
    action.save()
    if checked is not None:
        _replace_operations(action, checked.verdict.operations, acting_user=acting_user)
    if before_grant is not None and before_grant != grant_snapshot(action):
        connections_end_for_settings_change(action=action)
    if auth_values is not None and before_auth != auth_snapshot(action):
        audit_record(
            workspace=action.workspace,
            actor=acting_user,
            kind=AuditKind.ACTION_AUTH_CHANGED,
            target=f"{gpt.name}: {action.domain or 'new action'}",
            before=before_auth,
            after=auth_snapshot(action),
        )
    return action


def _replace_operations(action: Action, detected, *, acting_user) -> None:
    """Replace the action's operations by those `detected` in its new schema.

    An operation the save leaves as it was (same operationId, method, path and consequential
    flag) keeps the admins' word on it (enabled, review) and who added it when. A new or
    changed one is recorded as added by `acting_user` now and, in a workspace that reviews new
    operations, waits for an admin's approval (audited); an admin's "disabled" stays with the
    operationId whatever else changes.
    """
    old = {
        op.operation_id: op
        for op in action.operations.only(
            "operation_id", "method", "path", "consequential", "enabled", "review", "added_by",
            "added_at",
        )
    }
    old_terms = {
        op_id: (op.method.upper(), op.path, op.consequential) for op_id, op in old.items()
    }
    new_terms = {
        op.operation_id: (op.method.upper(), op.path[:2000], op.consequential) for op in detected
    }
    review_new = action.workspace.review_new_operations
    now = timezone.now()
    adder = acting_user if getattr(acting_user, "pk", None) else None
    rows, awaiting = [], []
    for op in detected:
        previous = old.get(op.operation_id)
        kept = previous is not None and old_terms[op.operation_id] == new_terms[op.operation_id]
        if kept and previous is not None:
            state = {
                "enabled": previous.enabled,
                "review": previous.review,
                "added_by_id": previous.added_by_id,
                "added_at": previous.added_at,
            }
        else:
            review = OperationReview.PENDING if review_new else OperationReview.APPROVED
            if review_new:
                awaiting.append(op.operation_id)
            state = {
                "enabled": previous.enabled if previous is not None else True,
                "review": review,
                "added_by_id": getattr(adder, "pk", None),
                "added_at": now,
            }
        rows.append(
            Operation(
                action=action,
                gpt_id=action.gpt_id,
                operation_id=op.operation_id,
                method=op.method,
                path=op.path[:2000],
                summary=(op.summary or "")[:1000],
                description=op.description or "",
                consequential=op.consequential,
                parameters=op.parameters,
                request_body=op.request_body,
                **state,
            )
        )
    action.operations.all().delete()
    Operation.objects.bulk_create(rows)
    if awaiting:
        audit_record(
            workspace=action.workspace,
            actor=acting_user,
            kind=AuditKind.OPERATIONS_AWAIT_REVIEW,
            target=f"{action.gpt.name}: {action.domain}",
            after={"operations": awaiting},
        )
    # "Always allow" was given for an operation as it was: its method, path and consequential
    # flag. A change of any of them (a GET approval must not cover a DELETE that took over the
    # operationId), or the operation's removal, withdraws the approval.
    stale = [op_id for op_id, terms in old_terms.items() if new_terms.get(op_id) != terms]
    if stale:
        Consent.objects.filter(action=action, operation_id__in=stale).delete()


# The admins' word on an operation (DESIGN.md §7) -------------------------------------------------


@transaction.atomic
def operation_set_state(
    *, operation: Operation, actor, enabled: bool | None = None, review: str | None = None
) -> Operation:
    """Enable, disable, approve (or send back to review) one operation; admins and owners of
    its workspace only (and the operator). Audited; applies at once in every channel
    (actions/governance.py)."""
    operation = (
        Operation.objects.select_for_update(of=("self",))
        .select_related("action__gpt", "action__workspace")
        .get(pk=operation.pk)
    )
    workspace = operation.action.workspace
    if not _manages_operations(workspace, actor):
        raise RuleViolation(
            "permission_denied",
            "Only admins and owners of the workspace enable, disable or approve operations.",
            status=403,
        )
    if review is not None and review not in OperationReview.values:
        raise RuleViolation(
            "invalid", "review must be one of " + ", ".join(OperationReview.values) + ".",
            field="review",
        )
    if enabled is not None and not isinstance(enabled, bool):
        raise RuleViolation("invalid", "enabled must be true or false.", field="enabled")
    before = {"enabled": operation.enabled, "review": operation.review}
    if enabled is not None:
        operation.enabled = enabled
    if review is not None:
        operation.review = review
    after = {"enabled": operation.enabled, "review": operation.review}
    if after != before:
        operation.save(update_fields=["enabled", "review"])
        audit_record(
            workspace=workspace,
            actor=actor,
            kind=AuditKind.OPERATION_CHANGED,
            target=f"{operation.action.gpt.name}: {operation.action.domain} "
            f"{operation.operation_id}",
            before=before,
            after=after,
        )
    return operation


def _manages_operations(workspace, actor) -> bool:
    if actor is None or actor.is_superuser:
        return True
    role = (
        Membership.objects.filter(workspace=workspace, user=actor)
        .values_list("role", flat=True)
        .first()
    )
    return role in ADMIN_ROLES


@transaction.atomic
def action_delete(*, action: Action, acting_user) -> None:
    GPT.objects.select_for_update().get(pk=action.gpt_id)
    action = Action.objects.select_related("gpt", "workspace").get(pk=action.pk)
    audit_record(
        workspace=action.workspace,
        actor=acting_user,
        kind=AuditKind.ACTION_DELETED,
        target=f"{action.gpt.name}: {action.domain or 'new action'}",
        before={
            "id": action.pk,
            "gpt": action.gpt.name,
            "domain": action.domain,
            "auth_type": action.auth_type,
            "operations": list(
                action.operations.order_by("id").values_list("operation_id", flat=True)
            ),
        },
    )
    action.delete()


# Whole GPTs with their actions ------------------------------------------------------------
# A duplicate is made through `gpt_create` and `action_create`, not by copying rows: the copy
# passes every rule a builder's own saves pass (the domain policy as it is now, models,
# operation ids) and leaves the same audit trail. A move carries the GPT's actions and every
# row that names its workspace, in one transaction (and PostgreSQL's composite keys refuse a
# mismatch: migration actions/0004).

COPY_PREFIX = "Copy of "


@transaction.atomic
def gpt_duplicate(*, gpt: GPT, acting_user) -> GPT:
    """A copy of `gpt` in its workspace, owned by `acting_user` and visible only to them, with a
    copy of every action (schema, authentication, privacy policy URL).

    Only someone who may edit the GPT copies it: the copy carries its actions' stored secrets,
    which only such a person may already put to use. Every action goes through `action_create`,
    so a rule that now refuses one of them (the allowlist changed, a model lost actions) refuses
    the whole copy, and nothing is left half made. Users' connections and approvals are theirs
    and are not copied.
    """
    source = GPT.objects.select_for_update().select_related("workspace").get(pk=gpt.pk)
    role = (
        Membership.objects.filter(workspace=source.workspace, user=acting_user)
        .values_list("role", flat=True)
        .first()
    )
    may_edit = role in ADMIN_ROLES or (
        role in BUILDER_ROLES and source.created_by_id == acting_user.pk
    )
    if not (may_edit or acting_user.is_superuser):
        raise RuleViolation(
            "permission_denied",
            "Only the GPT's builder, admins and owners duplicate it.",
            status=403,
        )
    name = (COPY_PREFIX + source.name)[: LIMITS["name"]]
    copy = gpt_create(
        workspace=source.workspace,
        acting_user=acting_user,
        name=name,
        description=source.description,
        instructions=source.instructions,
        model=source.model,
        apps=list(source.apps),
    )
    # An action without a schema (saved before the rule refused them) does nothing, and
    # `action_create` would refuse its copy: the copy leaves it out.
    actions = list(Action.objects.filter(gpt=source).exclude(schema="").order_by("id"))
    for action in actions:
        action_create(
            gpt=copy,
            acting_user=acting_user,
            schema=action.schema,
            auth=_auth_of(action),
            privacy_policy_url=action.privacy_policy_url,
        )
    audit_record(
        workspace=source.workspace,
        actor=acting_user,
        kind=AuditKind.GPT_DUPLICATED,
        target=copy.name,
        before={"id": source.pk, "name": source.name},
        after={"id": copy.pk, "name": copy.name, "actions": [a.domain for a in actions]},
    )
    return copy


def _auth_of(action: Action) -> dict:
    """The AUTH object of the API contract that recreates `action`'s authentication."""
    if action.auth_type == AuthType.API_KEY:
        return {
            "type": AuthType.API_KEY,
            "api_key": action.api_key,
            "auth_type": action.api_key_auth_type,
            "custom_header": action.custom_header,
        }
    if action.auth_type == AuthType.OAUTH:
        return {
            "type": AuthType.OAUTH,
            "client_id": action.oauth_client_id,
            "client_secret": action.oauth_client_secret,
            "authorization_url": action.authorization_url,
            "token_url": action.token_url,
            "revocation_url": action.revocation_url,
            "scope": action.scope,
            "token_exchange_method": action.token_exchange_method,
        }
    return {"type": AuthType.NONE}


def _administers(workspace: Workspace, user) -> bool:
    if user is None or user.is_superuser:
        return True  # the operator (a superuser, or a management command)
    role = (
        Membership.objects.filter(workspace=workspace, user=user)
        .values_list("role", flat=True)
        .first()
    )
    return role in ADMIN_ROLES


def _check_actions_allowed_in(workspace: Workspace, actions) -> None:
    """The target workspace's domain policy must allow every host the actions reach, exactly
    as a schema save in that workspace would require."""
    for action in actions:
        hosts = [("server", action.domain)] if action.domain else []
        for label, url in (
            ("OAuth authorization URL", action.authorization_url),
            ("OAuth token URL", action.token_url),
        ):
            if url:
                try:
                    hosts.append((label, host_from_url(url)))
                except DomainError:
                    continue  # saved before the check existed; the call is refused anyway
        for label, host in hosts:
            try:
                domain_check(workspace=workspace, host=host)
            except DomainNotAllowed as exc:
                raise RuleViolation(
                    "domain_not_allowed",
                    f"{workspace.name} does not allow the {label} {host} of an action of "
                    f"this GPT: {exc.detail}",
                    status=403,
                    field="workspace",
                    domain=host,
                ) from None


@transaction.atomic
def gpt_move(*, gpt: GPT, workspace: Workspace, acting_user) -> GPT:
    """Move a GPT to another workspace, together with its actions and everything they left
    (imports, connections, approvals, invocations): every row keeps the workspace of its GPT,
    so no tenant keeps editing, or reading, what now belongs to another.

    The actor must administer both workspaces; the target's domain policy must allow the
    actions' hosts. Audited in both workspaces.
    """
    gpt = GPT.objects.select_for_update().select_related("workspace").get(pk=gpt.pk)
    source = gpt.workspace
    target = Workspace.objects.select_for_update().get(pk=workspace.pk)
    if source.pk == target.pk:
        return gpt
    if not (_administers(source, acting_user) and _administers(target, acting_user)):
        raise RuleViolation(
            "permission_denied",
            "Only an admin or owner of both workspaces moves a GPT between them.",
            status=403,
            field="workspace",
        )
    actions = list(Action.objects.filter(gpt=gpt).order_by("id"))
    _check_actions_allowed_in(target, actions)
    # The GPT first: on PostgreSQL its composite foreign keys cascade the new workspace to
    # the dependent rows; the updates below make the same change where they do not (SQLite).
    gpt.workspace = target
    gpt.save(update_fields=["workspace", "updated_at"])
    Action.objects.filter(gpt=gpt).update(workspace=target)
    SchemaImport.objects.filter(gpt=gpt).update(workspace=target)
    for model in (ConnectedAccount, Consent, Invocation):
        model.objects.filter(gpt=gpt).update(workspace=target)
    moved = {"gpt": gpt.name, "actions": [a.domain for a in actions]}
    audit_record(
        workspace=source,
        actor=acting_user,
        kind=AuditKind.GPT_MOVED_OUT,
        target=gpt.name,
        before={"workspace": source.slug, **moved},
        after={"workspace": target.slug},
    )
    audit_record(
        workspace=target,
        actor=acting_user,
        kind=AuditKind.GPT_MOVED_IN,
        target=gpt.name,
        before={"workspace": source.slug},
        after={"workspace": target.slug, **moved},
    )
    return gpt
