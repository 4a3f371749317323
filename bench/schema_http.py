"""First verdict of a 1–5 MB document through the HTTP API, against plain openapi-spec-validator.

    .venv/bin/python bench/schema_http.py [--runs N] [FILE ...]

What a builder waits for when pasting a big document: `POST /api/v1/schema/validate` on
gunicorn (one worker, DEBUG off, PostgreSQL on 127.0.0.1), timed from the client: JSON-encoding
the request, sending it, the server's parse + checks + verdict, reading the answer. Each
document is sent once to a freshly started server, so every verdict is a first one (no cache);
`--runs` servers (3) one after the other, the median of their times kept.

Plain osv: `json.loads` / `yaml.load(CSafeLoader)` + `openapi_spec_validator.validate`
(default settings, which stop at the first error, as its command line does), in a fresh
Python process per document that holds nothing else: warmed up on the petstore, then timed
three times, after a `gc.collect()` each, median kept. Measured in this process instead, the
bench's own heap (Django, the verdicts already read) made the collector's full passes land in
osv's time: Slack's 25 ms measured as 98–175 ms.

Also printed: the same request again (`repeat ms`), answered from the verdict cache, so the
engine only hashes: receiving and decoding the body, authentication, and rendering the
verdict. No engine can answer faster than that over this API; `ceiling` is plain osv divided
by it, the best ratio any engine could reach for that document.

Prints one row per document and the ratio plain / HTTP; the goal is ≥ 5× for every row.
Creates and drops a throwaway database; talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load_test  # noqa: E402 - after the path is set

CORPUS = ROOT / ".." / "shared" / "corpus" / "openapi"
BIN = Path(sys.executable).parent
DATABASE = "actions_bench_schema_http"
USER = "bench_schema_builder"
GOAL = 5.0
WARM = CORPUS / "OAI-OpenAPI-Specification__v3.0-petstore.yaml"


def documents(names: list[str]) -> list[Path]:
    if names:
        return [Path(n) if "/" in n else CORPUS / n for n in names]
    return sorted(
        (p for p in CORPUS.iterdir() if 1_000_000 <= p.stat().st_size <= 5_000_000),
        key=lambda p: p.stat().st_size,
    )


PLAIN_OSV = r"""
import gc, json, statistics, sys, time
import yaml
from openapi_spec_validator import validate

def plain(text):
    gc.collect()
    started = time.perf_counter()
    try:
        document = (
            json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, yaml.CSafeLoader)
        )
        validate(document)
    except Exception:  # a rejected document is still a verdict
        pass
    return (time.perf_counter() - started) * 1000

warm = open(sys.argv[1], encoding="utf-8").read()
plain(warm)
plain(warm.replace("3.0.0", "3.1.0", 1))
text = open(sys.argv[2], encoding="utf-8").read()
print(statistics.median(plain(text) for _ in range(3)))
"""


def plain_osv(path: Path) -> float:
    """Plain osv's time on one document, in a process of its own (see the module docstring)."""
    out = subprocess.run(
        [str(BIN / "python"), "-c", PLAIN_OSV, str(WARM), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def http_verdict(port: int, token: str, text: str) -> tuple[float, dict]:
    started = time.perf_counter()
    body = json.dumps({"schema": text})
    conn = http.client.HTTPConnection(load_test.LOOPBACK, port, timeout=120)
    try:
        conn.request(
            "POST",
            "/api/v1/schema/validate",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise SystemExit(f"validate answered {response.status}: {data[:300]!r}")
    return elapsed, json.loads(data)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="corpus names or paths (default: 1-5 MB ones)")
    parser.add_argument("--runs", type=int, default=3, help="fresh servers, medians kept")
    args = parser.parse_args(argv)
    files, runs = documents(args.files), args.runs
    port = load_test.free_port()
    env = load_test.bench_env(database=DATABASE, upstream_port=1, web_port=port)
    # Validation needs neither the broker nor a shared cache: stay in-process for both.
    env.pop("CELERY_BROKER_URL")
    env.pop("CACHE_URL")
    load_test.VENV_BIN = BIN
    load_test.create_database(DATABASE)
    try:
        subprocess.run(
            [str(BIN / "python"), "manage.py", "migrate", "-v", "0"],
            cwd=ROOT,
            env={**os.environ, **env},
            check=True,
        )
        load_test.setup_django(env)
        from django.contrib.auth import get_user_model

        get_user_model().objects.create_user(USER, password="bench-" + str(time.time()))
        from django.db import connections

        connections.close_all()
        token = load_test.issue_token(env, USER)
        # Each run starts a fresh server, so each of its verdicts is a first one.
        samples: dict[Path, list[tuple[float, float]]] = {path: [] for path in files}
        counts: dict[Path, tuple[int, int]] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for run in range(runs):
                log = Path(tmp) / f"gunicorn-{run}.log"
                with load_test.gunicorn(env, port, 1, log):
                    # The worker's imports and compiled meta-schemas out of the way first.
                    http_verdict(port, token, WARM.read_text())
                    for path in files:
                        text = path.read_text(encoding="utf-8")
                        http_ms, verdict = http_verdict(port, token, text)
                        repeat_ms, _ = http_verdict(port, token, text)
                        samples[path].append((http_ms, repeat_ms))
                        counts[path] = (len(verdict["operations"]), len(verdict["errors"]))
                        del verdict
        # After the servers are gone, so the two never compete for the CPU.
        rows = [
            (
                path,
                path.stat().st_size,
                statistics.median(first for first, _ in samples[path]),
                statistics.median(repeat for _, repeat in samples[path]),
                counts[path],
                plain_osv(path),
            )
            for path in files
        ]
        print(
            f"{'document':48} {'bytes':>10} {'HTTP first verdict ms':>22} {'repeat ms':>10} "
            f"{'plain osv ms':>13} {'ratio':>6} {'ceiling':>8}"
        )
        worst = None
        for path, size, http_ms, repeat_ms, (operations, errors), osv_ms in rows:
            ratio = osv_ms / http_ms
            worst = ratio if worst is None else min(worst, ratio)
            print(
                f"{path.name[:48]:48} {size:>10,} {http_ms:>22.0f} {repeat_ms:>10.0f} "
                f"{osv_ms:>13.0f} {ratio:>5.1f}× {osv_ms / repeat_ms:>7.1f}×"
                f"  ({operations} operations, {errors} errors)"
            )
        if worst is not None:
            verdict_line = "met" if worst >= GOAL else "NOT met"
            print(f"\nslowest ratio {worst:.1f}× (goal ≥ {GOAL:.0f}×: {verdict_line})")
        return 0 if worst is None or worst >= GOAL else 1
    finally:
        from django.db import connections

        connections.close_all()
        load_test.drop_database(DATABASE)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
