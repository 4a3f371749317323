"""The OAuth 2.0 server of the sandbox provider (django-oauth-toolkit's OAUTH2_SERVER_CLASS)."""

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
