"""Benchmark: DomainPolicy checks against 10,000 allowlist entries, versus a linear scan.

Run from the project root: `.venv/bin/python bench/domain_check.py`. Both implementations
normalise the host the same way (`normalize_host`); they differ only in the lookup, so the
ratio shows what the suffix walk over two sets buys over scanning the list. The baseline is
measured in the same run, on the same hosts. Figures: bench/README.md.
"""

from __future__ import annotations

import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ENTRIES = 10_000
HOSTS_PER_SCENARIO = 1_000
BASELINE_HOSTS = 200  # the first hosts of each scenario: the scan is slow, the mix the same
MIN_SECONDS = 0.3  # per measurement: repeat the batch until at least this long
SEED = 20261124


def naive_allows(patterns: Sequence[str], host: str) -> bool:
    """The baseline: the same rules, checked entry by entry."""
    from workspaces.domains import DomainError, normalize_host

    try:
        name = normalize_host(host)
    except DomainError:
        return False
    for pattern in patterns:
        if pattern.startswith("*."):
            if name.endswith(pattern[1:]):
                return True
        elif name == pattern or name.endswith("." + pattern):
            return True
    return False


def make_entries(rng: random.Random) -> list[str]:
    """10,000 distinct patterns: 70% hosts (with their subdomains), 30% wildcards."""
    words = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka"]
    entries = []
    for i in range(ENTRIES):
        base = f"{rng.choice(words)}{i}.{rng.choice(['com', 'net', 'io', 'co.uk', 'example'])}"
        entries.append(f"*.{base}" if i % 10 < 3 else base)
    return entries


def make_scenarios(rng: random.Random, entries: list[str]) -> dict[str, list[str]]:
    exact = [e for e in entries if not e.startswith("*.")]
    wildcard = [e[2:] for e in entries if e.startswith("*.")]
    n = HOSTS_PER_SCENARIO
    return {
        "allowed (exact host)": [rng.choice(exact) for _ in range(n)],
        "allowed (subdomain)": [f"api.v1.{rng.choice(exact)}" for _ in range(n)],
        "allowed (wildcard)": [f"api.{rng.choice(wildcard)}" for _ in range(n)],
        "denied": [f"api.unknown{i}.example.org" for i in range(n)],
        "denied (port, case, dot)": [f"API.Unknown{i}.Example.ORG.:443" for i in range(n)],
        "allowed (IDN, idna path)": [f"bücher.{rng.choice(exact)}" for _ in range(n)],
    }


def ops_per_second(check: Callable[[str], bool], hosts: list[str]) -> float:
    """Best of three timed runs of the whole batch, each repeated for at least MIN_SECONDS."""
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while True:
            for host in hosts:
                check(host)
            done += len(hosts)
            elapsed = time.perf_counter() - start
            if elapsed >= MIN_SECONDS:
                break
        best = max(best, done / elapsed)
    return best


def main() -> None:
    from workspaces.domains import DomainPolicy, normalize_host

    rng = random.Random(SEED)
    entries = make_entries(rng)
    start = time.perf_counter()
    policy = DomainPolicy(allow_all=False, entries=entries)
    build_ms = (time.perf_counter() - start) * 1000
    scenarios = make_scenarios(rng, entries)

    # Same answers first: a fast wrong matcher is worth nothing.
    for hosts in scenarios.values():
        for host in hosts[:BASELINE_HOSTS]:
            assert policy.allows(host) == naive_allows(entries, host), host

    print(f"Python {platform.python_version()} on {platform.machine()}, {ENTRIES:,} entries")
    print(f"DomainPolicy built in {build_ms:.1f} ms")
    print(f"{'scenario':28} {'DomainPolicy ops/s':>19} {'linear scan ops/s':>18} {'ratio':>8}")
    for name, hosts in scenarios.items():
        fast = ops_per_second(policy.allows, hosts)
        slow = ops_per_second(lambda host: naive_allows(entries, host), hosts[:BASELINE_HOSTS])
        print(f"{name:28} {fast:>19,.0f} {slow:>18,.0f} {fast / slow:>7,.0f}x")
    plain = ops_per_second(normalize_host, scenarios["denied"])
    print(f"{'normalize_host alone':28} {plain:>19,.0f}")


if __name__ == "__main__":
    main()
