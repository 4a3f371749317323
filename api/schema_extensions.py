"""How the API's own OpenAPI document describes its authentication.

django-oauth-toolkit's tokens are sent as `Authorization: Bearer <token>`; programs never run an
OAuth flow against this API (they get a token from `manage.py issue_api_token`), so the document
names a plain bearer scheme rather than an OAuth2 flow with no URLs.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "oauth2_provider.contrib.rest_framework.OAuth2Authentication"
    name = "bearerAuth"
    priority = 1  # above drf-spectacular's own django-oauth-toolkit extension

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `python manage.py issue_api_token USERNAME`.",
        }
