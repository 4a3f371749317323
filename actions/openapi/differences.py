"""Every deliberate difference between this engine's verdict and openapi-spec-validator's.

The engine runs osv's checks (spec_checks.py) and then the product's rules (rules.py); where
the two verdicts part, it is on purpose, for one of two reasons:
* the hosted GPT editor accepts the document and the runtime can build every call from it, so
  refusing it would turn builders away for nothing: osv rejects, this engine warns;
* the runtime could not call the API as written (no server, a placeholder, plain http, no
  operationId to name the tool...): osv accepts, this engine refuses.

Each row has a minimal `sample`; tests/actions/test_openapi_differences.py runs plain osv and
this engine on it and checks that the verdicts differ exactly as the row says (and the table
is the only place such a difference may come from: the corpus tests check the rest agrees).
`ours` is (valid, severity, code): the verdict and the problem that carries the difference.
"""

from __future__ import annotations

from dataclasses import dataclass

_HEAD = """openapi: 3.1.0
info:
  title: Sample
  version: "1"
servers:
  - url: https://api.example.com
"""

_OPERATION = """    get:
      operationId: listThings
      responses:
        "200":
          description: ok
"""


@dataclass(frozen=True)
class Difference:
    reason: str
    sample: str
    osv_valid: bool
    ours: tuple[bool, str, str]


DELIBERATE_DIFFERENCES: dict[str, Difference] = {
    "default_mismatch": Difference(
        "A default that does not match its schema is documentation; publishers ship such "
        "documents as valid (PagerDuty REST, OpenAI) and the runtime never sends a default.",
        _HEAD
        + """paths:
  /things:
    get:
      operationId: listThings
      parameters:
        - name: limit
          in: query
          schema: {type: integer, default: "twenty"}
      responses:
        "200":
          description: ok
""",
        False,
        (True, "warning", "default_mismatch"),
    ),
    "parameter_unknown_field": Difference(
        "A field a Parameter object does not have (e.g. `constant`) is ignored by the hosted "
        "editor and by the runtime; it changes nothing about the call.",
        _HEAD
        + """paths:
  /things:
    get:
      operationId: listThings
      parameters:
        - name: limit
          in: query
          constant: 5
          schema: {type: integer}
      responses:
        "200":
          description: ok
""",
        False,
        (True, "warning", "parameter_unknown_field"),
    ),
    "parameter_schema_field": Difference(
        "`enum`/`type` beside the parameter's `schema` is Swagger 2.0's way of writing it; the "
        "runtime builds the call from the name and location, the fix moves it into the schema.",
        _HEAD
        + """paths:
  /things:
    get:
      operationId: listThings
      parameters:
        - name: sort
          in: query
          enum: [asc, desc]
          schema: {type: string}
      responses:
        "200":
          description: ok
""",
        False,
        (True, "warning", "parameter_schema_field"),
    ),
    "oauth2_without_flows": Difference(
        "Calls use the action's own OAuth settings, never the document's flows; the hosted "
        "editor accepts an oauth2 scheme without them.",
        _HEAD
        + "paths:\n  /things:\n"
        + _OPERATION
        + """components:
  securitySchemes:
    oauth:
      type: oauth2
""",
        False,
        (True, "warning", "oauth2_without_flows"),
    ),
    "duplicate_key": Difference(
        "osv reads YAML with PyYAML, where the last of two equal keys silently wins. This "
        "engine reads it the same way (so what is checked is what runs) but says so: the "
        "earlier value is usually a mistake. It used to refuse such documents.",
        _HEAD.replace('  version: "1"\n', '  version: "1"\n  version: "2"\n')
        + "paths:\n  /things:\n"
        + _OPERATION,
        True,
        (True, "warning", "duplicate_key"),
    ),
    "required_repeated": Difference(
        "A property named twice in `required` is required once; nothing about the call "
        "changes (OpenAI's document has one).",
        _HEAD
        + "paths:\n  /things:\n"
        + _OPERATION
        + """components:
  schemas:
    Thing:
      type: object
      properties: {id: {type: string}}
      required: [id, id]
""",
        False,
        (True, "warning", "required_repeated"),
    ),
    "schema_keyword_ignored": Difference(
        "`$recursiveAnchor: true` (JSON Schema 2019-09) is ignored by OpenAPI 3.1's dialect, "
        "and so by the runtime's argument checks (OpenAI's document has it).",
        _HEAD
        + "paths:\n  /things:\n"
        + _OPERATION
        + """components:
  schemas:
    Filter:
      $recursiveAnchor: true
      type: object
""",
        False,
        (True, "warning", "schema_keyword_ignored"),
    ),
    "missing_server": Difference(
        "An action calls its first server; without one there is nothing to call.",
        _HEAD.replace("servers:\n  - url: https://api.example.com\n", "")
        + "paths:\n  /things:\n"
        + _OPERATION,
        True,
        (False, "error", "missing_server"),
    ),
    "insecure_server": Difference(
        "Calls go over https on port 443 unless the deployment allows the host (DESIGN §2).",
        _HEAD.replace("https://api.example.com", "http://api.example.com")
        + "paths:\n  /things:\n"
        + _OPERATION,
        True,
        (False, "error", "insecure_server"),
    ),
    "server_placeholder": Difference(
        "A template's placeholder in the server URL would be sent as the host name.",
        _HEAD.replace("https://api.example.com", "https://<subdomain>.example.com")
        + "paths:\n  /things:\n"
        + _OPERATION,
        True,
        (False, "error", "server_placeholder"),
    ),
    "path_placeholder": Difference(
        "A template's placeholder in a path would be sent as it is.",
        _HEAD + "paths:\n  /orgs/<org_id>/things:\n" + _OPERATION,
        True,
        (False, "error", "path_placeholder"),
    ),
    "missing_operation_id": Difference(
        "The operationId names the tool the model calls; without it there is no tool.",
        _HEAD + "paths:\n  /things:\n" + _OPERATION.replace("      operationId: listThings\n", ""),
        True,
        (False, "error", "missing_operation_id"),
    ),
    "invalid_operation_id": Difference(
        "Tool names allow only letters, digits, _ and - (1 to 64 characters).",
        _HEAD + "paths:\n  /things:\n" + _OPERATION.replace("listThings", "list things"),
        True,
        (False, "error", "invalid_operation_id"),
    ),
    "too_many_operations": Difference(
        "An action may have at most 30 operations (the editor's picker keeps up to 30).",
        _HEAD
        + "paths:\n"
        + "".join(
            f"  /things{n}:\n" + _OPERATION.replace("listThings", f"listThings{n}")
            for n in range(31)
        ),
        True,
        (False, "error", "too_many_operations"),
    ),
    "missing_title": Difference(
        "The title names the action in the editor and to the model; osv accepts an empty one.",
        _HEAD.replace("title: Sample", 'title: ""') + "paths:\n  /things:\n" + _OPERATION,
        True,
        (False, "error", "missing_title"),
    ),
    "swagger_2": Difference(
        "Swagger 2.0 is converted to OpenAPI 3.0 (convert.py) on paste and import, and the "
        "converted text is what is checked and saved; the 2.0 text itself is not an action.",
        """swagger: "2.0"
info: {title: Sample, version: "1"}
host: api.example.com
schemes: [https]
paths:
  /things:
    get:
      operationId: listThings
      responses:
        "200":
          description: ok
""",
        True,
        (False, "error", "swagger_2"),
    ),
}
