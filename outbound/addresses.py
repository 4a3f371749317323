"""Which network addresses outbound HTTP may reach, and the deployment's allowlist.

Pure functions over `ipaddress` objects: no sockets, no Django models. `outbound.py` resolves a
host once, asks `refusal_reason()` about every address, and consults `Allowlist` (built from
`settings.OUTBOUND_ALLOW_PRIVATE`) before refusing.

Decisions worth knowing:

- Host strings are never matched as text. IPv4 literals are parsed the way a C resolver's
  `inet_aton` (and the WHATWG URL parser) read them, so `2130706433`, `0177.0.0.1`, `0x7f.1` and
  `127.1` are all 127.0.0.1; a host that ends in a number but is no valid address is rejected.
- IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is treated as, and connected to, the IPv4 address.
- 6to4 (2002::/16) and NAT64 (64:ff9b::/96) addresses carry an IPv4 address that the network
  will deliver to; they are judged by that embedded address. Teredo (2001::/32) and the local
  NAT64 prefix 64:ff9b:1::/48 are refused outright.
- Anything not globally routable is refused; the tables below only give the refusal its name.
- Cloud metadata endpoints are refused even inside an allowlisted CIDR range: only an exact
  `ip:port` entry (or `name:port` for a metadata host name) unlocks one.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata services: credentials live behind these, so they get their own, stricter
# rule (see module docstring).
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle...
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.170.23",  # AWS EKS pod identity
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS EKS pod identity over IPv6
    )
)
METADATA_HOSTNAMES = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data.ec2.internal"}
)

# (network, adjective) — the adjective completes "The address X is ...".
_V4_TABLE: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "reserved (this network)"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
        ("192.0.2.0/24", "reserved for documentation"),
        ("192.88.99.0/24", "reserved (6to4 relay anycast)"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved for benchmarking"),
        ("198.51.100.0/24", "reserved for documentation"),
        ("203.0.113.0/24", "reserved for documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_V6_TABLE: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "private (local-use NAT64)"),
        ("100::/64", "reserved (discard-only)"),
        ("2001::/32", "reserved (Teredo tunnelling)"),
        ("2001:db8::/32", "reserved for documentation"),
        ("3fff::/20", "reserved for documentation"),
        ("2001::/23", "reserved (IETF protocol assignments)"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "private (site-local)"),
        ("ff00::/8", "multicast"),
        ("::/8", "reserved"),
    )
)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")

# What a refusal says actions may not reach, by the start of the reason.
_REACH = (
    ("loopback", "the server's own loopback interface"),
    ("private", "private networks"),
    ("link-local", "link-local networks"),
    ("multicast", "multicast groups"),
    ("broadcast", "broadcast addresses"),
    ("unspecified", "unspecified addresses"),
    ("shared", "carrier-grade NAT networks"),
    ("a cloud metadata", "cloud metadata services"),
)


def canonical(ip: IPAddress) -> IPAddress:
    """Drop an IPv6 zone id, and read an IPv4-mapped IPv6 address as the IPv4 address it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
    return ip


def refusal_reason(ip: IPAddress) -> str | None:
    """Why `ip` may not be reached without an allowlist entry ("private", "loopback", ...),
    or None for a public, globally routable address."""
    ip = canonical(ip)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata service"
    if isinstance(ip, ipaddress.IPv4Address):
        for net, why in _V4_TABLE:
            if ip in net:
                return why
        # Whatever the table forgot but IANA does not call global is refused all the same.
        return None if ip.is_global else "reserved"
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        inner = refusal_reason(embedded)
        return f"{inner} (it embeds {embedded})" if inner else None
    for net, why in _V6_TABLE:
        if ip in net:
            return why
    if ip not in _GLOBAL_UNICAST or not ip.is_global:
        return "reserved"
    return None


def refusal_sentence(ip: IPAddress, host: str, reason: str) -> str:
    """The human sentence for a refused address.

    For an IP literal the address is the builder's own text: "The address 10.0.0.5 is
    private; ...". For a name the resolved address is not shown (it maps the deployment's
    internal network for whoever reads the message): "internal.example resolves to a private
    address; ...".
    """
    ip = canonical(ip)
    reach = next(
        (what for start, what in _REACH if reason.startswith(start)),
        "reserved or special-purpose addresses",
    )
    unless = (
        ""
        if reason.startswith("a cloud metadata")
        else " unless the deployment allowlists them (OUTBOUND_ALLOW_PRIVATE)"
    )
    if host in (str(ip), f"[{ip}]"):
        return f"The address {ip} is {reason}; actions may not reach {reach}{unless}."
    return f"{host} resolves to {_kind_of_address(reason)}; actions may not reach {reach}{unless}."


def _kind_of_address(reason: str) -> str:
    """ "a private address" for "private (it embeds 10.0.0.1)": the kind, never the address."""
    if reason.startswith("a cloud metadata"):
        return "a cloud metadata service's address"
    kind = reason.split(" (", 1)[0].split(" for ", 1)[0]
    if kind == "shared address space":
        kind = "a shared (carrier-grade NAT)"
    else:
        kind = ("an " if kind[:1] in "aeiou" else "a ") + kind
    return f"{kind} address"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that 6to4 or well-known-prefix NAT64 would deliver to."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _embedded_metadata(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv4Address):
        return False
    return _embedded_ipv4(ip) in METADATA_ADDRESSES


# -- IPv4 literals as a C resolver reads them -------------------------------------------------

_NUMBER_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)


def ends_in_number(host: str) -> bool:
    """WHATWG's test: a host whose last label is numeric must be an IPv4 address or nothing."""
    return bool(_NUMBER_LABEL.fullmatch(host.rsplit(".", 1)[-1]))


_IPV4_PART = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*", re.IGNORECASE)


def parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """Parse `host` like `inet_aton`: 1 to 4 parts, each decimal, octal (leading 0) or hex
    (0x); the last part fills the remaining bytes. None when it is no such address."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_IPV4_PART.fullmatch(p) for p in parts):
        return None
    numbers = [
        int(p[2:] or "0", 16) if p[:2].lower() == "0x" else int(p, 8 if p[0] == "0" else 10)
        for p in parts
    ]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_ip_literal(host: str) -> IPAddress | None:
    """An IP address written as a URL host (`127.1`, `[::1]`, `[fe80::1%25eth0]`), canonical;
    None for a name. Raises ValueError for something that is neither."""
    if host.startswith("[") or host.endswith("]"):
        if not (host.startswith("[") and host.endswith("]")):
            raise ValueError("unbalanced brackets")
        inner = host[1:-1].replace("%25", "%", 1)
        try:
            return canonical(ipaddress.IPv6Address(inner))
        except ValueError:
            raise ValueError(f"{host} is not a valid IPv6 address") from None
    if ":" in host:
        try:  # an allowlist entry may spell IPv6 without brackets
            return canonical(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f"{host} is not a valid address") from None
    if ends_in_number(host):
        ip = parse_ipv4(host)
        if ip is None:
            raise ValueError(f"{host} is neither a valid IPv4 address nor a domain name")
        return ip
    return None


# -- OUTBOUND_ALLOW_PRIVATE --------------------------------------------------------------------


@dataclass(frozen=True)
class Allowlist:
    """Parsed `OUTBOUND_ALLOW_PRIVATE`.

    Entries: `host:port` (an IP literal or a name, e.g. `127.0.0.1:8000`, `[::1]:8000`,
    `localhost:8000`) allows that address or name on that port only; a CIDR (`127.0.0.0/8`) or a
    bare IP (`10.1.2.3`, taken as /32 or /128) allows those addresses on every port. A name
    entry trusts whatever the name resolves to, except metadata addresses. Bare names and
    malformed entries are ignored with a warning.
    """

    pairs: frozenset[tuple[str, int]]
    networks: tuple[IPNetwork, ...]

    def allows(self, ip: IPAddress, port: int, host: str) -> bool:
        """May `host`, resolved to `ip`, be reached on `port` although `ip` is not public?"""
        ip = canonical(ip)
        if (str(ip), port) in self.pairs:
            return True
        if ip in METADATA_ADDRESSES or _embedded_metadata(ip):
            return False  # only an exact ip:port entry unlocks a metadata address
        if (host, port) in self.pairs:
            return True
        return any(ip.version == net.version and ip in net for net in self.networks)

    def allows_name(self, host: str, port: int) -> bool:
        """Is `host:port` listed literally? (Metadata host names need exactly that.)"""
        return (host, port) in self.pairs


def _parse_entry(entry: str) -> tuple[str, int] | IPNetwork | None:
    entry = entry.strip().lower()
    if "/" in entry:
        try:
            return ipaddress.ip_network(entry.strip("[]").replace("]/", "/"), strict=False)
        except ValueError:
            return None
    try:
        ip = parse_ip_literal(entry)
    except ValueError:
        ip = None
    if ip is not None:
        return ipaddress.ip_network(ip)
    host, sep, port = entry.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        return None
    try:
        ip = parse_ip_literal(host)
    except ValueError:
        return None
    name = str(ip) if ip is not None else host.rstrip(".")
    return (name, int(port))


@functools.lru_cache(maxsize=32)
def _parse_allowlist(entries: tuple[str, ...]) -> Allowlist:
    pairs: set[tuple[str, int]] = set()
    networks: list[IPNetwork] = []
    for entry in entries:
        parsed = _parse_entry(entry)
        if parsed is None:
            logger.warning(
                "OUTBOUND_ALLOW_PRIVATE entry %r ignored: expected host:port or a CIDR", entry
            )
        elif isinstance(parsed, tuple):
            pairs.add(parsed)
        else:
            networks.append(parsed)
    return Allowlist(frozenset(pairs), tuple(networks))


def allowlist(entries: Iterable[str] | None = None) -> Allowlist:
    """The allowlist from `entries`, or from `settings.OUTBOUND_ALLOW_PRIVATE` when None.
    Parsing is cached per distinct list, so calling this on every request is cheap and a
    changed setting (tests) takes effect at once."""
    if entries is None:
        entries = _setting()
    elif isinstance(entries, str):
        entries = entries.split(",")
    return _parse_allowlist(tuple(e for e in entries if e and e.strip()))


def _setting() -> list[str]:
    try:
        value = getattr(settings, "OUTBOUND_ALLOW_PRIVATE", None) or []
    except ImproperlyConfigured:  # used outside Django (a bench script): nothing allowlisted
        return []
    return value.split(",") if isinstance(value, str) else list(value)
