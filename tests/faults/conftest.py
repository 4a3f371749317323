"""What the fault tests break, and how they put it back.

- `RedisServer`: this suite's OWN redis-server on a free loopback port, so stopping, freezing
  and restarting it never touches the machine's shared Redis on 6379 (nor anyone's queue).
- `FaultWorker`: a real `celery worker` subprocess on the test database and that Redis, with a
  5 s visibility timeout so a task a killed worker held comes back within seconds, not 10 min.
- `RawServer`: a TCP server on 127.0.0.1 that misbehaves on purpose (holds a request, drips,
  resets, streams 100 MB) and counts what it managed to send.

Every subprocess and socket is closed in fixture teardown, also when a test fails. In CI
(CI=true) a missing redis-server or PostgreSQL fails the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.core.management import call_command
from django.db import connection

from tests.integration.conftest import ROOT, Worker, _reset_connections, wait_for

__all__ = ["wait_for"]


def require(condition: bool, message: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must have it).")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- Redis ------------------------------------------------------------------------------------


class RedisServer:
    """A throw-away redis-server without persistence: a restart empties it, like a crash."""

    def __init__(self, port: int, log_dir) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log = log_dir / f"redis-{port}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        if not wait_for(self.answers, timeout=10, interval=0.05):
            raise RuntimeError(f"redis-server did not start: {self.log.read_text()}")
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Shut it down: later connections are refused at once."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen server must be able to exit
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections, nobody ever answers on them."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=2)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[RedisServer]:
    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = RedisServer(free_port(), tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_broker(own_redis, settings):
    """This process's Celery publishes to `own_redis` (not eager), like a web process would."""
    from config.celery import app

    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = own_redis.url
    app.conf.task_always_eager = False
    _reset_connections(app)
    try:
        yield app
    finally:
        app.conf.broker_url, app.conf.task_always_eager = saved
        _reset_connections(app)


# -- Celery workers ---------------------------------------------------------------------------

VISIBILITY_TIMEOUT = 5  # seconds before a dead worker's task goes back to the queue


class FaultWorker(Worker):
    """The integration suite's worker, with a chosen pool and its log in the test's tmp dir."""

    def __init__(self, env: dict[str, str], log, pool: str, concurrency: int) -> None:
        super().__init__(env)
        self.log = log
        self.pool, self.concurrency = pool, concurrency

    def start(self) -> FaultWorker:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                f"--pool={self.pool}",
                f"--concurrency={self.concurrency}",
                "--loglevel=info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=fault-{os.getpid()}-{time.monotonic_ns()}@127.0.0.1",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        assert wait_for(lambda: " ready." in self.output(), timeout=timeout), self.output()

    def children(self) -> list[int]:
        """Pids of the pool's child processes (prefork)."""
        assert self.process is not None
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as stat:
                # Field 4 is the parent pid; the name (field 2) may hold spaces, so split after it.
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    pids.append(int(entry))
        return pids


@pytest.fixture
def workers(fault_broker, own_redis, transactional_db, settings, tmp_path):
    """Start workers on this test's database, `own_redis` and outbound allowlist."""
    if connection.vendor != "postgresql":
        require(False, "a worker process needs a shared PostgreSQL database")
    started: list[FaultWorker] = []

    def start(*, pool: str = "solo", concurrency: int = 1, **extra_env) -> FaultWorker:
        db = connection.settings_dict
        env = {k: v for k, v in os.environ.items() if k != "CELERY_TASK_ALWAYS_EAGER"}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings_test",
                "DATABASE_URL": (
                    f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                    f"{db['PORT'] or 5432}/{db['NAME']}"
                ),
                "CELERY_BROKER_URL": own_redis.url,
                "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
                "OUTBOUND_ALLOW_PRIVATE": ",".join(settings.OUTBOUND_ALLOW_PRIVATE),
            }
        )
        env.update(extra_env)
        log = tmp_path / f"worker-{len(started)}.log"
        worker = FaultWorker(env, log, pool, concurrency).start()
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            children = worker.children()  # before the parent dies and they are re-parented
            worker.kill()  # at once: nothing they do after the test matters
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)


# -- misbehaving upstream servers -------------------------------------------------------------

Handler = Callable[["RawServer", socket.socket, int], None]


class RawServer:
    """A TCP server on 127.0.0.1; `handler(server, conn, n)` answers the n-th request (from 1)
    after its head was read. Counts requests, bytes sent and answers sent in full."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.release = threading.Event()  # handlers that hold a request wait on this
        self.arrived = threading.Event()  # set when a request's head has been read
        self.finished = threading.Event()  # set when a handler has returned
        self.requests = 0
        self.served = 0  # answers written in full
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            with self._lock:
                self.requests += 1
                number = self.requests
            self.arrived.set()
            self.handler(self, conn, number)
        except OSError:
            pass  # the client went away: that is what most of these tests want
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            self.finished.set()

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.bytes_sent += len(data)

    def answer(self, conn: socket.socket, body: bytes, content_type: str) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        self.send(conn, head + body)
        with self._lock:
            self.served += 1

    @staticmethod
    def reset(conn: socket.socket) -> None:
        """Close with SO_LINGER 0: the peer gets a TCP RST, not a clean end of stream."""
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    def close(self) -> None:
        self.release.set()
        with contextlib.suppress(OSError):
            self.sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def raw_server() -> Iterator[Callable[[Handler], RawServer]]:
    servers: list[RawServer] = []

    def start(handler: Handler) -> RawServer:
        server = RawServer(handler)
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.close()


# -- talking to the live server ---------------------------------------------------------------


def bearer_token(user) -> str:
    out = io.StringIO()
    call_command("issue_api_token", user.username, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def http_json(base_url: str, method: str, path: str, token: str, body=None, timeout=30.0):
    """(status, headers, parsed JSON) of one request to the live server over real HTTP."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        data = json.loads(raw) if raw else None
        return response.status, dict(response.getheaders()), data
    finally:
        conn.close()
