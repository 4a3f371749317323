"""Secrets stay secret when echoed in another shape (issue 12.6).

An upstream API or an OAuth provider that repeats what it received rarely repeats it byte for
byte: JSON escapes it, a URL or a form percent-encodes it, a debug page base64-encodes it (alone
or inside a longer value), some upper-case it. One echoing server per shape, reached through the
real runtime or the real OAuth flow on 127.0.0.1; then no shape of the secret may be in what
the user or the builder is shown.
"""

from __future__ import annotations

import base64
import json
from html import unescape
from urllib.parse import quote, quote_plus

import pytest
from rest_framework.test import APIClient
from werkzeug import Response

from actions.models import ConnectedAccount
from actions.services import action_create
from kernel.masking import mask_secrets
from tests.actions.providers import CLIENT_SECRET, EmulatedProvider, Journey, with_quirks
from tests.factories import add_member, make_gpt, make_workspace
from workspaces.models import Plan, Role
from workspaces.services import domain_policy_update

# Written independently of kernel.masking: how each shape is made, by the book.
SHAPES = {
    "raw": lambda s: s,
    "json": lambda s: json.dumps(s)[1:-1],
    "json_slashes": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "quote": lambda s: quote(s),
    "quote_safe_nothing": lambda s: quote(s, safe=""),
    "quote_plus": lambda s: quote_plus(s),
    "quote_lower_hex": lambda s: quote(s, safe="").lower(),
    "base64": lambda s: base64.b64encode(s.encode()).decode(),
    "base64_unpadded": lambda s: base64.b64encode(s.encode()).decode().rstrip("="),
    "base64_urlsafe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
    "base64_urlsafe_unpadded": lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("="),
    "base64_inside_1": lambda s: base64.b64encode(b"u:" + s.encode()).decode(),
    "base64_inside_2": lambda s: base64.b64encode(b"me:" + s.encode()).decode(),
    "base64_inside_3": lambda s: base64.b64encode(b"user:" + s.encode()).decode(),
    "upper": lambda s: s.upper(),
    "lower": lambda s: s.lower(),
}

KEY = 'sk-Live/KEY+abc="9f2d7b1a4c6f'
BASIC_PAIR = "ada:Pa55/word+Secret=9c1e7b"


def all_shapes(secret: str) -> dict[str, str]:
    return {name: make(secret) for name, make in SHAPES.items()}


def leaks(text: str, secret: str) -> list[str]:
    return [name for name, form in all_shapes(secret).items() if form in text]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_mask_secrets_masks_each_shape(shape):
    text = f"prefix {SHAPES[shape](KEY)} suffix"
    masked = mask_secrets(text, [KEY])
    assert leaks(masked, KEY) == []
    assert masked.startswith("prefix ") and masked.endswith(" suffix")


def test_short_keys_are_masked_as_whole_tokens_only():
    assert mask_secrets("key k3y9 refused; k3y9.", ["k3y9"]) == "key … refused; ….", (
        "a short key standing alone must not show"
    )
    assert mask_secrets("K3Y9 was wrong", ["k3y9"]) == "… was wrong"
    assert mask_secrets("k3y9abc and abck3y9", ["k3y9"]) == "k3y9abc and abck3y9"


def test_text_without_secrets_is_left_alone():
    text = 'plain {"json": "text"} with %2F and == padding'
    assert mask_secrets(text, [KEY, "", "other-secret-value"]) == text


# The runtime: an upstream API echoing the credential in one shape per run --------------------


@pytest.fixture
def world(db, settings, httpserver):
    port = httpserver.port
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}"]
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    settings.SITE_URL = "http://testserver"
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    owner = add_member(acme, role=Role.OWNER)
    builder = add_member(acme, role=Role.BUILDER)
    member = add_member(acme, role=Role.MEMBER)
    domain_policy_update(workspace=acme, actor=owner, allow_all=False, allowed=["127.0.0.1"])
    return {"acme": acme, "builder": builder, "member": member, "server": httpserver}


def echo_schema(port: int) -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": "Echo", "version": "1"},
            "servers": [{"url": f"http://127.0.0.1:{port}"}],
            "paths": {
                "/echo": {
                    "get": {
                        "operationId": "echo",
                        "responses": {"200": {"description": "OK"}},
                    }
                }
            },
        }
    )


def echoing(secret: str, shape: str, status: int = 400):
    def handler(request):
        shown = SHAPES[shape](secret)
        body = json.dumps({"error": f"rejected credential {shown}"}).replace(
            json.dumps(shown)[1:-1], shown
        )  # the shape exactly as made, not escaped again by this JSON
        return Response(
            body, status=status, content_type="application/json", headers={"X-Echo": shown}
        )

    return handler


def run_echo(world, auth: dict):
    gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    action = action_create(
        gpt=gpt,
        acting_user=world["builder"],
        schema=echo_schema(world["server"].port),
        auth=auth,
    )
    client = APIClient()
    client.force_authenticate(world["member"])
    return client.post(
        f"/api/v1/actions/{action.pk}/operations/echo/run",
        {"arguments": {}, "consent": "allow"},
        format="json",
    )


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_an_echoed_bearer_key_is_masked_in_every_shape(world, shape):
    world["server"].expect_request("/echo").respond_with_handler(echoing(KEY, shape))
    answer = run_echo(world, {"type": "api_key", "auth_type": "bearer", "api_key": KEY})
    assert answer.status_code == 200, answer.json()
    text = answer.content.decode()
    assert "rejected credential" in text
    assert leaks(text, KEY) == [], text
    assert leaks(json.loads(text)["response"]["body"], KEY) == []


@pytest.mark.parametrize("shape", ["raw", "json", "quote_plus", "base64", "upper"])
def test_the_password_half_of_a_basic_key_is_masked(world, shape):
    password = BASIC_PAIR.split(":", 1)[1]
    world["server"].expect_request("/echo").respond_with_handler(echoing(password, shape))
    answer = run_echo(world, {"type": "api_key", "auth_type": "basic", "api_key": BASIC_PAIR})
    body = json.loads(answer.content)["response"]["body"]
    assert "rejected credential" in body
    assert leaks(body, password) == [], body
    assert leaks(answer.content.decode(), BASIC_PAIR) == []


def test_a_short_custom_header_key_is_masked_where_it_stands_alone(world):
    world["server"].expect_request("/echo").respond_with_handler(echoing("k3y9", "raw"))
    answer = run_echo(
        world,
        {"type": "api_key", "auth_type": "custom", "custom_header": "X-Key", "api_key": "k3y9"},
    )
    body = json.loads(answer.content)["response"]["body"]
    assert "rejected credential" in body and "k3y9" not in body
    assert answer.json()["response"]["headers"]["x-echo"] != "k3y9"


# The OAuth flow: a token endpoint echoing the request it refuses ------------------------------


class EchoingProvider(EmulatedProvider):
    """Refuses every token request and repeats the client secret in `shape`."""

    shape = "raw"

    def _token(self, request):
        self.token_requests.append(request.form.to_dict())
        shown = SHAPES[self.shape](CLIENT_SECRET)
        # Written by hand so the shape reaches the client exactly as made (the secret has no
        # quote or backslash, so this is valid JSON).
        body = '{"error": "invalid_client", "error_description": "got ' + shown + '"}'
        return Response(body, status=401, content_type="application/json")

    def _revoke(self, request):
        return self._token(request)


@pytest.fixture
def oauth_world(world, settings):
    server = world["server"]
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{server.port}"]

    def make(shape: str, method: str = "default_post"):
        provider = EchoingProvider(server, with_quirks("google"))
        provider.shape = shape
        gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
        action = action_create(
            gpt=gpt,
            acting_user=world["builder"],
            schema=provider.schema(),
            auth=provider.auth(token_exchange_method=method),
        )
        return provider, Journey(user=world["member"], action=action, provider=provider)

    return make


SHAPES_IN_JSON_TEXT = sorted(s for s in SHAPES if s != "json")  # json: same text as raw here


@pytest.mark.parametrize("shape", SHAPES_IN_JSON_TEXT)
@pytest.mark.parametrize("method", ["default_post", "basic_auth_header"])
def test_the_callback_page_never_shows_the_client_secret(oauth_world, shape, method):
    provider, journey = oauth_world(shape, method)
    page = journey.connect()
    html = page.content.decode()
    assert page.status_code == 502
    assert "invalid_client" in html and "got " in html
    # Django's autoescape writes & as &amp;: look at the page as the browser shows it too.
    assert leaks(html, CLIENT_SECRET) == [], html
    assert leaks(unescape(html), CLIENT_SECRET) == [], html
    assert not ConnectedAccount.objects.exists()


@pytest.mark.parametrize("shape", ["raw", "quote_plus", "base64_inside_2", "upper"])
def test_a_refresh_refusal_never_shows_the_client_secret(oauth_world, shape):
    provider, journey = oauth_world(shape)
    ConnectedAccount.objects.create(
        user=journey.user,
        action=journey.action,
        gpt=journey.action.gpt,
        workspace=journey.action.workspace,
        access_token="at-old-token-value",
        refresh_token="rt-old-token-value",
        expires_at="2000-01-01T00:00:00Z",
    )
    answer = journey.run()
    assert answer.status_code == 401
    assert "got " in answer.json()["detail"]
    assert leaks(answer.content.decode(), CLIENT_SECRET) == []
    assert "rt-old-token-value" not in answer.content.decode()


@pytest.mark.parametrize("shape", ["raw", "quote", "base64"])
def test_a_revocation_refusal_never_shows_the_client_secret(oauth_world, shape):
    provider, journey = oauth_world(shape)
    account = ConnectedAccount.objects.create(
        user=journey.user,
        action=journey.action,
        gpt=journey.action.gpt,
        workspace=journey.action.workspace,
        access_token="at-old-token-value",
        refresh_token="rt-old-token-value",
    )
    answer = journey.disconnect(account.pk)
    assert answer.status_code == 200
    body = answer.json()
    assert body["provider_notified"] is False and "got " in body["detail"]
    assert leaks(answer.content.decode(), CLIENT_SECRET) == []
