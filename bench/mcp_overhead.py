"""What an MCP `tools/call` adds over the run endpoint for the same operation and the same run.

    .venv/bin/python bench/mcp_overhead.py [--iterations 300] [--warmup 20]

The site is served as `make run` serves it (config.asgi under uvicorn, on 127.0.0.1, in a
thread) and called over real HTTP. One local HTTP endpoint plays the action's API. Each
iteration makes, in a rotating order so drift and caches hit every column alike:

  run      POST /api/v1/actions/{id}/operations/{op}/run with a bearer token (read write)
  mcp      tools/call of the same operation on an open Streamable HTTP session (the handshake
           era MCP hosts use, 2025-11-25) with an `mcp` token, through the official client
  modern   the same tools/call at 2026-07-28 (stateless: no session, the envelope per request)

All three run `operation_run` once with the same arguments and an "Always allow" approval, so
no prompt is involved; the difference is the MCP layer: token and resource check, GPT
visibility and mcp_enabled per request, the tool lookup (callable actions under the policy),
JSON-RPC and SSE framing, and the SDK's session machinery. Median, mean and p95 per column in
milliseconds, and what `mcp`/`modern` add over `run` (ms and ratio). A throwaway database is
created and dropped (PostgreSQL when DATABASE_URL says so).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import socket
import statistics
import sys
import threading
import time
import warnings
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collected static

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

REPLY = json.dumps({"location": "Paris", "temperature_c": 21.5, "conditions": "sunny"}).encode()
OPERATION = "GetCurrentWeather"
ARGUMENTS = {"location": "Paris"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)

    def log_message(self, format, *args):  # noqa: A002 - silence the access log
        return


def schema_for(port: int) -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": "Bench weather", "version": "1"},
            "servers": [{"url": f"http://127.0.0.1:{port}"}],
            "paths": {
                "/location": {
                    "get": {
                        "operationId": OPERATION,
                        "parameters": [
                            {
                                "name": "location",
                                "in": "query",
                                "required": True,
                                "schema": {"type": "string"},
                            }
                        ],
                        "responses": {"200": {"description": "OK"}},
                    }
                }
            },
        }
    )


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered), statistics.fmean(ordered), p95


def token_for(user, scope: str) -> str:
    from django.utils import timezone
    from oauth2_provider.models import (
        get_access_token_model,
        get_application_model,
        set_token_value,
    )

    application, _ = get_application_model().objects.get_or_create(
        name="bench",
        defaults={"client_type": "confidential", "authorization_grant_type": "client-credentials"},
    )
    raw = secrets.token_urlsafe(32)
    token = get_access_token_model()(
        user=user,
        application=application,
        scope=scope,
        expires=timezone.now() + timedelta(days=1),
    )
    set_token_value(token, raw)
    token.save()
    return raw


def serve_site():
    import uvicorn

    from config.asgi import build_application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(build_application(), lifespan="on", log_level="error"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the site did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


async def measure(base, action_id, gpt_id, api_token, mcp_token, options):
    import httpx2
    from mcp import Client, ClientSession
    from mcp.client.streamable_http import streamable_http_client

    url = f"{base}/mcp/gpts/{gpt_id}"
    run_path = f"{base}/api/v1/actions/{action_id}/operations/{OPERATION}/run"
    api_http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {api_token}"}, timeout=30)
    mcp_headers = {"Authorization": f"Bearer {mcp_token}"}
    async with (
        api_http,
        httpx2.AsyncClient(headers=mcp_headers, timeout=30) as mcp_http,
        httpx2.AsyncClient(headers=mcp_headers, timeout=30) as modern_http,
        streamable_http_client(url, http_client=mcp_http) as streams,
        ClientSession(streams[0], streams[1]) as session,
        Client(streamable_http_client(url, http_client=modern_http)) as modern,
    ):
        await session.initialize()
        assert modern.protocol_version == "2026-07-28"

        async def run():
            response = await api_http.post(run_path, json={"arguments": ARGUMENTS})
            assert response.status_code == 200, response.text

        async def mcp():
            result = await session.call_tool(OPERATION, ARGUMENTS)
            assert not result.is_error, result

        async def modern_call():
            result = await modern.call_tool(OPERATION, ARGUMENTS)
            assert not result.is_error, result

        columns = {"run": run, "mcp": mcp, "modern": modern_call}
        names = list(columns)
        samples: dict[str, list[float]] = {name: [] for name in columns}
        for i in range(options.warmup + options.iterations):
            for name in names[i % len(names) :] + names[: i % len(names)]:
                started = time.perf_counter()
                await columns[name]()
                if i >= options.warmup:
                    samples[name].append((time.perf_counter() - started) * 1000)
        return names, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    options = parser.parse_args()
    for name in ("outbound.client", "httpx2", "mcp", "django.request"):
        logging.getLogger(name).setLevel(logging.WARNING)

    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = upstream.server_address[1]
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}"]

    old_config = setup_databases(verbosity=0, interactive=False)
    site = None
    try:
        from asgiref.sync import sync_to_async
        from django.db import connections

        from actions.runtime.run import operation_run
        from actions.selectors import action_get_for_member
        from actions.services import action_create
        from tests.factories import add_member, make_gpt, make_workspace
        from workspaces.models import Plan, Role

        # Under ASGI each Django request runs in a thread of its own: no persistent connections.
        connections.settings["default"]["CONN_MAX_AGE"] = 0
        workspace = make_workspace("Bench", plan=Plan.ENTERPRISE, mcp_enabled=True)
        user = add_member(workspace, role=Role.OWNER)
        gpt = make_gpt(workspace, created_by=user, visibility="workspace")
        created = action_create(gpt=gpt, acting_user=user, schema=schema_for(port))
        action = action_get_for_member(action_id=created.pk, user=user)
        first = operation_run(
            action=action,
            operation_id=OPERATION,
            arguments=ARGUMENTS,
            consent="always_allow",
            user=user,
        )
        assert first["status"] == "ok", first
        api_token, mcp_token = token_for(user, "read write"), token_for(user, "mcp")
        connections.close_all()

        server, thread, base = serve_site()
        site = (server, thread)
        settings.SITE_URL = base
        names, samples = asyncio.run(
            measure(base, action.pk, gpt.pk, api_token, mcp_token, options)
        )
        server.should_exit = True
        thread.join(15)
        site = None
        asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())
        connections.close_all()
    finally:
        if site is not None:
            site[0].should_exit = True
            site[1].join(15)
        teardown_databases(old_config, verbosity=0)
        upstream.shutdown()

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"{options.iterations} calls per column after {options.warmup} warm-up rounds; "
        f"site {base} (uvicorn, config.asgi); database {database}; "
        f"Python {sys.version.split()[0]}"
    )
    print(f"{'column':<8}{'median ms':>11}{'mean ms':>10}{'p95 ms':>9}{'added ms':>10}{'ratio':>8}")
    base_median = statistics.median(samples["run"])
    for name in names:
        median, mean, p95 = summary(samples[name])
        print(
            f"{name:<8}{median:>11.3f}{mean:>10.3f}{p95:>9.3f}"
            f"{median - base_median:>10.3f}{median / base_median:>8.2f}"
        )
    mcp_median = statistics.median(samples["mcp"])
    print(
        f"\nA tools/call adds {mcp_median - base_median:.2f} ms over the run endpoint "
        f"(median {mcp_median:.2f} ms vs {base_median:.2f} ms, ratio "
        f"{mcp_median / base_median:.2f})."
    )


if __name__ == "__main__":
    main()
