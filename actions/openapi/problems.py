"""What the schema engine reports: a `Problem` (message, JSON pointer, line and column)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

ERROR: Severity = "error"
WARNING: Severity = "warning"


@dataclass
class Problem:
    """One thing wrong with (or worth a second look in) a schema.

    `message` is a sentence for the builder; `code` is a short machine kind
    (`duplicate_operation_id`, `remote_ref`, ...). `line` and `column` are 1-based and are filled
    in late, only for the problems that are actually reported (see `locate.py`).
    `source` keeps the original wording of openapi-spec-validator when the problem comes from
    one of its checks, so tests can prove nothing it finds is lost; it is not shown to builders.
    """

    message: str
    pointer: str = ""
    line: int | None = None
    column: int | None = None
    severity: Severity = ERROR
    code: str = "invalid"
    source: str | None = field(default=None, repr=False, compare=False)
    # A mechanical fix: the check that found the problem leaves a plan (fixes.py), which
    # becomes `fix` ({"label", "edits"}) once the problem is reported.
    fix_plan: tuple | None = field(default=None, repr=False, compare=False)
    fix: dict | None = field(default=None, compare=False)
    # Text inside the value (or key) at `pointer` that the problem is about, such as a
    # placeholder in a URL: line and column are then those of that text (engine.py).
    focus: str | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict:
        data: dict[str, Any] = {
            "message": self.message,
            "pointer": self.pointer,
            "line": self.line,
            "column": self.column,
            "code": self.code,
        }
        if self.fix is not None:
            data["fix"] = self.fix
        return data


class SchemaParseError(ValueError):
    """The text is not a usable JSON or YAML document; `problems` says where and why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(problems[0].message if problems else "The schema can not be parsed.")


def escape_pointer_part(part: str | int) -> str:
    """RFC 6901 escaping of one reference token."""
    return str(part).replace("~", "~0").replace("/", "~1")


def to_pointer(parts: tuple | list) -> str:
    """`("paths", "/pets", "get")` → `/paths/~1pets/get`; `()` → `""` (the whole document)."""
    return "".join("/" + escape_pointer_part(part) for part in parts)


def split_pointer(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer, unescaped (`""` → `[]`)."""
    if not pointer:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]
