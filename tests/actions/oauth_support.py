"""Shared pieces of the OAuth tests: the sandbox provider world and a user agent over real HTTP.

`sandbox_world` registers a DOT application on the live server (the sandbox provider) and an
OAuth action of a GPT pointed at it, in the first of two workspaces. `Visitor` is a person's
browser in miniature: cookies, CSRF, the provider's consent form. Everything talks to 127.0.0.1.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests  # noqa: TID251 - tests play the user's browser against the live server
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import get_application_model
from pytest_httpserver import HTTPServer

from actions.models import Action, AuthType, TokenExchangeMethod
from api.serializers import callback_url
from sandbox.openapi import todo_openapi_document, todo_openapi_text
from tests.factories import PASSWORD, add_member, make_gpt, make_workspace
from workspaces.models import Role


@dataclass
class World:
    site: str  # SITE_URL: where the platform is reached
    provider: str  # where the sandbox provider is reached (same server, maybe another name)
    port: int
    acme: object
    globex: object
    user: object
    colleague: object
    stranger: object
    gpt: object
    action: Action
    application: object
    client_secret: str


def allow_private(settings, *ports: int) -> None:
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}" for port in ports]


def sandbox_world(
    live_server,
    settings,
    *,
    method: str = TokenExchangeMethod.DEFAULT_POST,
    site_host: str = "127.0.0.1",
    provider_host: str = "127.0.0.1",
) -> World:
    """Two workspaces; in Acme a GPT with an OAuth action against the live sandbox provider."""
    port = urlsplit(live_server.url).port
    site = f"http://{site_host}:{port}"
    provider = f"http://{provider_host}:{port}"
    settings.SITE_URL = site
    allow_private(settings, port)
    acme = make_workspace("Acme")
    globex = make_workspace("Globex")
    user = add_member(acme, role=Role.MEMBER)
    colleague = add_member(acme, role=Role.MEMBER)
    stranger = add_member(globex, role=Role.OWNER)
    gpt = make_gpt(acme, name="To-do helper", visibility="workspace")
    secret = generate_client_secret()
    application_model = get_application_model()
    application = application_model.objects.create(
        name="Sandbox to-dos",
        client_type=application_model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=application_model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=callback_url(gpt.pk),
        client_secret=secret,  # hashed by DOT on save; the action keeps the plaintext
        hash_client_secret=True,
    )
    action = Action.objects.create(
        gpt=gpt,
        workspace=acme,
        domain=provider_host,
        schema=todo_openapi_text(provider),
        schema_format="json",
        openapi_version="3.1.0",
        # What save stores for the read paths (the rows are written directly here).
        server_url=todo_openapi_document(provider)["servers"][0]["url"],
        title=todo_openapi_document(provider)["info"]["title"],
        auth_type=AuthType.OAUTH,
        oauth_client_id=application.client_id,
        oauth_client_secret=secret,
        authorization_url=f"{provider}/o/authorize/",
        token_url=f"{provider}/o/token/",
        revocation_url=f"{provider}/o/revoke_token/",
        scope="todos",
        token_exchange_method=method,
    )
    return World(
        site=site,
        provider=provider,
        port=port,
        acme=acme,
        globex=globex,
        user=user,
        colleague=colleague,
        stranger=stranger,
        gpt=gpt,
        action=action,
        application=application,
        client_secret=secret,
    )


def fake_provider_action(gpt, server: HTTPServer, **fields) -> Action:
    """An OAuth action whose provider is a pytest-httpserver on 127.0.0.1."""
    base = f"http://127.0.0.1:{server.port}"
    values = {
        "domain": "127.0.0.1",
        "auth_type": AuthType.OAUTH,
        "oauth_client_id": "client-abc",
        "oauth_client_secret": "s3cret/with+odd=chars",
        "authorization_url": f"{base}/authorize",
        "token_url": f"{base}/token",
        "revocation_url": f"{base}/revoke",
        "scope": "todos read",
    }
    values.update(fields)
    return Action.objects.create(gpt=gpt, workspace=gpt.workspace, **values)


def start_fake_provider() -> HTTPServer:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    return server


def silent_server() -> socket.socket:
    """A listening socket that never answers: the kernel completes the TCP handshake, then
    nothing, so a client waits for its read timeout."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


class _FormParser(HTMLParser):
    """The first form's action and its hidden inputs (what a browser would submit); on a page
    with a <main>, the first form in it (the header's log-out form is not the page's form)."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self.action: str | None = None
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self.fields, self.action, self._in_form, self._done = {}, None, False, False
            return
        if self._done:
            return
        if tag == "form":
            self._in_form = True
            self.action = attrs.get("action") or ""
        elif tag == "input" and self._in_form and attrs.get("type") == "hidden":
            self.fields[attrs.get("name", "")] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def hidden_fields(html: str, url: str) -> tuple[str, dict[str, str]]:
    parser = _FormParser()
    parser.feed(html)
    return urljoin(url, parser.action or url), parser.fields


class Visitor:
    """One person's browser: a cookie jar, and no proxies from the environment."""

    def __init__(self):
        self.session = requests.Session()
        self.session.trust_env = False

    def get(self, url: str, **kwargs) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 20)
        return self.session.get(url, **kwargs)

    def post_form(self, url: str, data: dict, **kwargs) -> requests.Response:
        """POST like a browser form: the CSRF token of the page's origin included."""
        host = urlsplit(url).hostname
        token = self.session.cookies.get("csrftoken", domain=host) or self.session.cookies.get(
            "csrftoken"
        )
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 20)
        return self.session.post(
            url, data={"csrfmiddlewaretoken": token, **data}, headers={"Referer": url}, **kwargs
        )

    def login(self, base: str, user) -> None:
        self.get(f"{base}/accounts/login/")
        response = self.post_form(
            f"{base}/accounts/login/", {"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 302, response.text[:500]

    def authorize_at_provider(self, authorize_url: str, *, allow: bool = True) -> str:
        """Show the provider's consent page and click Authorize (or Cancel); return where the
        provider sends the browser back (the callback URL with code or error)."""
        page = self.get(authorize_url)
        assert page.status_code == 200, page.text[:500]
        assert "Sandbox to-dos" in page.text
        action_url, fields = hidden_fields(page.text, authorize_url)
        if allow:
            fields["allow"] = "Authorize"
        answer = self.post_form(action_url, fields)
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def start(self, world: World, *, next_path: str = "") -> str:
        url = f"{world.site}/actions/{world.action.pk}/oauth/start"
        if next_path:
            url += f"?next={next_path}"
        response = self.get(url)
        assert response.status_code == 302, response.text[:500]
        return response.headers["Location"]

    def connect(self, world: World, *, next_path: str = "") -> requests.Response:
        """The whole flow: start, approve at the provider, come back. Returns the callback's
        answer (a redirect to where the user started, or an error page)."""
        callback = self.authorize_at_provider(self.start(world, next_path=next_path))
        return self.get(callback)


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def add_operations(world: World) -> None:
    """The action's operations as the schema engine would detect them (rows written directly,
    so this test does not depend on the engine)."""
    from actions.models import Operation

    document = todo_openapi_document(world.provider)
    # Read paths take the server from the stored field (set at save), never from the schema.
    world.action.server_url = document["servers"][0]["url"]
    world.action.title = document["info"]["title"]
    world.action.save(update_fields=["server_url", "title"])
    for path, item in document["paths"].items():
        for method, operation in item.items():
            consequential = operation.get("x-openai-isConsequential", method != "get")
            Operation.objects.create(
                action=world.action,
                gpt=world.gpt,
                operation_id=operation["operationId"],
                method=method.upper(),
                path=path,
                summary=operation.get("summary", ""),
                consequential=consequential,
                parameters=operation.get("parameters", []),
                request_body=operation.get("requestBody"),
            )
