"""The OAuth 2.0 server of the sandbox provider and the REST API (django-oauth-toolkit's
OAUTH2_SERVER_CLASS and OAUTH2_VALIDATOR_CLASS)."""

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


class Validator(OAuth2Validator):
    """DOT's validator, refusing every token, refresh token and code of an inactive user.

    Deactivating an account is how an admin locks a person out; DOT checks a token's expiry
    and scopes but not its user, so without this a deactivated user's API token kept creating
    GPTs. Checked here, in the one validator, it holds for the REST API, the sandbox's to-do
    API and token refresh alike.
    """

    def validate_bearer_token(self, token, scopes, request):
        if not super().validate_bearer_token(token, scopes, request):
            return False
        return _active(getattr(request, "user", None))

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
