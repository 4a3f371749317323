"""What an OAuth token's scopes let it do in the REST API (DESIGN.md §4).

`read` opens the API's reads (GET, HEAD, OPTIONS), `write` its writes; a view that needs
another scope names it in `required_scopes` (the MCP endpoints will say `["mcp"]`). A token
for the sandbox's to-do list (`todos`) therefore opens nothing here. Built on
django-oauth-toolkit's TokenHasScope; the one difference is that a request signed in with a
session (the editor's pages calling the API) is not scope-limited: only bearer tokens carry
scopes.
"""

from oauth2_provider.contrib.rest_framework.permissions import TokenHasScope
from oauth2_provider.models import AbstractAccessToken
from oauth2_provider.settings import oauth2_settings
from rest_framework.permissions import SAFE_METHODS

READ, WRITE, MCP, TODOS = "read", "write", "mcp", "todos"


class TokenScopeRequired(TokenHasScope):
    message = "This access token's scopes do not allow this request."

    def has_permission(self, request, view):
        if not isinstance(request.auth, AbstractAccessToken):
            return True  # a session, or no credentials: IsAuthenticated decides
        allowed = super().has_permission(request, view)
        if not allowed:
            needed = " ".join(self.get_scopes(request, view))
            self.message = (
                f"This access token lacks the scope this request needs ({needed}); "
                f"it has: {request.auth.scope or 'none'}."
            )
        return allowed

    def get_scopes(self, request, view):
        declared = getattr(view, "required_scopes", None)
        if declared is not None:
            return list(declared)
        if request.method.upper() in SAFE_METHODS:
            return [oauth2_settings.READ_SCOPE]
        return [oauth2_settings.WRITE_SCOPE]
