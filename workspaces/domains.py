"""Action-domain matching: host normalisation, allowlist entries, and the policy matcher.

Pure Python, no database. Everything that compares a host with a workspace's allowlist goes
through this module, so the rules live in one place (DESIGN.md §2, "Workspaces and domain
policy"):

- A host is compared in punycode (IDNA 2008 with UTS #46 mapping), lower case, without a
  trailing dot; ports and schemes play no part.
- The entry `example.com` allows that host and all its subdomains; `*.example.com` allows only
  the subdomains; an entry never allows its parent.
- Entries that would open the policy to strangers are refused: URLs, IP literals (unless the
  deployment allows them), and public suffixes. Public suffixes are read from the Public
  Suffix List snapshot bundled with tldextract, offline. Both of its sections count: the ICANN
  section (`com`, `co.uk`) and the private one (`github.io`, `s3.amazonaws.com`), because an
  entry `github.io` would allow every GitHub Pages site, an attacker's included. For the same
  reason an entry that *contains* an ICANN public suffix is refused (every subdomain of
  `kawasaki.jp` is one): the owner lists the hosts they use under it instead. A company domain
  with only *private* suffixes below it (`amazonaws.com`, `salesforce.com`) is accepted.
- `registrable_domain` (the OAuth same-site rule) uses the ICANN section only, so that
  `oauth2.googleapis.com` belongs to `googleapis.com`, as the identity-provider list expects.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import idna
import tldextract

__all__ = [
    "NO_DOMAINS_ALLOWED",
    "DomainError",
    "DomainNotAllowed",
    "DomainPolicy",
    "candidate_patterns",
    "host_from_url",
    "normalize_host",
    "parse_allowlist_bulk",
    "parse_allowlist_entry",
    "policy_refusal",
    "registrable_domain",
]

NO_DOMAINS_ALLOWED = "No domains are allowed by your workspace's settings."

MAX_NAME_LENGTH = 253  # RFC 1035, in octets of the punycode form, without the trailing dot
MAX_LABEL_LENGTH = 63
# Far above any valid entry; keeps IDNA processing of pasted garbage cheap.
MAX_INPUT_LENGTH = 1024

_LDH = re.compile(r"[A-Za-z0-9.-]+")
_HEX_NUMBER = re.compile(r"0x[0-9a-f]*")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_PORT = re.compile(r"^(?P<host>.*):(?P<port>[0-9]+)$")
# Characters on which URL parsers disagree (urlsplit drops tabs and newlines, browsers read
# "\" as "/"): a URL holding any of them is refused rather than guessed at.
_UNSAFE_IN_URL = re.compile(r"[\s\\\x00-\x1f\x7f]")


class DomainError(ValueError):
    """An invalid host or allowlist entry; `str(error)` is a message for the person who typed it."""


class DomainNotAllowed(Exception):
    """The workspace's policy does not allow `host`; `detail` says so in a sentence."""

    def __init__(self, host: str, detail: str) -> None:
        super().__init__(detail)
        self.host = host
        self.detail = detail


# Hosts --------------------------------------------------------------------------------------


def normalize_host(host: str) -> str:
    """Return `host` as the policy compares it: punycode, lower case, no trailing dot, no port.

    Accepts a bare host, a `host:port`, and IP literals (`10.0.0.1`, `::1`, `[::1]:8443`),
    which come back in their compressed form without brackets. Raises DomainError otherwise.
    """
    if not isinstance(host, str) or not host.strip():
        raise DomainError("Enter a host name such as example.com.")
    text = host.strip()
    if len(text) > MAX_INPUT_LENGTH:
        raise DomainError(f"A domain name is at most {MAX_NAME_LENGTH} characters.")
    if text.startswith("["):
        literal, closed, rest = text[1:].partition("]")
        if not closed or (rest and not re.fullmatch(r":[0-9]+", rest)):
            raise DomainError(f"{text} is not a valid host.")
        return _ipv6_literal(literal, shown=text)
    if text.count(":") > 1:  # only an IPv6 address has several colons
        return _ipv6_literal(text, shown=text)
    port = _PORT.match(text)
    if port:
        text = port["host"]
    ip = _ipv4_literal(text)
    return ip if ip is not None else _normalize_name(text)


def host_from_url(url: str) -> str:
    """The normalised host of an http(s) URL; DomainError for anything else."""
    if not isinstance(url, str) or not url.strip():
        raise DomainError("Enter a URL such as https://example.com/.")
    text = url.strip()
    if _UNSAFE_IN_URL.search(text):
        raise DomainError("A URL cannot contain spaces, backslashes or control characters.")
    try:
        parts = urlsplit(text)
        _ = parts.port  # urlsplit checks the port only when it is read
    except ValueError:
        raise DomainError(f"{text} is not a valid URL.") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise DomainError("Enter an http or https URL, such as https://example.com/.")
    if "@" in parts.netloc:
        # Which side of "@" is the host is exactly where URL parsers have disagreed.
        raise DomainError("A URL with a user name or password in it is not accepted.")
    if not parts.hostname:
        raise DomainError(f"{text} has no host.")
    return normalize_host(parts.netloc.removesuffix(":"))  # "host:" means the default port


def registrable_domain(host: str) -> str:
    """The domain a registrant controls, by the ICANN section of the Public Suffix List.

    `api.example.co.uk` → `example.co.uk`. An IP address, a single label, or a public suffix
    itself comes back unchanged. A name under a TLD the list does not know (`.internal`,
    `.example`) counts its last two labels, as the list's default rule says.
    """
    name = normalize_host(host)
    if _is_ip(name) or "." not in name:
        return name
    parts = _extractor()(name, include_psl_private_domains=False)
    if not parts.suffix:
        return ".".join(name.split(".")[-2:])
    if not parts.domain:
        return name
    return f"{parts.domain}.{parts.suffix}"


def _ipv6_literal(text: str, *, shown: str) -> str:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        raise DomainError(f"{shown} is not a valid host.") from None
    if address.scope_id:
        # A zone ("%eth0") names a local interface; it has no meaning in a policy.
        raise DomainError(f"{shown} is not a valid host: remove the zone after %.")
    return address.compressed


def _ipv4_literal(text: str) -> str | None:
    if not text[-1:].isdigit():  # the common case, a name, without paying for an exception
        return None
    try:
        return ipaddress.IPv4Address(text).compressed
    except ValueError:
        return None


def _is_ip(name: str) -> bool:
    """For normalised hosts only: a name never ends in a numeric label (see _normalize_name)."""
    return ":" in name or name.rpartition(".")[2].isdigit()


def _normalize_name(text: str) -> str:
    """Punycode, lower case and no trailing dot for a domain name; DomainError if invalid."""
    labels = _plain_ascii_labels(text)
    if labels is None:
        labels = _idna_labels(text)
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH:
            raise _label_too_long(label, len(label))
    name = ".".join(labels)
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(
            f"A domain name is at most {MAX_NAME_LENGTH} characters; this one has {len(name)}."
        )
    last = labels[-1]
    if last.isdigit() or _HEX_NUMBER.fullmatch(last):
        # URL parsers read such a host as an IPv4 address (127.1, 0x7f.1, 2130706433):
        # refused, since it is neither a plain IPv4 address nor a domain name.
        raise DomainError(f"{text} is neither a valid IP address nor a valid domain name.")
    return name


def _plain_ascii_labels(text: str) -> list[str] | None:
    """The labels of a plain ASCII name that IDNA would only lower-case, else None.

    Letters, digits and inner hyphens, and no "--" (which rules out `xn--` labels and the
    reserved hyphens in 3rd and 4th place). Most hosts are like this; skipping the IDNA
    library for them keeps checks at runtime cheap. Anything else takes the full path.
    """
    if not _LDH.fullmatch(text) or "--" in text:
        return None
    labels = text.lower().removesuffix(".").split(".")
    if all(label and label[0] != "-" and label[-1] != "-" for label in labels):
        return labels
    return None


def _idna_labels(text: str) -> list[str]:
    """The punycode labels of any other name, with a message for each kind of fault."""
    try:
        # STD3 rules refuse what is not a letter, digit or hyphen, also after mapping, so a
        # full-width "／" cannot turn into a "/" that splits the host.
        mapped = idna.uts46_remap(text, std3_rules=True, transitional=False)
    except idna.IDNAError:
        raise DomainError(_bad_characters(text)) from None
    labels = mapped.removesuffix(".").split(".")
    if not all(labels):
        raise DomainError(
            f"{text} has an empty part: check for two dots in a row or a dot at the start."
        )
    result = []
    for label in labels:
        # Length first, in punycode octets: idna's own message is terse.
        ace_length = len(label) if label.isascii() else 4 + len(label.encode("punycode"))
        if ace_length > MAX_LABEL_LENGTH:
            raise _label_too_long(label, ace_length)
        if label.startswith("-") or label.endswith("-"):
            raise DomainError(f"A part of a domain name cannot start or end with a hyphen: {label}")
        try:
            result.append(idna.alabel(label).decode("ascii"))
        except idna.IDNAError:
            if label.startswith("xn--"):
                raise DomainError(f"{label} is not valid punycode.") from None
            if label.isascii() and label[2:4] == "--":
                raise DomainError(
                    f"{label} is not a valid part of a domain name: only punycode parts "
                    "(xn--…) have hyphens in the third and fourth places."
                ) from None
            raise DomainError(_bad_characters(text)) from None
    return result


def _label_too_long(label: str, length: int) -> DomainError:
    return DomainError(
        f"Each part of a domain name between dots is at most {MAX_LABEL_LENGTH} characters; "
        f"{label[:20]}… has {length}."
    )


def _bad_characters(text: str) -> str:
    return (
        f"{text} contains characters a domain name cannot have: use letters (of any script), "
        "digits, hyphens and dots."
    )


# Allowlist entries --------------------------------------------------------------------------


def parse_allowlist_entry(raw: str, *, allow_ip_literals: bool = False) -> str:
    """Validate one allowlist entry as the owner typed it; return the normalised pattern.

    Accepted: `example.com`, `api.example.com`, `*.example.com`, IDN names, any case, a
    trailing dot. `allow_ip_literals` (local development) also accepts IP addresses, matched
    exactly, and `localhost`. Raises DomainError with a message for the owner.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise DomainError("Enter a domain name such as example.com.")
    text = raw.strip()
    if len(text) > MAX_INPUT_LENGTH:
        raise DomainError(f"A domain name is at most {MAX_NAME_LENGTH} characters.")
    _refuse_non_hosts(text)

    if text.startswith("[") or text.count(":") > 1 or _ipv4_literal(text) is not None:
        ip = normalize_host(text)  # checks the IPv6 syntax
        if not allow_ip_literals:
            raise DomainError(
                "IP addresses are not accepted: enter a domain name such as example.com."
            )
        return ip

    wildcard = text.startswith("*.")
    name_part = text[2:] if wildcard else text
    if text in {"*", "*."}:
        raise DomainError(
            "A lone * is not accepted: to allow every domain, tick Allow all domains for GPT "
            "Actions instead."
        )
    if "*" in name_part:
        raise DomainError(
            "* is only accepted at the start, followed by a dot, as in *.example.com."
        )

    name = _normalize_name(name_part)
    if allow_ip_literals and name == "localhost" and not wildcard:
        return name
    pattern = f"*.{name}" if wildcard else name
    _refuse_public_suffix(pattern, name)
    return pattern


def parse_allowlist_bulk(
    text: str, *, allow_ip_literals: bool = False
) -> tuple[list[str], list[tuple[int, str, str]]]:
    """Parse one entry per line, as pasted into the editor.

    Returns the valid normalised patterns, in order of first appearance with duplicates
    collapsed (also duplicates by spelling: `Example.com.` and `example.com`), and the errors
    as `(line_number, raw_line, message)` with lines counted from 1. Blank lines and the
    whitespace around entries are ignored.
    """
    patterns: dict[str, None] = {}  # a dict keeps the first-seen order
    errors: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        raw = line.strip()
        if not raw:
            continue
        try:
            patterns.setdefault(parse_allowlist_entry(raw, allow_ip_literals=allow_ip_literals))
        except DomainError as exc:
            errors.append((number, raw, str(exc)))
    return list(patterns), errors


def _refuse_non_hosts(text: str) -> None:
    """Refuse URLs, paths, ports and the like, each with the message that says what to type."""
    if _SCHEME.match(text) or text.lower().startswith(("http:", "https:")):
        raise DomainError("Enter a domain name such as example.com, not a URL.")
    if re.search(r"[\s,;]", text):
        raise DomainError("Enter one domain name at a time, without spaces or commas.")
    if "@" in text:
        raise DomainError("Enter a domain name such as example.com, not an e-mail address.")
    path = re.search(r"[/?#\\]", text)
    if path:
        if path.start() == 0:
            raise DomainError("Enter a domain name such as example.com, not a path.")
        raise DomainError(f"Enter only the domain name, without a path: {text[: path.start()]}")
    port = _PORT.match(text)
    if port and (port["host"].count(":") == 0 or port["host"].endswith("]")):
        host = port["host"]
        raise DomainError(
            f"Ports play no part in the policy: enter {host} without :{port['port']}."
        )


def _refuse_public_suffix(pattern: str, name: str) -> None:
    """Refuse an entry that is, or contains, a public suffix: it would allow strangers' sites.

    Messages spell names as the owner reads them (Unicode), not in punycode.
    """
    shown, shown_pattern = _unicode(name), _unicode(pattern)
    if "." not in name:
        # The list's default rule: every top-level domain is a suffix, listed or not.
        kind = "a top-level domain"
    else:
        parts = _extractor()(name, include_psl_private_domains=True)
        if parts.domain:  # registrable, or below a registrable domain
            _refuse_covered_suffix(shown_pattern, name)
            return
        kind = _describe(parts.is_private)
    if pattern == name:
        raise DomainError(
            f"{shown} is {kind}: it would allow every site under it. Enter a domain such as "
            f"example.{shown}."
        )
    raise DomainError(
        f"{shown_pattern} would allow every site under {shown}, {kind}. Enter a domain such as "
        f"example.{shown}."
    )


def _refuse_covered_suffix(shown_pattern: str, name: str) -> None:
    covered = _suffixes_below().get(name)
    if covered is None:
        return
    rule, private = covered  # the list spells its rules in Unicode already
    if private:
        # A company's own domain with customer hosting below it (salesforce.com, rit.edu):
        # refusing it would lock its owners out; allowing it is the workspace owner's choice.
        return
    shown = _unicode(name)
    instead = f"Enter the hosts you use under {shown} instead."
    if rule == f"*.{name}":
        raise DomainError(
            f"Each subdomain of {shown} is {_describe(private)}, so {shown_pattern} would "
            f"allow strangers' sites. {instead}"
        )
    raise DomainError(
        f"{shown_pattern} would also allow every site under {rule}, {_describe(private)}. {instead}"
    )


def _describe(private: bool) -> str:
    if private:
        return "a shared hosting domain anyone can publish under"
    return "a public suffix anyone can register under"


def _unicode(name: str) -> str:
    """`name` for messages: the owner typed `公司.cn`, not `xn--55qx5d.cn`."""
    prefix = "*." if name.startswith("*.") else ""
    try:
        return prefix + idna.decode(name.removeprefix(prefix))
    except idna.IDNAError:
        return name


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    """tldextract on its bundled Public Suffix List snapshot: no URL to fetch, no disk cache.

    Its `tlds` are the rules of both sections; each call says which sections it wants.
    """
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


@functools.cache
def _suffixes_below() -> dict[str, tuple[str, bool]]:
    """Each name that has a public suffix somewhere below it → one such rule (the simplest)
    and whether it is in the private section. Built once, from the snapshot's rules."""
    found: dict[str, str] = {}
    # Plain rules before wildcards, then the shortest, so messages name e.g. s3.amazonaws.com.
    for rule in sorted(_extractor().tlds, key=lambda r: (r[0] == "*", r.count("."), r)):
        if rule.startswith("!"):
            continue  # an exception names a registrable domain, not a suffix
        labels = rule.split(".")
        # Strict ancestors, top-level domains aside (refused on their own); for
        # `*.kawasaki.jp` that starts at kawasaki.jp itself, since each child is a suffix.
        for i in range(1, len(labels) - 1):
            ancestor = _to_ascii(".".join(labels[i:]))
            if ancestor is not None:
                found.setdefault(ancestor, rule)
    return {name: (rule, _is_private_rule(rule)) for name, rule in found.items()}


def _is_private_rule(rule: str) -> bool:
    # A name the rule covers, asked of the full list: is its suffix from the private section?
    return _extractor()(rule.replace("*", "x"), include_psl_private_domains=True).is_private


def _to_ascii(name: str) -> str | None:
    try:
        return idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


# The policy ---------------------------------------------------------------------------------
#
# Two matchers read a workspace's allowlist: the database lookup (workspaces.policy.domain_check,
# one indexed query per host) and DomainPolicy below (the allowlist in memory, for pages and
# lists that check many hosts). They agree by construction: both ask `policy_refusal` with the
# same `candidate_patterns(host)`, the database as `pattern IN candidates`, DomainPolicy as
# `candidates & entries`, and `policy_refusal` alone words the refusal.


def candidate_patterns(name: str) -> list[str]:
    """The allowlist patterns that would allow the normalised host `name`.

    Each suffix of the name (an entry allows its host and all subdomains) and `*.` of each
    strict suffix (a wildcard allows only subdomains). An IP address is allowed by itself
    only: it has no parents.
    """
    if _is_ip(name):
        return [name]
    labels = name.split(".")
    suffixes = [".".join(labels[i:]) for i in range(len(labels))]
    return suffixes + [f"*.{suffix}" for suffix in suffixes[1:]]


def not_allowed_message(name: str) -> str:
    return f"The domain {name} is not allowed by your workspace's settings."


def policy_refusal(
    host: str,
    *,
    matches: Callable[[list[str]], bool],
    has_entries: Callable[[], bool],
) -> DomainNotAllowed | None:
    """Why a restricting policy refuses `host`, or None when it allows it.

    `matches(candidates)` says whether any allowlist entry is one of the candidate patterns;
    `has_entries()` whether the allowlist has any entry at all (asked only on a refusal, so an
    allowed host costs one lookup). With an empty allowlist the answer is always
    NO_DOMAINS_ALLOWED, the sentence the editor must show (DESIGN.md §2), even for a host that
    is not valid.
    """
    try:
        name = normalize_host(host)
    except DomainError as exc:
        if not has_entries():
            return DomainNotAllowed(str(host), NO_DOMAINS_ALLOWED)
        return DomainNotAllowed(str(host), str(exc))
    if matches(candidate_patterns(name)):
        return None
    if not has_entries():
        return DomainNotAllowed(name, NO_DOMAINS_ALLOWED)
    return DomainNotAllowed(name, not_allowed_message(name))


@dataclass(frozen=True)
class DomainPolicy:
    """A workspace's action-domain policy, in memory.

    `entries` are normalised patterns (as `parse_allowlist_entry` returns them). A lookup
    intersects the host's candidate patterns with the entries, so it costs O(labels in the
    host) whatever the number of entries.
    """

    allow_all: bool = False
    entries: frozenset[str] = field(default_factory=frozenset)

    # Written out because entries arrive as any iterable and are made canonical once, here.
    def __init__(self, allow_all: bool = False, entries: Iterable[str] = ()) -> None:
        object.__setattr__(self, "allow_all", bool(allow_all))
        object.__setattr__(
            self, "entries", frozenset(_canonical_pattern(entry) for entry in entries)
        )

    @classmethod
    def allow_everything(cls) -> DomainPolicy:
        """The policy of plans without one: every domain is allowed."""
        return cls(allow_all=True)

    def __repr__(self) -> str:
        return f"DomainPolicy(allow_all={self.allow_all}, entries=<{len(self.entries)}>)"

    def allows(self, host: str) -> bool:
        """Whether an action may reach `host`; an invalid host is never allowed (unless
        everything is, which does not look at the host at all)."""
        return self.refusal(host) is None

    def check(self, host: str) -> None:
        """Raise DomainNotAllowed, with the message the editor shows, unless `host` is allowed."""
        refusal = self.refusal(host)
        if refusal is not None:
            raise refusal

    def refusal(self, host: str) -> DomainNotAllowed | None:
        """The DomainNotAllowed `check` would raise, or None."""
        if self.allow_all:
            return None
        return policy_refusal(
            host,
            matches=lambda candidates: not self.entries.isdisjoint(candidates),
            has_entries=lambda: bool(self.entries),
        )


def _canonical_pattern(entry: str) -> str:
    """An entry as stored, checked and made canonical.

    Entries should come from `parse_allowlist_entry`, which does the full validation. Here a
    plain ASCII name already in canonical form costs one regex; any other spelling is
    normalised rather than silently never matching, and garbage raises DomainError.
    """
    wildcard = entry.startswith("*.")
    name = entry[2:] if wildcard else entry
    labels = _plain_ascii_labels(name)
    if labels is None or ".".join(labels) != name or labels[-1].isdigit():
        name = normalize_host(name)
    return f"*.{name}" if wildcard else name


def unicode_host(host: str) -> str:
    """The Unicode form of a punycode host (`xn--bcher-kva.example` → `bücher.example`), or ""
    when it has no punycode label or does not decode: pages show it beside the punycode form,
    which stays the one compared, so a look-alike can be told apart."""
    text = str(host or "")
    prefix = "*." if text.startswith("*.") else ""
    name = text[len(prefix) :]
    if "xn--" not in name.lower():
        return ""
    try:
        decoded = ".".join(
            idna.decode(label) if label.lower().startswith("xn--") else label
            for label in name.split(".")
        )
    except (idna.IDNAError, UnicodeError, ValueError):
        return ""
    return prefix + decoded if decoded != name else ""


def allowlist_entry_meaning(pattern: str) -> str:
    """What an allowlist entry allows, in words: `*.` entries allow the subdomains only."""
    text = str(pattern or "")
    if text.startswith("*."):
        return f"subdomains of {text[2:]} only, not {text[2:]} itself"
    return f"{text} and its subdomains"
