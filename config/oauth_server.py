"""The OAuth 2.0 server of the sandbox provider and the REST API (django-oauth-toolkit's
OAUTH2_SERVER_CLASS and OAUTH2_VALIDATOR_CLASS)."""

import hashlib

from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2 import Server as OAuthlibServer


class Server(OAuthlibServer):
    """oauthlib's server without the resource owner password credentials grant.

    RFC 9700 §2.4 says the grant MUST NOT be used, and DOT refuses it
    (COMPLIANT_BCP_RFC9700_PASSWORD_GRANT), but only after oauthlib has checked the username and
    password: a wrong password answered `invalid_grant`, a right one `unauthorized_client`, for
    any client_id, which made /o/token/ a password oracle outside the login throttle. Without
    the grant, such a request is `unsupported_grant_type` before any credential is looked at.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grant_types.pop("password", None)


# The only scope a client that registered itself (RFC 7591, mcp_gateway/registration.py) gets.
DCR_SCOPES = frozenset({"mcp"})


def dcr_application(application) -> bool:
    """Whether a client registered itself rather than being registered by a superuser."""
    source = getattr(application, "registration_source", None)
    return source is not None and source == type(application).RegistrationSource.DCR


class Validator(OAuth2Validator):
    """DOT's validator, refusing every token, refresh token and code of an inactive user, and
    anything but `mcp` to a client that registered itself.

    Deactivating an account is how an admin locks a person out; DOT checks a token's expiry
    and scopes but not its user, so without this a deactivated user's API token kept creating
    GPTs. Checked here, in the one validator, it holds for the REST API, the sandbox's to-do
    API and token refresh alike.

    Dynamically registered clients (MCP hosts) are nobody's vetted app: asking for `read` or
    `write` is `invalid_scope` at the authorization and token endpoints alike, and a request
    without a scope gets `mcp`.
    """

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        if dcr_application(client) and not set(scopes) <= DCR_SCOPES:
            return False
        return super().validate_scopes(client_id, scopes, client, request, *args, **kwargs)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        client = getattr(request, "client", None)
        if dcr_application(client):
            return sorted(DCR_SCOPES)
        return super().get_default_scopes(client_id, request, *args, **kwargs)

    def validate_bearer_token(self, token, scopes, request):
        if not super().validate_bearer_token(token, scopes, request):
            return False
        return _active(getattr(request, "user", None))

    def _load_access_token(self, token):
        # DOT's own lookup, less its `.first()`: the checksum is unique, so the ORDER BY that
        # `.first()` adds changes nothing but took a fifth of the lookup's CPU (compiling the
        # ordering of a three-table join), on every request of the API (measured 2026-12-01,
        # bench/README.md "Figures re-measured").
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        model = get_access_token_model()
        try:
            return model.objects.select_related("application", "user").get(
                token_checksum=checksum
            )
        except model.DoesNotExist:
            return None

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        return _active(getattr(request, "user", None))

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if not super().validate_code(client_id, code, client, request, *args, **kwargs):
            return False
        return _active(getattr(request, "user", None))


def _active(user) -> bool:
    return bool(user is not None and user.is_active)
