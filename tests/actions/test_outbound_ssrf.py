"""SSRF bypass attempts: every one refused with the expected code before any connection.

A real server listens on 127.0.0.1 for every case, so a guard that let one through would be
seen (its request log, the connection spy). Names resolve through the stub resolver only, and
tests/conftest.py refuses any connect outside loopback besides.
"""

from __future__ import annotations

import ipaddress

import pytest
from werkzeug import Response

from outbound import addresses
from outbound import client as outbound
from outbound.client import OutboundError
from tests.actions.test_outbound import (  # noqa: F401 - raw_server is a fixture
    PUBLIC_IP,
    ConnectSpy,
    StubResolver,
    raw_server,
    read_request,
)
from tests.outbound_support import fetch

# Names the stub resolver knows; everything else fails to resolve like NXDOMAIN.
DNS = {
    "localhost": ["127.0.0.1"],
    "allowed.example": [PUBLIC_IP],
    "internal.example": ["10.0.0.5"],
    "router.example": ["192.168.1.1"],
    "meta.example": ["169.254.169.254"],
    "meta6.example": ["fd00:ec2::254"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "mixed.example": [PUBLIC_IP, "127.0.0.1"],  # one bad answer among good ones is enough
    "linklocal.example": ["fe80::1"],
    "ula.example": ["fd12:3456::1"],
    "cgnat.example": ["100.64.0.1"],
    "127.0.0.1.nip.example": ["127.0.0.1"],
    "zero.example": ["0.0.0.0"],
}

# (url, expected code). {port} is the port of the real server on 127.0.0.1.
BYPASSES = [
    # loopback in every spelling a C resolver accepts
    ("http://127.0.0.1:{port}/", "address_not_allowed"),
    ("https://127.0.0.1:{port}/", "address_not_allowed"),
    ("HTTP://127.0.0.1:{port}/", "address_not_allowed"),
    ("http://127.0.0.1.:{port}/", "address_not_allowed"),
    ("http://2130706433:{port}/", "address_not_allowed"),
    ("http://0177.0.0.1:{port}/", "address_not_allowed"),
    ("http://017700000001:{port}/", "address_not_allowed"),
    ("http://0x7f.1:{port}/", "address_not_allowed"),
    ("http://0x7f000001:{port}/", "address_not_allowed"),
    ("http://0x7f.0x0.0x0.0x1:{port}/", "address_not_allowed"),
    ("http://127.1:{port}/", "address_not_allowed"),
    ("http://127.0.1:{port}/", "address_not_allowed"),
    ("http://127.000.000.001:{port}/", "address_not_allowed"),
    ("http://0:{port}/", "address_not_allowed"),
    ("http://0.0.0.0:{port}/", "address_not_allowed"),
    ("http://１２７.０.０.１:{port}/", "address_not_allowed"),  # full-width digits
    ("http://127。0。0。1:{port}/", "address_not_allowed"),  # ideographic full stops
    # IPv6 forms
    ("http://[::]:{port}/", "address_not_allowed"),
    ("http://[::1]:{port}/", "address_not_allowed"),
    ("http://[0000:0000::1]:{port}/", "address_not_allowed"),
    ("http://[::ffff:127.0.0.1]:{port}/", "address_not_allowed"),
    ("http://[::ffff:7f00:1]:{port}/", "address_not_allowed"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/", "address_not_allowed"),
    ("http://[::127.0.0.1]:{port}/", "address_not_allowed"),  # IPv4-compatible, deprecated
    ("http://[::1%25lo]:{port}/", "address_not_allowed"),  # zone id
    ("http://[fe80::1%25eth0]/", "address_not_allowed"),
    ("http://[2002:7f00:1::]/", "address_not_allowed"),  # 6to4 around 127.0.0.1
    ("http://[64:ff9b::a9fe:a9fe]/", "address_not_allowed"),  # NAT64 around metadata
    ("http://[fc00::1]/", "address_not_allowed"),
    # cloud metadata
    ("http://169.254.169.254/latest/meta-data/", "address_not_allowed"),
    ("http://2852039166/latest/meta-data/", "address_not_allowed"),
    ("http://0xa9.0xfe.0xa9.0xfe/", "address_not_allowed"),
    ("http://[::ffff:a9fe:a9fe]/", "address_not_allowed"),
    ("http://[fd00:ec2::254]/", "address_not_allowed"),
    ("http://100.100.100.200/", "address_not_allowed"),
    ("http://metadata.google.internal/computeMetadata/v1/", "address_not_allowed"),
    ("http://METADATA.google.internal./", "address_not_allowed"),
    # other non-public ranges
    ("http://10.0.0.5/", "address_not_allowed"),
    ("http://172.16.0.1/", "address_not_allowed"),
    ("http://192.168.1.1/", "address_not_allowed"),
    ("http://100.64.0.1/", "address_not_allowed"),
    ("http://198.18.0.1/", "address_not_allowed"),
    ("https://192.0.2.10/", "address_not_allowed"),
    ("https://224.0.0.1/", "address_not_allowed"),
    ("https://240.0.0.1/", "address_not_allowed"),
    ("https://255.255.255.255/", "address_not_allowed"),
    # names resolving to refused addresses
    ("http://localhost:{port}/", "address_not_allowed"),
    ("http://LocalHost.:{port}/", "address_not_allowed"),
    ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{port}/", "address_not_allowed"),
    ("https://internal.example/", "address_not_allowed"),
    ("https://router.example/", "address_not_allowed"),
    ("https://meta.example/", "address_not_allowed"),
    ("https://meta6.example/", "address_not_allowed"),
    ("https://mapped.example/", "address_not_allowed"),
    ("https://mixed.example/", "address_not_allowed"),
    ("https://linklocal.example/", "address_not_allowed"),
    ("https://ula.example/", "address_not_allowed"),
    ("https://cgnat.example/", "address_not_allowed"),
    ("https://zero.example/", "address_not_allowed"),
    ("http://127.0.0.1.nip.example:{port}/", "address_not_allowed"),
    # parser confusion: user info, backslashes, fragments, whitespace, encodings
    ("http://allowed.example@127.0.0.1:{port}/", "invalid_url"),
    ("http://user:pass@allowed.example/", "invalid_url"),
    ("http://127.0.0.1:{port}#@allowed.example/", "address_not_allowed"),
    ("http://127.0.0.1:{port}?@allowed.example/", "address_not_allowed"),
    ("http://allowed.example\\@127.0.0.1:{port}/", "invalid_url"),
    ("http://127.0.0.1:{port}\\@allowed.example/", "invalid_url"),
    ("http:\\\\127.0.0.1:{port}\\", "invalid_url"),
    ("http:/127.0.0.1:{port}/", "invalid_url"),
    ("http:///127.0.0.1:{port}/", "invalid_url"),
    ("http://:{port}/", "invalid_url"),
    ("http://127.0.0.1 :{port}/", "invalid_url"),
    (" http://127.0.0.1:{port}/", "invalid_url"),
    ("http://127.0.0.1:{port}/\r\nHost: x", "invalid_url"),
    ("http://127%2e0%2e0%2e1:{port}/", "invalid_url"),
    ("http://127.0.0.1%00.allowed.example/", "invalid_url"),
    ("http://1.2.3.4.5/", "invalid_url"),
    ("http://0x100000000/", "invalid_url"),
    ("http://08.0.0.1/", "invalid_url"),
    ("http://[127.0.0.1]:{port}/", "invalid_url"),
    ("http://127.0.0.1:+{port}/", "invalid_url"),
    ("http://127.0.0.1:99999/", "invalid_url"),
    ("127.0.0.1:{port}/", "invalid_url"),
    # schemes
    ("file:///etc/passwd", "scheme_not_allowed"),
    ("gopher://127.0.0.1:{port}/_GET%20/", "scheme_not_allowed"),
    ("dict://127.0.0.1:11211/stat", "scheme_not_allowed"),
    ("ftp://127.0.0.1/", "scheme_not_allowed"),
    ("javascript:alert(1)", "scheme_not_allowed"),
    # public destinations must use https on 443 (no connection needed to decide)
    ("http://allowed.example/", "scheme_not_allowed"),
    ("https://allowed.example:8443/", "port_not_allowed"),
    ("https://nxdomain.example/", "dns_failure"),
]


@pytest.fixture
def connect_spy(monkeypatch) -> ConnectSpy:
    """Records every connection the client would open (and lets loopback ones through)."""
    spy = ConnectSpy(outbound._connect)
    monkeypatch.setattr(outbound, "_connect", spy)
    return spy


@pytest.fixture
def guarded(httpserver, connect_spy):
    """A real server that must never be reached, and nothing on the allowlist for it."""
    httpserver.expect_request("/").respond_with_data("reached")
    yield httpserver
    assert httpserver.log == [], "a refused request reached the server"


def test_the_table_is_long_enough():
    assert len(BYPASSES) >= 40


@pytest.mark.parametrize("template,code", BYPASSES, ids=[url for url, _ in BYPASSES])
def test_bypass_attempts_are_refused_before_connecting(guarded, connect_spy, template, code):
    resolver = StubResolver(DNS)
    url = template.replace("{port}", str(guarded.port))
    with pytest.raises(OutboundError) as info:
        # The allowlist names another port of the same address: close, but no match.
        fetch("GET", url, resolver=resolver, allow_private=[f"127.0.0.1:{guarded.port + 1}"])
    assert info.value.code == code, info.value.detail
    assert connect_spy.targets == []


@pytest.mark.parametrize(
    "url",
    ["http://metadata.google.internal/", "http://169.254.169.254/", "http://[fd00:ec2::254]/"],
)
def test_metadata_stays_refused_inside_an_allowlisted_range(connect_spy, url):
    resolver = StubResolver({"metadata.google.internal": ["169.254.169.254"]})
    with pytest.raises(OutboundError) as info:
        fetch("GET", url, resolver=resolver, allow_private=["169.254.0.0/16", "fd00::/8"])
    assert info.value.code == "address_not_allowed"
    assert "metadata" in info.value.detail
    assert resolver.calls == []  # the metadata name is not even looked up
    assert connect_spy.targets == []


def test_refusals_name_the_reason_but_not_the_resolved_address(connect_spy):
    with pytest.raises(OutboundError) as info:
        fetch("GET", "https://internal.example/", resolver=StubResolver(DNS))
    assert info.value.detail.startswith(
        "internal.example resolves to a private address; actions may not reach private networks"
    )
    assert "10.0.0.5" not in info.value.detail


def test_a_literal_address_is_named_as_the_builder_wrote_it(connect_spy):
    with pytest.raises(OutboundError) as info:
        fetch("GET", "https://10.0.0.5/", resolver=StubResolver(DNS))
    assert info.value.detail.startswith("The address 10.0.0.5 is private;")


# -- redirects from an allowlisted server to places it may not send us ------------------------

REDIRECT_BYPASSES = [
    ("http://127.0.0.1:{other}/", "address_not_allowed"),
    ("http://localhost:{other}/", "address_not_allowed"),
    ("http://2130706433:{other}/", "address_not_allowed"),
    ("http://[::1]:{port}/", "address_not_allowed"),  # same port, but ::1 is not listed
    ("http://[::ffff:127.0.0.2]:{port}/", "address_not_allowed"),
    ("http://169.254.169.254/latest/meta-data/", "address_not_allowed"),
    ("http://metadata.google.internal/", "address_not_allowed"),
    ("https://internal.example/", "address_not_allowed"),
    ("file:///etc/passwd", "scheme_not_allowed"),
    ("gopher://127.0.0.1:{port}/_", "scheme_not_allowed"),
    ("http://user@127.0.0.1:{port}/", "invalid_url"),
    ("http://allowed.example/", "scheme_not_allowed"),
    ("https://allowed.example:444/", "port_not_allowed"),
]


@pytest.mark.parametrize("location,code", REDIRECT_BYPASSES, ids=[u for u, _ in REDIRECT_BYPASSES])
def test_redirects_are_rechecked(httpserver, connect_spy, location, code):
    port = httpserver.port
    target = location.replace("{port}", str(port)).replace("{other}", str(port + 1))
    httpserver.expect_request("/start").respond_with_response(
        Response("", status=302, headers={"Location": target})
    )
    httpserver.expect_request("/").respond_with_data("reached")
    with pytest.raises(OutboundError) as info:
        fetch(
            "GET",
            f"http://127.0.0.1:{port}/start",
            resolver=StubResolver(DNS),
            allow_private=[f"127.0.0.1:{port}"],
        )
    assert info.value.code == code, info.value.detail
    assert [entry[0].path for entry in httpserver.log] == ["/start"]
    assert connect_spy.targets == [("127.0.0.1", port, "127.0.0.1")]  # the first hop only


def test_a_redirect_loop_stops_at_ten(httpserver):
    httpserver.expect_request("/loop").respond_with_response(
        Response("", status=307, headers={"Location": "/loop"})
    )
    with pytest.raises(OutboundError) as info:
        fetch(
            "POST",
            f"http://127.0.0.1:{httpserver.port}/loop",
            body=b"x",
            allow_private=[f"127.0.0.1:{httpserver.port}"],
        )
    assert info.value.code == "too_many_redirects"
    assert len(httpserver.log) == 11


@pytest.mark.parametrize(
    "location", [b"/\\evil.example/", b"http://127.0.0.1\\@evil.example/", b"http://a b/"]
)
def test_a_raw_location_with_backslashes_or_spaces_is_refused(raw_server, location):  # noqa: F811
    # werkzeug would percent-encode these; a raw server sends them as they are.
    def answer(conn, stop):
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
        )

    server = raw_server(answer)
    with pytest.raises(OutboundError) as info:
        fetch("GET", f"http://127.0.0.1:{server.port}/", allow_private=["127.0.0.1/32"], timeout=2)
    assert info.value.code == "invalid_url", info.value.detail
    assert server.connections == 1


# -- the address rules on their own ------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0x7F.0.0.0X1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("4294967295", "255.255.255.255"),
        ("4294967296", None),
        ("256.0.0.1", None),
        ("1.2.3.4.5", None),
        ("09", None),
        ("0x1g", None),
        ("1.-2.3.4", None),
        ("1.+2.3.4", None),
        ("1..2", None),
        ("١٢٧.0.0.1", None),  # non-ASCII digits are IDNA's business, not inet_aton's
    ],
)
def test_ipv4_literals_are_read_like_inet_aton(text, expected):
    parsed = addresses.parse_ipv4(text)
    assert (str(parsed) if parsed else None) == expected


@pytest.mark.parametrize(
    "ip,reason",
    [
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
        ("2002:808:808::1", None),  # 6to4 around a public address
        ("64:ff9b::808:808", None),  # NAT64 around a public address
        ("::ffff:8.8.8.8", None),
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "shared"),
        ("169.254.1.1", "link-local"),
        ("169.254.169.254", "a cloud metadata service"),
        ("169.254.170.2", "a cloud metadata service"),
        ("100.100.100.200", "a cloud metadata service"),
        ("fd00:ec2::254", "a cloud metadata service"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "reserved"),
        ("192.0.0.8", "reserved"),
        ("192.0.2.1", "reserved for documentation"),
        ("198.51.100.1", "reserved for documentation"),
        ("203.0.113.1", "reserved for documentation"),
        ("198.19.255.255", "reserved for benchmarking"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::a00:1", "reserved"),  # IPv4-compatible
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "private"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "reserved for documentation"),
        ("3fff::1", "reserved for documentation"),
        ("2001::1", "reserved"),  # Teredo
        ("2002:a9fe:a9fe::", "a cloud metadata service"),  # 6to4 around metadata
        ("2002:0a00:0001::", "private"),
        ("64:ff9b::7f00:1", "loopback"),
        ("64:ff9b:1::1", "private"),
        ("100::1", "reserved"),
        ("4000::1", "reserved"),  # outside global unicast 2000::/3
    ],
)
def test_address_classification(ip, reason):
    found = addresses.refusal_reason(ipaddress.ip_address(ip))
    if reason is None:
        assert found is None
    else:
        assert found is not None and found.startswith(reason), found


def test_allowlist_entries():
    allow = addresses.allowlist(
        [
            "127.0.0.1:8000",
            "[::1]:9000",
            "localhost:8000",
            "10.0.0.0/8",
            "192.168.1.7",
            "bogus",
            "host:notaport",
            "169.254.169.254:80",
        ]
    )
    ip = ipaddress.ip_address
    assert allow.allows(ip("127.0.0.1"), 8000, "127.0.0.1")
    assert not allow.allows(ip("127.0.0.1"), 8001, "127.0.0.1")
    assert allow.allows(ip("::1"), 9000, "::1")
    assert allow.allows(ip("::ffff:127.0.0.1"), 8000, "x")  # mapped = the IPv4 address
    assert allow.allows(ip("127.0.0.9"), 8000, "localhost")  # the name entry
    assert allow.allows(ip("10.200.0.1"), 1, "x") and allow.allows(ip("192.168.1.7"), 2, "x")
    assert not allow.allows(ip("192.168.1.8"), 2, "x")
    assert allow.allows(ip("169.254.169.254"), 80, "x")
    assert not allow.allows(ip("169.254.169.254"), 8080, "x")
    assert not addresses.allowlist(["169.254.0.0/16"]).allows(ip("169.254.169.254"), 80, "x")
    assert not addresses.allowlist(["localhost:80"]).allows(ip("169.254.169.254"), 80, "localhost")
