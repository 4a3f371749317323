"""What the action runtime adds to one call, measured side by side with a direct `requests` call.

    .venv/bin/python bench/runtime_overhead.py [--iterations 500] [--warmup 30]

One local HTTP endpoint on 127.0.0.1 answers a small JSON document. Each iteration makes, in a
rotating order so drift and caches hit every column alike:

  direct    requests.get(url)                       the baseline: no runtime at all
  fetch     outbound.client.fetch(...)     the guarded client alone (resolve once,
                                                    address checks, pinned connection, limits)
  runtime   actions.runtime.run.operation_run(...)  the whole service: find the operation,
                                                    domain policy, remembered approval, argument
                                                    validation and request building, auth,
                                                    fetch, result shaping, the Invocation row
  api       POST /api/v1/actions/{id}/operations/{op}/run through Django's test client
                                                    (adds DRF, session auth, the member lookup)

It prints the median, mean and p95 of each in milliseconds, and what each adds over `direct`
as a difference in ms and as a ratio. A throwaway database is created and dropped (PostgreSQL
when DATABASE_URL says so, else SQLite in memory), so the numbers include real queries.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collected static

import django  # noqa: E402

django.setup()

# The baseline must be a plain requests call: that is the point of the comparison.
import requests  # noqa: E402, TID251
from django.conf import settings  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

REPLY = json.dumps({"location": "Paris", "temperature_c": 21.5, "conditions": "sunny"}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one connection per call, for every client alike

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
                        "operationId": "GetCurrentWeather",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=30)
    options = parser.parse_args()
    # One INFO line per call from the outbound client would measure the terminal, not the runtime.
    logging.getLogger("outbound.client").setLevel(logging.WARNING)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}"]
    url = f"http://127.0.0.1:{port}/location?location=Paris"

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        from rest_framework.test import APIClient

        from actions.runtime.request import build_request
        from actions.runtime.run import operation_run
        from actions.selectors import action_get_for_member
        from actions.services import action_create
        from tests.factories import add_member, make_gpt, make_workspace
        from tests.outbound_support import fetch
        from workspaces.models import Plan, Role

        workspace = make_workspace("Bench", plan=Plan.ENTERPRISE)
        user = add_member(workspace, role=Role.OWNER)
        gpt = make_gpt(workspace, created_by=user, visibility="workspace")
        created = action_create(gpt=gpt, acting_user=user, schema=schema_for(port))
        action = action_get_for_member(action_id=created.pk, user=user)
        arguments = {"location": "Paris"}
        first = operation_run(
            action=action,
            operation_id="GetCurrentWeather",
            arguments=arguments,
            consent="always_allow",
            user=user,
        )
        assert first["status"] == "ok", first
        client = APIClient()
        client.force_authenticate(user)
        run_path = f"/api/v1/actions/{action.pk}/operations/GetCurrentWeather/run"

        def direct():
            response = requests.get(url, timeout=45)
            assert response.status_code == 200

        def guarded():
            assert fetch("GET", url, timeout=45.0).status == 200

        def runtime():
            result = operation_run(
                action=action,
                operation_id="GetCurrentWeather",
                arguments=arguments,
                consent=None,
                user=user,
            )
            assert result["response"]["status"] == 200

        def api():
            response = client.post(run_path, {"arguments": arguments}, format="json")
            assert response.status_code == 200

        operation = action.operations.all()[0]
        build_samples: list[float] = []
        for _ in range(options.warmup + options.iterations):
            started = time.perf_counter()
            build_request(action=action, operation=operation, arguments=arguments)
            build_samples.append((time.perf_counter() - started) * 1000)
        build_samples = build_samples[options.warmup :]

        columns = {"direct": direct, "fetch": guarded, "runtime": runtime, "api": api}
        samples: dict[str, list[float]] = {name: [] for name in columns}
        names = list(columns)
        for i in range(options.warmup + options.iterations):
            order = names[i % len(names) :] + names[: i % len(names)]
            for name in order:
                started = time.perf_counter()
                columns[name]()
                elapsed = (time.perf_counter() - started) * 1000
                if i >= options.warmup:
                    samples[name].append(elapsed)
    finally:
        teardown_databases(old_config, verbosity=0)
        server.shutdown()

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        f"{options.iterations} calls per column after {options.warmup} warm-up rounds; "
        f"endpoint http://127.0.0.1:{port}; database {database}; Python {sys.version.split()[0]}"
    )
    print(f"{'column':<9}{'median ms':>11}{'mean ms':>10}{'p95 ms':>9}{'added ms':>10}{'ratio':>8}")
    base = statistics.median(samples["direct"])
    for name in names:
        median, mean, p95 = summary(samples[name])
        print(
            f"{name:<9}{median:>11.3f}{mean:>10.3f}{p95:>9.3f}"
            f"{median - base:>10.3f}{median / base:>8.2f}"
        )
    run_median = statistics.median(samples["runtime"])
    print(
        f"\nThe runtime adds {run_median - base:.2f} ms per call over a direct requests call "
        f"(median {run_median:.2f} ms vs {base:.2f} ms, ratio {run_median / base:.2f})."
    )
    print(
        "Of which argument validation and request building (no network, no database): "
        f"median {statistics.median(build_samples):.3f} ms."
    )


if __name__ == "__main__":
    main()
