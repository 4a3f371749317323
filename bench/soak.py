"""Memory soak: gunicorn under a steady mixed load, with the RSS of every worker sampled.

    .venv/bin/python bench/soak.py [--seconds 600] [--clients 10] [--interval 10]

Same setup as bench/load_test.py (throwaway PostgreSQL database, here `actions_bench_soak`, the
Redis cache and broker, a local upstream API, `gunicorn config.wsgi -w 4` with DEBUG off, all on
127.0.0.1 and torn down at the end). wrk then drives `--clients` connections for `--seconds`
through a rotating mix of the editor's reads, schema validation of a new text each time and
runs of an always-allowed operation (each run writes an Invocation row), while this script reads
VmRSS from /proc/<pid>/status for the master and every worker every `--interval` seconds.

It prints the series, then the growth of each worker and of the total from the first sample
after minute 1 (imports, connection set-up and first-use caches are done by then) to the last.
A worker that was replaced during the run (new pid) is reported: it would hide a leak.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load_test as lt  # noqa: E402 - the shared set-up lives in the load test

MIX_TEMPLATE = """
wrk.headers["Authorization"] = {auth}
wrk.headers["Content-Type"] = "application/json"
-- method, path, body prefix, body suffix (a counter goes between them; nil body for GET)
local mix = {{
{entries}
}}
local threads = {{}}
local n = 0
bad = 0
runs = 0

function setup(thread) table.insert(threads, thread) end

function request()
  n = n + 1
  local e = mix[(n % #mix) + 1]
  local body = nil
  if e[3] ~= nil then body = e[3] .. n .. e[4] end
  return wrk.format(e[1], e[2], nil, body)
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
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

# How often each endpoint appears in one turn of the mix: mostly editor reads.
WEIGHTS = {"gpt-list": 2, "action-list": 3, "action-detail": 3, "validate-new": 1, "run": 1}


def mix_script(eps: list[lt.Endpoint], token: str, directory: Path) -> Path:
    entries = []
    by_key = {ep.key: ep for ep in eps}
    for turn in range(len(by_key["action-list"].paths)):
        for key, weight in WEIGHTS.items():
            ep = by_key[key]
            for w in range(weight):
                path = ep.paths[(turn * weight + w) % len(ep.paths)]
                if ep.body is None:
                    body = "nil, nil"
                else:
                    prefix, _, suffix = ep.body.partition("__N__")
                    body = f"{lt.lua_string(prefix)}, {lt.lua_string(suffix)}"
                entries.append(f"  {{{lt.lua_string(ep.method)}, {lt.lua_string(path)}, {body}}},")
    script = MIX_TEMPLATE.format(auth=lt.lua_string(f"Bearer {token}"), entries="\n".join(entries))
    path = directory / "mix.lua"
    path.write_text(script)
    return path


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=600)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--gpts", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database", default="actions_bench_soak")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    upstream, upstream_port = lt.start_upstream()
    web_port = lt.free_port()
    env = lt.bench_env(database=args.database, upstream_port=upstream_port, web_port=web_port)
    created = False
    wrk = None
    try:
        lt.create_database(args.database)
        created = True
        lt.setup_django(env)
        from django.core.management import call_command
        from django.db import connections

        call_command("migrate", verbosity=0)
        data = lt.seed(gpts=args.gpts, upstream_port=upstream_port)
        token = lt.issue_token(env, lt.BUILDER)
        lt.remember_approvals(data, token)
        eps = lt.endpoints(data)
        connections.close_all()

        with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
            script = mix_script(eps, token, Path(tmp))
            with lt.gunicorn(env, web_port, args.workers, Path(tmp) / "gunicorn.log") as master:
                lt.check_served(web_port, eps, token)
                url = f"http://{lt.LOOPBACK}:{web_port}/"
                wrk = subprocess.Popen(
                    lt.wrk_command(url, script, args.clients, args.seconds),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                started = time.monotonic()
                samples: list[tuple[float, dict[int, int]]] = []
                print(
                    f"Soak: {args.clients} clients for {args.seconds} s, RSS every "
                    f"{args.interval} s (MiB; master first)",
                    flush=True,
                )
                while True:
                    elapsed = time.monotonic() - started
                    pids = [master.pid, *lt.children(master.pid)]
                    sample = {pid: kib for pid in pids if (kib := rss_kib(pid)) is not None}
                    samples.append((elapsed, sample))
                    workers = [sample[p] for p in pids[1:] if p in sample]
                    print(
                        f"t={elapsed:6.0f}s  master {mib(sample.get(master.pid, 0)):>6}  "
                        f"workers {' '.join(mib(w) for w in workers)}  "
                        f"total {mib(sum(sample.values()))}  load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                    if wrk.poll() is not None:
                        break
                    time.sleep(max(0.0, args.interval - (time.monotonic() - started - elapsed)))
                output = wrk.communicate()[0]
        result = lt.parse_wrk(output)
        report(samples, master.pid, result)
    finally:
        if wrk is not None and wrk.poll() is None:
            wrk.kill()
        lt.stop_group(upstream)
        if created:
            from django.db import connections

            connections.close_all()
            lt.drop_database(args.database)


def report(samples, master_pid: int, result: lt.WrkResult) -> None:
    base = next(((t, s) for t, s in samples if t >= 60), samples[0])
    last = samples[-1]
    print()
    print(
        f"Load: {result.requests:,} requests in {result.seconds:.0f} s = {result.rps:.0f} req/s; "
        f"p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; "
        f"errors {result.errors}"
    )
    print(f"RSS growth from t={base[0]:.0f}s to t={last[0]:.0f}s:")
    print("| process | RSS at minute 1 (MiB) | RSS at end (MiB) | growth (MiB) |")
    print("|---|--:|--:|--:|")
    replaced = set(base[1]) - set(last[1])
    for pid in sorted(set(base[1]) & set(last[1]), key=lambda p: (p != master_pid, p)):
        name = "master" if pid == master_pid else f"worker {pid}"
        before, after = base[1][pid], last[1][pid]
        print(f"| {name} | {mib(before)} | {mib(after)} | {(after - before) / 1024:+.1f} |")
    total_before, total_after = sum(base[1].values()), sum(last[1].values())
    print(
        f"| total | {mib(total_before)} | {mib(total_after)} | "
        f"{(total_after - total_before) / 1024:+.1f} |"
    )
    if replaced:
        print(f"Workers replaced during the run (pids gone): {sorted(replaced)}")
    series = [round(sum(s.values()) / 1024, 1) for _, s in samples]
    print("Total RSS series (MiB): " + json.dumps(series))


if __name__ == "__main__":
    main()
