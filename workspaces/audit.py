"""The audit log: one place that writes AuditEvent rows, with secrets redacted."""

from typing import Any

from workspaces.models import AuditEvent, AuditKind, Workspace

# Keys whose values are secrets; they are recorded as "changed"/"unchanged", never in clear.
SECRET_KEYS = frozenset(
    {
        "api_key",
        "client_secret",
        "oauth_client_secret",
        "access_token",
        "refresh_token",
        "password",
        "code_verifier",
    }
)


def redact(values: dict[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    return {
        key: ("(set)" if value else "(empty)") if key in SECRET_KEYS else value
        for key, value in values.items()
    }


def audit_record(
    *,
    workspace: Workspace,
    actor,
    kind: AuditKind,
    target: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit row; `before`/`after` are redacted here so no caller can leak a secret."""
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=actor if actor is not None and actor.is_authenticated else None,
        kind=kind,
        target=target[:255],
        before=redact(before),
        after=redact(after),
    )


def audit_record_many(*, workspace: Workspace, actor, kind: AuditKind, changes) -> None:
    """Append one row per (target, before, after) in a single INSERT (bulk allowlist edits)."""
    actor = actor if actor is not None and actor.is_authenticated else None
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                workspace=workspace,
                actor=actor,
                kind=kind,
                target=target[:255],
                before=redact(before),
                after=redact(after),
            )
            for target, before, after in changes
        ]
    )
