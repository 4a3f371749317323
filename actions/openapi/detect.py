"""The operations of a document: one per (path, method), with what the runtime needs to call it.

Parameters and the request body come with their local `$ref`s replaced by what they point to,
so the runtime and the model see plain JSON Schema. A recursive schema is expanded until the
recursion comes back to a reference already being expanded; there the `$ref` is left as is.
Each operation also has a budget of copied nodes: schemas like Stripe's reference each other so
densely that full expansion would be enormous; past the budget, references stay references.
Text counts too (EXPANSION_CHARS): a schema with a 20 KB description, referenced 1,000 times
from a 60 KB document, would otherwise be stored as 20 MB. The largest operation in the corpus
expands to about 330 KB (Kubernetes), well inside the budget.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from actions.openapi.problems import escape_pointer_part
from actions.openapi.refs import LocalResolver, RefError, is_ref

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONSEQUENTIAL_FLAG = "x-openai-isConsequential"

# Request body media types the runtime can send, in order of preference.
BODY_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
EXPANSION_BUDGET = 5_000  # nodes copied per operation while resolving references
EXPANSION_DEPTH = 48
EXPANSION_CHARS = 500_000  # characters of text (keys and strings) copied per operation


@dataclass(frozen=True)
class Operation:
    """One operation of an action's schema. Frozen: cached verdicts hand out the same
    operations to every caller."""

    operation_id: str | None
    method: str
    path: str
    summary: str | None = None
    description: str | None = None
    consequential: bool = True
    parameters: list[dict] = field(default_factory=list)
    request_body: dict | None = None
    pointer: str = field(default="", repr=False)
    # The operation's tags, for the editor's operation picker (filter by tag).
    tags: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        """The fields the editor shows (see the API contract)."""
        return {
            "operation_id": self.operation_id,
            "method": self.method,
            "path": self.path,
            "summary": self.summary,
            "consequential": self.consequential,
            "tags": list(self.tags),
        }

    def full_dict(self) -> dict:
        data = asdict(self)
        data.pop("pointer")
        data.pop("tags")
        return data


def is_consequential(method: str, flag: Any) -> bool:
    """`x-openai-isConsequential`: true → ask every time; false → "Always allow" may be
    offered; unset → GET/HEAD/OPTIONS are not consequential, every other method is."""
    if flag is True:
        return True
    if flag is False:
        return False
    return method.upper() not in SAFE_METHODS


def iter_operations(document: dict, resolver: LocalResolver | None = None):
    """(path, method, operation, pointer, path item) for every operation under `paths`,
    following a path item's `$ref`. Broken references are skipped (reported elsewhere)."""
    resolver = resolver or LocalResolver(document)
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return
    for path, item in paths.items():
        try:
            item, item_pointer = resolver.deref(item, f"/paths/{escape_pointer_part(path)}")
        except RefError:
            continue
        if not isinstance(item, dict):
            continue
        for method, operation in item.items():
            if method not in METHODS:
                continue
            try:
                operation, pointer = resolver.deref(operation, f"{item_pointer}/{method}")
            except RefError:
                continue
            if isinstance(operation, dict):
                yield path, method, operation, pointer, item


def detect_operations(document: dict, *, resolve: bool = True) -> list[Operation]:
    """One `Operation` per operation under `paths` (see module docstring).

    With `resolve=False` parameters and request bodies are left out: cheap, for documents that
    are refused anyway (too many operations), whose details nobody will store.
    """
    if not isinstance(document, dict):
        return []
    resolver = LocalResolver(document)
    operations = []
    for path, method, operation, pointer, item in iter_operations(document, resolver):
        operation_id = operation.get("operationId")
        summary = operation.get("summary")
        description = operation.get("description")
        if resolve:
            expander = _Expander(resolver)
            parameters = _parameters(item, operation, resolver, expander)
            request_body = _request_body(operation, resolver, expander)
        else:
            parameters, request_body = [], None
        found = Operation(
            operation_id=operation_id if isinstance(operation_id, str) else None,
            method=method.upper(),
            path=path,
            summary=summary if isinstance(summary, str) else None,
            description=description if isinstance(description, str) else None,
            consequential=is_consequential(method, operation.get(CONSEQUENTIAL_FLAG)),
            parameters=parameters,
            request_body=request_body,
            pointer=pointer,
            tags=[t for t in operation.get("tags") or [] if isinstance(t, str)][:20]
            if isinstance(operation.get("tags"), list)
            else [],
        )
        operations.append(found)
    return operations


def _parameters(item: dict, operation: dict, resolver: LocalResolver, expander) -> list[dict]:
    """Path-level parameters, overridden by operation-level ones with the same (name, in)."""
    merged: dict[tuple, dict] = {}
    for source in (item.get("parameters"), operation.get("parameters")):
        if not isinstance(source, list):
            continue
        for parameter in source:
            try:
                parameter, _ = resolver.deref(parameter, "")
            except RefError:
                continue
            if not isinstance(parameter, dict):
                continue
            key = (str(parameter.get("name")), str(parameter.get("in")))
            merged.pop(key, None)  # keep the overriding one's position in the order
            merged[key] = expander.expand(parameter)
    return list(merged.values())


def _request_body(operation: dict, resolver: LocalResolver, expander) -> dict | None:
    """The JSON (or form) body: its content type, JSON schema and whether it is required."""
    try:
        body, _ = resolver.deref(operation.get("requestBody"), "")
    except RefError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("content"), dict):
        return None
    content = body["content"]
    chosen = _choose_media_type(content)
    if chosen is None:
        return None
    try:
        media, _ = resolver.deref(content[chosen], "")
    except RefError:
        media = {}
    schema = media.get("schema", {}) if isinstance(media, dict) else {}
    result = {
        "content_type": chosen,
        "schema": expander.expand(schema),
        "required": body.get("required") is True,
    }
    if isinstance(body.get("description"), str):
        result["description"] = body["description"]
    return result


def _choose_media_type(content: dict) -> str | None:
    lowered = {str(k).split(";")[0].strip().lower(): k for k in content}
    for wanted in BODY_TYPES:
        if wanted in lowered:
            return lowered[wanted]
    for name, original in lowered.items():
        if name.startswith("application/") and name.endswith("+json"):
            return original
    return None


class _Expander:
    """Copy a value with local references replaced, cycle-safe and within a budget."""

    def __init__(
        self, resolver: LocalResolver, budget: int = EXPANSION_BUDGET, chars: int = EXPANSION_CHARS
    ):
        self.resolver = resolver
        self.budget = budget
        self.chars = chars
        self.active: list[str] = []

    def expand(self, value: Any, depth: int = 0) -> Any:
        self.budget -= 1
        if type(value) is dict:
            if is_ref(value):
                return self._expand_ref(value, depth)
            if self.budget <= 0 or depth > EXPANSION_DEPTH:
                return _shallow(value)
            self._spend(sum(len(key) for key in value))
            return {key: self.expand(item, depth + 1) for key, item in value.items()}
        if type(value) is list:
            if self.budget <= 0 or depth > EXPANSION_DEPTH:
                return []
            return [self.expand(item, depth + 1) for item in value]
        if type(value) is str:
            self._spend(len(value))
        return value

    def _spend(self, chars: int) -> None:
        self.chars -= chars
        if self.chars < 0:
            self.budget = 0  # out of text: from here on, references stay references

    def _expand_ref(self, value: dict, depth: int) -> Any:
        ref = value["$ref"]
        if ref in self.active or self.budget <= 0 or depth > EXPANSION_DEPTH:
            return dict(value) if len(value) == 1 else _shallow(value)
        try:
            target, _ = self.resolver.lookup(ref)
        except RefError:
            return {"$ref": ref}
        self.active.append(ref)
        try:
            expanded = self.expand(target, depth + 1)
        finally:
            self.active.pop()
        siblings = {k: self.expand(v, depth + 1) for k, v in value.items() if k != "$ref"}
        if siblings and isinstance(expanded, dict):
            return {**expanded, **siblings}  # OpenAPI 3.1 allows keywords beside $ref
        return expanded


def _shallow(value: dict) -> dict:
    """What is left of an object past the budget: its scalar members and any `$ref`."""
    return {k: v for k, v in value.items() if not isinstance(v, dict | list)}


def duplicate_operation_ids(operation_ids: list[str | None]) -> list[str]:
    """operationIds used more than once (first-seen order) — e.g. across a GPT's actions."""
    seen: set[str] = set()
    duplicates: dict[str, None] = {}
    for operation_id in operation_ids:
        if operation_id is None:
            continue
        if operation_id in seen:
            duplicates[operation_id] = None
        seen.add(operation_id)
    return list(duplicates)
