"""The editor's Format button: re-indent JSON with 2 spaces, or re-dump YAML in block style."""

from __future__ import annotations

import json

import yaml

from actions.openapi.parsing import parse

_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """Safe dumper that writes a node shared through a YAML alias out in full each time
    (aliases are budgeted at parse time, so this stays small) instead of `&id001` anchors."""

    def ignore_aliases(self, data) -> bool:
        return True


def format_schema(text: str) -> str:
    """The same document, tidily formatted in its own format (key order kept).

    Raises `SchemaParseError` if the text can not be parsed. Duplicate keys are not kept:
    like every reader, the formatter keeps the last value.
    """
    parsed = parse(text)
    if parsed.format == "json":
        return json.dumps(parsed.document, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(
        parsed.document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
