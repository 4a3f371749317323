"""Each GPT's actions as an MCP server (DESIGN.md §6): /mcp/gpts/<id>, Streamable HTTP.

access.py    who is calling (bearer token, scope `mcp`, RFC 8707 resource) and may they (the
             GPT's visibility, the workspace's mcp_enabled): plain Django code, run in a thread
calls.py     tools/list and tools/call for one caller: the tool export and the runtime
server.py    the official `mcp` SDK's server and the ASGI endpoint in front of it
views.py     the Django side: protected-resource metadata, the consent page, the approval page
registration.py  RFC 7591 registration for MCP hosts, bounded and audited
"""
