"""A real Redis broker and a real Celery worker process for integration tests.

In CI (CI=true) a missing Redis fails the test; on a laptop without Redis it is skipped with
the reason.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def redis_available(host="127.0.0.1", port=6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_redis():
    if redis_available():
        return
    message = "Redis is not running on 127.0.0.1:6379"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must have it: .ci/run starts it).")
    pytest.skip(message)


@pytest.fixture
def broker(settings):
    """Point this process's Celery at Redis (not eager) and start from an empty queue."""
    require_redis()
    import redis

    from config.celery import app

    redis.Redis.from_url(REDIS_URL).flushdb()
    saved = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url = REDIS_URL
    app.conf.task_always_eager = False
    _reset_connections(app)
    yield app
    app.conf.broker_url, app.conf.task_always_eager = saved
    _reset_connections(app)


def _reset_connections(app):
    """Drop pooled broker connections so the next publish connects to the new broker URL."""
    from kombu import pools

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu's global producer pools still hold the closed connections


class Worker:
    """A `celery worker` subprocess on the test database; can be killed and restarted."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = ROOT / "tests" / "integration" / f"worker-{os.getpid()}.log"

    def start(self):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--loglevel=info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        return self

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def celery_worker_factory(broker, transactional_db, settings):
    """Start workers that see this test's database and outbound allowlist."""
    workers = []

    def start(**extra_env) -> Worker:
        db = connection.settings_dict
        env = {k: v for k, v in os.environ.items() if k != "CELERY_TASK_ALWAYS_EAGER"}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings_test",
                "DATABASE_URL": (
                    f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
                    f"{db['PORT'] or 5432}/{db['NAME']}"
                ),
                "CELERY_BROKER_URL": REDIS_URL,
                "OUTBOUND_ALLOW_PRIVATE": ",".join(settings.OUTBOUND_ALLOW_PRIVATE),
            }
        )
        env.update(extra_env)
        worker = Worker(env).start()
        workers.append(worker)
        return worker

    if connection.vendor != "postgresql":
        message = "a worker process needs a shared PostgreSQL database (set DATABASE_URL)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield start
    for worker in workers:
        worker.stop()
        if worker.log.exists():
            worker.log.unlink()


def wait_for(predicate, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
