"""The workspace's action-domain policy, read fresh from the database at every check.

No cache: a change by the owner applies to the very next call. One indexed query per check,
whatever the allowlist's size, because the candidate patterns come from the host's labels.
"""

from workspaces.domains import (
    NO_DOMAINS_ALLOWED,
    DomainError,
    DomainNotAllowed,
    DomainPolicy,
    normalize_host,
)
from workspaces.models import AllowedDomain, Workspace

__all__ = ["NO_DOMAINS_ALLOWED", "domain_check", "domain_allowed", "domain_policy_snapshot"]


def candidate_patterns(host: str) -> list[str]:
    """Allowlist patterns that would allow `host`: each suffix, and `*.` of each strict suffix."""
    labels = host.split(".")
    suffixes = [".".join(labels[i:]) for i in range(len(labels))]
    return suffixes + [f"*.{suffix}" for suffix in suffixes[1:]]


def policy_restricts(workspace: Workspace) -> bool:
    return workspace.has_domain_policy and not workspace.allow_all_domains


def domain_check(*, workspace: Workspace, host: str) -> None:
    """Raise DomainNotAllowed unless the workspace's policy allows `host` right now."""
    if not policy_restricts(workspace):
        return
    try:
        normalized = normalize_host(host)
    except DomainError as exc:
        raise DomainNotAllowed(host, str(exc)) from None
    entries = AllowedDomain.objects.filter(workspace=workspace)
    if entries.filter(pattern__in=candidate_patterns(normalized)).exists():
        return
    if not entries.exists():
        raise DomainNotAllowed(normalized, NO_DOMAINS_ALLOWED)
    raise DomainNotAllowed(
        normalized, f"The domain {normalized} is not allowed by your workspace's settings."
    )


def domain_allowed(*, workspace: Workspace, host: str) -> bool:
    try:
        domain_check(workspace=workspace, host=host)
    except DomainNotAllowed:
        return False
    return True


def domain_policy_snapshot(*, workspace: Workspace) -> DomainPolicy:
    """The whole policy in memory, for pages that check many hosts at once."""
    if not policy_restricts(workspace):
        return DomainPolicy.allow_everything()
    patterns = AllowedDomain.objects.filter(workspace=workspace).values_list("pattern", flat=True)
    return DomainPolicy(allow_all=False, entries=list(patterns))
