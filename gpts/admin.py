"""GPTs in the admin, scoped to the workspaces the staff user administers.

Every write goes through `gpts.services` (and deleting an action through `actions.services`),
so the admin obeys the rules the editor and the API obey: no Pro model on a GPT with actions,
no public visibility while an action lacks a privacy policy URL, apps or actions but never both,
and a GPT moved to another workspace takes its actions along. The form validates by running the
same service calls in a savepoint that is rolled back, so a refusal is shown as a form error.
"""

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Count

from actions.models import Action
from actions.services import action_delete, gpt_move
from gpts.models import GPT
from gpts.services import EDITABLE_FIELDS, gpt_create, gpt_delete, gpt_update
from workspaces.admin_scoping import (
    CascadeThroughServiceMixin,
    RefusalAsMessageMixin,
    ScopedModelAdmin,
    ScopedTabularInline,
    add_rule_error,
    service_refusal,
)


def save_gpt(*, pk: int | None, cleaned: dict, changed: list[str], user) -> GPT:
    """What the admin's GPT form does, as service calls: create, or update the changed fields
    and then move the GPT (with its actions) when its workspace changed."""
    fields = {name: cleaned[name] for name in EDITABLE_FIELDS if name in cleaned}
    if pk is None:
        return gpt_create(workspace=cleaned["workspace"], acting_user=user, **fields)
    gpt = GPT.objects.get(pk=pk)
    changed_fields = {name: value for name, value in fields.items() if name in changed}
    if changed_fields:
        gpt = gpt_update(gpt=gpt, acting_user=user, **changed_fields)
    if "workspace" in changed:
        gpt = gpt_move(gpt=gpt, workspace=cleaned["workspace"], acting_user=user)
    return gpt


class GPTAdminForm(forms.ModelForm):
    acting_user = None  # set per request by GPTAdmin.get_form

    class Meta:
        model = GPT
        fields = ["workspace", *EDITABLE_FIELDS]

    def clean(self):
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        refusal = service_refusal(
            lambda: save_gpt(
                pk=self.instance.pk,
                cleaned=cleaned,
                changed=self.changed_data,
                user=self.acting_user,
            )
        )
        if refusal is not None:
            add_rule_error(self, refusal)
        return cleaned


class ActionInline(ScopedTabularInline):
    model = Action
    workspace_path = "workspace"
    extra = 0
    fields = readonly_fields = (
        "domain",
        "auth_type",
        "privacy_policy_url",
        "openapi_version",
        "updated_at",
    )
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False  # actions are created with a schema, in the editor or the API


@admin.register(GPT)
class GPTAdmin(CascadeThroughServiceMixin, RefusalAsMessageMixin, ScopedModelAdmin):
    form = GPTAdminForm
    list_display = [
        "name",
        "workspace",
        "model",
        "visibility",
        "action_count",
        "created_by",
        "updated_at",
    ]
    list_filter = ["visibility", "model", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "description"]
    list_select_related = ["workspace", "created_by"]
    autocomplete_fields = ["workspace"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
    inlines = [ActionInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_action_count=Count("actions"))

    @admin.display(description="Actions", ordering="_action_count")
    def action_count(self, obj):
        return obj._action_count

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"acting_user": request.user})

    def save_model(self, request, obj, form, change):
        saved = save_gpt(
            pk=obj.pk if change else None,
            cleaned=form.cleaned_data,
            changed=form.changed_data,
            user=request.user,
        )
        # The admin goes on with `obj` (history, messages, redirect): make it the saved row.
        obj.pk, obj.workspace_id, obj.created_by_id = (
            saved.pk,
            saved.workspace_id,
            saved.created_by_id,
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Action:
            super().save_formset(request, form, formset, change)
            return
        formset.save(commit=False)  # fills deleted_objects for the history message; writes nothing
        for action in formset.deleted_objects:
            action_delete(action=action, acting_user=request.user)

    def delete_model(self, request, obj):
        gpt_delete(gpt=obj, acting_user=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for gpt in queryset:
            gpt_delete(gpt=gpt, acting_user=request.user)
