"""The YAML loaders and scalar constructors the schema engine parses with.

Shared by parsing (the builder that composes documents) and locate/spans (which walk the events
again to place a pointer): a module of their own so neither has to import the other lazily.
Timestamps stay strings (an OpenAPI `example: 2024-01-01` is text to a model, not a date).
"""

from __future__ import annotations

import yaml

TAG = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL = (TAG + t for t in ("str", "int", "float", "bool", "null"))
TIMESTAMP, MERGE, MAP, SEQ = (TAG + t for t in ("timestamp", "merge", "map", "seq"))


def without_timestamps(table: dict) -> dict:
    return {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != TIMESTAMP]
        for first, resolvers in table.items()
    }


CSafeLoader = getattr(yaml, "CSafeLoader", None)
if CSafeLoader is not None:

    class CLoader(CSafeLoader):  # type: ignore[misc,valid-type]
        """libyaml's parser; our builder does the composing (see module docstring)."""

        yaml_implicit_resolvers = without_timestamps(
            CSafeLoader.yaml_implicit_resolvers  # type: ignore[union-attr]  # the branch checked it
        )

else:  # pragma: no cover - PyYAML built without libyaml
    CLoader = None  # type: ignore[assignment,misc]


class PyLoader(yaml.SafeLoader):
    """Pure-Python parser: used when libyaml is missing or rejects valid text (see below)."""

    yaml_implicit_resolvers = without_timestamps(yaml.SafeLoader.yaml_implicit_resolvers)


# Scalar conversion is PyYAML's own code, so values are exactly what yaml.safe_load gives.
CONSTRUCTOR = yaml.constructor.SafeConstructor()
CONSTRUCT = {
    INT: CONSTRUCTOR.construct_yaml_int,
    FLOAT: CONSTRUCTOR.construct_yaml_float,
    BOOL: CONSTRUCTOR.construct_yaml_bool,
    NULL: CONSTRUCTOR.construct_yaml_null,
}
