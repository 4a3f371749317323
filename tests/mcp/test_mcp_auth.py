"""Authorization as MCP clients expect it, end to end over real HTTP.

The whole connect from zero is driven by the official SDK's OAuth client provider: the 401's
RFC 9728 challenge, protected-resource and RFC 8414 metadata discovery, dynamic registration,
authorization code with PKCE and the RFC 8707 resource, the consent page (followed by a signed-in
browser session) and the token. Then the scopes and the resource binding are held to.
"""

import asyncio
import json
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import httpx2
import pytest
from django.test import Client
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from oauth2_provider.models import get_access_token_model, get_application_model

from tests.factories import PASSWORD
from tests.mcp.support import issue_token, mcp_session

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the handler reads the redirect


class _Form(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "hidden" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


class MemoryStorage:
    def __init__(self):
        self.tokens = self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info):
        self.client = client_info


def session_cookie(user) -> str:
    client = Client()
    client.login(username=user.username, password=PASSWORD)
    return client.cookies["sessionid"].value


class Browser:
    """The person: signed in, follows the authorize URL, reads the consent page, allows."""

    def __init__(self, site, cookie):
        self.site, self.cookie = site, cookie
        self.consent_page = ""
        self.redirect = ""

    async def redirect_handler(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(cookies={"sessionid": self.cookie}) as http:
            page = await http.get(authorization_url)
            assert page.status_code == 200, page.text[:500]
            self.consent_page = page.text
            form = _Form()
            form.feed(page.text)
            answer = await http.post(
                authorization_url.split("?")[0],
                data={**form.fields, "allow": "Authorize"},
                headers={"Referer": self.site + "/o/authorize/"},
            )
            assert answer.status_code == 302, answer.text[:500]
            self.redirect = answer.headers["location"]

    async def callback_handler(self) -> AuthorizationCodeResult:
        query = parse_qs(urlparse(self.redirect).query)
        return AuthorizationCodeResult(
            code=query["code"][0], state=query["state"][0], iss=query.get("iss", [None])[0]
        )


def test_connect_from_zero_with_the_sdk_oauth_client(world):
    member = world["member"]
    browser = Browser(world["site"], session_cookie(member))
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=world["url"],
        client_metadata=OAuthClientMetadata(
            client_name="Test MCP host",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )

    async def go():
        async with mcp_session(world["url"], auth=provider) as session:
            return (await session.list_tools()).tools

    tools = asyncio.run(go())

    assert {tool.name for tool in tools} == {"getWeather", "createNote"}
    assert "Weather helper" in browser.consent_page and "Acme" in browser.consent_page
    application = get_application_model().objects.get(name="Test MCP host")
    assert application.registration_source == "dcr"
    # Besides the RFC 7592 registration token (its own scope, no user), one MCP token.
    [token] = get_access_token_model().objects.filter(application=application, user__isnull=False)
    assert token.user == member
    assert token.scope == "mcp"
    assert token.resource == [world["url"]]
    raw = storage.tokens.access_token

    # Bound to this GPT's endpoint: not another GPT's, not the REST API.
    other = make_visible_gpt(world)
    status = asyncio.run(http_status(f"{world['site']}/mcp/gpts/{other.pk}", raw))
    assert status == 401
    api = Client().get("/api/v1/workspaces/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.status_code in (401, 403)


def make_visible_gpt(world):
    from tests.factories import make_gpt

    return make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")


async def http_status(url, token=None, method="POST"):
    headers = {"Accept": "application/json, text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx2.AsyncClient() as http:
        response = await http.request(method, url, headers=headers, json=body)
        return response.status_code


async def raw_request(url, token=None):
    headers = {"Accept": "application/json, text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    async with httpx2.AsyncClient() as http:
        return await http.post(url, headers=headers, json=body)


def test_without_a_token_the_challenge_names_the_metadata(world):
    response = asyncio.run(raw_request(world["url"]))
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    metadata_url = (
        f"{world['site']}/.well-known/oauth-protected-resource/mcp/gpts/{world['gpt'].pk}"
    )
    assert challenge.startswith("Bearer ") and f'resource_metadata="{metadata_url}"' in challenge
    assert response.json()["code"] == "authentication_required"

    client = Client()
    prm = client.get(metadata_url[len(world["site"]) :]).json()
    assert prm["resource"] == world["url"]
    assert prm["authorization_servers"] == [world["site"]]
    assert prm["scopes_supported"] == ["mcp"]
    asm = client.get("/.well-known/oauth-authorization-server").json()
    assert asm["issuer"] == "http://testserver"  # the origin that served it
    assert asm["registration_endpoint"].endswith("/o/register/")
    assert asm["code_challenge_methods_supported"] == ["S256"]
    assert asm["response_types_supported"] == ["code"]
    assert "password" not in asm["grant_types_supported"]


@pytest.mark.parametrize("scope", ["read write", "read", "todos"])
def test_a_token_without_mcp_scope_is_refused(world, scope):
    token = issue_token(world["member"], scope=scope)
    response = asyncio.run(raw_request(world["url"], token))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert response.json()["code"] == "insufficient_scope"


def test_an_mcp_token_opens_nothing_in_the_rest_api(world):
    token = issue_token(world["member"], scope="mcp")
    client = Client()
    for path in ("/api/v1/workspaces/", f"/api/v1/gpts/{world['gpt'].pk}/tools/"):
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 403, path


def test_bad_expired_and_inactive_tokens_are_401(world):
    member = world["member"]
    assert asyncio.run(http_status(world["url"], "not-a-token")) == 401
    expired = issue_token(member, days=-1)
    assert asyncio.run(http_status(world["url"], expired)) == 401
    token = issue_token(member)
    member.is_active = False
    member.save()
    assert asyncio.run(http_status(world["url"], token)) == 401


def test_a_token_for_another_resource_is_refused(world):
    other = make_visible_gpt(world)
    token = issue_token(world["member"], resource=f"{world['site']}/mcp/gpts/{other.pk}")
    response = asyncio.run(raw_request(world["url"], token))
    assert response.status_code == 401
    assert "another resource" in response.json()["detail"]
    # GPT 1 is not a prefix of GPT 12: the bound resource is matched by path segment.
    assert asyncio.run(http_status(f"{world['site']}/mcp/gpts/{other.pk}", token)) != 401


def test_another_workspace_gpt_is_not_found(world):
    token = issue_token(world["member"])
    url = f"{world['site']}/mcp/gpts/{world['other_gpt'].pk}"
    assert asyncio.run(http_status(url, token)) == 404
    assert asyncio.run(http_status(f"{world['site']}/mcp/gpts/999999999", token)) == 404
    only_me = make_visible_gpt(world)
    only_me.visibility = "only_me"
    only_me.save()
    assert asyncio.run(http_status(f"{world['site']}/mcp/gpts/{only_me.pk}", token)) == 404
    for path in ("/mcp/gpts/abc", "/mcp/", "/mcp/gpts/1/extra"):
        assert asyncio.run(http_status(world["site"] + path, token)) == 404


def test_mcp_disabled_is_403_at_once(world):
    token = issue_token(world["member"])

    async def session_then_off():
        async with mcp_session(world["url"], token) as session:
            assert len((await session.list_tools()).tools) == 2
            await toggle(False)
            with pytest.raises(Exception):  # noqa: B017, PT011 - the transport's own error
                await session.list_tools()

    from asgiref.sync import sync_to_async

    from workspaces.models import Workspace

    toggle = sync_to_async(
        lambda on: Workspace.objects.filter(pk=world["acme"].pk).update(mcp_enabled=on)
    )
    asyncio.run(session_then_off())
    response = asyncio.run(raw_request(world["url"], token))
    assert response.status_code == 403 and response.json()["code"] == "mcp_disabled"


def test_a_session_is_bound_to_its_credential(world):
    """Another user's token can not use a session id it learnt."""
    member_token = issue_token(world["member"])
    owner_token = issue_token(world["owner"])

    async def go():
        headers = {"Accept": "application/json, text/event-stream"}
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        async with httpx2.AsyncClient() as http:
            opened = await http.post(
                world["url"],
                json=init,
                headers={**headers, "Authorization": f"Bearer {member_token}"},
            )
            session_id = opened.headers["mcp-session-id"]
            hijack = await http.post(
                world["url"],
                json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
                headers={
                    **headers,
                    "Authorization": f"Bearer {owner_token}",
                    "Mcp-Session-Id": session_id,
                    "Mcp-Protocol-Version": "2025-11-25",
                },
            )
            return hijack.status_code

    assert asyncio.run(go()) == 404


def register(site, **metadata):
    async def go():
        async with httpx2.AsyncClient() as http:
            return await http.post(f"{site}/o/register/", json=metadata)

    return asyncio.run(go())


def test_registered_clients_get_only_mcp_for_one_gpt(world):
    response = register(
        world["site"],
        client_name="Sneaky",
        redirect_uris=[REDIRECT_URI],
        token_endpoint_auth_method="none",
    )
    assert response.status_code == 201, response.text
    client_id = response.json()["client_id"]
    browser = Client()
    browser.force_login(world["owner"])
    base = {
        "client_id": client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        "state": "s",
    }
    # Asking for read/write: refused by the validator (invalid_scope back to the client).
    asked = browser.get("/o/authorize/", {**base, "scope": "read write", "resource": world["url"]})
    assert asked.status_code == 302
    assert "error=invalid_scope" in asked["Location"]
    # No MCP resource: refused on the page.
    no_resource = browser.get("/o/authorize/", {**base, "scope": "mcp"})
    assert no_resource.status_code == 400 and b"invalid_target" in no_resource.content
    elsewhere = browser.get(
        "/o/authorize/", {**base, "scope": "mcp", "resource": "https://evil.example/api"}
    )
    assert elsewhere.status_code == 400
    fine = browser.get("/o/authorize/", {**base, "scope": "mcp", "resource": world["url"]})
    assert fine.status_code == 200 and b"Weather helper" in fine.content


def test_registration_is_bounded(world, settings):
    settings.MCP_DCR_PER_ADDRESS_PER_HOUR = 2
    for _ in range(2):
        assert register(world["site"], redirect_uris=[REDIRECT_URI]).status_code == 201
    limited = register(world["site"], redirect_uris=[REDIRECT_URI])
    assert limited.status_code == 429
    settings.MCP_DCR_PER_ADDRESS_PER_HOUR = 100
    settings.MCP_DCR_MAX_CLIENTS = 2
    assert register(world["site"], redirect_uris=[REDIRECT_URI]).status_code == 429
    settings.MCP_DCR_MAX_CLIENTS = 100
    machine = register(
        world["site"], redirect_uris=[REDIRECT_URI], grant_types=["client_credentials"]
    )
    assert machine.status_code == 400
    assert register(world["site"], redirect_uris="nope").status_code == 400
    assert json.loads(register(world["site"], redirect_uris=[]).text)["error"]


def test_resource_metadata_reveals_nothing_about_which_gpts_exist(world):
    client = Client()
    real = client.get(f"/.well-known/oauth-protected-resource/mcp/gpts/{world['other_gpt'].pk}")
    missing = client.get("/.well-known/oauth-protected-resource/mcp/gpts/987654321")
    assert real.status_code == missing.status_code == 200
    assert set(real.json()) == set(missing.json())
    assert real.json()["resource_name"] == missing.json()["resource_name"]
    assert "Globex" not in real.content.decode()
