"""Swagger 2.0 → OpenAPI 3.0, for documents builders paste or import.

Why written here: PyPI has no kept, pure-Python converter. The sound one is the JavaScript
`swagger2openapi` (Mermade); the Python packages that claim conversion are clients with a
converter attached (pyswagger, last release 2018, converts to its own object model, not to
OpenAPI 3 text), or new single-author tools with no users yet (spec2openapi, 2026). What an
action needs is small and well specified (the "Upgrading from 2.0" rules of the 3.0 spec), so
this module does exactly that, on plain data, and says in `notes` what it could not carry.

What moves where:
* host, basePath, schemes → servers (https first); no host → a note, the server is left to add;
* definitions → components/schemas, parameters → components/parameters (body ones become
  components/requestBodies), responses → components/responses, securityDefinitions →
  components/securitySchemes (basic → http basic, oauth2 flows renamed), every `$ref` rewritten;
* body and formData parameters → requestBody, with consumes (or the global consumes, or
  application/json) as its media types; other parameters' type/format/items/enum/... → schema,
  collectionFormat → style/explode;
* response schema → content per produces; response headers' type... → schema; examples → example;
* schemas: type: file → string/binary, x-nullable → nullable, discriminator → {propertyName}.
"""

from __future__ import annotations

import copy
from typing import Any

from actions.openapi.compat import SCHEMA_FIELDS
from actions.openapi.parsing import parse
from actions.openapi.select import dump

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_FLOWS = {
    "implicit": "implicit",
    "password": "password",
    "application": "clientCredentials",
    "accessCode": "authorizationCode",
}
_REF_PREFIXES = {
    "#/definitions/": "#/components/schemas/",
    "#/parameters/": "#/components/parameters/",
    "#/responses/": "#/components/responses/",
}


class NotSwagger2(ValueError):
    pass


class _Converter:
    def __init__(self, document: dict):
        self.source = document
        self.notes: list[str] = []
        self.body_parameters: set[str] = set()  # names under #/parameters that are body ones
        self.form_parameters: dict[str, dict] = {}

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    # references and schemas

    def ref(self, ref: str) -> str:
        for old, new in _REF_PREFIXES.items():
            if ref.startswith(old):
                name = ref[len(old) :]
                if old == "#/parameters/" and name in self.body_parameters:
                    return "#/components/requestBodies/" + name
                return new + name
        return ref

    def schema(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.schema(item) for item in node]
        if not isinstance(node, dict):
            return node
        result: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                result[key] = self.ref(value)
            elif key == "x-nullable":
                result["nullable"] = value
            elif key == "discriminator" and isinstance(value, str):
                result[key] = {"propertyName": value}
            elif key == "type" and value == "file":
                result["type"] = "string"
                result["format"] = "binary"
            elif key in ("properties", "definitions", "patternProperties") and isinstance(
                value, dict
            ):
                result[key] = {name: self.schema(inner) for name, inner in value.items()}
            elif key in ("example", "enum", "default", "required") or key.startswith("x-"):
                result[key] = copy.deepcopy(value)
            else:
                result[key] = self.schema(value)
        return result

    # parameters

    def simple_schema(self, parameter: dict) -> dict:
        # In the document's own order, so the converted text reads like the original.
        schema = {k: v for k, v in parameter.items() if k in SCHEMA_FIELDS}
        return self.schema(schema)

    def parameter(self, parameter: dict, where: str) -> dict:
        result = {
            k: copy.deepcopy(v)
            for k, v in parameter.items()
            if k in ("name", "in", "description", "required", "allowEmptyValue")
            or k.startswith("x-")
        }
        if parameter.get("in") == "path":
            result["required"] = True
        result["schema"] = self.simple_schema(parameter)
        fmt = parameter.get("collectionFormat")
        if parameter.get("type") == "array" and fmt:
            style = {
                "csv": (
                    "form" if parameter.get("in") in ("query", "formData") else "simple",
                    False,
                ),
                "multi": ("form", True),
                "ssv": ("spaceDelimited", False),
                "pipes": ("pipeDelimited", False),
            }.get(fmt)
            if style is None:
                self.note(
                    f"{where}: collectionFormat '{fmt}' has no OpenAPI 3 equivalent; the "
                    "parameter is sent comma-separated."
                )
            else:
                result["style"], result["explode"] = style
        return result

    def request_body(self, body: dict | None, forms: list[dict], consumes: list[str], where: str):
        if body is not None:
            media = [m for m in consumes if "form" not in m] or ["application/json"]
            request: dict[str, Any] = {
                "content": {m: {"schema": self.schema(body.get("schema", {}))} for m in media}
            }
            if "description" in body:
                request["description"] = body["description"]
            if body.get("required"):
                request["required"] = True
            for key, value in body.items():
                if key.startswith("x-"):
                    request[key] = copy.deepcopy(value)
            return request
        if not forms:
            return None
        has_file = any(f.get("type") == "file" for f in forms)
        media = [m for m in consumes if "form" in m] or (
            ["multipart/form-data"] if has_file else ["application/x-www-form-urlencoded"]
        )
        if has_file and "multipart/form-data" not in media:
            self.note(f"{where}: a file upload is sent as multipart/form-data.")
            media = ["multipart/form-data"]
        properties = {}
        required = []
        for form in forms:
            schema = self.simple_schema(form)
            if "description" in form:
                schema["description"] = form["description"]
            properties[form["name"]] = schema
            if form.get("required"):
                required.append(form["name"])
        schema = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return {"content": {m: {"schema": copy.deepcopy(schema)} for m in media}}

    def resolve_parameter(self, parameter: Any) -> Any:
        if isinstance(parameter, dict) and isinstance(parameter.get("$ref"), str):
            ref = parameter["$ref"]
            if ref.startswith("#/parameters/"):
                found = (self.source.get("parameters") or {}).get(ref[len("#/parameters/") :])
                if isinstance(found, dict):
                    return found
        return parameter

    # operations

    def operation(self, operation: dict, shared: list, where: str) -> dict:  # noqa: C901 - the 2.0 fields, one branch each
        result: dict[str, Any] = {}
        consumes = operation.get("consumes", self.source.get("consumes")) or []
        produces = operation.get("produces", self.source.get("produces")) or []
        body: dict | None = None
        body_ref: str | None = None
        forms: list[dict] = []
        parameters: list = []
        own: list = _as_list(operation.get("parameters"))
        names = {
            (p.get("name"), p.get("in"))
            for p in map(self.resolve_parameter, own)
            if isinstance(p, dict)
        }
        merged = [
            p
            for p in map(self.resolve_parameter, shared)
            if isinstance(p, dict) and (p.get("name"), p.get("in")) not in names
        ]
        for raw in [*own, *merged]:
            parameter = self.resolve_parameter(raw)
            if not isinstance(parameter, dict):
                continue
            location = parameter.get("in")
            if location == "body":
                body = parameter
                if isinstance(raw, dict) and "$ref" in raw:
                    body_ref = self.ref(raw["$ref"])
            elif location == "formData":
                forms.append(parameter)
            elif raw in own and isinstance(raw, dict) and "$ref" in raw:
                parameters.append({"$ref": self.ref(raw["$ref"])})
            elif raw in own:
                parameters.append(self.parameter(parameter, where))
        for key, value in operation.items():
            if key in ("parameters", "consumes", "produces", "schemes"):
                if key == "schemes":
                    self.note(f"{where}: per-operation schemes are not carried over.")
                continue
            if key == "responses" and isinstance(value, dict):
                result[key] = {
                    str(code): self.response(response, produces, f"{where} {code}")
                    for code, response in value.items()
                }
            else:
                result[key] = copy.deepcopy(value)
        if parameters:
            result["parameters"] = parameters
        if body_ref is not None:
            result["requestBody"] = {"$ref": body_ref}
        else:
            request = self.request_body(body, forms, consumes, where)
            if request is not None:
                result["requestBody"] = request
        return result

    def response(self, response: Any, produces: list[str], where: str) -> Any:
        if not isinstance(response, dict):
            return response
        if "$ref" in response:
            return {"$ref": self.ref(response["$ref"])}
        result: dict[str, Any] = {"description": response.get("description", "")}
        media = produces or ["application/json"]
        if "schema" in response:
            result["content"] = {m: {"schema": self.schema(response["schema"])} for m in media}
        examples = response.get("examples")
        if isinstance(examples, dict):
            content = result.setdefault("content", {})
            for mime, example in examples.items():
                content.setdefault(mime, {})["example"] = copy.deepcopy(example)
        if isinstance(response.get("headers"), dict):
            result["headers"] = {
                name: {
                    **({"description": h["description"]} if "description" in h else {}),
                    "schema": self.simple_schema(h),
                }
                for name, h in response["headers"].items()
                if isinstance(h, dict)
            }
        for key, value in response.items():
            if key.startswith("x-"):
                result[key] = copy.deepcopy(value)
        return result

    # the whole document

    def servers(self) -> list[dict]:
        host = self.source.get("host")
        base = self.source.get("basePath") or ""
        schemes = self.source.get("schemes") or ["https"]
        if not isinstance(host, str) or not host:
            self.note(
                "The Swagger document has no host: add the API's server URL under servers "
                "(e.g. https://api.example.com" + (base if isinstance(base, str) else "") + ")."
            )
            return [{"url": base}] if isinstance(base, str) and base else []
        ordered = sorted(
            (s for s in schemes if isinstance(s, str) and s in ("https", "http")),
            key=lambda s: s != "https",
        )
        if not ordered:
            ordered = ["https"]
            self.note(f"The schemes {schemes} are not http or https; https is assumed.")
        return [{"url": f"{scheme}://{host}{base}"} for scheme in ordered]

    def security_scheme(self, name: str, scheme: Any) -> Any:
        if not isinstance(scheme, dict):
            return scheme
        kind = scheme.get("type")
        extras = {k: v for k, v in scheme.items() if k == "description" or k.startswith("x-")}
        if kind == "basic":
            return {"type": "http", "scheme": "basic", **extras}
        if kind == "apiKey":
            return {"type": "apiKey", "name": scheme.get("name"), "in": scheme.get("in"), **extras}
        if kind == "oauth2":
            flow = _FLOWS.get(str(scheme.get("flow")))
            if flow is None:
                self.note(f"Security scheme '{name}': unknown oauth2 flow {scheme.get('flow')!r}.")
                flow = "authorizationCode"
            body: dict[str, Any] = {"scopes": copy.deepcopy(scheme.get("scopes") or {})}
            if flow in ("implicit", "authorizationCode"):
                body["authorizationUrl"] = scheme.get("authorizationUrl", "")
            if flow != "implicit":
                body["tokenUrl"] = scheme.get("tokenUrl", "")
            return {"type": "oauth2", "flows": {flow: body}, **extras}
        return copy.deepcopy(scheme)

    def run(self) -> dict:  # noqa: C901 - the 2.0 top-level fields in the order the spec lists them
        source = self.source
        for name, parameter in (source.get("parameters") or {}).items():
            if isinstance(parameter, dict) and parameter.get("in") == "body":
                self.body_parameters.add(name)
            if isinstance(parameter, dict) and parameter.get("in") == "formData":
                self.form_parameters[name] = parameter
        result: dict[str, Any] = {"openapi": "3.0.3"}
        for key, value in source.items():
            if key == "swagger":
                continue
            if key in ("host", "basePath", "schemes", "consumes", "produces"):
                continue
            if key in ("definitions", "parameters", "responses", "securityDefinitions"):
                continue
            if key == "paths" and isinstance(value, dict):
                result["servers"] = self.servers()
                result["paths"] = self.paths(value)
            else:
                result[key] = copy.deepcopy(value)
        if "servers" not in result:
            result["servers"] = self.servers()
        components: dict[str, Any] = {}
        if isinstance(source.get("definitions"), dict):
            components["schemas"] = {
                name: self.schema(schema) for name, schema in source["definitions"].items()
            }
        if isinstance(source.get("parameters"), dict):
            for name, parameter in source["parameters"].items():
                if name in self.body_parameters:
                    request = self.request_body(parameter, [], source.get("consumes") or [], name)
                    components.setdefault("requestBodies", {})[name] = request
                elif name in self.form_parameters:
                    continue  # inlined into each operation's requestBody
                elif isinstance(parameter, dict):
                    components.setdefault("parameters", {})[name] = self.parameter(
                        parameter, f"parameters/{name}"
                    )
        if isinstance(source.get("responses"), dict):
            components["responses"] = {
                name: self.response(response, source.get("produces") or [], name)
                for name, response in source["responses"].items()
            }
        if isinstance(source.get("securityDefinitions"), dict):
            components["securitySchemes"] = {
                name: self.security_scheme(name, scheme)
                for name, scheme in source["securityDefinitions"].items()
            }
        if components:
            result["components"] = components
        return result

    def paths(self, paths: dict) -> dict:
        result: dict[str, Any] = {}
        for url, item in paths.items():
            if not isinstance(item, dict):
                result[url] = item
                continue
            shared: list = _as_list(item.get("parameters"))
            converted: dict[str, Any] = {}
            plain = [
                p
                for p in shared
                if isinstance(self.resolve_parameter(p), dict)
                and self.resolve_parameter(p).get("in") not in ("body", "formData")
            ]
            if plain:
                converted["parameters"] = [
                    {"$ref": self.ref(p["$ref"])}
                    if isinstance(p, dict) and "$ref" in p
                    else self.parameter(p, url)
                    for p in plain
                ]
            body_shared = [p for p in shared if p not in plain]
            for key, value in item.items():
                if key == "parameters":
                    continue
                if key == "$ref" and isinstance(value, str):
                    converted[key] = self.ref(value)
                elif key in _METHODS and isinstance(value, dict):
                    where = f"{key.upper()} {url}"
                    converted[key] = self.operation(value, body_shared, where)
                else:
                    converted[key] = copy.deepcopy(value)
            result[url] = converted
        return result


def convert_document(document: dict) -> tuple[dict, list[str]]:
    if not isinstance(document, dict) or not str(document.get("swagger", "")).startswith("2"):
        raise NotSwagger2('This is not a Swagger 2.0 document (it has no swagger: "2.0").')
    converter = _Converter(document)
    return converter.run(), converter.notes


def convert(text: str, *, max_bytes: int | None = None) -> tuple[str, list[str]]:
    """(OpenAPI 3.0 text in the same format, notes). Raises SchemaParseError for text that can
    not be read, NotSwagger2 for a document that is not Swagger 2.0."""
    parsed = parse(text, max_bytes=max_bytes)
    result, notes = convert_document(parsed.document)
    return dump(result, parsed.format, parsed.text), notes


__all__ = ["NotSwagger2", "convert", "convert_document"]


def _as_list(value: Any) -> list:
    """A JSON value that should be a list, or an empty one (documents are not to be trusted)."""
    return value if isinstance(value, list) else []
