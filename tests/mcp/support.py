"""An OpenAPI document for the tests' upstream API, and the official MCP client's plumbing:
a session, and the token it is opened with."""

import json
import secrets
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx2
from django.utils import timezone
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value


def schema_for(port: int) -> str:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "MCP test API", "version": "1.0.0"},
        "servers": [{"url": f"http://127.0.0.1:{port}"}],
        "paths": {
            "/weather": {
                "get": {
                    "operationId": "getWeather",
                    "summary": "Current weather",
                    "parameters": [
                        {
                            "name": "location",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            },
            "/notes": {
                "post": {
                    "operationId": "createNote",
                    "summary": "Create a note",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["title"],
                                    "properties": {"title": {"type": "string"}},
                                }
                            }
                        },
                    },
                    "responses": {"201": {"description": "Created"}},
                }
            },
        },
    }
    return json.dumps(document, indent=2)


@asynccontextmanager
async def mcp_session(url: str, token: str | None = None, *, auth=None, **session_options):
    """An initialized ClientSession over Streamable HTTP (the handshake era MCP hosts use)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, auth=auth, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write, **session_options) as session:
                await session.initialize()
                yield session


def issue_token(user, scope="mcp", *, resource=None, days=1):
    """A platform access token as `manage.py issue_api_token` makes one (optionally bound to a
    resource, as an authorization-code grant with RFC 8707 `resource` makes one)."""
    application, _ = get_application_model().objects.get_or_create(
        name="tests",
        defaults={"client_type": "confidential", "authorization_grant_type": "client-credentials"},
    )
    raw = secrets.token_urlsafe(32)
    token = get_access_token_model()(
        user=user,
        application=application,
        expires=timezone.now() + timedelta(days=days),
        scope=scope,
        resource=[resource] if resource else [],
    )
    set_token_value(token, raw)
    token.save()
    return raw
