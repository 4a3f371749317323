"""The workspace's word on its operations, in one place (DESIGN.md §7).

Which operations may run or be offered to a model is decided here and nowhere else: the runtime
(`actions.runtime.run.operation_run`, behind the run API, the editor's Preview, chat and MCP)
asks `operation_refusal`, and the tool export (`actions.selectors.callable_actions`, behind the
tools endpoint, chat and MCP) keeps only `exportable_operations`. So a channel added later
inherits the rules by calling those two, and cannot forget one of them.

The rules, in the order a refusal names them:
- an operation an admin disabled does not run (`operation_disabled`);
- one waiting for an admin's review does not run (`operation_pending_review`);
- a read-only workspace (`action_access = read_only`) runs only operations that are not
  consequential (`read_only_workspace`).

And for approvals: in an `always_ask` workspace "Always allow" is offered nowhere and the
approvals users remembered are ignored (`always_allow_offered`, `remembered_approvals_apply`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from actions.models import Operation, OperationReview
from kernel.errors import RuleViolation
from workspaces.models import ActionAccess, ApprovalMode, Workspace


def operation_refusal(operation: Operation, workspace: Workspace) -> RuleViolation | None:
    """Why the workspace does not let `operation` run now, or None when it may."""
    name = operation.operation_id
    if not operation.enabled:
        return RuleViolation(
            "operation_disabled",
            f"{name} is turned off by an admin of the workspace.",
            status=403,
            operation_id=name,
        )
    if operation.review == OperationReview.PENDING:
        return RuleViolation(
            "operation_pending_review",
            f"{name} is new or changed and waits for an admin of the workspace to approve it.",
            status=403,
            operation_id=name,
        )
    if workspace.action_access == ActionAccess.READ_ONLY and operation.consequential:
        return RuleViolation(
            "read_only_workspace",
            f"{name} may change things, and this workspace lets actions only read: only "
            "operations that are not consequential run.",
            status=403,
            operation_id=name,
        )
    return None


def exportable_operations(operations: Iterable[Operation], *, workspace: Workspace) -> list:
    """The operations a model, an MCP host or the tools endpoint may be offered: exactly those
    `operation_refusal` lets run."""
    return [op for op in operations if operation_refusal(op, workspace) is None]


def exportable_filter(workspace: Workspace) -> Q:
    """`exportable_operations` as a filter on Operation rows, for prefetching only what may be
    offered (`actions.selectors.callable_actions`), so a consumer that iterates an action's
    operations cannot offer a refused one. The same three rules; tests/actions/test_governance.py
    checks the two agree on every combination."""
    condition = Q(enabled=True, review=OperationReview.APPROVED)
    if workspace.action_access == ActionAccess.READ_ONLY:
        condition &= Q(consequential=False)
    return condition


def always_allow_offered(operation: Operation, workspace: Workspace) -> bool:
    """Whether "Always allow" is offered: for operations that are not consequential, unless the
    workspace asks every time."""
    return not operation.consequential and workspace.approvals != ApprovalMode.ALWAYS_ASK


def remembered_approvals_apply(workspace: Workspace) -> bool:
    """Whether users' "Always allow" choices count: not while the workspace always asks (it
    beats what users chose; their Consent rows are kept and count again if it is turned off)."""
    return workspace.approvals != ApprovalMode.ALWAYS_ASK
