"""Writes to GPTs, with the product rules: models, visibility, apps XOR actions.

What changes a GPT together with its actions (duplicating it, moving it to another workspace)
lives in `actions.services`: actions know GPTs, GPTs do not know actions.
"""

from django.db import transaction

from gpts.catalogue import APPS_BY_KEY, MODELS_BY_KEY, default_model, model_labels, models_for
from gpts.models import GPT, PUBLIC_VISIBILITIES, Visibility
from kernel.errors import RuleViolation
from workspaces.audit import audit_record
from workspaces.models import BUILDER_ROLES, AuditKind, Membership, Workspace

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
