"""The one guarded way out to the network (DESIGN.md §3): `client.fetch` under a policy.

Only this package may import an HTTP library (ruff's banned-API rule, TID251, enforces it).
"""

from outbound.client import (
    OutboundError,
    OutboundResponse,
    fetch,
    is_insecure_destination_allowed,
)
from outbound.policy import OutboundPolicy, action_call, schema_import, token_request

__all__ = [
    "OutboundError",
    "OutboundPolicy",
    "OutboundResponse",
    "action_call",
    "fetch",
    "is_insecure_destination_allowed",
    "schema_import",
    "token_request",
]
