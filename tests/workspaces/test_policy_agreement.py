"""The two matchers of the action-domain policy agree: the database lookup
(`workspaces.policy.domain_check`) and the allowlist in memory (`domain_policy_snapshot`).

Property-based, against PostgreSQL: random allowlists (stored as the admin stores them, through
`parse_allowlist_entry`) and random hosts spelled every way a schema or a redirect may spell them
(IDNA, case, trailing dot, ports, `*.` entries, subdomains and parents, IP literals, garbage).
Both matchers must give the same verdict with the same message, and that verdict must be the one
a plain reading of the rules gives (DESIGN.md §2).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_workspace
from workspaces.domains import (
    NO_DOMAINS_ALLOWED,
    DomainError,
    DomainNotAllowed,
    normalize_host,
    parse_allowlist_entry,
)
from workspaces.models import AllowedDomain
from workspaces.policy import domain_check, domain_policy_snapshot

pytestmark = pytest.mark.django_db

# Few labels, so that hosts and entries often share suffixes (subdomain, parent, sibling).
LABELS = [
    "api",
    "a",
    "example",
    "acme",
    "co",
    "uk",
    "com",
    "bücher",
    "xn--bcher-kva",
    "公司",
    "dev",
]
IPS = ["10.0.0.1", "10.0.0.2", "2001:db8::1", "127.0.0.1"]


def _respell(label: str, draw) -> str:
    style = draw(st.sampled_from(["same", "upper", "title", "fullwidth"]))
    if style == "upper":
        return label.upper()
    if style == "title":
        return label.title()
    if style == "fullwidth" and label.isascii() and label.isalpha():
        # UTS #46 maps full-width letters to ASCII: the same host for the policy.
        return "".join(chr(ord(ch) - 0x61 + 0xFF41) for ch in label.lower())
    return label


@st.composite
def names(draw, *, min_labels=1) -> str:
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=min_labels, max_size=4))
    return ".".join(_respell(label, draw) for label in labels)


@st.composite
def hosts(draw) -> str:
    kind = draw(st.sampled_from(["name", "name", "name", "ip", "garbage"]))
    if kind == "ip":
        ip = draw(st.sampled_from(IPS))
        return f"[{ip}]" if ":" in ip and draw(st.booleans()) else ip
    if kind == "garbage":
        return draw(st.sampled_from(["", "exa_mple.com", "a..example", "-x.example", "☃.*", "a b"]))
    host = draw(names())
    if draw(st.booleans()):
        host += "."
    if draw(st.booleans()):
        host += f":{draw(st.sampled_from([443, 8080]))}"
    return host


@st.composite
def allowlists(draw) -> list[str]:
    raw = draw(
        st.lists(
            st.one_of(
                names(),
                names().map(lambda name: f"*.{name}"),
                names().map(lambda name: f"{name}."),
                st.sampled_from(IPS),
            ),
            max_size=6,
        )
    )
    patterns = []
    for entry in raw:
        try:
            patterns.append(parse_allowlist_entry(entry, allow_ip_literals=True))
        except DomainError:
            continue  # the admin refuses it; nothing is stored
    return sorted(set(patterns))


def _outcome(call) -> tuple[str, str] | None:
    try:
        call()
    except DomainNotAllowed as exc:
        return (exc.host, exc.detail)
    return None


def _by_the_rules(patterns: list[str], host: str) -> bool:
    """The rules read literally, independent of both matchers."""
    try:
        name = normalize_host(host)
    except DomainError:
        return False
    for pattern in patterns:
        if pattern.startswith("*."):
            if name.endswith("." + pattern[2:]):
                return True
        elif name == pattern or (":" not in name and name.endswith("." + pattern)):
            if name != pattern and name.rpartition(".")[2].isdigit():
                continue  # an IP address has no parents
            return True
    return False


@pytest.fixture
def workspace(db):
    return make_workspace("Policy", allow_all_domains=False)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(patterns=allowlists(), checked=st.lists(hosts(), min_size=1, max_size=5))
def test_database_lookup_and_memory_matcher_agree(workspace, patterns, checked):
    AllowedDomain.objects.filter(workspace=workspace).delete()
    AllowedDomain.objects.bulk_create(
        AllowedDomain(workspace=workspace, pattern=pattern) for pattern in patterns
    )
    snapshot = domain_policy_snapshot(workspace=workspace)
    for host in checked:
        in_database = _outcome(lambda host=host: domain_check(workspace=workspace, host=host))
        in_memory = _outcome(lambda host=host: snapshot.check(host))
        assert in_database == in_memory, (patterns, host)
        assert (in_database is None) == _by_the_rules(patterns, host), (patterns, host)
        if in_database is not None and not patterns:
            assert in_database[1] == NO_DOMAINS_ALLOWED


@pytest.mark.parametrize(
    ("patterns", "host", "allowed"),
    [
        (["example.com"], "API.Example.COM.", True),
        (["api.example.com"], "example.com", False),  # never the parent
        (["*.example.com"], "example.com", False),  # a wildcard allows only subdomains
        (["*.example.com"], "a.b.example.com:8443", True),
        (["xn--bcher-kva.example"], "BÜCHER.example", True),
        (["10.0.0.1"], "1.10.0.0.1", False),
    ],
)
def test_agreement_on_the_rules_named_in_the_design(workspace, patterns, host, allowed):
    AllowedDomain.objects.bulk_create(
        AllowedDomain(workspace=workspace, pattern=p) for p in patterns
    )
    in_database = _outcome(lambda: domain_check(workspace=workspace, host=host))
    in_memory = _outcome(lambda: domain_policy_snapshot(workspace=workspace).check(host))
    assert in_database == in_memory
    assert (in_database is None) is allowed


def test_an_empty_allowlist_refuses_with_the_exact_sentence_in_both(workspace):
    for host in ["api.example.com", "exa_mple.com"]:
        expected = NO_DOMAINS_ALLOWED
        assert _outcome(lambda h=host: domain_check(workspace=workspace, host=h))[1] == expected
        assert _outcome(lambda h=host: domain_policy_snapshot(workspace=workspace).check(h))[1] == (
            expected
        )
