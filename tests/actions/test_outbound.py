"""The guarded outbound client against real servers on 127.0.0.1: limits, decoding, redirects,
the total deadline, DNS pinning and TLS.

Names are resolved by a stub resolver only; a "public" address from the stub is never
connected to (the connection factory is replaced where a test gets that far), and
tests/conftest.py refuses any connect outside loopback besides.
"""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from werkzeug import Response

from outbound import client as outbound
from outbound.client import OutboundError, is_insecure_destination_allowed
from tests.outbound_support import fetch

PUBLIC_IP = "93.184.215.14"  # only ever handed out by the stub resolver, never connected to


# -- helpers shared with test_outbound_ssrf.py -------------------------------------------------


class StubResolver:
    """Answers from a table (a list of answers per call, or one answer for every call), counts
    the lookups, and fails like getaddrinfo for unknown names."""

    def __init__(self, table: dict[str, list[str] | list[list[str]]] | None = None) -> None:
        self.table = dict(table or {})
        self.calls: list[str] = []

    def __call__(self, host: str, port: int, *args, **kwargs):
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = self.table[host]
        if answers and isinstance(answers[0], list):  # a different answer for each lookup
            index = min(self.calls.count(host), len(answers)) - 1
            answers = answers[index]
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in answers
        ]


class ConnectSpy:
    """Stands in for outbound._connect: records where a connection would go; with
    `refuse=True` it refuses instead of connecting (for addresses outside loopback)."""

    def __init__(self, real: Callable, refuse: bool = False) -> None:
        self.real = real
        self.refuse = refuse
        self.targets: list[tuple[str, int, str]] = []

    def __call__(self, target, ip, deadline, ssl_context):
        self.targets.append((str(ip), target.port, target.host))
        if self.refuse or not ipaddress.ip_address(ip).is_loopback:
            raise ConnectionRefusedError("refused by the test's connection factory")
        return self.real(target, ip, deadline, ssl_context)


@pytest.fixture
def connect_spy(monkeypatch) -> ConnectSpy:
    spy = ConnectSpy(outbound._connect)
    monkeypatch.setattr(outbound, "_connect", spy)
    return spy


class RawServer:
    """A bare TCP server on 127.0.0.1 whose handler gets each accepted socket: for servers that
    misbehave (drip, hang, reset) in ways an HTTP framework will not."""

    def __init__(self, handler: Callable[[socket.socket, threading.Event], None]) -> None:
        self.handler = handler
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.sent = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.handler(conn, self.stop)
        except OSError:
            pass  # the client went away, as it should
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture
def raw_server():
    servers: list[RawServer] = []

    def start(handler) -> RawServer:
        servers.append(RawServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def resolver() -> StubResolver:
    return StubResolver()


@pytest.fixture
def local(httpserver, resolver):
    """The pytest-httpserver on 127.0.0.1, allowlisted as 127.0.0.1:<port>, and a `get` that
    fetches a path from it with the stub resolver."""

    def get(path: str = "/", method: str = "GET", **kwargs):
        kwargs.setdefault("resolver", resolver)
        kwargs.setdefault("allow_private", [f"127.0.0.1:{httpserver.port}"])
        kwargs.setdefault("timeout", 5)
        return fetch(method, f"http://127.0.0.1:{httpserver.port}{path}", **kwargs)

    httpserver.get = get
    return httpserver


def untyped(body: bytes | str) -> Response:
    """A response without any Content-Type header (werkzeug adds text/plain otherwise)."""
    response = Response(body)
    del response.headers["Content-Type"]
    return response


def refused(code: str, call: Callable[[], object]) -> OutboundError:
    with pytest.raises(OutboundError) as info:
        call()
    assert info.value.code == code, info.value.detail
    assert info.value.detail
    return info.value


# -- a plain call -----------------------------------------------------------------------------


def test_get_returns_status_headers_text_and_timing(local):
    local.expect_request("/hello", query_string="a=1").respond_with_json(
        {"hi": "there"}, headers={"X-Thing": "yes"}
    )
    response = local.get("/hello?a=1#fragment-is-not-sent")
    assert response.status == 200
    assert json.loads(response.text) == {"hi": "there"}
    assert response.content_type == "application/json"
    assert response.headers["x-thing"] == "yes"
    assert response.url == f"http://127.0.0.1:{local.port}/hello?a=1"
    assert response.redirects == []
    assert response.bytes_received == len(response.text)
    assert 0 < response.elapsed_ms < 5000


def test_post_sends_the_body_and_the_callers_headers(local):
    local.expect_request(
        "/items", method="POST", data=b'{"a": 1}', headers={"X-Api-Key": "k"}
    ).respond_with_data("created", status=201, content_type="text/plain")
    response = local.get(
        "/items",
        method="POST",
        body=b'{"a": 1}',
        headers={"X-Api-Key": "k", "Content-Type": "application/json"},
    )
    assert (response.status, response.text) == (201, "created")


def test_error_statuses_are_answers_not_exceptions(local):
    local.expect_request("/busy").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "7"}, content_type="text/plain"
    )
    local.expect_request("/broken").respond_with_data("oops", status=503)
    busy = local.get("/busy")
    assert (busy.status, busy.headers["retry-after"]) == (429, "7")
    assert local.get("/broken").status == 503


def test_head_and_no_content_have_empty_bodies(local):
    local.expect_request("/h", method="HEAD").respond_with_data(
        "", headers={"Content-Type": "image/png"}
    )
    local.expect_request("/empty").respond_with_data("", status=204)
    assert local.get("/h", method="HEAD").text == ""
    assert local.get("/empty").status == 204


def test_a_name_is_resolved_once_and_keeps_its_host_header(local, resolver):
    resolver.table["api.test"] = ["127.0.0.1"]
    local.expect_request("/", headers={"Host": f"api.test:{local.port}"}).respond_with_data("ok")
    response = fetch(
        "GET",
        f"http://API.test.:{local.port}/",
        resolver=resolver,
        allow_private=["127.0.0.0/8"],
        timeout=5,
    )
    assert response.text == "ok"
    assert resolver.calls == ["api.test"]


def test_caller_cannot_override_host_or_framing_headers(local):
    local.expect_request("/", headers={"Host": f"127.0.0.1:{local.port}"}).respond_with_data("ok")
    assert local.get("/", headers={"Host": "evil.test", "Content-Length": "999"}).text == "ok"


@pytest.mark.parametrize(
    "headers",
    [{"X-A": "a\r\nInjected: 1"}, {"Bad Name": "x"}, {"X-A": "nul\0"}, {"X-A": "snowman ☃"}],
)
def test_invalid_request_headers_are_refused_before_sending(local, headers):
    error = refused("invalid_request", lambda: local.get("/", headers=headers))
    assert "Injected" not in error.detail and "☃" not in error.detail  # values never echoed
    assert local.log == []


def test_unknown_methods_are_refused(local):
    refused("invalid_request", lambda: local.get("/", method="CONNECT"))


# -- size limits ------------------------------------------------------------------------------


def test_request_body_over_the_cap_is_refused_before_sending(local):
    refused("request_too_large", lambda: local.get("/", method="POST", body=b"x" * 100_001))
    refused(
        "request_too_large",
        lambda: local.get("/", method="POST", body=b"x" * 11, max_body_chars=10),
    )
    assert local.log == []


def test_response_cap_counts_characters_not_bytes(local):
    local.expect_request("/accents").respond_with_data(
        "é" * 100, content_type="text/plain; charset=utf-8"
    )
    assert local.get("/accents", max_body_chars=100).text == "é" * 100  # 200 bytes, 100 chars
    refused("response_too_large", lambda: local.get("/accents", max_body_chars=99))


def test_default_cap_is_100000_characters(local):
    local.expect_request("/exact").respond_with_data("a" * 100_000, content_type="text/plain")
    local.expect_request("/over").respond_with_data("a" * 100_001, content_type="text/plain")
    assert len(local.get("/exact").text) == 100_000
    error = refused("response_too_large", lambda: local.get("/over"))
    assert "100,000 characters" in error.detail


def test_an_endless_body_is_cut_while_streaming(raw_server, resolver):
    def endless(conn, stop):
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"a" * 8192
        while not stop.is_set():
            conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            server.sent += len(chunk)

    server = raw_server(endless)
    started = time.monotonic()
    refused(
        "response_too_large",
        lambda: fetch(
            "GET",
            f"http://127.0.0.1:{server.port}/",
            resolver=resolver,
            allow_private=["127.0.0.1/32"],
            max_body_chars=50_000,
            timeout=5,
        ),
    )
    assert time.monotonic() - started < 2


def test_a_declared_huge_length_is_refused_before_reading(raw_server, resolver):
    def huge(conn, stop):
        read_request(conn)
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 999999999\r\n\r\n"
        )
        stop.wait(5)

    server = raw_server(huge)
    refused(
        "response_too_large",
        lambda: fetch(
            "GET", f"http://127.0.0.1:{server.port}/", allow_private=["127.0.0.1/32"], timeout=5
        ),
    )


# -- text only --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["image/png", "application/octet-stream", "application/pdf", "application/zip", "audio/mpeg"],
)
def test_binary_content_types_are_refused(local, content_type):
    local.expect_request("/file").respond_with_data(b"\x89PNG\r\n\x1a\n", content_type=content_type)
    error = refused("binary_response", lambda: local.get("/file"))
    assert "binary" in error.detail


@pytest.mark.parametrize("body", [b"abc\x00def", b"\xff\xfe\xfd not utf-8"])
def test_undeclared_binary_is_sniffed(local, body):
    local.expect_request("/blob").respond_with_response(untyped(body))
    refused("binary_response", lambda: local.get("/blob"))


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/problem+json",
        "application/vnd.api+json",
        "application/xml",
        "image/svg+xml",
        "application/yaml",
        "application/x-yaml",
        "text/csv",
        "application/javascript",
        "application/x-www-form-urlencoded",
        None,
    ],
)
def test_text_content_types_are_accepted(local, content_type):
    response = (
        untyped("a: 1") if content_type is None else Response("a: 1", content_type=content_type)
    )
    local.expect_request("/t").respond_with_response(response)
    assert local.get("/t").text == "a: 1"


def test_allow_binary_accepts_and_keeps_the_bytes(local):
    local.expect_request("/file").respond_with_data(b"\x00\x01\x02", content_type="image/png")
    assert local.get("/file", allow_binary=True).content == b"\x00\x01\x02"


def test_the_declared_charset_is_used(local):
    local.expect_request("/l1").respond_with_data(
        "café".encode("latin-1"), content_type="text/plain; charset=ISO-8859-1"
    )
    local.expect_request("/bom").respond_with_data(
        b"\xef\xbb\xbf{}", content_type="application/json"
    )
    assert local.get("/l1").text == "café"
    assert local.get("/bom").text == "{}"  # a UTF-8 BOM is not part of the JSON


# -- content encodings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "coding,compress",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-15)),  # raw deflate, seen in the wild
    ],
)
def test_compressed_answers_are_decoded(local, coding, compress):
    local.expect_request("/z").respond_with_data(
        compress(b'{"ok": true}'),
        headers={"Content-Encoding": coding},
        content_type="application/json",
    )
    assert local.get("/z").text == '{"ok": true}'


def test_a_decompression_bomb_is_stopped_by_the_character_cap(local):
    bomb = gzip.compress(b"a" * 50_000_000, compresslevel=9)  # ~50 kB on the wire
    local.expect_request("/bomb").respond_with_data(
        bomb, headers={"Content-Encoding": "gzip"}, content_type="text/plain"
    )
    started = time.monotonic()
    refused("response_too_large", lambda: local.get("/bomb"))
    assert time.monotonic() - started < 2


def test_unsupported_encodings_are_refused(local):
    local.expect_request("/br").respond_with_data(
        b"\x1b\x00", headers={"Content-Encoding": "br"}, content_type="text/plain"
    )
    refused("unsupported_encoding", lambda: local.get("/br"))


def test_corrupt_gzip_is_an_error(local):
    local.expect_request("/bad").respond_with_data(
        b"\x1f\x8b\x08\x00garbage-garbage",
        headers={"Content-Encoding": "gzip"},
        content_type="text/plain",
    )
    refused("invalid_response", lambda: local.get("/bad"))


# -- redirects --------------------------------------------------------------------------------


def redirect(location: str, status: int = 302) -> Response:
    return Response("", status=status, headers={"Location": location})


def test_redirects_are_followed_and_listed(local):
    base = f"http://127.0.0.1:{local.port}"
    local.expect_request("/a").respond_with_response(redirect("/b", 301))
    local.expect_request("/b").respond_with_response(redirect(f"{base}/c?x=1", 308))
    local.expect_request("/c").respond_with_data("done", content_type="text/plain")
    response = local.get("/a")
    assert response.text == "done"
    assert response.redirects == [f"{base}/b", f"{base}/c?x=1"]
    assert response.url == f"{base}/c?x=1"


@pytest.mark.parametrize(
    "status,method,expected_method,body_kept",
    [
        (303, "POST", "GET", False),
        (303, "PUT", "GET", False),
        (302, "POST", "GET", False),
        (301, "POST", "GET", False),
        (307, "POST", "POST", True),
        (308, "PUT", "PUT", True),
        (302, "DELETE", "DELETE", False),  # Fetch standard: only a POST turns into a GET
    ],
)
def test_redirect_method_rules(local, status, method, expected_method, body_kept):
    local.expect_request("/from", method=method).respond_with_response(redirect("/to", status))
    seen = {}

    def record(request):
        seen.update(method=request.method, body=request.get_data(), ctype=request.content_type)
        return Response("ok")

    local.expect_request("/to", method=expected_method).respond_with_handler(record)
    payload = b"payload" if expected_method != "DELETE" else None
    local.get("/from", method=method, body=payload, headers={"Content-Type": "text/plain"})
    assert seen["method"] == expected_method
    assert (seen["body"] == b"payload") is body_kept
    if expected_method == "GET":
        assert not seen["ctype"]


def test_redirect_limit(local):
    local.expect_request("/loop").respond_with_response(redirect("/loop"))
    error = refused("too_many_redirects", lambda: local.get("/loop"))
    assert "10 redirects" in error.detail
    assert len(local.log) == 11  # the request and ten redirects, not one more


def test_max_redirects_zero_refuses_any_redirect(local):
    local.expect_request("/r").respond_with_response(redirect("/s"))
    refused("too_many_redirects", lambda: local.get("/r", max_redirects=0))
    assert len(local.log) == 1


def test_credentials_stay_behind_on_a_cross_origin_redirect(local, resolver):
    resolver.table.update({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    seen: list[dict[str, str]] = []

    def record(request):
        seen.append(dict(request.headers))
        if request.host.startswith("a.test") and request.path == "/start":
            return redirect("/same")  # same origin first
        if request.path == "/same":
            return redirect(f"http://b.test:{local.port}/other")
        return Response("ok")

    local.expect_request("/start").respond_with_handler(record)
    local.expect_request("/same").respond_with_handler(record)
    local.expect_request("/other").respond_with_handler(record)
    response = fetch(
        "GET",
        f"http://a.test:{local.port}/start",
        headers={
            "Authorization": "Bearer secret",
            "Cookie": "s=1",
            "X-Api-Key": "secret-key",
            "X-Custom-Secret": "s3",
            "Accept": "application/json",
        },
        sensitive_headers=["X-Custom-Secret"],
        resolver=resolver,
        allow_private=["127.0.0.0/8"],
        timeout=5,
    )
    assert response.text == "ok"
    first, same, other = seen
    assert same["Authorization"] == "Bearer secret" and same["X-Api-Key"] == "secret-key"
    for name in ("Authorization", "Cookie", "X-Api-Key", "X-Custom-Secret"):
        assert name not in other
    assert other["Accept"] == "application/json"
    assert other["Host"] == f"b.test:{local.port}"


def test_host_check_runs_on_every_hop(local, resolver):
    resolver.table.update({"ok.test": ["127.0.0.1"], "blocked.test": ["127.0.0.1"]})
    local.expect_request("/").respond_with_response(redirect(f"http://blocked.test:{local.port}/x"))
    checked: list[str] = []

    class Refusal(Exception):
        def __init__(self, detail):
            super().__init__(detail)
            self.detail = detail

    def policy(host):
        checked.append(host)
        if host == "blocked.test":
            raise Refusal("blocked.test is not allowed by your workspace's settings.")

    error = refused(
        "domain_not_allowed",
        lambda: fetch(
            "GET",
            f"http://ok.test:{local.port}/",
            host_check=policy,
            resolver=resolver,
            allow_private=["127.0.0.0/8"],
            timeout=5,
        ),
    )
    assert checked == ["ok.test", "blocked.test"]
    assert error.detail == "blocked.test is not allowed by your workspace's settings."
    assert error.host == "blocked.test"
    assert isinstance(error.__cause__, Refusal)
    assert resolver.calls == ["ok.test"]  # a refused host is not even looked up
    assert len(local.log) == 1


# -- the total deadline -----------------------------------------------------------------------


def drip_body(conn, stop):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n")
    while not stop.wait(0.1):
        conn.sendall(b"a")


def drip_headers(conn, stop):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.wait(0.1):
        conn.sendall(b"a")


def drip_chunk_size(conn, stop):
    read_request(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    while not stop.wait(0.1):
        conn.sendall(b"0")  # a chunk-size line that never ends: http.client keeps reading it


def hang(conn, stop):
    read_request(conn)
    stop.wait(10)


@pytest.mark.parametrize("handler", [drip_body, drip_headers, drip_chunk_size, hang])
def test_the_timeout_is_a_total_not_per_read(raw_server, handler):
    server = raw_server(handler)
    started = time.monotonic()
    error = refused(
        "timeout",
        lambda: fetch(
            "GET", f"http://127.0.0.1:{server.port}/", allow_private=["127.0.0.1/32"], timeout=1
        ),
    )
    assert 0.9 < time.monotonic() - started < 1.8
    assert "1 seconds" in error.detail


def test_a_stalled_tls_handshake_times_out(raw_server):
    server = raw_server(hang)  # accepts the connection, never answers the ClientHello
    started = time.monotonic()
    refused(
        "timeout",
        lambda: fetch(
            "GET", f"https://127.0.0.1:{server.port}/", allow_private=["127.0.0.1/32"], timeout=1
        ),
    )
    assert time.monotonic() - started < 1.8


def test_the_deadline_spans_redirects(raw_server):
    def slow_redirect(conn, stop):
        read_request(conn)
        stop.wait(0.3)  # each hop is well under the timeout; together they are not
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(slow_redirect)
    started = time.monotonic()
    refused(
        "timeout",
        lambda: fetch(
            "GET", f"http://127.0.0.1:{server.port}/", allow_private=["127.0.0.1/32"], timeout=1
        ),
    )
    assert time.monotonic() - started < 1.6
    assert 3 <= server.connections <= 5


# -- connection failures ----------------------------------------------------------------------


def test_connection_refused(resolver):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused(
        "connection_failed",
        lambda: fetch("GET", f"http://127.0.0.1:{port}/", allow_private=["127.0.0.1/32"]),
    )


def reset_mid_body(conn, stop):
    read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nab")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def close_before_answer(conn, stop):
    read_request(conn)


def garbage(conn, stop):
    read_request(conn)
    conn.sendall(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")


@pytest.mark.parametrize("handler", [reset_mid_body, close_before_answer, garbage])
def test_broken_servers_are_connection_failures(raw_server, handler):
    server = raw_server(handler)
    refused(
        "connection_failed",
        lambda: fetch(
            "GET", f"http://127.0.0.1:{server.port}/", allow_private=["127.0.0.1/32"], timeout=2
        ),
    )


def test_dns_failure(resolver):
    refused("dns_failure", lambda: fetch("GET", "https://nowhere.test/", resolver=resolver))


# -- DNS pinning ------------------------------------------------------------------------------


def test_rebinding_after_the_check_cannot_redirect_the_connection(connect_spy, resolver):
    # First answer public (passes the check), any later answer loopback: only one lookup is
    # made, and the connection goes to the checked address.
    resolver.table["rebind.test"] = [[PUBLIC_IP], ["127.0.0.1"]]
    refused("connection_failed", lambda: fetch("GET", "https://rebind.test/", resolver=resolver))
    assert resolver.calls == ["rebind.test"]
    assert connect_spy.targets == [(PUBLIC_IP, 443, "rebind.test")]


def test_the_connection_goes_to_the_checked_address(local, resolver, connect_spy):
    resolver.table["pinned.test"] = [["127.0.0.1"], ["169.254.169.254"]]
    local.expect_request("/", headers={"Host": f"pinned.test:{local.port}"}).respond_with_data("ok")
    url = f"http://pinned.test:{local.port}/"
    assert fetch("GET", url, resolver=resolver, allow_private=["127.0.0.0/8"]).text == "ok"
    assert resolver.calls == ["pinned.test"]
    assert connect_spy.targets == [("127.0.0.1", local.port, "pinned.test")]


def test_each_hop_is_resolved_once(local, resolver, connect_spy):
    resolver.table.update({"one.test": ["127.0.0.1"], "two.test": ["127.0.0.1"]})
    local.expect_request("/1").respond_with_response(redirect(f"http://two.test:{local.port}/2"))
    local.expect_request("/2").respond_with_data("ok")
    fetch(
        "GET", f"http://one.test:{local.port}/1", resolver=resolver, allow_private=["127.0.0.1/32"]
    )
    assert resolver.calls == ["one.test", "two.test"]


def test_every_checked_address_may_be_tried_in_turn(local, resolver, connect_spy):
    # Nothing listens on 127.0.0.2: the next checked address is tried.
    resolver.table["multi.test"] = ["127.0.0.2", "127.0.0.1"]
    local.expect_request("/").respond_with_data("ok")
    url = f"http://multi.test:{local.port}/"
    assert fetch("GET", url, resolver=resolver, allow_private=["127.0.0.0/8"]).text == "ok"
    assert [t[0] for t in connect_spy.targets][-1] == "127.0.0.1"


# -- scheme and port rules --------------------------------------------------------------------


def test_public_hosts_need_https_on_443(resolver, connect_spy):
    resolver.table["public.test"] = [PUBLIC_IP]
    refused("scheme_not_allowed", lambda: fetch("GET", "http://public.test/", resolver=resolver))
    refused(
        "port_not_allowed", lambda: fetch("GET", "https://public.test:8443/", resolver=resolver)
    )
    assert connect_spy.targets == []
    # https on 443 passes every check and reaches the (fake) connection factory.
    refused("connection_failed", lambda: fetch("GET", "https://public.test/", resolver=resolver))
    assert connect_spy.targets == [(PUBLIC_IP, 443, "public.test")]


def test_allowlisted_hosts_may_use_http_and_any_port(local, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{local.port}"]
    local.expect_request("/").respond_with_data("ok")
    assert fetch("GET", f"http://127.0.0.1:{local.port}/").text == "ok"
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{local.port + 1}"]
    error = refused("address_not_allowed", lambda: fetch("GET", f"http://127.0.0.1:{local.port}/"))
    assert "127.0.0.1" in error.detail and "loopback" in error.detail


def test_a_name_entry_allows_what_the_name_resolves_to(local, resolver):
    resolver.table["localhost"] = ["127.0.0.1"]
    local.expect_request("/").respond_with_data("ok")
    url = f"http://localhost:{local.port}/"
    assert fetch("GET", url, resolver=resolver, allow_private=[f"localhost:{local.port}"]).text
    refused(
        "address_not_allowed",
        lambda: fetch("GET", url, resolver=resolver, allow_private=[f"localhost:{local.port + 1}"]),
    )


@pytest.mark.parametrize(
    "entries,host,port,expected",
    [
        (["127.0.0.1:8000"], "127.0.0.1", 8000, True),
        (["127.0.0.1:8000"], "127.0.0.1", 8001, False),
        (["127.0.0.1:8000"], "localhost", 8000, False),  # names are not resolved here
        (["localhost:8000"], "localhost", 8000, True),
        (["localhost:8000"], "LOCALHOST.", 8000, True),
        (["127.0.0.0/8"], "127.0.0.5", 1234, True),
        (["127.0.0.0/8"], "127.1", 80, True),  # the same reading as fetch()
        (["127.0.0.0/8"], "localhost", 80, False),
        (["127.0.0.0/8"], "10.0.0.1", 80, False),
        (["[::1]:8000"], "::1", 8000, True),
        (["[::1]:8000"], "[::1]", 8000, True),
        (["::1/128"], "::1", 9, True),
        (["10.0.0.0/8"], "10.1.2.3", None, True),
        (["localhost:80"], "localhost", None, True),  # None: the http default
        (["169.254.0.0/16"], "169.254.169.254", 80, False),  # metadata needs an exact entry
        (["169.254.169.254:80"], "169.254.169.254", 80, True),
        ([], "127.0.0.1", 8000, False),
        (["nonsense", "localhost"], "localhost", 80, False),  # malformed entries are ignored
        (["sandbox.internal:8000"], "api.example.com", 8000, False),
    ],
)
def test_is_insecure_destination_allowed(settings, entries, host, port, expected):
    settings.OUTBOUND_ALLOW_PRIVATE = entries
    assert is_insecure_destination_allowed(host, port) is expected


def test_allowlist_as_a_comma_separated_string(local):
    local.expect_request("/").respond_with_data("ok")
    entries = f"10.0.0.0/8, 127.0.0.1:{local.port}"
    assert fetch("GET", f"http://127.0.0.1:{local.port}/", allow_private=entries).text == "ok"


# -- https: pinned to the IP, verified against the name ---------------------------------------


def make_certificate(names: Iterable[str]) -> tuple[bytes, bytes, bytes]:
    """A CA certificate, and a server certificate and key it signed for `names` (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, key, signer, ca: bool, sans=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
            )
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("Test CA", "Test CA", ca_key, ca_key, True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = build("server", "Test CA", key, ca_key, False, list(names))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ca.public_bytes(pem), leaf.public_bytes(pem), key_pem


@pytest.fixture
def tls_server(tmp_path):
    """An https server on 127.0.0.1 with a certificate for secure.test, recording SNI."""
    ca_pem, cert_pem, key_pem = make_certificate(["secure.test"])
    (tmp_path / "cert.pem").write_bytes(cert_pem + key_pem)
    seen: dict[str, str | None] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            seen["host"] = self.headers["Host"]
            body = b"secure hello"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem")
    context.sni_callback = lambda sock, name, ctx: seen.__setitem__("sni", name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    client = ssl.create_default_context(cadata=ca_pem.decode())
    yield server.server_address[1], client, seen
    server.shutdown()
    server.server_close()


def test_https_is_pinned_to_the_ip_and_verified_against_the_name(tls_server, resolver):
    port, client_context, seen = tls_server
    resolver.table["secure.test"] = ["127.0.0.1"]
    response = fetch(
        "GET",
        f"https://secure.test:{port}/",
        resolver=resolver,
        allow_private=["127.0.0.1/32"],
        ssl_context=client_context,
        timeout=5,
    )
    assert response.text == "secure hello"
    assert seen == {"sni": "secure.test", "host": f"secure.test:{port}"}


def test_https_refuses_a_certificate_for_another_name(tls_server, resolver):
    port, client_context, _ = tls_server
    resolver.table["other.test"] = ["127.0.0.1"]
    refused(
        "tls_error",
        lambda: fetch(
            "GET",
            f"https://other.test:{port}/",
            resolver=resolver,
            allow_private=["127.0.0.1/32"],
            ssl_context=client_context,
            timeout=5,
        ),
    )


def test_https_refuses_an_untrusted_certificate(tls_server, resolver):
    port, _, _ = tls_server
    resolver.table["secure.test"] = ["127.0.0.1"]
    refused(
        "tls_error",
        lambda: fetch(
            "GET",
            f"https://secure.test:{port}/",
            resolver=resolver,
            allow_private=["127.0.0.1/32"],
            timeout=5,
        ),
    )
