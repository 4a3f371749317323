"""The site as one ASGI application: `/mcp/...` to the MCP endpoints, everything else to Django.

`make run` and production serve this with uvicorn (README). The MCP endpoints are the `mcp`
SDK's Streamable HTTP server (mcp_gateway/server.py says why it lives beside Django rather than
in a view); it needs the ASGI lifespan to start and stop its session task group, which Django's
handler does not implement, so lifespan events are answered here.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()


def build_application():
    """A fresh application (one MCP session manager each: the SDK runs a manager only once)."""
    # App code is imported once Django is set up (get_asgi_application above did it).
    from mcp_gateway.server import McpEndpoint

    mcp = McpEndpoint()

    async def lifespan(receive, send):
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        started = False
        try:
            async with mcp.lifespan():
                await send({"type": "lifespan.startup.complete"})
                started = True
                while (await receive())["type"] != "lifespan.shutdown":
                    pass
        except Exception as exc:
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": str(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})

    async def application(scope, receive, send):
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"].startswith("/mcp/"):
            await mcp(scope, receive, send)
        else:
            await django_application(scope, receive, send)

    return application


application = build_application()
