"""The OpenAPI schema engine of actions: parse → validate → detect operations.

Pure functions on text and plain data, no database access. The public API:

* `parse(text, max_bytes=None) -> ParsedDocument` (raises `SchemaParseError`)
* `validate(text_or_parsed, allow_insecure_host=None) -> Verdict` (never raises)
* `detect_operations(document) -> list[Operation]`
* `format_schema(text) -> str` (raises `SchemaParseError`)
* `duplicate_operation_ids(ids) -> list[str]`, for uniqueness across a GPT's actions
* `examples.EXAMPLES`: the built-in example schemas
"""

from actions.openapi.detect import Operation, detect_operations, duplicate_operation_ids
from actions.openapi.engine import Verdict, clear_cache, placed_problems, validate
from actions.openapi.formatting import format_schema
from actions.openapi.parsing import ParsedDocument, parse
from actions.openapi.problems import Problem, SchemaParseError
from actions.openapi.rules import MAX_OPERATIONS, OPERATION_ID
from actions.openapi.spec_checks import DOWNGRADED_TO_WARNINGS

__all__ = [
    "DOWNGRADED_TO_WARNINGS",
    "MAX_OPERATIONS",
    "OPERATION_ID",
    "Operation",
    "ParsedDocument",
    "Problem",
    "SchemaParseError",
    "Verdict",
    "clear_cache",
    "detect_operations",
    "duplicate_operation_ids",
    "format_schema",
    "parse",
    "placed_problems",
    "validate",
]
