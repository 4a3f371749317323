"""Build the HTTP request of an operation from the arguments a model (or the Preview form) sent.

`arguments` is exactly the object of the exported tool (actions/runtime/tools.py): parameters
by name, the request body under `requestBody`. Every argument is checked against its schema
first, with OpenAPI's own dialect (3.0: `nullable`, boolean exclusive bounds, readOnly in
requests; 3.1: JSON Schema 2020-12), so a mismatch is refused with the argument's name and no
request is ever sent. Serialisation then follows OpenAPI's style/explode table for path, query,
header and cookie parameters, and encodes JSON, form and multipart bodies.

Everything here is pure: no database, no network, no parsing of the schema text. The action
brings what was stored when its schema was saved: the server URL (variables already replaced by
their defaults) and, for the `$ref`s a recursive schema keeps, the schema's components.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from jsonschema.exceptions import ValidationError
from openapi_schema_validator import (
    OAS30WriteValidator,
    OAS31Validator,
    oas30_format_checker,
    oas31_format_checker,
)

from actions.openapi.regex import linear
from kernel.errors import RuleViolation

# A document's patterns run on RE2 here too: an argument must not be able to stall a worker.
_ArgumentValidator30 = linear(OAS30WriteValidator, oas30=True)
_ArgumentValidator31 = linear(OAS31Validator)

BODY_KEY = "requestBody"
MAX_BODY_CHARS = 100_000
MAX_URL_CHARS = 8_192

LOCATIONS = ("path", "query", "header", "cookie")
DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
ALLOWED_STYLES = {
    "path": {"simple", "label", "matrix"},
    "query": {"form", "spaceDelimited", "pipeDelimited", "deepObject"},
    "header": {"simple"},
    "cookie": {"form"},
}
# OpenAPI says header parameters named Accept, Content-Type or Authorization are ignored; the
# others would let a schema smuggle framing or override what the runtime sets itself.
IGNORED_HEADERS = frozenset(
    {
        "accept",
        "content-type",
        "authorization",
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "cookie",
    }
)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
# RFC 3986 reserved characters a parameter with allowReserved may send as they are; `&`, `=` and
# `#` stay encoded all the same, since unencoded they would change the query's structure.
RESERVED_SAFE = ":/?[]@!$'()*+,;"
BODY_PREFERENCE = (
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
)


@dataclass(frozen=True)
class Argument:
    """One parameter of an operation, as the caller names it in `arguments`."""

    key: str
    name: str
    location: str
    required: bool
    schema: dict
    style: str
    explode: bool
    allow_reserved: bool = False
    # A parameter described by `content` instead of `schema` is sent JSON-encoded.
    media_type: str | None = None
    description: str = ""


@dataclass(frozen=True)
class BodySpec:
    content_type: str
    schema: dict
    required: bool
    description: str = ""


@dataclass
class BuiltRequest:
    """What will be sent, before authentication is added."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    @property
    def body_text(self) -> str | None:
        return None if self.body is None else self.body.decode("utf-8", errors="replace")


def invalid(key: str, detail: str) -> RuleViolation:
    return RuleViolation("invalid_arguments", detail, argument=key)


# Reading the operation ---------------------------------------------------------------------


def operation_arguments(operation) -> list[Argument]:
    """The operation's parameters under the names the tool export and `arguments` use.

    A name shared by two locations (an `id` in the path and in a header) keeps its plain name
    for the first and becomes `<location>.<name>` for the next, so no argument is lost.
    """
    arguments: list[Argument] = []
    taken: set[str] = {BODY_KEY}
    for raw in operation.parameters or []:
        if not isinstance(raw, dict):
            continue
        name, location = raw.get("name"), raw.get("in")
        if not isinstance(name, str) or not name or location not in LOCATIONS:
            continue
        if location == "header" and (
            name.lower() in IGNORED_HEADERS or not HEADER_NAME.match(name)
        ):
            continue
        key = name if name not in taken else f"{location}.{name}"
        if key in taken:
            continue
        taken.add(key)
        schema, media_type = raw.get("schema"), None
        content = raw.get("content")
        if not isinstance(schema, dict) and isinstance(content, dict) and content:
            media_type = next(iter(content))
            schema = (content[media_type] or {}).get("schema")
        style = raw.get("style") or DEFAULT_STYLE[location]
        if style not in ALLOWED_STYLES[location]:
            style = DEFAULT_STYLE[location]
        explode = raw.get("explode")
        arguments.append(
            Argument(
                key=key,
                name=name,
                location=location,
                # Path parameters are always required (OpenAPI), whatever the schema says.
                required=location == "path" or bool(raw.get("required")),
                schema=schema if isinstance(schema, dict) else {},
                style=style,
                explode=(style == "form") if explode is None else bool(explode),
                allow_reserved=bool(raw.get("allowReserved")),
                media_type=media_type,
                description=str(raw.get("description") or ""),
            )
        )
    return arguments


def operation_body(operation) -> BodySpec | None:
    """The request body the runtime sends, from the engine's record of it.

    Accepts the engine's `{"content_type", "schema", "required"}` as well as a plain OpenAPI
    Request Body object (`{"content": {...}, "required"}`), picking JSON first.
    """
    raw = operation.request_body
    if not isinstance(raw, dict) or not raw:
        return None
    content = raw.get("content")
    if isinstance(content, dict) and content:
        content_type = _preferred_media_type(list(content))
        schema = (content.get(content_type) or {}).get("schema")
    else:
        content_type = (
            str(raw.get("content_type") or raw.get("contentType") or raw.get("media_type") or "")
            or "application/json"
        )
        schema = raw.get("schema")
    return BodySpec(
        content_type=content_type,
        schema=schema if isinstance(schema, dict) else {},
        required=bool(raw.get("required")),
        description=str(raw.get("description") or ""),
    )


def _preferred_media_type(types: list[str]) -> str:
    lowered = [t.lower() for t in types]
    for wanted in BODY_PREFERENCE:
        for original, low in zip(types, lowered, strict=True):
            if low.split(";")[0].strip() == wanted:
                return original
    for original, low in zip(types, lowered, strict=True):
        if low.split(";")[0].strip().endswith("+json"):
            return original
    return types[0]


# The action's server URL and leftover $refs: stored when the schema was saved -------------


def document_of(action) -> dict:
    """What `$ref`s left in an operation's schemas (recursive schemas) resolve against: the
    schema's components as stored at save (actions.services.stored_schema_parts)."""
    components = action.components
    return {"components": components} if components else {}


def server_url(action) -> str:
    """The first server's URL with its variables replaced by their defaults (the product uses
    the first server, DESIGN.md §2), as stored when the schema was saved."""
    url = action.server_url or ""
    if not url or "{" in url:
        raise RuleViolation(
            "invalid_schema", "The action's server URL is missing or has an unset variable."
        )
    return url.rstrip("/")


# Validation ---------------------------------------------------------------------------------


def _contains_ref(schema: Any) -> bool:
    if isinstance(schema, dict):
        return "$ref" in schema or any(_contains_ref(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_contains_ref(v) for v in schema)
    return False


def _validator(schema: dict, *, openapi_version: str, document: dict):
    if _contains_ref(schema):
        # The engine inlines local $refs; only cycles are left. Give them the document's
        # components as the root they point into.
        schema = {"allOf": [schema], "components": document.get("components") or {}}
    if openapi_version.startswith("3.0"):
        return _ArgumentValidator30(schema, format_checker=oas30_format_checker)
    return _ArgumentValidator31(schema, format_checker=oas31_format_checker)


def _check_value(key: str, value: Any, schema: dict, *, openapi_version: str, document: dict):
    if not schema:
        return
    try:
        error = next(
            iter(
                sorted(
                    _validator(
                        schema, openapi_version=openapi_version, document=document
                    ).iter_errors(value),
                    key=lambda e: (len(e.path), str(e.message)),
                )
            ),
            None,
        )
    except ValidationError as exc:  # pragma: no cover - iter_errors yields, never raises
        error = exc
    except Exception as exc:  # a broken schema: bad regex, dangling $ref
        raise RuleViolation(
            "invalid_schema",
            f"The schema of argument {key} can not be used to check it: {exc}",
            argument=key,
        ) from None
    if error is None:
        return
    where = key + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.path)
    raise invalid(key, f"Argument {where}: {error.message}")


def validate_arguments(
    *, operation, arguments: Any, openapi_version: str = "3.1", document: dict | None = None
) -> tuple[list[tuple[Argument, Any]], tuple[BodySpec, Any] | None]:
    """Check `arguments` and pair each given value with its parameter; raises a 400 naming the
    first argument that is missing, unknown or does not match its schema."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise invalid("arguments", "arguments must be an object: parameters by name.")
    document = document or {}
    params = operation_arguments(operation)
    body = operation_body(operation)
    known = {arg.key for arg in params} | ({BODY_KEY} if body else set())
    unknown = sorted(set(arguments) - known)
    if unknown:
        expected = ", ".join(sorted(known)) or "none"
        raise invalid(
            unknown[0], f"Unknown argument {unknown[0]}: this operation takes {expected}."
        )
    given: list[tuple[Argument, Any]] = []
    for arg in params:
        if arg.key not in arguments:
            if arg.required:
                raise invalid(arg.key, f"Argument {arg.key} is required ({arg.location}).")
            continue
        value = arguments[arg.key]
        _check_value(arg.key, value, arg.schema, openapi_version=openapi_version, document=document)
        if arg.location == "path" and (value is None or value == "" or value == [] or value == {}):
            raise invalid(arg.key, f"Argument {arg.key} is part of the path and can not be empty.")
        given.append((arg, value))
    body_value = None
    if body is not None:
        if BODY_KEY in arguments:
            _check_value(
                BODY_KEY,
                arguments[BODY_KEY],
                body.schema,
                openapi_version=openapi_version,
                document=document,
            )
            body_value = (body, arguments[BODY_KEY])
        elif body.required:
            raise invalid(BODY_KEY, f"Argument {BODY_KEY} is required ({body.content_type}).")
    return given, body_value


# Serialisation (OpenAPI 3 "Style Values" table) --------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _enc(text: str, *, allow_reserved: bool = False) -> str:
    return quote(text, safe=RESERVED_SAFE if allow_reserved else "")


def serialize_path(arg: Argument, value: Any) -> str:  # noqa: C901 - OpenAPI's style/explode table, one branch per cell
    """The text replacing `{name}` in the path."""
    if arg.media_type:
        return _enc(_text(value))
    name = _enc(arg.name)
    if isinstance(value, list):
        items = [_enc(_text(v)) for v in value]
        if arg.style == "label":
            return "." + ("." if arg.explode else ",").join(items)
        if arg.style == "matrix":
            if arg.explode:
                return "".join(f";{name}={item}" for item in items)
            return f";{name}=" + ",".join(items)
        return ",".join(items)
    if isinstance(value, dict):
        pairs = [(_enc(str(k)), _enc(_text(v))) for k, v in value.items()]
        if arg.explode:
            joined = [f"{k}={v}" for k, v in pairs]
            if arg.style == "label":
                return "." + ".".join(joined)
            if arg.style == "matrix":
                return "".join(f";{item}" for item in joined)
            return ",".join(joined)
        flat = ",".join(f"{k},{v}" for k, v in pairs)
        if arg.style == "label":
            return "." + flat
        if arg.style == "matrix":
            return f";{name}={flat}"
        return flat
    text = _enc(_text(value))
    if arg.style == "label":
        return "." + text
    if arg.style == "matrix":
        return f";{name}" if text == "" else f";{name}={text}"
    return text


def serialize_query(arg: Argument, value: Any) -> list[str]:
    """`name=value` pieces, already percent-encoded, to be joined with `&`."""
    name = _enc(arg.name)

    def enc(text: str) -> str:
        return _enc(text, allow_reserved=arg.allow_reserved)

    if arg.media_type:
        return [f"{name}={enc(_text(value))}"]
    if isinstance(value, list):
        items = [enc(_text(v)) for v in value]
        if arg.explode and arg.style in ("form", "spaceDelimited", "pipeDelimited"):
            return [f"{name}={item}" for item in items]
        separator = {"spaceDelimited": "%20", "pipeDelimited": "|"}.get(arg.style, ",")
        return [f"{name}={separator.join(items)}"]
    if isinstance(value, dict):
        if arg.style == "deepObject":
            return [f"{name}%5B{_enc(str(k))}%5D={enc(_text(v))}" for k, v in value.items()]
        if arg.explode and arg.style == "form":
            return [f"{_enc(str(k))}={enc(_text(v))}" for k, v in value.items()]
        separator = {"spaceDelimited": "%20", "pipeDelimited": "|"}.get(arg.style, ",")
        flat = separator.join(f"{_enc(str(k))}{separator}{enc(_text(v))}" for k, v in value.items())
        return [f"{name}={flat}"]
    return [f"{name}={enc(_text(value))}"]


def serialize_header(arg: Argument, value: Any) -> str:
    if arg.media_type:
        text = _text(value)
    elif isinstance(value, list):
        text = ",".join(_text(v) for v in value)
    elif isinstance(value, dict):
        if arg.explode:
            text = ",".join(f"{k}={_text(v)}" for k, v in value.items())
        else:
            text = ",".join(f"{k},{_text(v)}" for k, v in value.items())
    else:
        text = _text(value)
    if any(ch in text for ch in "\r\n\x00"):
        raise invalid(arg.key, f"Argument {arg.key} is sent as a header: no line breaks.")
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        raise invalid(
            arg.key, f"Argument {arg.key} is sent as a header: HTTP headers carry Latin-1 only."
        ) from None
    return text


def serialize_cookie(arg: Argument, value: Any) -> list[str]:
    name = _enc(arg.name)
    if arg.media_type:
        return [f"{name}={_enc(_text(value))}"]
    if isinstance(value, list):
        if arg.explode:
            return [f"{name}={_enc(_text(v))}" for v in value]
        return [f"{name}=" + ",".join(_enc(_text(v)) for v in value)]
    if isinstance(value, dict):
        if arg.explode:
            return [f"{_enc(str(k))}={_enc(_text(v))}" for k, v in value.items()]
        return [f"{name}=" + ",".join(f"{_enc(str(k))},{_enc(_text(v))}" for k, v in value.items())]
    return [f"{name}={_enc(_text(value))}"]


def encode_body(spec: BodySpec, value: Any) -> tuple[bytes, str]:
    """The body's bytes and the Content-Type header that goes with them."""
    media = spec.content_type.split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return text.encode(), spec.content_type
    if media == "application/x-www-form-urlencoded":
        if not isinstance(value, dict):
            raise invalid(BODY_KEY, f"{BODY_KEY} must be an object for a form body.")
        pieces = []
        for key, item in value.items():
            # Arrays repeat the field (form, explode); nested objects go as JSON, the
            # default content type of a complex form field in OpenAPI.
            for one in item if isinstance(item, list) else [item]:
                pieces.append(f"{quote(str(key), safe='')}={quote(_text(one), safe='')}")
        return "&".join(pieces).encode(), "application/x-www-form-urlencoded"
    if media == "multipart/form-data":
        if not isinstance(value, dict):
            raise invalid(BODY_KEY, f"{BODY_KEY} must be an object for a multipart body.")
        boundary = "----actions-" + secrets.token_hex(12)
        parts = []
        for key, item in value.items():
            safe_key = str(key).replace('"', "%22").replace("\r", "").replace("\n", "")
            for one in item if isinstance(item, list) else [item]:
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{safe_key}"\r\n\r\n'
                    f"{_text(one)}\r\n"
                )
        parts.append(f"--{boundary}--\r\n")
        return "".join(parts).encode(), f"multipart/form-data; boundary={boundary}"
    if media.startswith("text/"):
        return _text(value).encode(), spec.content_type
    raise invalid(
        BODY_KEY,
        f"Request bodies of type {spec.content_type} can not be sent: the runtime sends JSON, "
        "form or text bodies only.",
    )


# The whole request --------------------------------------------------------------------------


def _refuse_dot_segments(template: str, path: str, given) -> None:
    """A path argument may not turn a segment into `.` or `..` (also percent-encoded: servers
    decode `%2E` before removing dot segments, RFC 3986 §6.2.2.2), which would send the call,
    with the builder's credentials, to a parent path. Values can not add segments (`/` is
    always encoded), so template and result line up segment by segment."""
    for pattern, built in zip(template.split("/"), path.split("/"), strict=False):
        if "{" not in pattern or unquote(built) not in (".", ".."):
            continue
        names = [arg.key for arg, _ in given if "{" + arg.name + "}" in pattern]
        raise invalid(
            names[0] if names else "arguments",
            f"Argument {names[0] if names else ''} would make the path segment {unquote(built)!r}, "
            "which servers read as a parent or current directory; it is not sent.",
        )


def build_request(*, action, operation, arguments: Any) -> BuiltRequest:
    """Validate `arguments` and build the request for `operation` of `action` (no auth yet)."""
    document = document_of(action)
    version = str(action.openapi_version or "3.1")
    given, body_value = validate_arguments(
        operation=operation, arguments=arguments, openapi_version=version, document=document
    )
    path = operation.path
    query: list[str] = []
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for arg, value in given:
        if arg.location == "path":
            path = path.replace("{" + arg.name + "}", serialize_path(arg, value))
        elif arg.location == "query":
            query.extend(serialize_query(arg, value))
        elif arg.location == "header":
            headers[arg.name] = serialize_header(arg, value)
        else:
            cookies.extend(serialize_cookie(arg, value))
    _refuse_dot_segments(operation.path, path, given)
    if re.search(r"\{[^}]*\}", path):
        raise RuleViolation(
            "invalid_schema",
            f"The path {operation.path} has a variable no parameter describes.",
        )
    url = server_url(action) + path + ("?" + "&".join(query) if query else "")
    if len(url) > MAX_URL_CHARS:
        raise invalid(
            given[-1][0].key if given else "arguments",
            f"The request URL would be {len(url)} characters; the limit is {MAX_URL_CHARS}.",
        )
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    body = None
    if body_value is not None:
        spec, value = body_value
        body, content_type = encode_body(spec, value)
        if len(body.decode()) > MAX_BODY_CHARS:
            raise RuleViolation(
                "request_body_too_large",
                f"The request body is over {MAX_BODY_CHARS:,} characters.",
                status=413,
                argument=BODY_KEY,
            )
        headers["Content-Type"] = content_type
    return BuiltRequest(method=operation.method.upper(), url=url, headers=headers, body=body)
