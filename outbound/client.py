"""The one way out: guarded HTTP for action calls, OAuth token requests and schema URL imports.

Every request, and every redirect hop, goes through the same steps (DESIGN.md §2, §3, §4):

1. The URL is parsed strictly: http or https only, no user info, no backslashes, whitespace or
   control characters; the host is normalised (IDNA, lowercase, one trailing dot dropped) and an
   IP literal is read the way a C resolver reads it (`2130706433`, `0x7f.1`, `[::ffff:7f00:1]`).
2. `host_check(host)` (the workspace's domain policy) runs on the normalised host.
3. The name is resolved ONCE; every address it resolves to is checked (`addresses.py`), and the
   connection goes to one of those checked addresses, never to a fresh lookup of the name. The
   Host header (and, for https, SNI and certificate verification) still use the name, so DNS
   rebinding between "check" and "connect" is impossible.
4. Loopback, private, link-local, CGNAT, multicast, reserved and cloud-metadata addresses are
   refused unless `settings.OUTBOUND_ALLOW_PRIVATE` lists them. A destination that is not listed
   there must use https on port 443; a listed one may use plain http and any port.
5. One deadline covers the whole call (connect, TLS, sending, headers, body, every redirect): a
   watchdog shuts the socket down when it passes, so a server dripping a byte a second can not
   stretch the call, and every socket operation also times out at the time that is left.
6. The body is read in chunks, decompressed (gzip/deflate) and decoded incrementally; the call
   stops as soon as it passes `max_body_chars` characters. Binary responses are refused.
7. Redirects are followed here, never by the library: at most `max_redirects`, each hop going
   through all of the above again.

Nothing here logs a header value, a query string or a body: those carry secrets.
"""

from __future__ import annotations

import codecs
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin

import idna

# urllib3, not requests: pinning the connection to a checked IP while keeping SNI and
# certificate checks on the host name needs its connection classes (server_hostname,
# assert_hostname), and redirects, decompression and retries must all stay under our control.
# This module is the only place allowed to speak HTTP to the outside (ruff TID251 bans the
# higher-level clients everywhere else).
import urllib3.connection  # noqa: TID251 - the guarded outbound client lives here
import urllib3.exceptions  # noqa: TID251 - the guarded outbound client lives here
import urllib3.response  # noqa: TID251 - the guarded outbound client lives here
from urllib3.util.ssl_match_hostname import CertificateError  # noqa: TID251 - as above

from outbound import addresses
from outbound.addresses import IPAddress
from outbound.policy import OutboundPolicy, Resolver

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 8192
USER_AGENT = "actions-platform/1.0 (+outbound)"

_DEFAULT_PORTS = {"http": 80, "https": 443}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 16 * 1024  # bytes read from the socket at a time
_PIECE = 64 * 1024  # at most this many bytes come out of a decompressor per step
_SNIFF = 1024  # characters looked at for NUL bytes when the type is not declared
# The client sets these itself: framing, the target host and what it can decode.
_CONTROLLED_HEADERS = frozenset(
    "host content-length transfer-encoding connection accept-encoding te upgrade keep-alive "
    "trailer expect".split()
)
# The only request headers that follow a redirect to another origin; everything else
# (Authorization, Cookie, API-key headers of any name) stays behind.
_CROSS_ORIGIN_HEADERS = frozenset(
    "accept accept-language user-agent content-type content-language cache-control pragma".split()
)
_BODY_HEADERS = frozenset({"content-type", "content-language", "content-encoding"})
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?")
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))  # keep printable ASCII as it is

# Content types (DESIGN.md §2: text responses only). Anything in neither list is sniffed.
_TEXT_TYPES = frozenset(
    f"application/{sub}"
    for sub in (
        "json xml x-yaml yaml javascript x-javascript ecmascript x-www-form-urlencoded graphql "
        "x-ndjson ndjson jsonl vnd.oai.openapi x-sh sql toml csv"
    ).split()
)
_TEXT_SUFFIXES = ("+json", "+xml", "+yaml")
_BINARY_TOP_TYPES = frozenset({"image", "audio", "video", "font", "model", "multipart"})
_BINARY_TYPES = frozenset(
    f"application/{sub}"
    for sub in (
        "octet-stream pdf zip gzip x-gzip x-tar x-bzip2 x-xz x-7z-compressed x-rar-compressed "
        "vnd.rar java-archive wasm msword protobuf x-protobuf grpc cbor msgpack x-msgpack bson "
        "x-shockwave-flash x-executable x-sqlite3"
    ).split()
)
_BINARY_PREFIXES = ("vnd.openxmlformats", "vnd.oasis.opendocument", "vnd.ms-")
_BINARY_SUFFIXES = ("+zip", "+gzip", "+cbor", "+protobuf")
# Text codecs that are escapes rather than charsets; a server does not get to pick them.
_ODD_CODECS = frozenset({"unicode-escape", "raw-unicode-escape", "punycode", "idna"})

HostCheck = Callable[[str], None]


class OutboundError(Exception):
    """A refused or failed outbound call. `code` is for programs (`address_not_allowed`,
    `timeout`, ...), `detail` is one sentence for people, naming the reason; `host` is the host
    of the hop that failed (set by fetch()). A `domain_not_allowed` error keeps the exception
    host_check raised as its `__cause__`."""

    def __init__(self, code: str, detail: str, host: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.host = host

    def __repr__(self) -> str:
        return f"OutboundError({self.code!r}, {self.detail!r})"


@dataclass
class OutboundResponse:
    """The final answer. `headers` has lowercased names (repeated headers joined by ", ");
    `text` is the decoded body; `content` the same body as bytes (after gzip/deflate);
    `bytes_received` counts body bytes as they came over the wire; `redirects` lists the URLs
    followed, in order, so `url` is the last of them (or the requested URL)."""

    status: int
    headers: dict[str, str]
    text: str
    url: str
    elapsed_ms: float
    bytes_received: int
    redirects: list[str] = field(default_factory=list)
    content: bytes = b""
    reason: str = ""

    @property
    def content_type(self) -> str:
        """The media type without parameters, lowercased ("" when the server sent none)."""
        return _parse_content_type(self.headers.get("content-type", ""))[0]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def fetch(
    method: str,
    url: str,
    *,
    policy: OutboundPolicy | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    host_check: HostCheck | None = None,
) -> OutboundResponse:
    """Send one request under every rule of this module and the limits of `policy`
    (`outbound.policy`: one per purpose), and return the final answer.

    `host_check(host)` runs on the host of the URL and of every redirect; whatever it raises
    with a `detail` attribute becomes `OutboundError("domain_not_allowed", detail)`.

    Raises OutboundError. 4xx and 5xx answers are returned, not raised.
    """
    policy = policy or OutboundPolicy()
    started = time.perf_counter()
    request = _Request(
        method=_check_method(method),
        target=_parse_url(url),
        headers=_check_headers(headers),
        payload=_check_body(body, policy.max_body_chars),
    )
    call = _Call(
        deadline=_Deadline(policy.timeout),
        allow=addresses.allowlist(policy.allow_private),
        host_check=host_check,
        resolver=policy.resolver,
        ssl_context=policy.ssl_context,
        max_body_chars=policy.max_body_chars,
        allow_binary=policy.allow_binary,
        secret_headers=frozenset(name.lower() for name in policy.sensitive_headers),
    )
    redirects: list[str] = []
    try:
        while True:
            hop = _open(request, call)
            try:
                following = _next_request(hop, request, call, len(redirects), policy.max_redirects)
                if following is None:
                    reader = _read_body(hop, request, call)
            finally:
                hop.close()
            if following is None:
                break
            request = following
            redirects.append(request.target.url)
    except OutboundError as exc:
        exc.host = exc.host or request.target.host
        logger.info(
            "outbound %s to %s refused or failed: %s", request.method, request.target.host, exc.code
        )
        raise
    finally:
        call.deadline.close()
    result = OutboundResponse(
        status=hop.resp.status,
        headers=_response_headers(hop.resp),
        text=reader.text,
        url=request.target.url,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        bytes_received=reader.raw_bytes,
        redirects=redirects,
        content=reader.content,
        reason=hop.resp.reason or "",
    )
    logger.info(
        "outbound %s %s:%s -> %s (%.0f ms, %d bytes, %d redirects)",
        request.method,
        request.target.host,
        request.target.port,
        result.status,
        result.elapsed_ms,
        result.bytes_received,
        len(redirects),
    )
    return result


def is_insecure_destination_allowed(host: str, port: int | None, *, scheme: str = "http") -> bool:
    """May a URL on `host:port` use plain http (or a port other than 443)?

    Used by the schema validator for server and OAuth URLs. It decides from the allowlist
    strings alone and never resolves `host`: true when `host:port` is listed literally
    (`localhost:8000`), or when `host` is an IP literal inside a listed range or listed with that
    port. A name is not matched against CIDR entries (list `localhost:8000` explicitly). `port`
    None means the scheme's default. fetch() still checks the resolved addresses at call time.
    """
    if not isinstance(host, str) or not host:
        return False
    try:
        name, ip = _normalise_host(host if ":" not in host or host.startswith("[") else f"[{host}]")
    except OutboundError:
        return False
    port = port or _DEFAULT_PORTS.get(scheme, 80)
    allow = addresses.allowlist()
    if ip is not None:
        return allow.allows(ip, port, name)
    return allow.allows_name(name, port)


# -- the request ------------------------------------------------------------------------------


def _check_method(method: str) -> str:
    upper = method.upper() if isinstance(method, str) else ""
    if upper not in _METHODS:
        raise OutboundError(
            "invalid_request",
            f"The method {str(method)[:20]!r} can not be used; use one of "
            f"{', '.join(sorted(_METHODS))}.",
        )
    return upper


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Validate names and values (no header injection), drop the ones the client controls."""
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise OutboundError(
                "invalid_request", f"The header name {str(name)[:40]!r} is not valid."
            )
        # The value is never quoted back: it may be a secret.
        if not isinstance(value, str) or any(c in value for c in "\r\n\0"):
            raise OutboundError("invalid_request", f"The value of the header {name} is not valid.")
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise OutboundError(
                "invalid_request",
                f"The value of the header {name} has characters HTTP can not send.",
            ) from None
        if name.lower() not in _CONTROLLED_HEADERS:
            checked[name] = value
    if not _has(checked, "user-agent"):
        checked["User-Agent"] = USER_AGENT
    return checked


def _check_body(body: bytes | str | None, max_chars: int) -> bytes | None:
    if body is None:
        return None
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise OutboundError("invalid_request", "The request body must be bytes.")
    body = bytes(body)
    try:
        size = len(body.decode("utf-8"))
    except UnicodeDecodeError:
        size = len(body)  # not text: count bytes
    if size > max_chars:
        raise OutboundError(
            "request_too_large",
            f"The request body is {size:,} characters; the limit is {max_chars:,}.",
        )
    return body


def _has(headers: Mapping[str, str], name: str) -> bool:
    return any(key.lower() == name for key in headers)


@dataclass(frozen=True)
class _Request:
    """What one hop sends."""

    method: str
    target: _Target
    headers: dict[str, str]
    payload: bytes | None


@dataclass(frozen=True)
class _Call:
    """What stays the same across the hops of one fetch()."""

    deadline: _Deadline
    allow: addresses.Allowlist
    host_check: HostCheck | None
    resolver: Resolver | None
    ssl_context: ssl.SSLContext | None
    max_body_chars: int
    allow_binary: bool
    secret_headers: frozenset[str]


def _next_request(
    hop: _Hop, request: _Request, call: _Call, followed: int, limit: int
) -> _Request | None:
    """The request a redirect asks for, or None when the answer is final.

    Made as a browser makes it (Fetch standard): 303 turns anything but HEAD into a GET,
    301/302 turn a POST into a GET, 307/308 keep method and body. Leaving the origin (scheme,
    host or port) keeps only harmless headers, so credentials never follow."""
    location = hop.resp.headers.get("location")
    if hop.resp.status not in _REDIRECTS or location is None:
        return None
    target = _redirect_target(request.target, location, followed, limit, hop.resp.status)
    method, payload, headers = request.method, request.payload, request.headers
    status = hop.resp.status
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, payload = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
    if target.origin != request.target.origin:
        headers = {
            k: v
            for k, v in headers.items()
            if k.lower() in _CROSS_ORIGIN_HEADERS and k.lower() not in call.secret_headers
        }
        if not _has(headers, "user-agent"):
            headers["User-Agent"] = USER_AGENT
    return _Request(method, target, headers, payload)


# -- URLs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # IDNA name, or the canonical IP (IPv6 without brackets)
    ip: IPAddress | None  # set when the URL names an IP literal
    port: int
    path: str  # path and query, percent-encoded, never the fragment

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if self.ip is not None and self.ip.version == 6 else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)


def _invalid(reason: str) -> OutboundError:
    return OutboundError("invalid_url", f"The URL is not valid: {reason}.")


def _parse_url(url: str) -> _Target:
    """Parse strictly; anything a browser and a server might read differently is refused."""
    if not isinstance(url, str) or not url:
        raise _invalid("it is empty")
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"it is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c.isspace() for c in url):
        raise _invalid("it contains whitespace or control characters")
    if "\\" in url:
        raise _invalid("it contains a backslash")
    match = _SCHEME.match(url)
    if not match:
        raise _invalid("it has no scheme; give an absolute http(s) URL")
    scheme = match.group(1).lower()
    if scheme not in _DEFAULT_PORTS:
        raise OutboundError(
            "scheme_not_allowed", f"Only http and https URLs can be fetched, not {scheme}:."
        )
    rest = url[match.end() :]
    if not rest.startswith("//"):
        raise _invalid("give an absolute URL of the form scheme://host/path")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, remainder = rest[:end], rest[end:]
    if "@" in authority:
        raise _invalid("user names and passwords in URLs are not allowed")
    host_part, port = _split_port(authority, scheme)
    host, ip = _normalise_host(host_part)
    path = remainder.split("#", 1)[0]
    if not path.startswith("/"):
        path = "/" + path  # "http://host?x" asks for "/?x"
    return _Target(scheme, host, ip, port, quote(path, safe=_URL_SAFE))


def _split_port(authority: str, scheme: str) -> tuple[str, int]:
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise _invalid("the IPv6 address is missing its closing bracket")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after and not after.startswith(":"):
            raise _invalid("unexpected text after the IPv6 address")
        port_text = after[1:] if after else ""
    else:
        host, _, port_text = authority.partition(":")
    if not port_text:
        return host, _DEFAULT_PORTS[scheme]
    if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
        raise _invalid(f"the port {port_text[:10]!r} is not a number from 1 to 65535")
    return host, int(port_text)


def _normalise_host(raw: str) -> tuple[str, IPAddress | None]:
    """(host, ip): the IDNA-encoded lowercase name or the canonical IP literal."""
    if not raw:
        raise _invalid("the host is empty")
    if raw.startswith("["):
        try:
            ip = addresses.parse_ip_literal(raw.lower())
        except ValueError as exc:
            raise _invalid(str(exc)) from None
        assert ip is not None
        return str(ip), ip
    if any(c in raw for c in "%/?#[]:<>^|\"'`{}*"):
        raise _invalid(f"the host {raw[:60]!r} contains characters a host name can not have")
    if raw.isascii():
        host = raw.lower()
    else:
        try:  # UTS 46 maps full-width digits and dots too: "１２７。0。0。1" is 127.0.0.1
            host = idna.encode(raw, uts46=True, std3_rules=False, transitional=False).decode()
        except (idna.IDNAError, UnicodeError) as exc:
            raise _invalid(f"the host is not a valid international domain name ({exc})") from None
    if host.endswith("."):
        host = host[:-1]  # the root label: "example.com." is example.com
    if not host:
        raise _invalid("the host is empty")
    try:
        ip = addresses.parse_ip_literal(host)
    except ValueError as exc:
        raise _invalid(str(exc)) from None
    if ip is not None:
        return str(ip), ip
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
        raise _invalid(f"{host[:60]} is not a valid host name")
    return host, None


def _redirect_target(
    current: _Target, location: str, followed: int, limit: int, status: int
) -> _Target:
    if followed >= limit:
        if limit == 0:
            raise OutboundError(
                "too_many_redirects",
                f"{current.host} answered with a redirect ({status}), and this request does "
                "not follow redirects.",
            )
        raise OutboundError(
            "too_many_redirects",
            f"Stopped after {limit} redirects; the last was from {current.host}.",
        )
    # http.client decodes header bytes as latin-1; a UTF-8 Location is read back as UTF-8.
    location = location.encode("latin-1", "replace").decode("utf-8", "replace").strip()
    if not location:
        raise _invalid("the redirect has an empty Location")
    return _parse_url(urljoin(current.url, location))


# -- destination checks -----------------------------------------------------------------------


def _run_host_check(host_check: HostCheck | None, host: str) -> None:
    if host_check is None:
        return
    try:
        host_check(host)
    except OutboundError:
        raise
    except Exception as exc:
        detail = getattr(exc, "detail", None)
        if detail is None and not isinstance(exc, ValueError):
            raise  # a bug in the callback, not a verdict on the domain
        raise OutboundError(
            "domain_not_allowed", str(detail or exc) or f"{host} is not an allowed domain.", host
        ) from exc


def _resolve(target: _Target, resolver: Resolver | None) -> list[IPAddress]:
    """All addresses of the host, looked up once. IP literals are not looked up at all."""
    if target.ip is not None:
        return [target.ip]
    lookup = resolver or socket.getaddrinfo
    try:
        answers = list(lookup(target.host, target.port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError):
        raise OutboundError(
            "dns_failure", f"The name {target.host} could not be resolved."
        ) from None
    found: list[IPAddress] = []
    for answer in answers:
        raw = answer[4][0] if isinstance(answer, tuple) else answer
        try:
            ip = addresses.canonical(ipaddress.ip_address(str(raw)))
        except ValueError:
            raise OutboundError(
                "dns_failure", f"The name {target.host} resolved to an unusable address."
            ) from None
        if ip not in found:
            found.append(ip)
    if not found:
        raise OutboundError("dns_failure", f"The name {target.host} has no address.")
    return found


def _check_destination(target: _Target, ips: list[IPAddress], allow: addresses.Allowlist) -> None:
    for ip in ips:
        reason = addresses.refusal_reason(ip)
        if reason and not allow.allows(ip, target.port, target.host):
            raise OutboundError(
                "address_not_allowed", addresses.refusal_sentence(ip, target.host, reason)
            )
    if all(allow.allows(ip, target.port, target.host) for ip in ips):
        return  # DESIGN.md §4: an allowlisted destination may use plain http and any port
    if target.scheme != "https":
        raise OutboundError(
            "scheme_not_allowed",
            f"Plain http is not allowed for {target.host}; use https. Only hosts the deployment "
            "allowlists (OUTBOUND_ALLOW_PRIVATE) may use http.",
        )
    if target.port != 443:
        raise OutboundError(
            "port_not_allowed",
            f"Port {target.port} is not allowed for {target.host}; https must use port 443. "
            "Only hosts the deployment allowlists (OUTBOUND_ALLOW_PRIVATE) may use other ports.",
        )


def _check_metadata_name(target: _Target, allow: addresses.Allowlist) -> None:
    if target.host in addresses.METADATA_HOSTNAMES and not allow.allows_name(
        target.host, target.port
    ):
        raise OutboundError(
            "address_not_allowed",
            f"{target.host} is a cloud metadata service; actions may not reach cloud metadata "
            "services.",
        )


# -- the deadline -----------------------------------------------------------------------------


class _Deadline:
    """One deadline for the whole call.

    Socket timeouts alone can not enforce a total: each recv() waits at most the timeout, but a
    server sending one byte a second satisfies every single recv() for ever, including inside
    http.client's header parsing and the TLS handshake. So a watchdog timer shuts down every
    socket of the call when the deadline passes, which wakes up whatever is blocked on it.
    The watchdog holds a duplicate of each socket, so a shut-down never hits a recycled fd;
    `unwatch` closes the duplicate when the connection closes (else the socket would linger).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.fired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._timer: threading.Timer | None = None

    def remaining(self, host: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0 or self.fired:
            raise self.error(host)
        return left

    def check_not_fired(self, host: str) -> None:
        """The watchdog's shut-down reads as end-of-stream, which can pass for a complete but
        truncated answer: whatever arrived after it fired is a timeout, not an answer."""
        if self.fired:
            raise self.error(host)

    def passed(self) -> bool:
        return self.fired or time.monotonic() >= self.end

    def error(self, host: str) -> OutboundError:
        return OutboundError(
            "timeout", f"No complete answer from {host} within {self.seconds:g} seconds."
        )

    def watch(self, sock: socket.socket) -> socket.socket:
        """Shut `sock` down at the deadline; returns the handle to give `unwatch`."""
        dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
        with self._lock:
            self._watched.append(dup)
            if self.fired:
                _shutdown(dup)
            elif self._timer is None:  # started with the first connection only
                self._timer = threading.Timer(max(0.0, self.end - time.monotonic()), self._fire)
                self._timer.daemon = True
                self._timer.start()
        return dup

    def unwatch(self, handle: socket.socket | None) -> None:
        with self._lock:
            if handle in self._watched:
                self._watched.remove(handle)
                handle.close()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._watched:
                _shutdown(sock)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            for sock in self._watched:
                sock.close()
            self._watched.clear()


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed by the peer


# -- the connection ---------------------------------------------------------------------------


class _Watched:
    """Hands the raw socket to the deadline's watchdog as soon as it exists (before TLS).

    `release()` takes it back. Not in close(): http.client closes the connection object as
    soon as the response owns the socket, and the body must stay under the watchdog."""

    deadline: _Deadline
    watch_handle: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        self.watch_handle = self.deadline.watch(sock)
        return sock

    def release(self) -> None:
        self.close()  # type: ignore[attr-defined]
        self.deadline.unwatch(self.watch_handle)
        self.watch_handle = None


class _PinnedHTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _PinnedHTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


def _ca_bundle() -> str | None:
    try:
        import certifi
    except ImportError:  # the system's store then
        return None
    return certifi.where()


def _connect(
    target: _Target, ip: IPAddress, deadline: _Deadline, ssl_context: ssl.SSLContext | None
) -> _PinnedHTTPConnection | _PinnedHTTPSConnection:
    """Open a connection to exactly `ip` (the checked address), never to a fresh lookup of the
    name. For https, SNI and certificate verification still use the host name."""
    timeout = deadline.remaining(target.host)
    conn: _PinnedHTTPConnection | _PinnedHTTPSConnection
    if target.scheme == "https":
        conn = _PinnedHTTPSConnection(
            str(ip),
            target.port,
            timeout=timeout,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=None if ssl_context is not None else _ca_bundle(),
            ssl_context=ssl_context,
        )
    else:
        conn = _PinnedHTTPConnection(str(ip), target.port, timeout=timeout)
    conn.deadline = deadline
    try:
        conn.connect()
    except BaseException:
        conn.release()
        raise
    return conn


@dataclass
class _Hop:
    """One request on its own connection (never reused: every hop is checked and pinned)."""

    resp: urllib3.response.BaseHTTPResponse
    conn: _PinnedHTTPConnection | _PinnedHTTPSConnection
    # Kept apart: http.client drops conn.sock once the response owns it ("Connection: close").
    sock: socket.socket | None

    def close(self) -> None:
        for closable in (self.resp, self.sock):
            try:
                if closable is not None:
                    closable.close()
            except OSError:
                pass
        self.conn.release()


def _open(request: _Request, call: _Call) -> _Hop:
    """One hop: check, resolve once, check every address, connect to a checked one, send,
    read the status line and headers. The caller closes the hop."""
    target, deadline = request.target, call.deadline
    _run_host_check(call.host_check, target.host)
    _check_metadata_name(target, call.allow)
    ips = _resolve(target, call.resolver)
    _check_destination(target, ips, call.allow)
    conn = _connect_any(target, ips, deadline, call.ssl_context)
    sock = conn.sock
    send = {
        **request.headers,
        "Host": target.netloc,
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    try:
        conn.timeout = deadline.remaining(target.host)
        conn.request(
            request.method,
            target.path,
            body=request.payload,
            headers=send,
            preload_content=False,
            decode_content=False,
        )
        conn.timeout = deadline.remaining(target.host)
        resp = conn.getresponse()
        deadline.check_not_fired(target.host)
    except Exception as exc:
        conn.release()
        if isinstance(exc, OutboundError):
            raise
        raise _network_error(exc, target.host, deadline) from None
    return _Hop(resp, conn, sock)


def _connect_any(
    target: _Target, ips: list[IPAddress], deadline: _Deadline, ssl_context: ssl.SSLContext | None
) -> _PinnedHTTPConnection | _PinnedHTTPSConnection:
    """Connect to the first checked address that accepts; nothing is sent before that."""
    failure: OutboundError | None = None
    for ip in ips:
        try:
            return _connect(target, ip, deadline, ssl_context)
        except OutboundError:
            raise
        except Exception as exc:
            failure = _network_error(exc, target.host, deadline)
            if failure.code != "connection_failed":
                raise failure from None
    assert failure is not None
    raise failure


def _network_error(exc: BaseException, host: str, deadline: _Deadline) -> OutboundError:
    """The OutboundError for a failure of the network or the peer; anything else (a bug) is
    raised again as it is."""
    if deadline.passed():  # the watchdog's shutdown surfaces as whatever was interrupted
        return deadline.error(host)
    # Before the timeouts: urllib3's NewConnectionError subclasses ConnectTimeoutError.
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return OutboundError("connection_failed", f"Could not connect to {host}.")
    if isinstance(exc, socket.timeout | urllib3.exceptions.TimeoutError):
        return OutboundError("timeout", f"{host} did not answer in time.")
    if isinstance(exc, ssl.SSLError | urllib3.exceptions.SSLError | CertificateError):
        reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or exc
        return OutboundError(
            "tls_error", f"The secure connection to {host} failed ({str(reason)[:120]})."
        )
    if isinstance(exc, ConnectionResetError):
        return OutboundError("connection_failed", f"The connection to {host} was reset.")
    if isinstance(
        exc, http.client.HTTPException | urllib3.exceptions.HTTPError | OSError | ValueError
    ):
        return OutboundError(
            "connection_failed",
            f"The connection to {host} failed before a complete answer arrived.",
        )
    raise exc


# -- the response -----------------------------------------------------------------------------


def _response_headers(resp: urllib3.response.BaseHTTPResponse) -> dict[str, str]:
    return {name.lower(): resp.headers.get(name, "") for name in resp.headers}


def _read_body(hop: _Hop, request: _Request, call: _Call) -> _BodyReader:
    """Read the body chunk by chunk; every read may wait only for the time that is left (and
    the watchdog ends a read that would outlive the deadline)."""
    host, deadline = request.target.host, call.deadline
    has_body = request.method != "HEAD" and hop.resp.status not in (204, 304)
    reader = _BodyReader(
        host,
        hop.resp.headers,
        max_chars=call.max_body_chars,
        allow_binary=call.allow_binary or not has_body,
    )
    try:
        while True:
            left = deadline.remaining(host)
            # http.client closes the socket itself once the whole body is in (fd -1 then).
            if hop.sock is not None and hop.sock.fileno() != -1:
                hop.sock.settimeout(left)
            chunk = hop.resp.read1(_CHUNK, decode_content=False)
            if not chunk:
                break
            reader.feed(chunk)
        deadline.check_not_fired(host)
        reader.finish()
    except OutboundError:
        raise
    except Exception as exc:
        raise _network_error(exc, host, deadline) from None
    return reader


def _parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    media, *params = value.split(";")
    parsed = {}
    for param in params:
        key, sep, val = param.partition("=")
        if sep:
            parsed[key.strip().lower()] = val.strip().strip('"').strip()
    return media.strip().lower(), parsed


def _media_kind(media: str) -> str:
    """ "text", "binary" or "unknown" (then the body is sniffed)."""
    top, _, sub = media.partition("/")
    if not sub:
        return "unknown"
    if top == "text" or media in _TEXT_TYPES or sub.endswith(_TEXT_SUFFIXES):
        return "text"
    if (
        top in _BINARY_TOP_TYPES
        or media in _BINARY_TYPES
        or sub.startswith(_BINARY_PREFIXES)
        or sub.endswith(_BINARY_SUFFIXES)
    ):
        return "binary"
    return "unknown"


def _charset(name: str | None) -> str:
    """A codec for the declared charset; UTF-8 (dropping a BOM) when none or an odd one."""
    if not name:
        return "utf-8-sig"
    try:
        info = codecs.lookup(name)
    except LookupError:
        return "utf-8-sig"
    if not getattr(info, "_is_text_encoding", True) or info.name.replace("_", "-") in _ODD_CODECS:
        return "utf-8-sig"
    return "utf-8-sig" if info.name == "utf-8" else info.name


class _Inflater:
    """gzip or deflate, bounded: never more than _PIECE bytes out per step, so a
    decompression bomb is stopped by the caller's count long before it fills memory."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._obj: Any = None
        self._head = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._obj = zlib.decompressobj(self._wbits(data))
        yield from self._drain(data)

    def flush(self) -> Iterator[bytes]:
        if self._obj is None:
            if not self._head:
                return
            self._obj = zlib.decompressobj(self._wbits(self._head))
            yield from self._drain(self._head)
        if not self._obj.eof:
            yield from self._drain(b"")

    def _wbits(self, head: bytes) -> int:
        if self.coding in ("gzip", "x-gzip"):
            return 32 + zlib.MAX_WBITS  # gzip, or zlib from a server that mislabels it
        # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
        zlib_header = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS

    def _drain(self, data: bytes) -> Iterator[bytes]:
        try:
            while not self._obj.eof:
                out = self._obj.decompress(data, _PIECE)
                data = self._obj.unconsumed_tail
                if out:
                    yield out
                if not data and len(out) < _PIECE:
                    break
        except zlib.error:
            raise OutboundError(
                "invalid_response", f"The {self.coding} data of the answer is corrupt."
            ) from None
        # Bytes after the end of the stream are ignored: never more output than declared.


class _BodyReader:
    """Decompresses, decodes and counts the body as it arrives; raises as soon as a limit or
    the binary rule is broken."""

    def __init__(
        self, host: str, headers: Mapping[str, str], *, max_chars: int, allow_binary: bool
    ) -> None:
        self.host = host
        self.max_chars = max_chars
        # A character is at most 4 bytes in every charset we decode: a byte cap follows from
        # the character cap and stops garbage that decodes to nothing.
        self.max_bytes = 4 * max_chars + 4
        content_type = headers.get("content-type") or ""
        media, params = _parse_content_type(content_type)
        self.kind = _media_kind(media)
        if self.kind == "binary" and not allow_binary:
            raise OutboundError(
                "binary_response",
                f"The answer from {host} is binary ({media}); only text answers are accepted.",
            )
        self.sniff = self.kind == "unknown" and not allow_binary
        errors = "strict" if self.sniff else "replace"
        self._decoder = codecs.getincrementaldecoder(_charset(params.get("charset")))(errors)
        self._stages = self._inflaters(headers.get("content-encoding") or "")
        self._check_declared_length(headers.get("content-length"))
        self._text: list[str] = []
        self._bytes: list[bytes] = []
        self.chars = 0
        self.raw_bytes = 0
        self.decoded_bytes = 0

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def content(self) -> bytes:
        return b"".join(self._bytes)

    def feed(self, raw: bytes) -> None:
        self.raw_bytes += len(raw)
        if self.raw_bytes > self.max_bytes:
            raise self._too_large()
        for piece in self._through(raw, 0):
            self._take(piece)

    def finish(self) -> None:
        for index, stage in enumerate(self._stages):
            for piece in stage.flush():
                for out in self._through(piece, index + 1):
                    self._take(out)
        self._take(b"", final=True)

    def _through(self, data: bytes, start: int) -> Iterator[bytes]:
        if start == len(self._stages):
            if data:
                yield data
            return
        for piece in self._stages[start].feed(data):
            yield from self._through(piece, start + 1)

    def _take(self, data: bytes, final: bool = False) -> None:
        self.decoded_bytes += len(data)
        if self.decoded_bytes > self.max_bytes:
            raise self._too_large()
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError:
            raise self._binary("it is not valid text") from None
        if self.sniff and self.chars < _SNIFF and "\0" in text[: _SNIFF - self.chars]:
            raise self._binary("it contains NUL bytes")
        self.chars += len(text)
        if self.chars > self.max_chars:
            raise self._too_large()
        self._bytes.append(data)
        self._text.append(text)

    def _inflaters(self, header: str) -> list[_Inflater]:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate")]
        if unknown or len(codings) > 2:
            raise OutboundError(
                "unsupported_encoding",
                f"The answer from {self.host} is encoded as {header[:40]}, which is not "
                "supported (gzip and deflate are).",
            )
        # Applied in the order listed, so undone in reverse.
        return [_Inflater(c) for c in reversed(codings)]

    def _check_declared_length(self, value: str | None) -> None:
        if value and value.strip().isdigit() and not self._stages:
            if int(value) > self.max_bytes:
                raise self._too_large()

    def _too_large(self) -> OutboundError:
        return OutboundError(
            "response_too_large",
            f"The answer from {self.host} is longer than {self.max_chars:,} characters.",
        )

    def _binary(self, why: str) -> OutboundError:
        return OutboundError(
            "binary_response",
            f"The answer from {self.host} is binary ({why}); only text answers are accepted.",
        )
