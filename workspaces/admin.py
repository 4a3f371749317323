"""Workspace admin for workspace owners and admins: members, the action-domain policy, audit log.

Who may do what follows the workspace roles (tenant scoping lives in admin_scoping): owners and
admins manage members, only owners make, change or remove owners, only owners of Enterprise and
Edu workspaces change the action-domain policy (admins read it, other plans do not show it),
and the audit log is read-only for everyone. Writes go through workspaces.services, which own
those rules (the member rules under a lock on the workspace row) and write the audit rows, so
nothing changes here without leaving a trace. Forms validate with a rolled-back dry run of the
same service calls, so a refusal is a form error.
"""

import json
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from actions.selectors import actions_blocked_by_policy, actions_for_policy_preview
from kernel.errors import RuleViolation
from workspaces.admin_scoping import (
    CascadeThroughServiceMixin,
    RefusalAsMessageMixin,
    ScopedModelAdmin,
    ScopedTabularInline,
    add_rule_error,
    service_refusal,
)
from workspaces.domains import (
    DomainError,
    allowlist_entry_meaning,
    parse_allowlist_bulk,
    parse_allowlist_entry,
    unicode_host,
)
from workspaces.invitations import invitation_revoke, member_add
from workspaces.models import (
    PLANS_WITH_DOMAIN_POLICY,
    AllowedDomain,
    AuditEvent,
    Invitation,
    Membership,
    Plan,
    Role,
    Workspace,
)
from workspaces.policy import NO_DOMAINS_ALLOWED, domain_policy_snapshot, policy_restricts
from workspaces.services import (
    GOVERNANCE_FIELDS,
    domain_policy_update,
    mcp_enabled_update,
    membership_add,
    membership_remove,
    membership_set_role,
    workspace_settings_update,
)

# A paste bigger than this is a mistake (or an attack on the IDNA code), not an allowlist.
MAX_BULK_LINES = 5_000


# Roles of the acting user ----------------------------------------------------------------------


def acting_role(request, workspace_id) -> str | None:
    """The request user's role in the workspace, read once per request (permission checks ask
    many times while one page renders)."""
    cache = request.__dict__.setdefault("_workspace_roles", {})
    if workspace_id not in cache:
        cache[workspace_id] = (
            Membership.objects.filter(workspace_id=workspace_id, user=request.user)
            .values_list("role", flat=True)
            .first()
        )
    return cache[workspace_id]


def can_edit_policy(request, workspace: Workspace | None) -> bool:
    """Only an owner of an Enterprise or Edu workspace changes its policy (superusers too only
    when they are its owner: the service refuses anyone else)."""
    return (
        workspace is not None
        and workspace.pk is not None
        and workspace.has_domain_policy
        and acting_role(request, workspace.pk) == Role.OWNER
    )


def can_edit_governance(request, workspace: Workspace | None) -> bool:
    """Owners (and the operator) change the governance settings; admins read them."""
    return (
        workspace is not None
        and workspace.pk is not None
        and (request.user.is_superuser or acting_role(request, workspace.pk) == Role.OWNER)
    )


def can_edit_mcp(request, workspace: Workspace | None) -> bool:
    """Only an owner turns the MCP endpoints on or off; admins see the setting read-only."""
    return (
        workspace is not None
        and workspace.pk is not None
        and acting_role(request, workspace.pk) == Role.OWNER
    )


def check_entry(raw: str) -> str:
    """One allowlist entry, normalised, or a ValidationError with the parser's message."""
    try:
        return parse_allowlist_entry(
            raw, allow_ip_literals=settings.ACTION_DOMAIN_ALLOW_IP_LITERALS
        )
    except DomainError as exc:
        raise ValidationError(str(exc)) from None


# The blocked-actions preview --------------------------------------------------------------------


@dataclass(frozen=True)
class BlockedAction:
    gpt_id: int
    gpt_name: str
    domain: str
    reason: str


@dataclass(frozen=True)
class PolicyPreview:
    restricts: bool
    nothing_allowed: bool
    action_count: int
    blocked: list[BlockedAction]


def policy_preview(workspace: Workspace) -> PolicyPreview:
    """Which actions of the workspace the saved policy blocks, and why.

    Two queries whatever the number of actions or domains: the allowlist (only when the policy
    restricts) and the actions with their GPT. The rule (server host, then OAuth URLs) is
    `actions.selectors.actions_blocked_by_policy`, the one the editor and the API use.
    """
    policy = domain_policy_snapshot(workspace=workspace)
    actions = actions_for_policy_preview(workspace=workspace)
    found = actions_blocked_by_policy(workspace=workspace, actions=actions, policy=policy)
    restricts = policy_restricts(workspace)
    return PolicyPreview(
        restricts=restricts,
        nothing_allowed=restricts and not policy.entries,
        action_count=len(actions),
        blocked=[
            BlockedAction(a.gpt_id, a.gpt.name, a.domain, found[a.pk].reason)
            for a in actions
            if a.pk in found
        ],
    )


# Members ----------------------------------------------------------------------------------------


def membership_plan(formset, actor) -> list[tuple]:
    """The member list's edits as service calls, in an order that never passes through "no
    owner": new members first, then promotions to owner, other role changes, removals last
    (so "make B owner, remove A" in one save works, as it would in two); the actor's own row
    last of its kind, so the actor keeps the role that entitles the other edits."""
    adds: list[tuple] = []
    promotions: list[tuple] = []
    changes: list[tuple] = []
    removals: list[tuple] = []
    for form in formset.forms:
        existing = form.instance.pk is not None
        if formset.can_delete and formset._should_delete_form(form):
            if existing:
                removals.append((membership_remove, {"membership": form.instance}))
            continue
        if not existing:
            if form.has_changed():
                adds.append(
                    (
                        membership_add,
                        {
                            "workspace": formset.instance,
                            "user": form.cleaned_data["user"],
                            "role": form.cleaned_data["role"],
                        },
                    )
                )
            continue
        before, after = form.initial.get("role"), form.cleaned_data.get("role")
        if before != after:
            call = (membership_set_role, {"membership": form.instance, "role": after})
            (promotions if after == Role.OWNER else changes).append(call)

    def own_row_last(call):
        return call[1]["membership"].user_id == getattr(actor, "pk", None)

    changes.sort(key=own_row_last)
    removals.sort(key=own_row_last)
    return adds + promotions + changes + removals


def run_membership_plan(plan, actor) -> list[Membership]:
    return [service(actor=actor, **kwargs) for service, kwargs in plan]


class MembershipFormSet(BaseInlineFormSet):
    """The member list, checked by a dry run of the membership services before anything is
    saved: their refusal (owner rules, the last owner) is the formset's error."""

    actor = None  # set per request by MembershipInline.get_formset

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        for form in self.forms:
            if form.instance.pk is not None and "user" in form.changed_data:
                raise ValidationError(
                    "A member's user cannot be swapped: remove the row and add a new one."
                )
        if self.instance.pk is None:
            return  # a workspace being added (operators only): nothing to check against yet
        plan = membership_plan(self, self.actor)
        refusal = service_refusal(lambda: run_membership_plan(plan, self.actor))
        if refusal is not None:
            raise ValidationError(refusal.detail)


class MembershipInline(ScopedTabularInline):
    model = Membership
    formset = MembershipFormSet
    extra = 0
    verbose_name_plural = "Members"
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        # The row title is str(membership), which names the user and the workspace.
        return super().get_queryset(request).select_related("user", "workspace")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "user" and field is not None:
            # Every row's select lists the same users: read them once, not once per row.
            field.choices = list(field.choices)
        return field


# Invitations ------------------------------------------------------------------------------------


class PendingInvitationInline(ScopedTabularInline):
    """Invitations that can still be accepted; ticking "Revoke" withdraws one (through
    invitation_revoke, audited) when the page is saved."""

    model = Invitation
    extra = 0
    verbose_name = "pending invitation"
    verbose_name_plural = "Pending invitations"
    fields = readonly_fields = ("email", "role", "invited_by", "created_at", "expires_at")

    def get_queryset(self, request):
        pending = (
            super()
            .get_queryset(request)
            .filter(accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())
        )
        return pending.select_related("invited_by", "workspace")  # the row title names both

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Invitation)
class InvitationAdmin(ScopedModelAdmin):
    """Every invitation of the admin's workspaces, pending or not, as a record; pending ones
    can be revoked (the "Revoke" action). New ones are made on the workspace page."""

    list_display = ["email", "workspace", "role", "state", "invited_by", "created_at", "expires_at"]
    list_filter = [("workspace", admin.RelatedOnlyFieldListFilter), "role"]
    search_fields = ["email"]
    list_select_related = ["workspace", "invited_by", "accepted_by"]
    fields = readonly_fields = (
        "workspace",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    )
    actions = ["revoke"]

    @admin.display(description="State")
    def state(self, obj) -> str:
        if obj.accepted_at:
            return f"Accepted by {obj.accepted_by}" if obj.accepted_by else "Accepted"
        if obj.revoked_at:
            return "Revoked"
        return "Pending" if obj.is_pending else "Expired"

    @admin.action(description="Revoke selected invitations")
    def revoke(self, request, queryset):
        revoked = 0
        for invitation in queryset.filter(accepted_at=None, revoked_at=None):
            try:
                invitation_revoke(invitation=invitation, actor=request.user)
                revoked += 1
            except RuleViolation as exc:
                messages.error(request, f"{invitation.email}: {exc.detail}")
        messages.success(request, f"{revoked} invitation(s) revoked.")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The allowlist ----------------------------------------------------------------------------------


class AllowedDomainForm(forms.ModelForm):
    class Meta:
        model = AllowedDomain
        fields = ["pattern"]
        labels = {"pattern": "Domain"}

    def clean_pattern(self) -> str:
        return check_entry(self.cleaned_data["pattern"])


class AllowedDomainFormSet(BaseInlineFormSet):
    """Duplicates are compared after normalisation (`Example.com.` is `example.com`)."""

    def get_unique_error_message(self, unique_check):
        return "This domain is already on the allowlist."

    def get_form_error(self):
        return "Enter each domain once."


class AllowedDomainInline(ScopedTabularInline):
    """The allowlist on the workspace page. Saved by WorkspaceAdmin through the policy service,
    never row by row, so the audit rows are written in one place."""

    model = AllowedDomain
    form = AllowedDomainForm
    formset = AllowedDomainFormSet
    extra = 0
    verbose_name = "allowed domain"
    verbose_name_plural = "Allowed domains"
    fields = ["pattern", "allows", "created_by", "created_at"]
    readonly_fields = ["allows", "created_by", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    @admin.display(description="Allows")
    def allows(self, obj) -> str:
        """What the entry allows in words, with the Unicode form of a punycode entry beside it
        (the entry is stored and compared in punycode; people read the Unicode)."""
        if obj is None or not obj.pattern:
            return ""
        shown = unicode_host(obj.pattern)
        meaning = allowlist_entry_meaning(obj.pattern)
        return f"{meaning} (reads as {shown})" if shown else meaning

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and can_edit_policy(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and can_edit_policy(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and can_edit_policy(request, obj)


class AddNewDomainFormSet(helpers.InlineAdminFormSet):
    """The allowlist's add button says "Add new domain", as the product names it (Django's
    text, "Add another …", lives in a JSON attribute no template block reaches)."""

    def inline_formset_data(self):
        data = json.loads(super().inline_formset_data())
        data["options"]["addText"] = "Add new domain"
        return json.dumps(data)


# The workspace ----------------------------------------------------------------------------------


POLICY_PLANS = " or ".join(sorted(Plan(plan).label for plan in PLANS_WITH_DOMAIN_POLICY))


class WorkspaceAdminForm(forms.ModelForm):
    """The workspace form of every workspace admin: with "Invite by e-mail", which adds a user
    of the deployment at once or e-mails an invitation (workspaces.invitations.member_add)."""

    invite_email = forms.EmailField(
        label="Invite by e-mail",
        required=False,
        help_text="A user of this deployment with this address joins at once; anyone else gets "
        "an e-mail with a link (single use, valid 7 days).",
    )
    invite_role = forms.ChoiceField(
        label="Role", choices=Role.choices, initial=Role.MEMBER, required=False
    )

    class Meta:
        model = Workspace
        fields = ["name", "slug", "allow_all_domains", *GOVERNANCE_FIELDS, "mcp_enabled"]

    actor = None  # set per request by WorkspaceAdmin.get_form

    def clean(self):
        cleaned = super().clean() or {}
        email = cleaned.get("invite_email")
        if email and self.instance.pk is not None and not self.errors:
            refusal = service_refusal(
                lambda: member_add(
                    workspace=self.instance,
                    actor=self.actor,
                    role=cleaned.get("invite_role") or Role.MEMBER,
                    email=email,
                )
            )
            if refusal is not None:
                self.add_error("invite_email", refusal.detail)
        return cleaned


class WorkspacePolicyForm(WorkspaceAdminForm):
    """The workspace form an owner of an Enterprise or Edu workspace gets: with a bulk paste."""

    bulk_domains = forms.CharField(
        label="Add many domains",
        required=False,
        strip=False,  # keep leading blank lines, so "line N" in an error is the line pasted
        widget=forms.Textarea(
            attrs={"rows": 5, "cols": 60, "placeholder": "example.com\n*.example.org"}
        ),
        help_text=(
            "Paste domains, one per line, to add them to the allowlist. If any line is not a "
            "valid domain, nothing is saved."
        ),
    )

    def clean_bulk_domains(self) -> list[str]:
        text = self.cleaned_data.get("bulk_domains") or ""
        if text.count("\n") >= MAX_BULK_LINES:
            raise ValidationError(f"Paste at most {MAX_BULK_LINES:,} lines at a time.")
        patterns, errors = parse_allowlist_bulk(
            text, allow_ip_literals=settings.ACTION_DOMAIN_ALLOW_IP_LITERALS
        )
        if errors:
            raise ValidationError(
                [f"line {number}: {raw}: {message}" for number, raw, message in errors]
            )
        return patterns


@admin.register(Workspace)
class WorkspaceAdmin(CascadeThroughServiceMixin, RefusalAsMessageMixin, ScopedModelAdmin):
    workspace_path = ""
    ordering = ["name"]
    list_display = ["name", "slug", "plan", "domain_policy", "member_count", "created_at"]
    list_filter = ["plan", "allow_all_domains"]
    search_fields = ["name", "slug"]
    form = WorkspaceAdminForm
    inlines = [AllowedDomainInline, MembershipInline, PendingInvitationInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_member_count=Count("memberships"))

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, obj):
        return obj._member_count

    @admin.display(description="Action domains")
    def domain_policy(self, obj) -> str:
        if not obj.has_domain_policy or obj.allow_all_domains:
            return "All domains"
        return "Allowlist only"

    def get_fieldsets(self, request, obj=None):
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ["name", "slug", "plan", "created_at", "updated_at"]})
        ]
        if obj is not None:
            fieldsets.append(
                (
                    "MCP",
                    {
                        "fields": ["mcp_enabled"],
                        "description": (
                            "MCP hosts (Claude, Cursor, ChatGPT connectors...) reach each GPT at "
                            "/mcp/gpts/<id>, as the signed-in person, under the same domain "
                            "policy and approvals. Only the workspace owner changes it."
                        ),
                    },
                )
            )
        if obj is not None and obj.has_domain_policy:
            fields = ["allow_all_domains"]
            if can_edit_policy(request, obj):
                fields.append("bulk_domains")
            fieldsets.append(
                (
                    "Action-domain policy",
                    {
                        "fields": fields,
                        "description": (
                            "An entry allows that domain and its subdomains (example.com "
                            "allows api.example.com); *.example.com allows only the "
                            "subdomains. Only the workspace owner changes the policy."
                        ),
                    },
                )
            )
        elif obj is not None:
            fieldsets.append(("Action-domain policy", {"fields": ["every_domain_allowed"]}))
        if obj is not None:
            fieldsets.append(
                (
                    "Governance",
                    {
                        "fields": list(GOVERNANCE_FIELDS),
                        "description": (
                            "Enforced in every channel (runs, Preview, chat, MCP, tool export). "
                            "Only the workspace owner changes these; each change is audited."
                        ),
                    },
                )
            )
            fieldsets.append(("Invite by e-mail", {"fields": ["invite_email", "invite_role"]}))
        return fieldsets

    @admin.display(description="Action domains")
    def every_domain_allowed(self, obj) -> str:
        # A workspace whose plan has no policy would otherwise show nothing about domains.
        return (
            f"Every domain is allowed: the {obj.get_plan_display()} plan lets actions call any "
            f"domain. Restricting them to an allowlist needs the {POLICY_PLANS} plan."
        )

    def get_readonly_fields(self, request, obj=None):
        fields = ["created_at", "updated_at"]
        if obj is not None and not obj.has_domain_policy:
            fields.append("every_domain_allowed")
        if not request.user.is_superuser:
            fields.append("plan")  # the plan is billing, set by the operator only
        if not can_edit_policy(request, obj):
            fields.append("allow_all_domains")
        if not can_edit_governance(request, obj):
            fields.extend(GOVERNANCE_FIELDS)
        if not can_edit_mcp(request, obj):
            fields.append("mcp_enabled")
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if can_edit_policy(request, obj):
            kwargs["form"] = WorkspacePolicyForm
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_inlines(self, request, obj):
        if obj is not None and obj.has_domain_policy:
            return [AllowedDomainInline, MembershipInline, PendingInvitationInline]
        return [MembershipInline, PendingInvitationInline]

    def get_inline_formsets(self, request, formsets, inline_instances, obj=None):
        admin_formsets = super().get_inline_formsets(request, formsets, inline_instances, obj)
        for admin_formset in admin_formsets:
            if admin_formset.formset.model is AllowedDomain:
                # Same object, one overridden method: the add button's text.
                admin_formset.__class__ = AddNewDomainFormSet
        return admin_formsets

    def has_add_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.has_domain_policy:
            context["policy_preview"] = policy_preview(obj)
            context["no_domains_allowed"] = NO_DOMAINS_ALLOWED
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        if "allow_all_domains" in form.cleaned_data:
            # The policy service saves this field with its audit row; keep the stored value here.
            obj.allow_all_domains = form.initial.get("allow_all_domains", obj.allow_all_domains)
        governance = {}
        for field in GOVERNANCE_FIELDS:
            if field in form.cleaned_data:
                # workspace_settings_update saves these with their audit rows.
                governance[field] = form.cleaned_data[field]
                setattr(obj, field, form.initial.get(field, getattr(obj, field)))
        wanted_mcp = None
        if "mcp_enabled" in form.cleaned_data:
            # Saved by the service, with its audit row and its owner check.
            wanted_mcp = form.cleaned_data["mcp_enabled"]
            obj.mcp_enabled = form.initial.get("mcp_enabled", obj.mcp_enabled)
        super().save_model(request, obj, form, change)
        if wanted_mcp is not None and change and wanted_mcp != obj.mcp_enabled:
            mcp_enabled_update(workspace=obj, actor=request.user, enabled=wanted_mcp)
            obj.mcp_enabled = wanted_mcp
        if change and governance:
            saved = workspace_settings_update(workspace=obj, actor=request.user, **governance)
            for field in GOVERNANCE_FIELDS:
                setattr(obj, field, getattr(saved, field))
        email = form.cleaned_data.get("invite_email")
        if change and email:
            added = member_add(
                workspace=obj,
                actor=request.user,
                role=form.cleaned_data.get("invite_role") or Role.MEMBER,
                email=email,
            )
            if added.invitation is not None:
                messages.success(
                    request,
                    f"Invitation e-mailed to {added.invitation.email} (valid 7 days, single "
                    f"use): {added.accept_url}",
                )
            else:
                joined = added.membership
                assert joined is not None  # no invitation: the person joined at once
                messages.success(request, f"{joined.user} joined as {joined.role}.")

    def save_related(self, request, form, formsets, change):
        form.save_m2m()
        workspace = form.instance
        for formset in formsets:
            if formset.model is AllowedDomain:
                removed, added = self._allowlist_edits(formset)
                if can_edit_policy(request, workspace):
                    self._apply_policy(request, form, removed, added)
        for formset in formsets:
            if formset.model is not AllowedDomain:
                self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        if formset.model is Membership:
            self._save_memberships(request, form.instance, formset)
            return
        if formset.model is Invitation:
            formset.new_objects, formset.changed_objects = [], []
            formset.deleted_objects = [f.instance for f in formset.deleted_forms]
            for invitation in formset.deleted_objects:
                invitation_revoke(invitation=invitation, actor=request.user)
            return
        if formset.model is AllowedDomain:
            raise AssertionError("The allowlist is saved by the policy service only.")
        super().save_formset(request, form, formset, change)

    @staticmethod
    def _allowlist_edits(formset) -> tuple[set[str], set[str]]:
        """Patterns the inline removes and adds; also fills the formset's change lists, which
        the admin's history message reads (the rows themselves are saved by the service)."""
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        removed, added = set(), set()
        deleted = formset.deleted_forms if formset.can_delete else []
        for form in formset.initial_forms:
            original = form.initial.get("pattern")
            if form in deleted:
                removed.add(original)
                formset.deleted_objects.append(form.instance)
            elif form.has_changed() and form.cleaned_data.get("pattern", original) != original:
                removed.add(original)
                added.add(form.cleaned_data["pattern"])
                formset.changed_objects.append((form.instance, ["pattern"]))
        for form in formset.extra_forms:
            if form.has_changed() and form not in deleted:
                added.add(form.cleaned_data["pattern"])
                formset.new_objects.append(form.instance)
        return removed, added

    @staticmethod
    def _apply_policy(request, form, removed: set[str], added: set[str]) -> None:
        workspace = form.instance
        current = set(workspace.allowed_domains.values_list("pattern", flat=True))
        wanted = (current - removed) | added | set(form.cleaned_data.get("bulk_domains") or [])
        allow_all = form.cleaned_data.get("allow_all_domains")
        if wanted == current and allow_all in (None, workspace.allow_all_domains):
            return
        domain_policy_update(
            workspace=workspace, actor=request.user, allow_all=allow_all, allowed=sorted(wanted)
        )

    @staticmethod
    def _save_memberships(request, workspace, formset) -> None:
        plan = membership_plan(formset, request.user)
        formset.save(commit=False)  # fills new/changed/deleted_objects (history) without writing
        saved = run_membership_plan(plan, request.user)
        by_user = {m.user_id: m for m in saved if m is not None}
        for membership in formset.new_objects:
            membership.pk = by_user[membership.user_id].pk


def save_membership(*, pk: int | None, cleaned: dict, actor) -> Membership:
    """What the membership form does, as a service call."""
    if pk is not None:
        stored = Membership.objects.get(pk=pk)
        return membership_set_role(membership=stored, role=cleaned["role"], actor=actor)
    return membership_add(
        workspace=cleaned["workspace"], user=cleaned["user"], role=cleaned["role"], actor=actor
    )


class MembershipForm(forms.ModelForm):
    actor = None  # set per request by MembershipAdmin.get_form
    membership_pk = None

    def clean(self):
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        refusal = service_refusal(
            lambda: save_membership(pk=self.membership_pk, cleaned=cleaned, actor=self.actor)
        )
        if refusal is not None:
            add_rule_error(self, refusal)
        return cleaned

    def validate_unique(self):
        """The service says "already a member" (as a form error) itself."""


@admin.register(Membership)
class MembershipAdmin(RefusalAsMessageMixin, ScopedModelAdmin):
    form = MembershipForm
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", ("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "workspace__name"]
    list_select_related = ["user", "workspace"]
    autocomplete_fields = ["workspace"]

    def get_readonly_fields(self, request, obj=None):
        # Moving a membership to another user or workspace would dodge the owner rules and
        # the audit trail: remove it and add a new one instead.
        return ["workspace", "user", "created_at"] if obj else ["created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(
            form.__name__,
            (form,),
            {"actor": request.user, "membership_pk": obj.pk if obj is not None else None},
        )

    def save_model(self, request, obj, form, change):
        cleaned = dict(form.cleaned_data)
        if change:
            cleaned.setdefault("role", obj.role)
        saved = save_membership(pk=obj.pk if change else None, cleaned=cleaned, actor=request.user)
        obj.pk = saved.pk

    def has_delete_permission(self, request, obj=None):
        if not super().has_delete_permission(request, obj):
            return False
        return obj is None or _removal_refusal(request, obj) is None

    def delete_view(self, request, object_id, extra_context=None):
        # The delete button is hidden for a refused removal; a posted one says why.
        membership = self.get_object(request, object_id)
        if membership is not None and super().has_delete_permission(request, membership):
            refusal = _removal_refusal(request, membership)
            if refusal:
                messages.error(request, refusal)
                return HttpResponseRedirect(
                    reverse("admin:workspaces_membership_change", args=[membership.pk])
                )
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        membership_remove(membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        memberships = list(queryset.select_related("user", "workspace"))
        try:
            with transaction.atomic():  # refuse the batch, not half of it
                for membership in memberships:
                    membership_remove(membership=membership, actor=request.user)
        except RuleViolation as exc:
            raise PermissionDenied(exc.detail) from None


def _removal_refusal(request, membership: Membership) -> str | None:
    refusal = service_refusal(lambda: membership_remove(membership=membership, actor=request.user))
    return refusal.detail if refusal is not None else None


@admin.register(AllowedDomain)
class AllowedDomainAdmin(ScopedModelAdmin):
    """Read-only list across the user's workspaces; the allowlist is edited on the workspace
    page, where the owner rule and the audit apply."""

    list_display = ["pattern", "workspace", "created_by", "created_at"]
    list_filter = [("workspace", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["pattern"]
    list_select_related = ["workspace", "created_by"]
    readonly_fields = ["workspace", "pattern", "created_by", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    fields = readonly_fields = (
        "created_at",
        "workspace",
        "actor",
        "kind",
        "target",
        "before",
        "after",
    )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
