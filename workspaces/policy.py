"""The workspace's action-domain policy, read fresh from the database at every check.

No cache: a change by the owner applies to the very next call. One indexed query per allowed
host, whatever the allowlist's size, because the candidate patterns come from the host's labels
(a refusal asks once more, whether the allowlist is empty, to word the message).

`domain_check` and the in-memory `domain_policy_snapshot` give the same answer and the same
message for every host: both go through `workspaces.domains.policy_refusal`.
"""

from workspaces.domains import (
    NO_DOMAINS_ALLOWED,
    DomainPolicy,
    candidate_patterns,
    policy_refusal,
)
from workspaces.models import AllowedDomain, Workspace

__all__ = [
    "NO_DOMAINS_ALLOWED",
    "candidate_patterns",
    "domain_check",
    "domain_policy_snapshot",
    "policy_restricts",
]


def policy_restricts(workspace: Workspace) -> bool:
    return workspace.has_domain_policy and not workspace.allow_all_domains


def domain_check(*, workspace: Workspace, host: str) -> None:
    """Raise DomainNotAllowed unless the workspace's policy allows `host` right now."""
    if not policy_restricts(workspace):
        return
    entries = AllowedDomain.objects.filter(workspace=workspace)
    refusal = policy_refusal(
        host,
        matches=lambda candidates: entries.filter(pattern__in=candidates).exists(),
        has_entries=entries.exists,
    )
    if refusal is not None:
        raise refusal


def domain_policy_snapshot(*, workspace: Workspace) -> DomainPolicy:
    """The whole policy in memory, for pages that check many hosts at once (one query)."""
    if not policy_restricts(workspace):
        return DomainPolicy.allow_everything()
    patterns = AllowedDomain.objects.filter(workspace=workspace).values_list("pattern", flat=True)
    return DomainPolicy(allow_all=False, entries=list(patterns))
