"""HTTP load test of the editor API and the run endpoint, against gunicorn, PostgreSQL and Redis.

    .venv/bin/python bench/load_test.py [--seconds 15] [--clients 1,10,50] [--gpts 50]
                                        [--workers 4] [--only gpt-list,run]

Everything happens on 127.0.0.1 and is torn down at the end, whatever happens:

1. a throwaway PostgreSQL database (`actions_bench`, dropped at the end) is created, migrated and
   seeded through the services: an Enterprise workspace with an allowlist (so every read and
   run really checks the domain policy), its owner and a builder, `--gpts` GPTs each with one
   action of five operations, and a second workspace with its own GPTs so that every query
   has something to filter out;
2. a tiny threaded upstream API (this file, `--serve-upstream PORT`, in its own process) answers
   the run endpoint's outbound calls, so a run is a real guarded HTTP call;
3. `manage.py issue_api_token` prints the builder's bearer token;
4. the SQL queries of one request of each endpoint are counted in-process (Django test client
   and CaptureQueriesContext, same settings and data);
5. `gunicorn config.wsgi -w 4` serves the project with DEBUG off, the Redis cache and broker;
6. wrk (a second process) drives each endpoint at each client count for `--seconds`, after a
   short warm-up, and reports requests per second, p50/p95/p99 latency and error responses (any
   status but 200, and for the run endpoint any result but `"status":"ok"`).

wrk (`apt-get install -y wrk`) opens one connection per client; gunicorn's sync workers close
the connection after each answer, so every request pays a TCP connect, as behind a proxy that
does not pool connections to its upstreams.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LOOPBACK = "127.0.0.1"
PG_SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS = "redis://127.0.0.1:6379"
VENV_BIN = ROOT / ".venv" / "bin"
OWNER, BUILDER, STRANGER = "bench_owner", "bench_builder", "bench_stranger"
# A realistic allowlist: the upstream's address among a few dozen corporate API domains.
ALLOWLIST = [f"api{n}.corp{n % 7}.example" for n in range(30)] + ["*.partner.example"]


def check_loopback(url: str) -> str:
    """Refuse anything but 127.0.0.1: this bench must never send traffic off the machine."""
    host = urlsplit(url).hostname
    if host != LOOPBACK:
        raise SystemExit(f"Refusing to target {host!r}: the load test runs on {LOOPBACK} only.")
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"Nothing answered on {LOOPBACK}:{port} within {timeout:.0f} s.")


def stop_group(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """Stop a process started with start_new_session=True, and all its children."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


# The upstream API the run endpoint calls ------------------------------------------------------


class UpstreamHandler(BaseHTTPRequestHandler):
    """Answers every path with a small JSON document, like a weather API would."""

    protocol_version = "HTTP/1.0"  # the runtime opens one connection per call anyway

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {"path": self.path, "temperature_c": 21.5, "conditions": "sunny"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _reply  # noqa: N815 - the http.server API

    def log_message(self, format, *args):  # noqa: A002 - silence the per-request log line
        return


def serve_upstream(port: int) -> None:
    ThreadingHTTPServer.request_queue_size = 256
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((LOOPBACK, port), UpstreamHandler)
    server.serve_forever()


def start_upstream() -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve-upstream", str(port)], start_new_session=True
    )
    wait_for_port(port)
    return process, port


# Database, settings, data ---------------------------------------------------------------------


def _admin_connection():
    import psycopg

    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)


def create_database(name: str) -> None:
    from psycopg import sql

    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(name: str) -> None:
    from psycopg import sql

    with _admin_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def bench_env(*, database: str, upstream_port: int, web_port: int) -> dict[str, str]:
    """The production-like settings gunicorn and the in-process measurements both run with."""
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + os.urandom(24).hex(),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": LOOPBACK,
        "SECURE_SSL_REDIRECT": "false",
        "SITE_URL": f"http://{LOOPBACK}:{web_port}",
        "DATABASE_URL": f"{PG_SERVER}/{database}",
        # Keep each worker's connection for the whole run (default: re-opened every 60 s) so
        # the CPU time of its PostgreSQL backend can be read before and after each step.
        "DATABASE_CONN_MAX_AGE": "3600",
        "CELERY_BROKER_URL": f"{REDIS}/12",
        "CACHE_URL": f"{REDIS}/11",
        "OUTBOUND_ALLOW_PRIVATE": f"{LOOPBACK}:{upstream_port}",
        "ACTION_DOMAIN_ALLOW_IP_LITERALS": "true",
        "LOG_LEVEL": "WARNING",
    }


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    # WhiteNoise warns that collectstatic has not run: the API serves no static files.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    import django

    django.setup()


def action_schema(*, upstream_port: int, prefix: str) -> str:
    """An action of five operations (three reads, two writes) on the upstream API."""

    def operation(op_id, summary, parameters=None, body=False, consequential=None):
        op = {
            "operationId": f"{prefix}{op_id}",
            "summary": summary,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
        if parameters:
            op["parameters"] = parameters
        if body:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["title"],
                            "properties": {"title": {"type": "string", "maxLength": 200}},
                        }
                    }
                },
            }
        if consequential is not None:
            op["x-openai-isConsequential"] = consequential
        return op

    location = {
        "name": "location",
        "in": "query",
        "required": True,
        "description": "City name",
        "schema": {"type": "string", "maxLength": 100},
    }
    days = {
        "name": "days",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 14},
    }
    report_id = {"name": "report_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Bench weather", "version": "1.0.0"},
        "servers": [{"url": f"http://{LOOPBACK}:{upstream_port}"}],
        "paths": {
            "/location": {
                "get": operation(
                    "GetCurrentWeather", "Current weather", [location], consequential=False
                )
            },
            "/forecast": {"get": operation("GetForecast", "Forecast", [location, days])},
            "/alerts": {"get": operation("ListAlerts", "Weather alerts", [location])},
            "/reports": {"post": operation("CreateReport", "File a report", body=True)},
            "/reports/{report_id}": {
                "delete": operation("DeleteReport", "Delete a report", [report_id])
            },
        },
    }
    return json.dumps(document, indent=2)


@dataclass
class Seed:
    slug: str
    gpt_ids: list[int]
    action_ids: list[int]
    run_operation: str = "GetCurrentWeather"


def seed(*, gpts: int, upstream_port: int) -> Seed:
    """The bench data, written through the services as the editor would."""
    from django.contrib.auth import get_user_model

    from actions.services import action_create
    from gpts.services import gpt_create
    from workspaces.models import Plan, Role
    from workspaces.services import domain_policy_update, membership_add, workspace_create

    users = get_user_model().objects
    owner = users.create_user(OWNER, password=os.urandom(16).hex())
    builder = users.create_user(BUILDER, password=os.urandom(16).hex())
    stranger = users.create_user(STRANGER, password=os.urandom(16).hex())
    workspace = workspace_create(name="Bench corp", creator=owner, plan=Plan.ENTERPRISE)
    membership_add(workspace=workspace, user=builder, role=Role.BUILDER, actor=owner)
    domain_policy_update(
        workspace=workspace, actor=owner, allow_all=False, allowed=[*ALLOWLIST, LOOPBACK]
    )
    other = workspace_create(name="Other corp", creator=stranger, plan=Plan.ENTERPRISE)
    gpt_ids, action_ids = [], []
    for ws, user, count in ((workspace, builder, gpts), (other, stranger, max(gpts // 5, 1))):
        for n in range(count):
            gpt = gpt_create(
                workspace=ws,
                acting_user=user,
                name=f"Weather helper {n:03d}",
                description="Answers weather questions from the bench upstream.",
                instructions="Use GetCurrentWeather. " * 20,
                visibility="workspace",
            )
            action = action_create(
                gpt=gpt,
                acting_user=user,
                schema=action_schema(upstream_port=upstream_port, prefix=""),
                privacy_policy_url="https://example.com/privacy",
            )
            if ws == workspace:
                gpt_ids.append(gpt.pk)
                action_ids.append(action.pk)
    return Seed(slug=workspace.slug, gpt_ids=gpt_ids, action_ids=action_ids)


def issue_token(env: dict[str, str], username: str) -> str:
    out = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "issue_api_token", username],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


# Endpoints ------------------------------------------------------------------------------------

SMALL_SCHEMA = json.dumps(
    {
        "openapi": "3.1.0",
        "info": {"title": "Get weather data __N__", "version": "v1.0.0"},
        "servers": [{"url": "https://weather.example.com"}],
        "paths": {
            "/location": {
                "get": {
                    "operationId": "GetCurrentWeather",
                    "summary": "Get temperature for a specific location",
                    "parameters": [
                        {
                            "name": "location",
                            "in": "query",
                            "required": True,
                            "description": "The city and state to retrieve the weather for",
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            }
        },
    },
    indent=2,
)


@dataclass
class Endpoint:
    key: str
    label: str
    method: str
    paths: list[str]  # cycled through, one request after the other
    body: str | None = None  # may hold __N__, replaced by a per-request counter
    expect_ok_status: bool = False  # the run endpoint: body must say "status":"ok"
    editor_read: bool = False


def endpoints(data: Seed) -> list[Endpoint]:
    api = "/api/v1"
    validate = json.dumps({"schema": SMALL_SCHEMA})
    return [
        Endpoint(
            "gpt-list",
            f"GET {api}/workspaces/{{slug}}/gpts/ ({len(data.gpt_ids)} GPTs)",
            "GET",
            [f"{api}/workspaces/{data.slug}/gpts/"],
            editor_read=True,
        ),
        Endpoint(
            "action-list",
            f"GET {api}/gpts/{{id}}/actions/",
            "GET",
            [f"{api}/gpts/{g}/actions/" for g in data.gpt_ids],
            editor_read=True,
        ),
        Endpoint(
            "action-detail",
            f"GET {api}/actions/{{id}}/",
            "GET",
            [f"{api}/actions/{a}/" for a in data.action_ids],
            editor_read=True,
        ),
        Endpoint(
            "validate-cached",
            f"POST {api}/schema/validate (same text: verdict cache)",
            "POST",
            [f"{api}/schema/validate"],
            body=validate.replace("__N__", "0"),
        ),
        Endpoint(
            "validate-new",
            f"POST {api}/schema/validate (new text each request)",
            "POST",
            [f"{api}/schema/validate"],
            body=validate,
        ),
        Endpoint(
            "run",
            f"POST {api}/actions/{{id}}/operations/{{op}}/run (GET, always allowed)",
            "POST",
            [f"{api}/actions/{a}/operations/{data.run_operation}/run" for a in data.action_ids],
            body=json.dumps({"arguments": {"location": "Paris __N__"}}),
            expect_ok_status=True,
        ),
    ]


def _body_for(endpoint: Endpoint, n: int) -> str | None:
    return endpoint.body.replace("__N__", str(n)) if endpoint.body else None


def count_queries(eps: list[Endpoint], token: str) -> dict[str, int]:
    """SQL queries of one request of each endpoint, in-process, warm (second call)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST=LOOPBACK)
    counts = {}
    for ep in eps:
        for n in range(2):
            path = ep.paths[n % len(ep.paths)]
            with CaptureQueriesContext(connection) as ctx:
                response = client.generic(
                    ep.method, path, _body_for(ep, n) or "", content_type="application/json"
                )
            if response.status_code != 200:
                raise SystemExit(
                    f"{ep.key}: {path} answered {response.status_code}: {response.content[:300]!r}"
                )
            if ep.expect_ok_status and response.json().get("status") != "ok":
                raise SystemExit(f"{ep.key}: the run did not succeed: {response.content[:300]!r}")
        counts[ep.key] = len(ctx.captured_queries)
    return counts


def remember_approvals(data: Seed, token: str) -> None:
    """Choose "Always allow" once per GPT, as a user would, so runs go straight through."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST=LOOPBACK)
    for action_id in data.action_ids:
        response = client.post(
            f"/api/v1/actions/{action_id}/operations/{data.run_operation}/run",
            {"arguments": {"location": "Paris"}, "consent": "always_allow"},
            content_type="application/json",
        )
        if response.status_code != 200 or response.json().get("status") != "ok":
            raise SystemExit(
                f"always_allow run failed: {response.status_code} {response.content[:300]!r}"
            )


# gunicorn -------------------------------------------------------------------------------------


# The project's gunicorn settings freeze start-up objects out of the garbage collector's sight
# (see config/gunicorn.conf.py); --no-gc-freeze measures without that hook, for comparison.
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"


@contextlib.contextmanager
def gunicorn(
    env: dict[str, str], port: int, workers: int, log: Path, *, gc_freeze: bool = True
) -> Iterator[subprocess.Popen]:
    """gunicorn in its own process group, stopped (with its workers) however the block ends.

    With `gc_freeze` (the default) it runs with the project's config/gunicorn.conf.py."""
    bind = check_loopback(f"http://{LOOPBACK}:{port}")
    options = ["-c", str(GUNICORN_CONF)] if gc_freeze else []
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "config.wsgi",
                "-w",
                str(workers),
                "-b",
                urlsplit(bind).netloc,
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                *options,
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(port)
            yield process
        finally:
            stop_group(process)


def http_call(port: int, ep: Endpoint, token: str, n: int = 0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    try:
        body = _body_for(ep, n)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        conn.request(ep.method, ep.paths[n % len(ep.paths)], body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_served(port: int, eps: list[Endpoint], token: str) -> None:
    """Each endpoint answers 200 through gunicorn before it is loaded."""
    for ep in eps:
        status, body = http_call(port, ep, token)
        if status != 200 or (ep.expect_ok_status and b'"status":"ok"' not in body):
            raise SystemExit(f"{ep.key} through gunicorn: {status} {body[:300]!r}")


def children(pid: int) -> list[int]:
    """Direct children of `pid` (gunicorn's workers), from /proc (psutil is not installed)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # Field 4 is the parent pid; the command name (field 2) may hold spaces, hence rsplit.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def database_backends(database: str) -> list[int]:
    """PostgreSQL backends serving `database` (their process title names it)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry))
    return found


def children_cpu() -> float:
    """CPU seconds of this process's finished children (wrk runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


@dataclass
class CpuSnapshot:
    """Where the machine's CPU time went: our web tier, our database backends, the rest.

    CPU time per request does not depend on what else runs on the machine (latency does: it
    includes waiting for a core), and the share taken by other processes tells how much they
    disturbed a measurement. A backend that ends between two snapshots is missed (its time goes
    to "others"): bench_env keeps connections open for the whole run."""

    web: float
    database: dict[int, float]
    own: float  # upstream API and this process
    busy: float
    total: float

    @classmethod
    def take(cls, *, master_pid: int, database: str, own_pids: list[int]) -> CpuSnapshot:
        busy, total = machine_cpu()
        web = sum(process_cpu(pid) for pid in [master_pid, *children(master_pid)])
        backends = {pid: process_cpu(pid) for pid in database_backends(database)}
        own = sum(process_cpu(pid) for pid in own_pids)
        return cls(web=web, database=backends, own=own, busy=busy, total=total)


@dataclass
class CpuUse:
    web_ms: float  # per request
    database_ms: float  # per request
    others_pct: float  # of the machine, by processes that are not part of this bench


def cpu_use(
    before: CpuSnapshot, after: CpuSnapshot, *, requests: int, load_generator: float
) -> CpuUse:
    web = after.web - before.web
    database = sum(t - before.database.get(pid, 0.0) for pid, t in after.database.items())
    others = (after.busy - before.busy) - web - database - (after.own - before.own)
    others -= load_generator
    return CpuUse(
        web_ms=web * 1000 / max(requests, 1),
        database_ms=database * 1000 / max(requests, 1),
        others_pct=max(0.0, others) * 100 / max(after.total - before.total, 1e-9),
    )


# wrk ------------------------------------------------------------------------------------------

LUA_TEMPLATE = """
wrk.method = {method}
wrk.headers["Authorization"] = {auth}
wrk.headers["Content-Type"] = "application/json"
local paths = {{{paths}}}
local body_prefix, body_suffix = {prefix}, {suffix}
local has_body, numbered = {has_body}, {numbered}
local check_ok = {check_ok}
local threads = {{}}
local n = 0
bad = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  n = 0
  bad = 0
end

function request()
  n = n + 1
  local path = paths[(n % #paths) + 1]
  local body = nil
  if has_body then
    if numbered then body = body_prefix .. n .. body_suffix else body = body_prefix end
  end
  return wrk.format(nil, path, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif check_ok and not string.find(body, '"status":"ok"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  for _, t in ipairs(threads) do total_bad = total_bad + (t:get("bad") or 0) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {{"requests":%d,"duration_us":%d,"bad":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f}}\\n',
    summary.requests, summary.duration, total_bad, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def lua_string(value: str) -> str:
    # Lua long brackets need no escaping; pick a level that does not occur in the text.
    level = 0
    while f"]{'=' * level}]" in value:
        level += 1
    return f"[{'=' * level}[{value}]{'=' * level}]"


def lua_script(ep: Endpoint, token: str, directory: Path) -> Path:
    body = ep.body or ""
    numbered = "__N__" in body
    prefix, _, suffix = body.partition("__N__") if numbered else (body, "", "")
    script = LUA_TEMPLATE.format(
        method=lua_string(ep.method),
        auth=lua_string(f"Bearer {token}"),
        paths=", ".join(lua_string(p) for p in ep.paths),
        prefix=lua_string(prefix),
        suffix=lua_string(suffix),
        has_body="true" if ep.body else "false",
        numbered="true" if numbered else "false",
        check_ok="true" if ep.expect_ok_status else "false",
    )
    path = directory / f"{ep.key}.lua"
    path.write_text(script)
    return path


@dataclass
class WrkResult:
    requests: int
    seconds: float
    bad: int
    socket_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.bad + self.socket_errors


def wrk_command(url: str, script: Path, clients: int, seconds: int) -> list[str]:
    return [
        shutil.which("wrk") or "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        check_loopback(url),
    ]


def parse_wrk(output: str) -> WrkResult:
    line = next((ln for ln in output.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{output}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        bad=raw["bad"],
        socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
        p50_ms=raw["p50"] / 1000,
        p95_ms=raw["p95"] / 1000,
        p99_ms=raw["p99"] / 1000,
        max_ms=raw["max"] / 1000,
    )


def run_wrk(url: str, script: Path, clients: int, seconds: int) -> WrkResult:
    out = subprocess.run(
        wrk_command(url, script, clients, seconds),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    return parse_wrk(out.stdout)


# Report ---------------------------------------------------------------------------------------


@dataclass
class Row:
    endpoint: Endpoint
    clients: int
    result: WrkResult
    queries: int
    cpu: CpuUse


def table(rows: list[Row]) -> str:
    lines = [
        "| endpoint | clients | req/s | p50 ms | p95 ms | p99 ms | errors | queries/request "
        "| CPU ms/request: web | database | other work on the machine |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        r = row.result
        lines.append(
            f"| {row.endpoint.label} | {row.clients} | {r.rps:,.0f} | {r.p50_ms:.1f} | "
            f"{r.p95_ms:.1f} | {r.p99_ms:.1f} | {r.errors} of {r.requests:,} | {row.queries} | "
            f"{row.cpu.web_ms:.1f} | {row.cpu.database_ms:.1f} | {row.cpu.others_pct:.0f}% |"
        )
    return "\n".join(lines)


def verdicts(rows: list[Row]) -> list[str]:
    out = []
    reads = [r for r in rows if r.endpoint.editor_read and r.clients == 10]
    if reads:
        worst = max(reads, key=lambda r: r.result.p99_ms)
        ok = worst.result.p99_ms < 100
        out.append(
            f"Target p99 < 100 ms for editor reads at 10 clients: {'met' if ok else 'MISSED'} "
            f"(worst {worst.endpoint.key}: {worst.result.p99_ms:.1f} ms)."
        )
    errors = sum(r.result.errors for r in rows)
    out.append(
        f"Target no error responses: {'met' if errors == 0 else 'MISSED'} "
        f"({errors} errors in {sum(r.result.requests for r in rows):,} requests)."
    )
    return out


# Main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=15, help="per endpoint and client count")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--gpts", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database", default="actions_bench")
    parser.add_argument("--only", default="", help="comma-separated endpoint keys")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument(
        "--no-gc-freeze",
        dest="gc_freeze",
        action="store_false",
        help="run gunicorn without config/gunicorn.conf.py's gc.freeze() hook, for comparison",
    )
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    client_counts = [int(c) for c in args.clients.split(",")]

    upstream, upstream_port = start_upstream()
    web_port = free_port()
    env = bench_env(database=args.database, upstream_port=upstream_port, web_port=web_port)
    created = False
    try:
        create_database(args.database)
        created = True
        setup_django(env)
        from django.core.management import call_command
        from django.db import connections

        started = time.monotonic()
        call_command("migrate", verbosity=0)
        data = seed(gpts=args.gpts, upstream_port=upstream_port)
        token = issue_token(env, BUILDER)
        remember_approvals(data, token)
        eps = endpoints(data)
        if args.only:
            wanted = set(args.only.split(","))
            eps = [ep for ep in eps if ep.key in wanted]
        queries = count_queries(eps, token)
        connections.close_all()
        print(
            f"gunicorn: {args.workers} sync workers"
            f"{' with gc.freeze()' if args.gc_freeze else ''}; "
            f"Seeded {len(data.gpt_ids)} GPTs in {time.monotonic() - started:.1f} s; "
            f"queries/request: {queries}",
            flush=True,
        )

        rows: list[Row] = []
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            log = Path(tmp) / "gunicorn.log"
            with gunicorn(env, web_port, args.workers, log, gc_freeze=args.gc_freeze) as master:
                check_served(web_port, eps, token)
                base = f"http://{LOOPBACK}:{web_port}"
                for ep in eps:
                    script = lua_script(ep, token, Path(tmp))
                    url = base + ep.paths[0]
                    if args.warmup:
                        run_wrk(url, script, 4, args.warmup)
                    for clients in client_counts:
                        snapshot = functools.partial(
                            CpuSnapshot.take,
                            master_pid=master.pid,
                            database=args.database,
                            own_pids=[upstream.pid, os.getpid()],
                        )
                        before, wrk_before = snapshot(), children_cpu()
                        result = run_wrk(url, script, clients, args.seconds)
                        cpu = cpu_use(
                            before,
                            snapshot(),
                            requests=result.requests,
                            load_generator=children_cpu() - wrk_before,
                        )
                        rows.append(Row(ep, clients, result, queries[ep.key], cpu))
                        print(
                            f"{ep.key:16} c={clients:<3} {result.rps:8.1f} req/s  "
                            f"p50 {result.p50_ms:7.1f}  p95 {result.p95_ms:7.1f}  "
                            f"p99 {result.p99_ms:7.1f} ms  errors {result.errors}  "
                            f"CPU/request web {cpu.web_ms:.1f} ms, db {cpu.database_ms:.1f} ms; "
                            f"others {cpu.others_pct:.0f}%",
                            flush=True,
                        )
            errors_logged = [
                ln for ln in log.read_text().splitlines() if "Traceback" in ln or "ERROR" in ln
            ]
        print()
        print(table(rows))
        print()
        for line in verdicts(rows):
            print(line)
        if errors_logged:
            print(f"gunicorn logged {len(errors_logged)} error lines, first: {errors_logged[0]}")
    finally:
        stop_group(upstream)
        if created and not args.keep_database:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            drop_database(args.database)


if __name__ == "__main__":
    main()
