"""Schema engine speed on the real-world corpus, against the plain pipeline, in one run.

    .venv/bin/python bench/schema_validate.py [--quick] [FILE ...]

For each corpus document (shared/corpus/openapi, beside the project root):
* parse: `actions.openapi.parse(text)`;
* first look: `validate(text)` with the verdict cache cleared (process already warm: imports
  and the compiled meta-schema validators are one-off costs, listed at the top);
* edit: `validate(text with one description changed)` right after `validate(text)` — the
  editor's re-check after a small edit: the description nearest the middle of the document
  (inside `paths` or `components` in every large document) gets a few words typed into it.
  A different text, so a verdict-cache miss; large JSON documents re-parse only the edited
  section (actions/openapi/memo.py), everything else is recomputed;
* same: `validate(text)` again — the verdict cache (validate, then save the same text);
* plain: `json.loads` (JSON) or `yaml.load(CSafeLoader)` + `openapi_spec_validator.validate`
  with default settings (backend "auto" = jsonschema-rs when installed); it stops at the first
  error, so for rejected documents it does less work than the engine;
* ratio: plain / first look.
Times are the best of several runs (one run above 1 MB for the plain pipeline), milliseconds.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / ".." / "shared" / "corpus" / "openapi"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")


def best(function, runs: int) -> float:
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def small_edit(text: str) -> str:
    """A few words typed into the description nearest the middle of the document."""
    for needle in ('"description": "', "description: "):
        for start in (len(text) // 2, 0):
            found = text.find(needle, start)
            # In YAML, a plain one-line value (typing before `|-` or `>` would break it).
            while found >= 0 and not text[found + len(needle) : found + len(needle) + 1].isalnum():
                found = text.find(needle, found + 1)
            if found >= 0:
                cut = found + len(needle)
                return text[:cut] + "Edited. " + text[cut:]
    return text + "\n"


def plain(text: str) -> None:
    import yaml
    from openapi_spec_validator import validate

    try:
        document = json.loads(text)
    except ValueError:
        document = yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506 - the safe C loader
    try:
        validate(document)
    except Exception:  # noqa: BLE001, S110 - a rejection is a result here, not a failure
        pass


def main(argv: list[str]) -> None:
    import django

    django.setup()
    started = time.perf_counter()
    from actions import openapi

    import_ms = (time.perf_counter() - started) * 1000
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("--")] or sorted(
        os.listdir(CORPUS), key=lambda n: (CORPUS / n).stat().st_size
    )
    started = time.perf_counter()
    openapi.validate((CORPUS / "OAI-OpenAPI-Specification__v3.0-petstore.yaml").read_text())
    warm_ms = (time.perf_counter() - started) * 1000
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(
        f"# one-off: import actions.openapi {import_ms:.0f} ms, first validate "
        f"(compiles meta-schema validators) {warm_ms:.0f} ms"
    )
    print("| file | bytes | parse | first look | edit | same | plain | ratio | verdict |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in names:
        text = (CORPUS / name).read_text(encoding="utf-8")
        size = len(text.encode())
        runs = 1 if size > 1_000_000 or quick else 3
        edited = small_edit(text)

        def first_look(text=text):
            openapi.clear_cache()  # not timed: freeing the previously kept parses
            gc.collect()
            started = time.perf_counter()
            openapi.validate(text)
            return time.perf_counter() - started

        parse_ms = best(lambda text=text: openapi.parse(text, max_bytes=8 << 20), runs)
        first_ms = min(first_look() for _ in range(runs)) * 1000

        def edit(text=text, edited=edited):
            openapi.clear_cache()
            openapi.validate(text)
            gc.collect()
            started = time.perf_counter()
            openapi.validate(edited)
            return time.perf_counter() - started

        edit_ms = min(edit() for _ in range(runs)) * 1000
        openapi.validate(text)
        same_ms = best(lambda text=text: openapi.validate(text), 3)
        plain_ms = best(lambda text=text: plain(text), 1 if size > 1_000_000 else runs)
        verdict = openapi.validate(text)
        summary = "valid" if verdict.valid else ",".join(sorted({p.code for p in verdict.errors}))
        print(
            f"| {name} | {size:,} | {parse_ms:.1f} | {first_ms:.1f} | {edit_ms:.1f} | "
            f"{same_ms:.2f} | {plain_ms:.1f} | {plain_ms / first_ms:.1f}x | {summary} |",
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
