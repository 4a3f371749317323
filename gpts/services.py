"""Writes to GPTs, with the product rules: models, visibility, apps XOR actions, and a GPT
staying in one workspace with its actions (moving it moves them, in one transaction).

A duplicate is made through `gpt_create` and `actions.services.action_create`, not by copying
rows: the copy passes every rule a builder's own saves pass (the domain policy as it is now,
models, operation ids) and leaves the same audit trail.
"""

from django.db import transaction

from actions.models import Action, AuthType, ConnectedAccount, Consent, Invocation, SchemaImport
from gpts.catalogue import APPS_BY_KEY, MODELS_BY_KEY, default_model, model_labels, models_for
from gpts.models import GPT, PUBLIC_VISIBILITIES, Visibility
from kernel.errors import RuleViolation
from workspaces.audit import audit_record
from workspaces.domains import DomainError, DomainNotAllowed, host_from_url
from workspaces.models import ADMIN_ROLES, BUILDER_ROLES, AuditKind, Membership, Workspace
from workspaces.policy import domain_check

EDITABLE_FIELDS = (
    "name",
    "description",
    "instructions",
    "model",
    "visibility",
    "apps",
    "conversation_starters",
)
LIMITS = {"name": 120, "description": 500, "instructions": 8000}
MAX_STARTERS = 8
MAX_STARTER_LENGTH = 300


def _clean_text(field: str, value) -> str:
    if not isinstance(value, str):
        raise RuleViolation("invalid", f"{field} must be text.", field=field)
    value = value.strip() if field == "name" else value
    if len(value) > LIMITS[field]:
        raise RuleViolation(
            "invalid", f"{field} is at most {LIMITS[field]} characters.", field=field
        )
    if field == "name" and not value:
        raise RuleViolation("invalid", "Give the GPT a name.", field=field)
    return value


def check_model(*, model: str, has_actions: bool) -> None:
    if model not in MODELS_BY_KEY:
        raise RuleViolation("unknown_model", f"Unknown model {model!r}.", field="model")
    allowed = {info.key for info in models_for(has_actions=has_actions)}
    if model not in allowed:
        raise RuleViolation(
            "model_not_allowed_with_actions",
            f"{MODELS_BY_KEY[model].label} can not use actions. Choose one of: "
            + model_labels(allowed)
            + ".",
            field="model",
        )


def check_apps(*, apps, has_actions: bool) -> list[str]:
    if not isinstance(apps, list) or not all(isinstance(app, str) for app in apps):
        raise RuleViolation("invalid", "apps must be a list of app keys.", field="apps")
    unknown = [app for app in apps if app not in APPS_BY_KEY]
    if unknown:
        raise RuleViolation("unknown_app", f"Unknown app {unknown[0]!r}.", field="apps")
    if apps and has_actions:
        raise RuleViolation(
            "apps_and_actions",
            "A GPT uses either apps or actions, never both: remove its actions before adding apps.",
            field="apps",
        )
    return list(dict.fromkeys(apps))


def check_starters(*, starters) -> list[str]:
    """Conversation starters: a short list of short prompts; blank lines are dropped."""
    if not isinstance(starters, list) or not all(isinstance(s, str) for s in starters):
        raise RuleViolation(
            "invalid",
            "conversation_starters must be a list of texts.",
            field="conversation_starters",
        )
    cleaned = list(dict.fromkeys(s.strip() for s in starters if s.strip()))
    if len(cleaned) > MAX_STARTERS:
        raise RuleViolation(
            "invalid",
            f"A GPT has at most {MAX_STARTERS} conversation starters.",
            field="conversation_starters",
        )
    for starter in cleaned:
        if len(starter) > MAX_STARTER_LENGTH or "\x00" in starter:
            raise RuleViolation(
                "invalid",
                f"A conversation starter is at most {MAX_STARTER_LENGTH} characters of text.",
                field="conversation_starters",
            )
    return cleaned


def check_publishable(*, gpt: GPT, visibility: str) -> None:
    """Public GPTs with actions need a privacy policy URL on every action."""
    if visibility not in PUBLIC_VISIBILITIES:
        return
    missing = [action for action in gpt.actions.all() if not action.privacy_policy_url]
    if missing:
        raise RuleViolation(
            "privacy_policy_required",
            "Add a privacy policy URL to every action before sharing this GPT publicly "
            f"(missing on: {', '.join(a.domain or 'a new action' for a in missing)}).",
            field="visibility",
        )


@transaction.atomic
def gpt_create(*, workspace: Workspace, acting_user, **fields) -> GPT:
    role = (
        Membership.objects.filter(workspace=workspace, user=acting_user)
        .values_list("role", flat=True)
        .first()
    )
    if role not in BUILDER_ROLES and not acting_user.is_superuser:
        raise RuleViolation(
            "permission_denied", "Only builders, admins and owners create GPTs.", status=403
        )
    gpt = GPT(
        workspace=workspace,
        created_by=acting_user,
        model=default_model(),
        visibility=Visibility.ONLY_ME,
    )
    _apply(gpt, fields, has_actions=False)
    gpt.save()
    return gpt


@transaction.atomic
def gpt_update(*, gpt: GPT, acting_user, **fields) -> GPT:
    gpt = GPT.objects.select_for_update().get(pk=gpt.pk)
    has_actions = gpt.actions.exists()
    _apply(gpt, fields, has_actions=has_actions)
    if "visibility" in fields and has_actions:
        check_publishable(gpt=gpt, visibility=gpt.visibility)
    gpt.save()
    return gpt


def _apply(gpt: GPT, fields: dict, *, has_actions: bool) -> None:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise RuleViolation("invalid", f"Unknown field {sorted(unknown)[0]!r}.")
    for field in ("name", "description", "instructions"):
        if field in fields:
            setattr(gpt, field, _clean_text(field, fields[field]))
    if "model" in fields:
        check_model(model=fields["model"], has_actions=has_actions)
        gpt.model = fields["model"]
    if "visibility" in fields:
        if fields["visibility"] not in Visibility.values:
            raise RuleViolation(
                "invalid",
                "visibility must be one of " + ", ".join(Visibility.values) + ".",
                field="visibility",
            )
        gpt.visibility = fields["visibility"]
    if "apps" in fields:
        gpt.apps = check_apps(apps=fields["apps"], has_actions=has_actions)
    if "conversation_starters" in fields:
        gpt.conversation_starters = check_starters(starters=fields["conversation_starters"])


@transaction.atomic
def gpt_delete(*, gpt: GPT, acting_user) -> None:
    gpt = GPT.objects.select_for_update().select_related("workspace").get(pk=gpt.pk)
    audit_record(
        workspace=gpt.workspace,
        actor=acting_user,
        kind=AuditKind.GPT_DELETED,
        target=gpt.name,
        before={
            "id": gpt.pk,
            "name": gpt.name,
            "visibility": gpt.visibility,
            "actions": list(gpt.actions.order_by("id").values_list("domain", flat=True)),
        },
    )
    gpt.delete()


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
    from actions import services as action_services  # actions imports gpts, not the reverse

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
    actions = list(Action.objects.filter(gpt=source).order_by("id"))
    for action in actions:
        action_services.action_create(
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
    SchemaImport.objects.filter(action__gpt=gpt).update(workspace=target)
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
