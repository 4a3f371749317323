"""Product rules on top of OpenAPI validity (DESIGN.md §2, "Actions")."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from actions.openapi.detect import iter_operations
from actions.openapi.problems import WARNING, Problem, escape_pointer_part
from actions.openapi.refs import LocalResolver, RefError
from workspaces.domains import DomainError, host_from_url

OPERATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_OPERATIONS = 30
MAX_SUMMARY = 300
MAX_DESCRIPTION = 300
MAX_PARAMETER_DESCRIPTION = 700
_VARIABLE = re.compile(r"\{([^{}]*)\}")
# What documentation templates leave for the reader to fill in: <subdomain>, [tenant].
_ANGLE_PLACEHOLDER = re.compile(r"<[^<>]*>|\[[A-Za-z_][\w-]*\]")
# A host label such as your-domain, YOUR_INSTANCE, yourcompany: a template, not an API.
_YOUR_LABEL = re.compile(r"^your[\w-]*$", re.IGNORECASE)

InsecureHostCheck = Callable[[str, int | None], bool]


def server_urls(document: dict) -> list[str]:
    """Every server URL, with `{variables}` replaced by their defaults where they have one."""
    servers = document.get("servers")
    if not isinstance(servers, list):
        return []
    urls = []
    for server in servers:
        if isinstance(server, dict) and isinstance(server.get("url"), str):
            urls.append(_expand_variables(server)[0])
    return urls


def _expand_variables(server: dict) -> tuple[str, list[str]]:
    """The URL with defaults substituted, and the names of variables without a default."""
    declared = server.get("variables")
    variables: dict = declared if isinstance(declared, dict) else {}
    missing: list[str] = []

    def substitute(match: re.Match) -> str:
        variable = variables.get(match.group(1))
        if isinstance(variable, dict) and isinstance(variable.get("default"), str):
            return variable["default"]
        missing.append(match.group(1))
        return match.group(0)

    return _VARIABLE.sub(substitute, server["url"]), missing


def server_problems(document: dict) -> tuple[list[Problem], dict | None]:
    """Problems with the first server URL that do not depend on the deployment, and, when the
    URL is well formed, what the insecure-host rule needs: scheme, host, port."""
    servers = document.get("servers")
    if not isinstance(servers, list) or not servers:
        return [
            Problem(
                "Add a server URL, e.g. servers: [{url: https://api.example.com}]; an action "
                "calls the first server listed.",
                "/servers",
                code="missing_server",
            )
        ], None
    first = servers[0]
    if not isinstance(first, dict) or not isinstance(first.get("url"), str):
        return [Problem("The first server needs a url.", "/servers/0", code="missing_server")], None
    pointer = "/servers/0/url"
    if not first["url"].strip():
        return [
            Problem(
                "The server URL is empty; enter the https URL of the API, e.g. "
                "https://api.example.com.",
                pointer,
                code="missing_server",
            )
        ], None
    url, missing = _expand_variables(first)
    if missing:
        names = ", ".join(f"{{{m}}}" for m in missing)
        return [
            Problem(
                f"The server URL has the placeholder {names} with no default value: declare it "
                "under the server's 'variables' with a default (the real value), or write the "
                "real value into the URL.",
                pointer,
                code="server_variable",
                focus=f"{{{missing[0]}}}",
            )
        ], None
    placeholder = _ANGLE_PLACEHOLDER.search(url)
    if placeholder:
        return [
            Problem(
                f"The server URL still has the placeholder {placeholder.group(0)}: replace it "
                "with the real value, e.g. https://api.example.com.",
                pointer,
                code="server_placeholder",
                focus=placeholder.group(0),
            )
        ], None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname
    except ValueError:
        return [
            Problem(
                f"The server URL '{url}' is not a valid URL.", pointer, code="invalid_server_url"
            )
        ], None
    if not parts.scheme or not host:
        return [
            Problem(
                f"The server URL '{url}' is relative; it must be absolute, such as "
                "https://api.example.com.",
                pointer,
                code="relative_server_url",
            )
        ], None
    if parts.scheme.lower() not in ("http", "https"):
        return [
            Problem(
                f"The server URL must use https, not {parts.scheme}.",
                pointer,
                code="insecure_server",
            )
        ], None
    if parts.username is not None or parts.password is not None:
        return [
            Problem(
                "The server URL must not contain a user name or password; set up "
                "authentication for the action instead.",
                pointer,
                code="invalid_server_url",
            )
        ], None
    written = parts.netloc.partition(":")[0]  # the host as typed, for the message
    template = next((label for label in written.split(".") if _YOUR_LABEL.match(label)), None)
    if template is not None:
        return [
            Problem(
                f"The server URL's host {written} has the placeholder '{template}': replace it "
                "with the real name of your instance or domain.",
                pointer,
                code="server_placeholder",
                focus=template,
            )
        ], None
    try:
        # The very function saving an action uses for its domain: what passes here, saves.
        domain = host_from_url(url)
    except DomainError as exc:
        return [
            Problem(
                f"The server URL has no valid host: {exc} Enter the API's domain name, such "
                "as https://api.example.com.",
                pointer,
                code="invalid_server_host",
            )
        ], None
    server = {"scheme": parts.scheme.lower(), "host": host, "port": port, "url": url}
    server["domain"] = domain
    return [], server


def is_local_host(domain: str) -> bool:
    """An IP literal or a one-label name (localhost, intranet): no domain the public can own.
    `domain` is normalised (host_from_url)."""
    if "." not in domain:
        return True
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        return False
    return True


def local_host_problem(
    server: dict | None,
    allow_local_hosts: bool,
    position=None,
    allow_insecure_host: InsecureHostCheck | None = None,
) -> Problem | None:
    """Servers at an IP address or a one-label name only where the deployment allows them:
    IP allowlist entries (settings.ACTION_DOMAIN_ALLOW_IP_LITERALS), or that very host and
    port as a private destination (`allow_insecure_host`: local development, the sandbox)."""
    if server is None or allow_local_hosts or not is_local_host(server["domain"]):
        return None
    if allow_insecure_host is not None and allow_insecure_host(server["host"], server["port"]):
        return None
    line, column = position or (None, None)
    return Problem(
        f"The server URL's host {server['domain']} is an IP address or a name without a "
        "domain; enter the API's domain name instead, such as https://api.example.com.",
        "/servers/0/url",
        line,
        column,
        code="invalid_server_host",
    )


def insecure_server_problem(
    server: dict | None, allow_insecure_host: InsecureHostCheck | None, position=None
) -> Problem | None:
    """`https` on port 443 is always fine; plain http or another port only for hosts the
    deployment allows (`allow_insecure_host(host, port)`, e.g. local development)."""
    if server is None:
        return None
    scheme, host, port = server["scheme"], server["host"], server["port"]
    if scheme == "https" and port in (None, 443):
        return None
    if allow_insecure_host is not None and allow_insecure_host(host, port):
        return None
    shown = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    line, column = position or (None, None)
    return Problem(
        f"The server URL {shown} must use https on the default port 443; plain http and other "
        "ports are only allowed for hosts this deployment allows (such as local development).",
        "/servers/0/url",
        line,
        column,
        code="insecure_server",
    )


def info_problems(document: dict) -> list[Problem]:
    info = document.get("info")
    if not isinstance(info, dict):
        return []  # the OpenAPI meta-schema already says 'info' is missing or wrong
    problems = []
    title = info.get("title")
    if not isinstance(title, str) or not title.strip():
        problems.append(
            Problem("Give the API a title (info.title).", "/info/title", code="missing_title")
        )
    version = info.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append(
            Problem(
                'Give the API a version (info.version), e.g. "v1.0.0".',
                "/info/version",
                code="missing_info_version",
            )
        )
    return problems


def operation_problems(document: dict, resolver: LocalResolver) -> list[Problem]:
    """operationId present, well formed and unique; at most 30 operations; long texts."""
    problems: list[Problem] = []
    seen: dict[Any, str] = {}
    count = 0
    described: set[str] = set()
    for path, method, operation, pointer, item in iter_operations(document, resolver):
        count += 1
        where = f"{method.upper()} {path}"
        operation_id = operation.get("operationId")
        if operation_id is None:
            problems.append(
                Problem(
                    f"The operation {where} needs an operationId (letters, digits, _ and -, "
                    'at most 64), e.g. "listPets".',
                    pointer,
                    code="missing_operation_id",
                )
            )
        elif not isinstance(operation_id, str) or not OPERATION_ID.match(operation_id):
            problems.append(
                Problem(
                    f"The operationId of {where} may only use letters, digits, _ and - "
                    "(1 to 64 characters).",
                    f"{pointer}/operationId",
                    code="invalid_operation_id",
                )
            )
        elif operation_id in seen:
            problems.append(
                Problem(
                    f"The operationId '{operation_id}' of {where} is already used by "
                    f"{seen[operation_id]}; each operationId must be unique.",
                    f"{pointer}/operationId",
                    code="duplicate_operation_id",
                )
            )
        else:
            seen[operation_id] = where
        problems.extend(_text_warnings(operation, pointer, where))
        for source, source_pointer in (
            (item.get("parameters"), pointer.rsplit("/", 1)[0] + "/parameters"),
            (operation.get("parameters"), f"{pointer}/parameters"),
        ):
            problems.extend(_parameter_warnings(source, source_pointer, resolver, described))
    if count > MAX_OPERATIONS:
        problems.insert(  # first: the one problem that matters most when there are many
            0,
            Problem(
                f"The schema has {count} operations; an action can have at most "
                f"{MAX_OPERATIONS}. Split the API into several actions or remove operations.",
                "/paths",
                code="too_many_operations",
            ),
        )
    return problems


def _text_warnings(operation: dict, pointer: str, where: str) -> list[Problem]:
    warnings = []
    for key, limit, code in (
        ("summary", MAX_SUMMARY, "long_summary"),
        ("description", MAX_DESCRIPTION, "long_description"),
    ):
        text = operation.get(key)
        if isinstance(text, str) and len(text) > limit:
            warnings.append(
                Problem(
                    f"The {key} of {where} has {len(text)} characters; keep it to {limit} or "
                    "fewer (longer text is cut when the model sees it).",
                    f"{pointer}/{key}",
                    severity=WARNING,
                    code=code,
                )
            )
    return warnings


def _parameter_warnings(
    parameters: Any, pointer: str, resolver: LocalResolver, described: set[str]
) -> list[Problem]:
    if not isinstance(parameters, list):
        return []
    warnings = []
    for index, parameter in enumerate(parameters):
        try:
            parameter, where = resolver.deref(parameter, f"{pointer}/{index}")
        except RefError:
            continue
        if not isinstance(parameter, dict) or where in described:
            continue
        described.add(where)  # a shared (referenced) parameter is reported once
        text = parameter.get("description")
        if isinstance(text, str) and len(text) > MAX_PARAMETER_DESCRIPTION:
            name = parameter.get("name")
            warnings.append(
                Problem(
                    f"The description of parameter '{name}' has {len(text)} characters; keep "
                    f"it to {MAX_PARAMETER_DESCRIPTION} or fewer.",
                    f"{where}/description",
                    severity=WARNING,
                    code="long_parameter_description",
                )
            )
    return warnings


def path_placeholder_problems(document: dict) -> list[Problem]:
    """Paths that still hold what documentation templates leave to fill in (`<project_id>`,
    `[tenant]`, `your-workspace`): the runtime would send them as they are."""
    paths = document.get("paths")
    if not isinstance(paths, dict):
        return []
    problems = []
    for path in paths:
        if not isinstance(path, str):
            continue
        found = _ANGLE_PLACEHOLDER.search(path)
        placeholder = found.group(0) if found else None
        if placeholder is None:
            placeholder = next(
                (
                    segment
                    for segment in path.split("/")
                    if _YOUR_LABEL.match(segment) or "YOUR" in segment
                ),
                None,
            )
        if placeholder is None:
            continue
        name = re.sub(r"[^\w-]", "", placeholder) or "value"
        problems.append(
            Problem(
                f"The path {path[:120]} still has the placeholder {placeholder}: replace it "
                f"with the real value, or, if it varies per call, write it as {{{name}}} and "
                f"declare a path parameter '{name}'.",
                "/paths/" + escape_pointer_part(path),
                code="path_placeholder",
                focus=placeholder,
            )
        )
    return problems


def product_problems(document: dict, resolver: LocalResolver) -> tuple[list[Problem], dict | None]:
    """All product-rule problems except the deployment-dependent insecure-host one."""
    servers, server = server_problems(document)
    problems = [
        *servers,
        *info_problems(document),
        *path_placeholder_problems(document),
        *operation_problems(document, resolver),
    ]
    return problems, server
