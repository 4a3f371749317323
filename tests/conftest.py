"""Suite-wide safety net: no test may open a connection outside loopback.

Even a test of the SSRF guard that fails must not send a packet to a private or public address,
so every socket connect is checked here before it leaves the process.
"""

import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


class NonLoopbackConnection(AssertionError):
    """A test tried to reach an address outside 127.0.0.0/8 and ::1."""


def _check_address(sock, address):
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = address[0]
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        raise NonLoopbackConnection(
            f"connect to unresolved name {host!r} refused in tests"
        ) from None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if not ip.is_loopback:
        raise NonLoopbackConnection(f"connect to {ip} refused: tests reach loopback only")


def _guarded_connect(self, address):
    _check_address(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_address(self, address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only():
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    yield
    socket.socket.connect = _real_connect
    socket.socket.connect_ex = _real_connect_ex


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Login throttling counts live in the cache; each test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield


def _close_thread_connections():
    # The server's ORM calls run in asgiref's single thread for sync code; close its
    # connections so the test database can be flushed and dropped.
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import connections

    asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())


@pytest.fixture
def asgi_site(transactional_db, settings):
    """The site served for real, the way `make run` serves it: config.asgi under uvicorn on
    127.0.0.1, in a thread; its base URL, and SITE_URL set to it (the MCP resource identifier
    and the authorization server's issuer are built from it).

    pytest-django's live_server is WSGI-only and the MCP endpoints are ASGI
    (mcp_gateway/server.py). The test database must be visible to the server's threads, hence
    transactional_db. Used by tests/mcp and the MCP channel of tests/api/test_api_governance.py.
    """
    import threading
    import time

    import uvicorn
    from django.db import connections

    from config.asgi import build_application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    settings.SITE_URL = base
    # Under ASGI each Django request runs in its own thread: persistent connections would leak.
    db_settings = connections.settings["default"]
    saved_age = db_settings.get("CONN_MAX_AGE")
    db_settings["CONN_MAX_AGE"] = 0
    server = uvicorn.Server(
        uvicorn.Config(build_application(), lifespan="on", log_level="warning", workers=1)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the ASGI server did not start")
        time.sleep(0.02)
    yield base
    server.should_exit = True
    thread.join(15)
    sock.close()
    _close_thread_connections()
    db_settings["CONN_MAX_AGE"] = saved_age
