"""`validate(text)` → `Verdict`: parse, detect the version, check, apply the product rules.

It never raises: whatever goes wrong (unparseable text, validator exceptions, a bug here)
becomes a reported problem. At most MAX_PROBLEMS errors and MAX_PROBLEMS warnings are
reported; a last problem says how many more there are.

What does not depend on the caller (everything but the deployment's insecure-host allowlist)
is cached in a small LRU keyed by the SHA-256 of the text, so checking the text the editor just
checked (validate, then save) costs a hash. That cache holds verdict data only, never the
parsed document (only its `components`, when the operations' recursive schemas need them).
A re-check after a small edit of a large JSON text re-parses only the edited section (memo.py
keeps the last two large parses for that); the checks then run as usual.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from actions.openapi import memo
from actions.openapi.compat import tolerate
from actions.openapi.detect import Operation, detect_operations, iter_operations
from actions.openapi.fixes import _parent, materialize
from actions.openapi.locate import locate_json, locate_yaml
from actions.openapi.parsing import (
    ParsedDocument,
    _count_nodes,
    gc_paused,
    max_bytes_default,
    parse,
)
from actions.openapi.problems import ERROR, WARNING, Problem, SchemaParseError
from actions.openapi.refs import LocalResolver, ref_problems
from actions.openapi.rules import (
    MAX_OPERATIONS,
    InsecureHostCheck,
    insecure_server_problem,
    local_host_problem,
    product_problems,
    server_urls,
)
from actions.openapi.spans import mappings
from actions.openapi.spec_checks import spec_problems
from kernel import text as kernel_text

logger = logging.getLogger(__name__)

MAX_PROBLEMS = 50
FIX_MAX_CHARS = 1_000_000
CACHE_ENTRIES = 64
CACHE_WEIGHT = 2_000_000  # roughly: nodes of resolved operation schemas + problems, all entries

# osv's own version finder: "3.1.0", "3.1" and even "3.1x" count as 3.1.
_VERSION = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)(\..*)?")
SUPPORTED = ("3.0", "3.1", "3.2")


@dataclass
class Verdict:
    """The outcome of checking one schema text."""

    valid: bool
    openapi_version: str | None
    servers: list[str]
    operations: list[Operation]
    errors: list[Problem]
    warnings: list[Problem]
    format: str | None = None
    more_errors: int = 0
    more_warnings: int = 0
    # What the read paths need besides the operations, so they never parse the text again
    # (actions.services._save stores both): `info.title`, and the document's `components`
    # when an operation's schemas still hold a `$ref` (a recursive schema detection left
    # unexpanded), which the runtime resolves against them. Both are empty otherwise.
    title: str = ""
    components: dict = field(default_factory=dict)
    # The normalised host of the first server (workspaces.domains.host_from_url), which is
    # the action's domain when saved; None when the server URL has a problem.
    domain: str | None = None

    def as_dict(self) -> dict:
        return {
            "valid": self.valid,
            "openapi_version": self.openapi_version,
            "servers": list(self.servers),
            "operations": [operation.as_dict() for operation in self.operations],
            "errors": [problem.as_dict() for problem in self.errors],
            "warnings": [problem.as_dict() for problem in self.warnings],
        }


@dataclass
class _Core:
    """Everything about a text that does not depend on the caller."""

    format: str | None
    openapi_version: str | None
    servers: list[str]
    operations: list[Operation]
    errors: list[Problem]
    warnings: list[Problem]
    more_errors: int = 0
    more_warnings: int = 0
    # For the insecure-host rule, applied per call: scheme/host/port and where the URL is.
    server: dict | None = None
    server_position: tuple[int, int] | None = None
    weight: int = field(default=1, repr=False)
    title: str = ""
    # Shared with the parsed document: `validate` hands out a deep copy.
    components: dict = field(default_factory=dict, repr=False)


class _VerdictCache:
    """A small thread-safe LRU of `_Core`s, bounded in entries and in total weight."""

    def __init__(self, entries: int, weight: int):
        self.entries = entries
        self.max_weight = weight
        self.weight = 0
        self.data: OrderedDict[str, _Core] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> _Core | None:
        with self.lock:
            core = self.data.get(key)
            if core is not None:
                self.data.move_to_end(key)
            return core

    def put(self, key: str, core: _Core) -> None:
        if core.weight > self.max_weight:
            return
        with self.lock:
            if key in self.data:
                return
            self.data[key] = core
            self.weight += core.weight
            while len(self.data) > self.entries or self.weight > self.max_weight:
                _, old = self.data.popitem(last=False)
                self.weight -= old.weight

    def clear(self) -> None:
        with self.lock:
            self.data.clear()
            self.weight = 0


_cache = _VerdictCache(CACHE_ENTRIES, CACHE_WEIGHT)


def clear_cache() -> None:
    """Forget cached verdicts and cached parses (tests, benchmarks)."""
    _cache.clear()
    memo.clear()


def validate(
    text_or_parsed: str | bytes | ParsedDocument,
    *,
    allow_insecure_host: InsecureHostCheck | None = None,
    allow_local_hosts: bool | None = None,
) -> Verdict:
    """Check a schema text (or an already parsed document) and return the verdict.

    `allow_insecure_host(host, port)` says whether a server URL with plain http or a port
    other than 443 is acceptable for that host (built from the deployment's allowlist);
    by default no such URL is. A server at an IP address or a one-label name is acceptable
    when `allow_local_hosts` (by default settings.ACTION_DOMAIN_ALLOW_IP_LITERALS) or when
    `allow_insecure_host` allows that host and port (local development, the sandbox).
    """
    if allow_local_hosts is None:
        allow_local_hosts = _local_hosts_default()
    try:
        core = _core_cached(text_or_parsed)
    except Exception:  # noqa: BLE001 - the contract: a verdict for any input, never a 500
        logger.exception("schema validation failed unexpectedly")
        core = _Core(None, None, [], [], [_internal_problem()], [])
    errors = [dataclasses.replace(p) for p in core.errors]
    warnings = [dataclasses.replace(p) for p in core.warnings]
    more_errors = core.more_errors
    try:
        insecure = insecure_server_problem(core.server, allow_insecure_host, core.server_position)
    except Exception:  # noqa: BLE001 - a failing allowlist callback must not escape either
        logger.exception("allow_insecure_host failed")
        insecure = insecure_server_problem(core.server, None, core.server_position)
    try:
        local = local_host_problem(
            core.server, allow_local_hosts, core.server_position, allow_insecure_host
        )
    except Exception:  # noqa: BLE001 - as above
        logger.exception("allow_insecure_host failed")
        local = local_host_problem(core.server, allow_local_hosts, core.server_position)
    for problem in (local, insecure):
        if problem is None:
            continue
        if more_errors:
            errors.pop()  # the "… and N more" line, rebuilt below
        errors.insert(0, problem)
        if more_errors or len(errors) > MAX_PROBLEMS:
            more_errors += len(errors) - (MAX_PROBLEMS - 1)
            errors = [*errors[: MAX_PROBLEMS - 1], _more_problem(more_errors, ERROR)]
    return Verdict(
        valid=not errors,
        openapi_version=core.openapi_version,
        servers=list(core.servers),
        operations=list(core.operations),  # frozen: shared with the cache
        errors=errors,
        warnings=warnings,
        format=core.format,
        more_errors=more_errors,
        more_warnings=core.more_warnings,
        title=core.title,
        components=copy.deepcopy(core.components) if core.components else {},
        domain=core.server["domain"] if core.server is not None and not errors else None,
    )


def placed_problems(
    text: str, fmt: str | None, problems: list[tuple[str, str, str]]
) -> list[Problem]:
    """(message, pointer, code) → errors with the line and column of their pointer in `text`
    (for problems found outside the engine, such as the workspace's rules)."""

    finder = locate_json if fmt == "json" else locate_yaml
    found = finder(text, [pointer for _, pointer, _ in problems]) if fmt else {}
    placed = []
    for message, pointer, code in problems:
        position = found.get(pointer)
        line, column = position if position else (None, None)
        placed.append(Problem(message, pointer, line, column, code=code))
    return placed


def _local_hosts_default() -> bool:
    try:

        if settings.configured:
            return bool(getattr(settings, "ACTION_DOMAIN_ALLOW_IP_LITERALS", False))
    except ImportError:  # pragma: no cover - the engine also runs without Django
        pass
    return False


def _internal_problem() -> Problem:
    return Problem(
        "The schema could not be checked because of an internal error; please report it.",
        "",
        code="internal_error",
    )


def _more_problem(count: int, severity: str) -> Problem:
    if severity == ERROR:
        message = f"… and {count} more problems not listed; fix these first."
    else:
        message = f"… and {count} more warnings not listed."
    return Problem(
        message,
        "",
        severity=severity,  # type: ignore[arg-type]
        code="too_many_problems",
    )


def _core_cached(text_or_parsed: str | bytes | ParsedDocument) -> _Core:
    utf8 = None  # the text's UTF-8 encoding, for the parser's size and text checks
    if isinstance(text_or_parsed, ParsedDocument | str):
        text = text_or_parsed if isinstance(text_or_parsed, str) else text_or_parsed.text
        try:
            raw = utf8 = kernel_text.utf8(text)  # the same bytes, faster, without surrogates
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
    elif isinstance(text_or_parsed, bytes | bytearray):
        raw = bytes(text_or_parsed)
    else:
        with gc_paused():
            return _core(text_or_parsed)
    key = hashlib.sha256(raw).hexdigest()
    core = _cache.get(key)
    if core is None:
        with gc_paused():  # see gc_paused: the whole check allocates, not only parsing
            core = _core(text_or_parsed, utf8)
        _cache.put(key, core)
    return core


def _core(text_or_parsed: Any, utf8: bytes | None = None) -> _Core:
    try:
        if isinstance(text_or_parsed, ParsedDocument):
            parsed = text_or_parsed
        else:
            # A large JSON text that is a small edit of one just checked is re-parsed only
            # where it changed (see memo.py); otherwise, and for every error, the cold parse.
            limit = max_bytes_default()
            parsed = memo.parse(text_or_parsed, limit, utf8=utf8) or parse(
                text_or_parsed, max_bytes=limit, utf8=utf8
            )
    except SchemaParseError as exc:
        return _finish(None, None, [], [], exc.problems)
    except RecursionError:
        return _finish(
            None,
            None,
            [],
            [],
            [Problem("The schema is nested too deeply to read.", "", code="too_deep")],
        )
    document = parsed.document
    problems: list[Problem] = list(parsed.problems)
    version, version_problem = detect_version(document)
    servers = server_urls(document)
    if version_problem is not None:
        problems.insert(0, version_problem)
        return _finish(
            parsed,
            None,
            servers,
            detect_operations(document, resolve=False),
            problems,
            shown_version=_shown_version(document),
        )

    resolver = LocalResolver(document)
    problems.extend(ref_problems(document, resolver, parsed.refs))
    meta_document, tolerated = tolerate(document, version or "")
    problems.extend(tolerated)
    try:
        assert version is not None  # detect_version gives a version or a problem (above)
        spec = spec_problems(document, version, resolver, meta_document)
    except RecursionError:
        spec = [
            Problem("The schema is nested too deeply to check completely.", "", code="too_deep")
        ]
    problems.extend(spec)
    rules, server = product_problems(document, resolver)
    taken = {p.pointer for p in problems if p.severity == ERROR}
    problems.extend(p for p in rules if p.pointer not in taken or p.severity == WARNING)

    count = sum(1 for _ in _count_operations(document, resolver))
    operations = detect_operations(document, resolve=count <= MAX_OPERATIONS)
    core = _finish(
        parsed, version, servers, operations, problems, shown_version=_shown_version(document)
    )
    if server is not None:
        core.server = server
        # For the per-call rules (insecure host, local host); cheap: one pointer.
        core.server_position = parsed.locate(["/servers/0/url"]).get("/servers/0/url")
    core.weight += sum(_weight(op) for op in operations)
    core.title = _title(document)
    if any(_has_ref(op.parameters) or _has_ref(op.request_body) for op in operations):
        components = document.get("components")
        core.components = components if isinstance(components, dict) else {}
        core.weight += _weight_of(core.components)
    return core


def _title(document: dict) -> str:
    info = document.get("info")
    title = info.get("title") if isinstance(info, dict) else None
    return title.strip() if isinstance(title, str) else ""


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(value) for value in node.values())
    if isinstance(node, list):
        return any(_has_ref(value) for value in node)
    return False


def _count_operations(document: dict, resolver: LocalResolver):

    return iter_operations(document, resolver)


def _weight(operation: Operation) -> int:

    return (
        1 + _count_nodes(operation.parameters, 10**9) + _count_nodes(operation.request_body, 10**9)
    )


def _weight_of(node: Any) -> int:

    return _count_nodes(node, 10**9)


def _shown_version(document: dict) -> str | None:
    value = document.get("openapi")
    return value if isinstance(value, str) else None


def detect_version(document: dict) -> tuple[str | None, Problem | None]:
    """ "3.0", "3.1" or "3.2" (how to validate), or a problem saying why the document can't be."""
    if "swagger" in document:
        if str(document["swagger"]).startswith("2"):
            return None, Problem(
                "This is a Swagger 2.0 document; convert it to OpenAPI 3 (3.0 or 3.1) first.",
                "/swagger",
                code="swagger_2",
            )
        return None, Problem(
            f"Unknown 'swagger' version {document['swagger']!r}. Actions need an OpenAPI 3.0 "
            "or 3.1 document, starting with openapi: 3.1.0.",
            "/swagger",
            code="unsupported_version",
        )
    if "openapi" not in document:
        return None, Problem(
            "The document does not say which OpenAPI version it uses: add openapi: 3.1.0 "
            "(or 3.0.x) at the top.",
            "",
            code="missing_version",
        )
    value = document["openapi"]
    if not isinstance(value, str):
        return None, Problem(
            f'The OpenAPI version must be text such as "3.1.0", not {value!r} (in YAML, put '
            "it in quotes).",
            "/openapi",
            code="unsupported_version",
        )
    match = _VERSION.match(value)
    if match and match["major"] == "3" and f"3.{match['minor']}" in SUPPORTED:
        return f"3.{match['minor']}", None
    message = (
        f"OpenAPI version '{value[:40]}' is not supported; actions accept OpenAPI 3.0, 3.1 "
        "and 3.2 (e.g. openapi: 3.1.0)."
    )
    return None, Problem(message, "/openapi", code="unsupported_version")


def _finish(
    parsed: ParsedDocument | None,
    version: str | None,
    servers: list[str],
    operations: list[Operation],
    problems: list[Problem],
    shown_version: str | None = None,
) -> _Core:
    """Dedupe, keep the first MAX_PROBLEMS of each severity, place them, order by line."""
    seen: set[tuple[str, str, str]] = set()
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for problem in problems:
        key = (problem.pointer, problem.code, problem.message)
        if key in seen:
            continue
        seen.add(key)
        (errors if problem.severity == ERROR else warnings).append(problem)
    errors, more_errors = _cap(errors)
    warnings, more_warnings = _cap(warnings)
    if parsed is not None:
        parsed.place([*errors, *warnings])
        _place_focus(parsed, [p for p in [*errors, *warnings] if p.focus])
        # Fixes need a walk of the text (spans.py): a quarter of a second on a 3 MB YAML
        # document. Above FIX_MAX_CHARS the warnings come without a Fix; such documents go
        # through the operation picker first, and the few operations kept get their fixes.
        if len(parsed.text) <= FIX_MAX_CHARS and any(p.fix_plan for p in warnings):
            materialize(parsed.text, parsed.format, parsed.document, warnings)
    errors.sort(key=_line_order)
    warnings.sort(key=_line_order)
    if more_errors:
        errors.append(_more_problem(more_errors, ERROR))
    if more_warnings:
        warnings.append(_more_problem(more_warnings, WARNING))
    return _Core(
        format=parsed.format if parsed else None,
        openapi_version=shown_version,
        servers=servers,
        operations=operations,
        errors=errors,
        warnings=warnings,
        more_errors=more_errors,
        more_warnings=more_warnings,
        weight=1 + 10 * (len(errors) + len(warnings) + len(operations)),
    )


def _place_focus(parsed: ParsedDocument, problems: list[Problem]) -> None:
    """Move a problem's line and column onto its `focus` text inside the key or value at its
    pointer (a placeholder inside a URL), where the text has it."""
    if not problems:
        return

    parents = {problem.pointer: _parent(problem.pointer) for problem in problems if problem.pointer}
    spans = mappings(parsed.text, parsed.format, sorted({p for p, _ in parents.values()}))
    text = parsed.text
    for problem in problems:
        parent, key = parents.get(problem.pointer, ("", ""))
        span = spans.get(parent)
        member = next((m for m in reversed(span.members) if m.key == key), None) if span else None
        if member is None:
            continue
        index = text.find(problem.focus or "", member.key_start, member.value_end)
        if index < 0:
            continue
        line = text.count("\n", 0, index) + 1
        problem.line, problem.column = line, index - (text.rfind("\n", 0, index) + 1) + 1


def _cap(problems: list[Problem]) -> tuple[list[Problem], int]:
    """The first MAX_PROBLEMS - 1 (room for the "and N more" line) when there are too many."""
    if len(problems) <= MAX_PROBLEMS:
        return problems, 0
    return problems[: MAX_PROBLEMS - 1], len(problems) - (MAX_PROBLEMS - 1)


def _line_order(problem: Problem) -> tuple[int, int]:
    return (problem.line or 0, problem.column or 0)
