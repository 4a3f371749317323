"""How long a hostile `pattern` takes: Python's backtracking `re` against the engine (RE2).

Run: `.venv/bin/python bench/schema_patterns.py`. Python's `re` runs in a child process with a
time limit, so a catastrophic case can not stall this script; the engine runs in-process,
through `actions.openapi.validate` on a document whose parameter default must be checked.
"""

import json
import multiprocessing
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EVIL = "^(a+)+$"
LIMIT = 30.0  # seconds for the Python `re` child


def _python_re(n: int, queue) -> None:
    started = time.perf_counter()
    re.search(EVIL, "a" * n + "!")
    queue.put(time.perf_counter() - started)


def python_re_seconds(n: int) -> float | None:
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_python_re, args=(n, queue))
    child.start()
    child.join(LIMIT)
    if child.is_alive():
        child.terminate()
        child.join()
        return None
    return queue.get()


def engine_seconds(n: int) -> float:
    from actions import openapi

    schema = {"type": "object", "patternProperties": {EVIL: {}}, "additionalProperties": False}
    schema["default"] = {"a" * n + "!": 1}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "T", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/a": {
                "get": {
                    "operationId": "a",
                    "parameters": [{"name": "q", "in": "query", "schema": schema}],
                    "responses": {"200": {"description": "OK"}},
                }
            }
        },
    }
    openapi.clear_cache()
    started = time.perf_counter()
    openapi.validate(json.dumps(document))
    return time.perf_counter() - started


def main() -> None:
    print("| characters | Python re (s) | validate() with RE2 (s) |")
    print("|---|---|---|")
    for n in (20, 24, 27, 30, 10_000):
        slow = python_re_seconds(n) if n <= 30 else None
        shown = f"{slow:.3f}" if slow is not None else f"> {LIMIT:.0f} (stopped)"
        if n > 30:
            shown = "not run"
        print(f"| {n:,} | {shown} | {engine_seconds(n):.4f} |")


if __name__ == "__main__":
    main()
