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
