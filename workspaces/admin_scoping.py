"""Tenant scoping for the Django admin, in one place.

A staff user who is an owner or admin of some workspaces sees and edits only those workspaces'
objects: in changelists, change forms, foreign-key choices, autocomplete and by URL (an object of
another workspace is simply not in the queryset, so the admin answers "not found"). Superusers see
everything. Permissions come from workspace roles, not from Django's per-model permissions.

Also the glue every admin uses to write through the services: `service_refusal` (a dry run of a
service call, for a form's clean()), `add_rule_error` and `RefusalAsMessageMixin`.
"""

from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import HttpResponseRedirect

from kernel.errors import RuleViolation
from workspaces.models import Membership, Workspace
from workspaces.selectors import admin_workspace_ids

if TYPE_CHECKING:  # the mixins below only ever sit on top of these admin classes
    _AdminBase = admin.ModelAdmin[Any]
else:
    _AdminBase = object


def is_workspace_admin(user) -> bool:
    return bool(user.is_active and user.is_staff and admin_workspace_ids(user=user).exists())


class WorkspaceScopedMixin(_AdminBase):
    """Mix into ModelAdmin and InlineModelAdmin; `workspace_path` leads from the model to its
    Workspace ("" for Workspace itself)."""

    workspace_path = "workspace"

    def scope(self, queryset, request):
        if request.user.is_superuser:
            return queryset
        lookup = f"{self.workspace_path}__in" if self.workspace_path else "pk__in"
        return queryset.filter(**{lookup: admin_workspace_ids(user=request.user)})

    def get_queryset(self, request):
        return self.scope(super().get_queryset(request), request)

    def _allowed(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        # One page asks these questions dozens of times (sidebar, inlines, buttons): answer
        # each once per request, so a page's query count does not grow with its admin classes.
        answers = request.__dict__.setdefault("_workspace_scope_answers", {})
        if "is_admin" not in answers:
            answers["is_admin"] = is_workspace_admin(request.user)
        if not answers["is_admin"]:
            return False
        if obj is None or not isinstance(obj, self.model):
            return True  # an inline is asked about its parent, which its own admin scoped
        key = (type(obj), obj.pk, self.workspace_path)
        if key not in answers:
            answers[key] = self.scope(
                type(obj)._default_manager.filter(pk=obj.pk), request
            ).exists()
        return answers[key]

    def has_module_permission(self, request):
        return self._allowed(request)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._allowed(request)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and not request.user.is_superuser:
            field.queryset = scoped_choices(field.queryset, request.user)
        return field


def scoped_choices(queryset, user):
    """Restrict a foreign-key choice list to what belongs to the user's admin workspaces."""
    model = queryset.model
    workspace_ids = admin_workspace_ids(user=user)
    if model is Workspace:
        return queryset.filter(pk__in=workspace_ids)
    if model is get_user_model():
        member_ids = Membership.objects.filter(workspace_id__in=workspace_ids).values("user_id")
        return queryset.filter(pk__in=member_ids)
    for path in ("workspace", "gpt__workspace", "action__workspace"):
        try:
            model._meta.get_field(path.split("__")[0])
        except Exception:  # noqa: S112 - FieldDoesNotExist: try the next path
            continue
        return queryset.filter(**{f"{path}__in": workspace_ids})
    return queryset.none()


class ScopedModelAdmin(WorkspaceScopedMixin, admin.ModelAdmin):
    pass


class ScopedTabularInline(WorkspaceScopedMixin, admin.TabularInline):
    pass


class ScopedStackedInline(WorkspaceScopedMixin, admin.StackedInline):
    pass


# Services from admin forms ---------------------------------------------------------------------


class _DryRun(Exception):
    """Raised to roll back a service call made only to learn whether it would be refused."""


def service_refusal(call) -> RuleViolation | None:
    """Run `call` (a service write) in a savepoint that is always rolled back; return the
    RuleViolation it raised, or None if it would succeed.

    Admin forms validate in clean() this way, so a refusal is shown on the form (and not as a
    500 from save_model) and the rule checked is exactly the service's, not a copy of it.
    """
    try:
        with transaction.atomic():
            call()
            raise _DryRun
    except _DryRun:
        return None
    except RuleViolation as exc:
        return exc


def add_rule_error(form, exc: RuleViolation, renames: dict | None = None) -> None:
    """Show a refusal next to the input it names (`exc.extra["field"]`), else above the form."""
    field = str(exc.extra.get("field") or "")
    field = (renames or {}).get(field, field)
    form.add_error(field if field in form.fields else None, exc.detail)


class RefusalAsMessageMixin(_AdminBase):
    """A service refusing at save time (the state changed between clean() and save) rolls the
    admin's transaction back; the page says why instead of answering 500."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except RuleViolation as exc:
            messages.error(request, exc.detail)
            return HttpResponseRedirect(request.get_full_path())


class CascadeThroughServiceMixin(_AdminBase):
    """For admins whose delete goes through a service that removes the dependent records
    (operations, approvals, invocations...): those records' own admins refuse deleting them
    one by one, which must not block the service's cascade."""

    def get_deleted_objects(self, objs, request):
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected
