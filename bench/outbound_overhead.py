"""Benchmark: what the guarded client (outbound.client.fetch) costs over a bare urllib3
request, both on a fresh connection to a local server on 127.0.0.1.

Run from the project root: `.venv/bin/python bench/outbound_overhead.py [--calls 2000]`.
Everything stays on loopback. Scenarios, each measured in the same run:

- `urllib3`: one GET on a new urllib3 HTTPConnection, body read whole (the baseline);
- `fetch`: the same GET through fetch() (URL parsing, allowlist, address checks, the deadline
  watchdog thread, streaming decode with the caps);
- `fetch+redirect`: a 302 to the same server, so two hops, each checked and pinned;
- `refused`: a URL refused by the address rules (no connection): the price of the checks alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

BODY = b'{"temperature": 21.5, "unit": "C", "location": "Paris"}' * 20  # ~1 kB of JSON


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/data")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


def measure(name: str, calls: int, once: Callable[[], object]) -> list[float]:
    for _ in range(min(50, calls)):  # warm-up
        once()
    timings = []
    for _ in range(calls):
        start = time.perf_counter()
        once()
        timings.append((time.perf_counter() - start) * 1e6)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    print(f"{name:16} median {statistics.median(timings):8.0f} µs   p95 {p95:8.0f} µs")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    logging.getLogger("outbound.client").setLevel(logging.WARNING)
    import urllib3.connection  # noqa: TID251 - the baseline the guarded client is measured against

    from outbound.client import OutboundError
    from tests.outbound_support import fetch

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    port = server.server_address[1]
    allow = [f"127.0.0.1:{port}"]

    def bare() -> bytes:
        conn = urllib3.connection.HTTPConnection("127.0.0.1", port, timeout=45)
        try:
            conn.request("GET", "/data", headers={"Connection": "close"})
            return conn.getresponse().read()
        finally:
            conn.close()

    def guarded() -> str:
        return fetch("GET", f"http://127.0.0.1:{port}/data", allow_private=allow).text

    def guarded_redirect() -> str:
        return fetch("GET", f"http://127.0.0.1:{port}/redirect", allow_private=allow).text

    def refused() -> None:
        try:
            fetch("GET", "http://0x7f.1:9/", allow_private=allow)
        except OutboundError:
            pass

    assert guarded() == BODY.decode() == guarded_redirect()
    print(f"Python {platform.python_version()} on {platform.machine()}, {args.calls} calls each")
    base = statistics.median(measure("urllib3", args.calls, bare))
    plain = statistics.median(measure("fetch", args.calls, guarded))
    measure("fetch+redirect", args.calls, guarded_redirect)
    measure("refused", args.calls, refused)
    print(f"fetch overhead over urllib3: {plain - base:+.0f} µs per call (median)")
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
