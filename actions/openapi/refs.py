"""Local `$ref` handling: find every reference, resolve `#/...` pointers, never fetch anything.

openapi-spec-validator resolves references through `jsonschema_path`, whose default handlers
fetch `http(s)://` URLs and read `file://` paths (and fall back to a bare `urlopen` for any
other scheme). An action's schema may only use references inside itself, so:
* `scan_refs` lists every `$ref` of the document up front; anything not starting with `#` is
  reported (`remote_ref`) and never followed;
* `LocalResolver` only walks JSON pointers inside the document; there is no code path here
  that opens a URL or a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from actions.openapi.problems import Problem, escape_pointer_part, to_pointer


class RefError(Exception):
    """A `$ref` that can not be followed: remote, pointing nowhere, or part of a loop."""

    def __init__(self, code: str, ref: str):
        self.code = code
        self.ref = ref
        super().__init__(f"{code}: {ref}")


def is_ref(node: Any) -> bool:
    """Same test as jsonschema_path: a mapping whose `$ref` is a string is a reference."""
    return type(node) is dict and type(node.get("$ref")) is str


def pointer_tokens(fragment: str) -> list[str]:
    """Tokens of a `#/...` fragment, decoded the way `referencing` does (unquote, ~1, ~0)."""
    return [t.replace("~1", "/").replace("~0", "~") for t in unquote(fragment[1:]).split("/")]


class LocalResolver:
    """Resolve `#...` references inside one document (memoised per reference text)."""

    def __init__(self, document: Any):
        self.document = document
        self._targets: dict[str, tuple[Any, str] | RefError] = {}

    def lookup(self, ref: str) -> tuple[Any, str]:
        """Target of one reference and its JSON pointer; raise `RefError`."""
        found = self._targets.get(ref)
        if found is None:
            try:
                found = self._lookup(ref)
            except RefError as exc:
                found = exc
            self._targets[ref] = found
        if isinstance(found, RefError):
            raise found
        return found

    def _lookup(self, ref: str) -> tuple[Any, str]:
        if not ref.startswith("#"):
            raise RefError("remote_ref", ref)
        fragment = ref[1:]
        if fragment == "":
            return self.document, ""
        if not fragment.startswith("/"):
            # A plain-name fragment ($anchor): osv cannot resolve these inside an OpenAPI
            # document either (its resolver does not crawl OpenAPI objects for anchors).
            raise RefError("unresolved_ref", ref)
        node = self.document
        parts: list[str] = []
        for token in pointer_tokens(fragment):
            if type(node) is dict:
                if token not in node:
                    raise RefError("unresolved_ref", ref)
                node = node[token]
            elif type(node) is list:
                if not token.isdigit() or int(token) >= len(node):
                    raise RefError("unresolved_ref", ref)
                node = node[int(token)]
            else:
                raise RefError("unresolved_ref", ref)
            parts.append(token)
        return node, to_pointer(parts)

    def deref(self, node: Any, pointer: str) -> tuple[Any, str]:
        """Follow a chain of references to a node that is not one; raise `RefError`.

        Siblings of `$ref` are ignored, as jsonschema_path does when openapi-spec-validator
        walks a document.
        """
        # `is_ref` written out: this runs for every node the spec walk visits (25,000 times
        # on OpenAI's document), nearly always on a node that is no reference.
        if type(node) is not dict:
            return node, pointer
        ref = node.get("$ref")
        if type(ref) is not str:
            return node, pointer
        seen: set[str] = set()
        while True:
            if ref in seen:
                raise RefError("ref_cycle", ref)
            seen.add(ref)
            node, pointer = self.lookup(ref)
            if type(node) is not dict:
                return node, pointer
            ref = node.get("$ref")
            if type(ref) is not str:
                return node, pointer


@dataclass
class RefUse:
    """One `$ref` in the document: where it is and what it says."""

    pointer: str
    ref: str


def scan_refs(document: Any) -> list[RefUse]:
    """Every `$ref` string of the document with the pointer of the object holding it."""
    found: list[RefUse] = []
    stack: list[tuple[Any, str]] = [(document, "")]
    while stack:
        node, pointer = stack.pop()
        if type(node) is dict:
            ref = node.get("$ref")
            if type(ref) is str:
                found.append(RefUse(pointer, ref))
            for key, value in node.items():
                if type(value) is dict or type(value) is list:
                    stack.append((value, f"{pointer}/{escape_pointer_part(key)}"))
        elif type(node) is list:
            for index, value in enumerate(node):
                if type(value) is dict or type(value) is list:
                    stack.append((value, f"{pointer}/{index}"))
    found.reverse()  # roughly document order, for the report
    return found


def ref_problems(
    document: Any, resolver: LocalResolver, known_refs: set[str] | None = None
) -> list[Problem]:
    """An error for every reference that is remote, points nowhere or loops.

    `known_refs` (every `$ref` text, collected by the parser) makes the usual case cheap:
    when each of them resolves, there is nothing to report and no need to walk the document
    to find where they are.
    """
    if known_refs is not None and all(_resolves(resolver, ref) for ref in known_refs):
        return []
    problems: list[Problem] = []
    for use in scan_refs(document):
        try:
            resolver.lookup(use.ref)
            # A chain ending at a broken reference is reported there; only loops are new.
            resolver.deref({"$ref": use.ref}, use.pointer)
        except RefError as exc:
            if exc.ref == use.ref or exc.code == "ref_cycle":
                problems.append(_ref_problem(exc, use))
    return problems


def _resolves(resolver: LocalResolver, ref: str) -> bool:
    try:
        resolver.deref({"$ref": ref}, "")
    except RefError:
        return False
    return True


def _ref_problem(exc: RefError, use: RefUse) -> Problem:
    pointer = f"{use.pointer}/$ref"
    shown = use.ref if len(use.ref) <= 200 else use.ref[:200] + "…"
    if exc.code == "remote_ref":
        message = (
            f"The reference '{shown}' points outside this document. Only local references "
            "such as '#/components/schemas/Pet' are allowed: copy the referenced definition "
            "into the schema."
        )
    elif exc.code == "ref_cycle":
        message = (
            f"The reference '{shown}' leads to a chain of references that loops back on "
            "itself without reaching a definition."
        )
    else:
        message = f"The reference '{shown}' points to nothing in this document."
    return Problem(message, pointer, code=exc.code, source=f"Unresolvable: {use.ref}")
