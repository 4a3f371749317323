"""Emulated OAuth providers with the quirks of real ones, served by pytest-httpserver on
127.0.0.1, and a driver for the whole flow through the platform.

`EmulatedProvider` is one authorization server and one protected API: `/authorize` issues a
code bound to the PKCE challenge and redirect URI, `/token` exchanges and refreshes, `/revoke`
is RFC 7009, `/api/me` accepts only live access tokens. Its `Quirks` switch on what providers do
in the wild (GitHub, Google, Microsoft, Salesforce, Notion/Reddit, Slack, rotating refresh
tokens); `PROVIDERS` names the presets. `Journey` plays the user: it starts the flow on the
platform (Django's test client), follows the redirect to the emulator over real HTTP, comes back
to the callback, runs an operation through the REST API and disconnects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import requests  # noqa: TID251 - the tests play the user's browser at the emulated provider
from django.test import Client
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from werkzeug import Request, Response


@dataclass(frozen=True)
class Quirks:
    # How token replies are written: "json", or "form" (application/x-www-form-urlencoded).
    reply_format: str = "json"
    # Refusals come with HTTP 200 and an `error` field (GitHub).
    errors_with_200: bool = False
    # A refresh gets no new refresh token back (Google): the old one stays valid.
    refresh_returns_refresh_token: bool = True
    # Every refresh issues a new refresh token; reusing an old one revokes the whole grant.
    rotate_refresh_tokens: bool = False
    # A refresh without `scope` is refused with invalid_request (Microsoft).
    scope_required_on_refresh: bool = False
    # Seconds in `expires_in`, or None to send none (Salesforce).
    expires_in: int | None = 3600
    # Client credentials only in the HTTP Basic header; in the body they are refused (Notion).
    basic_only: bool = False
    token_type: str = "Bearer"
    # After the refresh token is revoked, the access token is answered with this error
    # ("invalid_token", "unsupported_token_type") or "" for a plain 200.
    revoke_second_token_error: str = ""
    # The error description repeats what the client sent (a badly written provider).
    echo_request_in_errors: bool = False


PROVIDERS = {
    "github": Quirks(reply_format="form", errors_with_200=True, expires_in=28800),
    "google": Quirks(refresh_returns_refresh_token=False),
    "microsoft": Quirks(scope_required_on_refresh=True, rotate_refresh_tokens=True),
    "salesforce": Quirks(expires_in=None, revoke_second_token_error="unsupported_token_type"),
    "notion": Quirks(basic_only=True, expires_in=None),
    "slack": Quirks(token_type="bot", revoke_second_token_error="invalid_token"),
    "rotating": Quirks(rotate_refresh_tokens=True, expires_in=600),
}

CLIENT_ID = "client-id.apps.emulated"
CLIENT_SECRET = "cs-EMULATED/secret+with=odd&chars-77f1"
SCOPE = "profile read"


@dataclass
class Grant:
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    used_refresh_tokens: set[str] = field(default_factory=set)
    revoked: bool = False


class EmulatedProvider:
    """One provider with `quirks` on `server` (handlers registered on construction)."""

    def __init__(self, server: HTTPServer, quirks: Quirks | None = None):
        self.server = server
        self.quirks = quirks or Quirks()
        self.base = f"http://127.0.0.1:{server.port}"
        self.codes: dict[str, dict] = {}
        self.grants: list[Grant] = []
        self.token_requests: list[dict] = []
        self.revocations: list[dict] = []
        self.api_calls: list[str] = []
        server.expect_request("/authorize", method="GET").respond_with_handler(self._authorize)
        server.expect_request("/token", method="POST").respond_with_handler(self._token)
        server.expect_request("/revoke", method="POST").respond_with_handler(self._revoke)
        server.expect_request("/api/me", method="GET").respond_with_handler(self._api)

    # What the builder enters ------------------------------------------------------------

    def auth(self, **overrides) -> dict:
        values = {
            "type": "oauth",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "authorization_url": f"{self.base}/authorize",
            "token_url": f"{self.base}/token",
            "revocation_url": f"{self.base}/revoke",
            "scope": SCOPE,
            "token_exchange_method": "basic_auth_header"
            if self.quirks.basic_only
            else "default_post",
        }
        values.update(overrides)
        return values

    def schema(self) -> str:
        return json.dumps(
            {
                "openapi": "3.1.0",
                "info": {"title": "Emulated API", "version": "1"},
                "servers": [{"url": self.base}],
                "paths": {
                    "/api/me": {
                        "get": {
                            "operationId": "getMe",
                            "parameters": [
                                {"name": "q", "in": "query", "schema": {"type": "string"}}
                            ],
                            "responses": {"200": {"description": "OK"}},
                        }
                    }
                },
            }
        )

    # Provider side ----------------------------------------------------------------------

    def expire_access_tokens(self) -> None:
        """The provider ends every access token early (the API answers 401 from now on)."""
        for grant in self.grants:
            grant.access_tokens.clear()

    def revoke_everything(self) -> None:
        """The user revoked the app on the provider's site."""
        for grant in self.grants:
            grant.revoked = True
            grant.access_tokens.clear()
            grant.refresh_tokens.clear()

    def live_access_tokens(self) -> set[str]:
        return {
            token for grant in self.grants if not grant.revoked for token in grant.access_tokens
        }

    def _reply(self, data: dict, status: int = 200) -> Response:
        if "error" in data and self.quirks.errors_with_200:
            status = 200
        if self.quirks.reply_format == "form":
            return Response(
                urlencode(data), status=status, content_type="application/x-www-form-urlencoded"
            )
        return Response(json.dumps(data), status=status, content_type="application/json")

    def _error(self, error: str, description: str, status: int, request: Request) -> Response:
        if self.quirks.echo_request_in_errors:
            description += " You sent: " + request.get_data(as_text=True)
            description += " with " + request.headers.get("Authorization", "no header")
        return self._reply({"error": error, "error_description": description}, status)

    def _authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("code_challenge_method") != "S256":
            return Response("bad authorization request", status=400)
        code = "code-" + secrets.token_urlsafe(12)
        self.codes[code] = {
            "redirect_uri": args["redirect_uri"],
            "challenge": args["code_challenge"],
            "scope": args.get("scope", ""),
        }
        location = args["redirect_uri"] + "?" + urlencode({"code": code, "state": args["state"]})
        return Response(status=302, headers={"Location": location})

    def _client_ok(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        in_body = "client_id" in request.form or "client_secret" in request.form
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return (unquote_plus(user), unquote_plus(password)) == (CLIENT_ID, CLIENT_SECRET)
        if self.quirks.basic_only or not in_body:
            return False
        return (request.form.get("client_id"), request.form.get("client_secret")) == (
            CLIENT_ID,
            CLIENT_SECRET,
        )

    def _issue(self, grant: Grant, *, refresh: str | None) -> dict:
        """An access token, with `refresh` ("new" for a fresh one) as the refresh token."""
        access = "at-" + secrets.token_urlsafe(16)
        grant.access_tokens.add(access)
        reply = {"access_token": access, "token_type": self.quirks.token_type, "scope": SCOPE}
        if self.quirks.expires_in is not None:
            reply["expires_in"] = self.quirks.expires_in
        if refresh == "new":
            refresh = "rt-" + secrets.token_urlsafe(16)
            grant.refresh_tokens.add(refresh)
        if refresh:
            reply["refresh_token"] = refresh
        return reply

    def _token(self, request: Request) -> Response:
        form = request.form.to_dict()
        self.token_requests.append(form)
        if not self._client_ok(request):
            return self._error("invalid_client", "Client authentication failed.", 401, request)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            pending = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if (
                pending is None
                or pending["redirect_uri"] != form.get("redirect_uri")
                or pending["challenge"] != challenge
            ):
                return self._error("bad_verification_code", "The code is wrong.", 400, request)
            grant = Grant()
            self.grants.append(grant)
            return self._reply(self._issue(grant, refresh="new"))
        if grant_type == "refresh_token":
            if self.quirks.scope_required_on_refresh and not form.get("scope"):
                return self._error(
                    "invalid_request", "AADSTS90009: scope is required.", 400, request
                )
            token = form.get("refresh_token", "")
            grant = next((g for g in self.grants if token in g.refresh_tokens), None)
            reused = next((g for g in self.grants if token in g.used_refresh_tokens), None)
            if reused is not None:  # RFC 9700 §4.14.2: reuse of a rotated token ends the grant
                reused.revoked = True
            if grant is None or grant.revoked:
                return self._error(
                    "invalid_grant", "The refresh token is expired or revoked.", 400, request
                )
            if self.quirks.rotate_refresh_tokens:
                grant.refresh_tokens.discard(token)
                grant.used_refresh_tokens.add(token)
            if self.quirks.rotate_refresh_tokens:
                refresh = "new"
            else:
                refresh = token if self.quirks.refresh_returns_refresh_token else None
            return self._reply(self._issue(grant, refresh=refresh))
        return self._error("unsupported_grant_type", "No such grant.", 400, request)

    def _revoke(self, request: Request) -> Response:
        form = request.form.to_dict()
        self.revocations.append(form)
        if not self._client_ok(request):
            return self._error("invalid_client", "Client authentication failed.", 401, request)
        token = form.get("token", "")
        for grant in self.grants:
            if token in grant.refresh_tokens:
                grant.revoked = True
                grant.refresh_tokens.clear()
                grant.access_tokens.clear()
                return Response("", status=200)
            if token in grant.access_tokens:
                grant.access_tokens.discard(token)
                return Response("", status=200)
        if self.quirks.revoke_second_token_error:
            return self._error(
                self.quirks.revoke_second_token_error, "Unknown token.", 400, request
            )
        return Response("", status=200)

    def _api(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        self.api_calls.append(header)
        if header.startswith("Bearer ") and header[7:] in self.live_access_tokens():
            return Response(
                json.dumps({"user": "ada", "q": request.args.get("q")}),
                status=200,
                content_type="application/json",
            )
        return Response(
            json.dumps({"error": "invalid_token"}), status=401, content_type="application/json"
        )


def with_quirks(name: str, **changes) -> Quirks:
    return replace(PROVIDERS[name], **changes)


class Journey:
    """One user going through the platform with `provider` for `action`."""

    def __init__(self, *, user, action, provider: EmulatedProvider):
        self.user, self.action, self.provider = user, action, provider
        self.client = Client()
        self.client.force_login(user)
        self.api = APIClient()
        self.api.force_authenticate(user)
        self.browser = requests.Session()
        self.browser.trust_env = False

    def start(self, next_path: str = "/me/connections/") -> str:
        answer = self.client.get(
            f"/actions/{self.action.pk}/oauth/start", {"next": next_path} if next_path else {}
        )
        assert answer.status_code == 302, answer.content[:500]
        return answer["Location"]

    def authorize(self, authorize_url: str) -> str:
        """The provider's consent, granted: where it sends the browser back."""
        answer = self.browser.get(authorize_url, allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def callback(self, callback_url: str):
        parts = urlsplit(callback_url)
        return self.client.get(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()})

    def connect(self, next_path: str = "/me/connections/"):
        return self.callback(self.authorize(self.start(next_path)))

    def run(self, arguments: dict | None = None):
        return self.api.post(
            f"/api/v1/actions/{self.action.pk}/operations/getMe/run",
            {"arguments": arguments or {}, "consent": "allow"},
            format="json",
        )

    def disconnect(self, connection_id: int):
        return self.api.delete(f"/api/v1/me/connected-accounts/{connection_id}/")
