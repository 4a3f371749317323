"""Workspace admin for workspace owners and admins: members, allowed domains, audit log."""

from django.contrib import admin

from workspaces.admin_scoping import ScopedModelAdmin, ScopedTabularInline
from workspaces.audit import audit_record
from workspaces.models import AllowedDomain, AuditEvent, AuditKind, Membership, Workspace


class MembershipInline(ScopedTabularInline):
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class AllowedDomainInline(ScopedTabularInline):
    model = AllowedDomain
    extra = 0
    fields = ["pattern", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]


@admin.register(Workspace)
class WorkspaceAdmin(ScopedModelAdmin):
    workspace_path = ""
    ordering = ["name"]
    list_display = ["name", "slug", "plan", "allow_all_domains", "member_count", "created_at"]
    list_filter = ["plan", "allow_all_domains"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MembershipInline, AllowedDomainInline]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(_member_count=Count("memberships"))

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, obj):
        return obj._member_count

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("plan")  # the plan is billing, set by the operator only
        return fields

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_formset(self, request, form, formset, change):
        if formset.model is Membership:
            self._save_memberships(request, form.instance, formset)
            return
        super().save_formset(request, form, formset, change)

    def _save_memberships(self, request, workspace, formset):
        instances = formset.save(commit=False)
        for membership in formset.deleted_objects:
            audit_record(
                workspace=workspace,
                actor=request.user,
                kind=AuditKind.MEMBER_REMOVED,
                target=str(membership.user),
                before={"role": membership.role},
            )
            membership.delete()
        for membership in instances:
            if membership.pk is None:
                membership.save()
                audit_record(
                    workspace=workspace,
                    actor=request.user,
                    kind=AuditKind.MEMBER_ADDED,
                    target=str(membership.user),
                    after={"role": membership.role},
                )
                continue
            before = Membership.objects.get(pk=membership.pk).role
            membership.save()
            if before != membership.role:
                audit_record(
                    workspace=workspace,
                    actor=request.user,
                    kind=AuditKind.ROLE_CHANGED,
                    target=str(membership.user),
                    before={"role": before},
                    after={"role": membership.role},
                )


@admin.register(Membership)
class MembershipAdmin(ScopedModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "workspace__name"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["workspace"]

    def save_model(self, request, obj, form, change):
        before = Membership.objects.get(pk=obj.pk).role if change else None
        super().save_model(request, obj, form, change)
        if before != obj.role:
            audit_record(
                workspace=obj.workspace,
                actor=request.user,
                kind=AuditKind.ROLE_CHANGED if change else AuditKind.MEMBER_ADDED,
                target=str(obj.user),
                before={"role": before} if change else None,
                after={"role": obj.role},
            )

    def delete_model(self, request, obj):
        audit_record(
            workspace=obj.workspace,
            actor=request.user,
            kind=AuditKind.MEMBER_REMOVED,
            target=str(obj.user),
            before={"role": obj.role},
        )
        super().delete_model(request, obj)


@admin.register(AllowedDomain)
class AllowedDomainAdmin(ScopedModelAdmin):
    list_display = ["pattern", "workspace", "created_by", "created_at"]
    list_filter = [("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["pattern"]
    list_select_related = ["workspace", "created_by"]
    readonly_fields = ["created_by", "created_at"]


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedModelAdmin):
    """Read-only: an audit log that an admin could edit would prove nothing."""

    list_display = ["created_at", "workspace", "actor", "kind", "target"]
    list_filter = [
        "kind",
        ("workspace", admin.RelatedOnlyFieldListFilter),
        ("actor", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["target", "actor__username"]
    list_select_related = ["workspace", "actor"]
    readonly_fields = ["created_at", "workspace", "actor", "kind", "target", "before", "after"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
