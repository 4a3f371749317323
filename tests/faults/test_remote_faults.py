"""A remote API that hangs, drips, resets the connection or answers 100 MB.

End to end through the run endpoint (and, for the 100 MB answer, the URL import): each is
refused within its limit with a clear code and message, and the run is recorded with that code.
The call timeout is lowered to 1 s here (ACTION_CALL_TIMEOUT_SECONDS; 45 s in production); the
misbehaving server counts what it managed to send, which shows the client stopped reading.
"""

import gzip
import json
import time

import pytest
from rest_framework.test import APIClient

from actions.models import Action, ImportStatus, Invocation, SchemaImport
from actions.runtime.request import MAX_BODY_CHARS
from actions.services import action_create
from tests.factories import add_member, make_gpt, make_workspace
from workspaces.models import Plan, Role
from workspaces.services import domain_policy_update

pytestmark = pytest.mark.django_db(transaction=True)

CALL_TIMEOUT = 1.0
HUNDRED_MB = 100 * 1024 * 1024
CHUNK = b"x" * 65536


def schema(port: int) -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": "Faulty API", "version": "1.0.0"},
            "servers": [{"url": f"http://127.0.0.1:{port}"}],
            "paths": {
                "/things": {
                    "get": {
                        "operationId": "getThings",
                        "responses": {"200": {"description": "OK"}},
                    }
                }
            },
        }
    )


# -- the misbehaviours (handlers for RawServer) ----------------------------------------------


def hang(server, conn, number):
    server.release.wait(30)  # reads the request, never answers


def drip_headers(server, conn, number):
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello":
        if server.release.wait(0.1):
            return
        server.send(conn, bytes([byte]))


def drip_body(server, conn, number):
    server.send(
        conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
    )
    for _ in range(1000):  # a byte every 0.1 s: 100 s in all, every single read succeeds
        if server.release.wait(0.1):
            return
        server.send(conn, b"x")


def reset_at_once(server, conn, number):
    server.reset(conn)


def reset_mid_body(server, conn, number):
    server.send(
        conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
    )
    server.send(conn, b"x" * 100)
    time.sleep(0.05)
    server.reset(conn)


def stream_100_mb(declared: bool):
    def handler(server, conn, number):
        head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        head += f"Content-Length: {HUNDRED_MB}\r\n" if declared else "Connection: close\r\n"
        server.send(conn, (head + "\r\n").encode())
        for _ in range(HUNDRED_MB // len(CHUNK)):
            server.send(conn, CHUNK)  # raises once the client has closed: the count stops
        server.served += 1

    return handler


_BOMB: list[bytes] = []


def gzip_bomb(server, conn, number):
    """100 MB of text in about 100 KB on the wire: only decompressing shows the size."""
    if not _BOMB:
        _BOMB.append(gzip.compress(b"a" * HUNDRED_MB, compresslevel=6))
    body = _BOMB[0]
    server.send(
        conn,
        (
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body,
    )
    server.served += 1


# -- the scene -------------------------------------------------------------------------------


@pytest.fixture
def call(settings, raw_server):
    """Start a server with `handler`, point an action at it, run its operation once."""
    settings.ACTION_CALL_TIMEOUT_SECONDS = CALL_TIMEOUT
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    globex = make_workspace("Globex", plan=Plan.ENTERPRISE)
    owner = add_member(acme, role=Role.OWNER)
    member = add_member(acme, role=Role.MEMBER)
    add_member(globex, role=Role.OWNER)
    domain_policy_update(workspace=acme, actor=owner, allow_all=False, allowed=["127.0.0.1"])
    client = APIClient()
    client.force_authenticate(member)

    def run(handler):
        server = raw_server(handler)
        settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{server.port}"]
        gpt = make_gpt(acme, created_by=owner, visibility="workspace")
        action = action_create(gpt=gpt, acting_user=owner, schema=schema(server.port))
        started = time.monotonic()
        response = client.post(
            f"/api/v1/actions/{action.pk}/operations/getThings/run",
            {"consent": "allow"},
            format="json",
        )
        elapsed = time.monotonic() - started
        server.release.set()  # let a holding handler go
        assert server.finished.wait(10), "the server is still sending"
        [record] = Invocation.objects.filter(action=action)
        assert not Invocation.objects.filter(workspace=globex).exists()
        return response, elapsed, server, record

    return run


def assert_refused(response, record, status, code, words):
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["code"] == code
    assert words in body["detail"], body["detail"]
    assert body["request"]["url"].endswith("/things")  # what was sent, for the builder
    assert (record.status, record.error_code) == ("error", code)


@pytest.mark.parametrize("handler", [hang, drip_headers, drip_body], ids=lambda h: h.__name__)
def test_a_silent_or_dripping_api_is_cut_at_the_timeout(call, handler):
    response, elapsed, server, record = call(handler)
    assert_refused(response, record, 504, "timeout", f"within {CALL_TIMEOUT:g} seconds")
    assert CALL_TIMEOUT <= elapsed < CALL_TIMEOUT + 1.5  # the deadline, not the drip, decides
    assert server.bytes_sent < 100


@pytest.mark.parametrize("handler", [reset_at_once, reset_mid_body], ids=lambda h: h.__name__)
def test_a_reset_connection_is_a_502(call, handler):
    response, elapsed, _, record = call(handler)
    assert_refused(response, record, 502, "connection_failed", "127.0.0.1")
    assert elapsed < CALL_TIMEOUT  # reported at once, not waited out


@pytest.mark.parametrize(
    "handler",
    [stream_100_mb(declared=True), stream_100_mb(declared=False), gzip_bomb],
    ids=["declared_length", "undeclared_length", "gzip_bomb"],
)
def test_a_100_mb_answer_is_refused_while_streaming(call, handler):
    response, elapsed, server, record = call(handler)
    assert_refused(response, record, 502, "response_too_large", f"{MAX_BODY_CHARS:,}")
    assert elapsed < CALL_TIMEOUT
    assert server.served == (1 if handler is gzip_bomb else 0)
    # The client hung up long before 100 MB: what got out is what the socket buffers took.
    assert server.bytes_sent < 16 * 1024 * 1024


def test_a_100_mb_schema_import_fails_clearly_without_retrying(settings, raw_server):
    settings.SCHEMA_MAX_BYTES = 1024 * 1024  # 5 MB in production; 1 MB keeps this quick
    server = raw_server(stream_100_mb(declared=False))
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{server.port}"]
    acme, globex = make_workspace("Acme"), make_workspace("Globex")
    builder = add_member(acme, role=Role.BUILDER)
    action = Action.objects.create(gpt=make_gpt(acme, created_by=builder), workspace=acme)
    client = APIClient()
    client.force_authenticate(builder)

    started = time.monotonic()
    response = client.post(
        f"/api/v1/actions/{action.pk}/imports/",
        {"url": f"http://127.0.0.1:{server.port}/openapi.yaml"},
        format="json",
    )
    assert response.status_code == 202  # eager Celery: the import ran on commit
    assert time.monotonic() - started < 10
    job = client.get(f"/api/v1/imports/{response.json()['id']}/").json()
    assert job["status"] == ImportStatus.FAILED
    assert "longer than 1,048,576 characters" in job["error"], job["error"]
    assert SchemaImport.objects.get().attempts == 1  # a size refusal is not retried
    assert server.requests == 1
    assert server.finished.wait(10)
    assert server.bytes_sent < 16 * 1024 * 1024
    assert Action.objects.get(pk=action.pk).schema == ""
    assert not SchemaImport.objects.filter(workspace=globex).exists()
