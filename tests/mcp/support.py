"""An OpenAPI document for the tests' upstream API, and the official MCP client's plumbing."""

import json
from contextlib import asynccontextmanager

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


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
