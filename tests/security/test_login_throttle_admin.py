"""Login throttling holds on every door that takes a password.

People log in at /accounts/login/ (tests/test_login_throttle.py) and at /admin/login/; both
share one set of counters, so guesses spread over the two pages add up. Programs use bearer
tokens (`issue_api_token`, or DOT's authorization-code flow), which are not password logins:
the OAuth password grant is refused outright (RFC 9700), so /o/token/ can not be used to guess a
password, and no other route of the URL configuration is a login view.
"""

import base64

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.contrib.auth.views import LoginView
from oauth2_provider.models import get_application_model

from config.login import AdminLoginForm, LoginBackend, LoginForm
from tests.factories import PASSWORD, make_user
from tests.security.conftest import all_routes

pytestmark = pytest.mark.django_db


def admin_login(client, username, password):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
    )


def test_admin_login_is_throttled_like_the_people_login(client, settings):
    settings.LOGIN_MAX_FAILURES = 3
    make_user("root", superuser=True)
    for _ in range(2):
        assert admin_login(client, "root", "guess").status_code == 200
    assert admin_login(client, "root", "guess").status_code == 429
    blocked = admin_login(client, "root", PASSWORD)
    assert blocked.status_code == 429
    assert blocked["Retry-After"] == "900"
    assert "Too many failed attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session
    # The admin is still closed to this client: nothing let the right password through.
    assert client.get("/admin/").status_code == 302


def test_failures_on_either_page_add_up(client, settings):
    settings.LOGIN_MAX_FAILURES = 4
    make_user("root", superuser=True)
    for _ in range(2):
        client.post("/accounts/login/", {"username": "root", "password": "guess"})
        admin_login(client, "root", "guess")
    assert admin_login(client, "root", PASSWORD).status_code == 429
    assert (
        client.post("/accounts/login/", {"username": "root", "password": PASSWORD}).status_code
        == 429
    )


def test_one_address_guessing_many_admin_usernames_is_stopped(client, settings):
    settings.LOGIN_MAX_FAILURES = 2
    for n in range(10):
        admin_login(client, f"admin{n}", "x")
    make_user("late", superuser=True)
    assert admin_login(client, "late", PASSWORD).status_code == 429


def test_a_successful_admin_login_clears_the_users_failures(client, settings):
    settings.LOGIN_MAX_FAILURES = 3
    make_user("root", superuser=True)
    for _ in range(2):
        admin_login(client, "root", "guess")
    ok = admin_login(client, "root", PASSWORD)
    assert ok.status_code == 302 and ok["Location"] == "/admin/"
    client.logout()
    for _ in range(2):
        assert admin_login(client, "root", "guess").status_code == 200
    assert admin_login(client, "root", PASSWORD).status_code == 302


def test_a_non_staff_account_counts_as_a_failed_admin_login(client, settings):
    settings.LOGIN_MAX_FAILURES = 2
    make_user("person")
    assert admin_login(client, "person", PASSWORD).status_code == 200
    assert admin_login(client, "person", PASSWORD).status_code == 429
    assert admin_login(client, "person", PASSWORD).status_code == 429


def test_every_login_route_is_throttled():
    """Generated from the URL configuration: the throttle sits in authenticate() (axes' backend
    first), so any login view is covered; the ones we have use our forms."""
    assert django_settings.AUTHENTICATION_BACKENDS[0] == "config.login.LoginBackend"
    assert issubclass(LoginBackend, __import__("axes.backends").backends.AxesBackend)
    assert "axes.middleware.AxesMiddleware" in django_settings.MIDDLEWARE
    logins = []
    for route in all_routes():
        view_class = route.view_class
        if view_class is not None and issubclass(view_class, LoginView):
            assert issubclass(view_class.form_class, LoginForm), route.route
            logins.append(route.route)
    assert logins == ["accounts/login/"]
    assert admin.site.login_form is AdminLoginForm


@pytest.mark.parametrize(
    ("grant", "kind"),
    [("password", "confidential"), ("authorization-code", "public"), ("password", "public")],
)
def test_the_oauth_password_grant_is_no_password_oracle(client, grant, kind):
    """/o/token/ can not be used to try passwords: grant_type=password is unsupported, with the
    same answer for a right and a wrong password, whatever the client (a public client_id is
    no secret: it is in every authorization URL)."""
    make_user("victim")
    application = get_application_model().objects.create(
        name="Some app",
        client_type=kind,
        authorization_grant_type=grant,
        client_secret="app-secret-123",
        redirect_uris="http://127.0.0.1/cb",
    )
    answers = []
    for password in ("guess", PASSWORD):
        data = {"grant_type": "password", "username": "victim", "password": password}
        headers = {}
        if kind == "confidential":
            pair = f"{application.client_id}:app-secret-123".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
        else:
            data["client_id"] = application.client_id
        response = client.post("/o/token/", data, headers=headers)
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1] == (400, b'{"error": "unsupported_grant_type"}')


def test_bad_bearer_tokens_are_refused_without_touching_login_counters(client, settings):
    """Bearer tokens are random 256-bit values, not passwords; a wrong one is a 401 and does
    not lock anyone's password login."""
    settings.LOGIN_MAX_FAILURES = 1
    make_user("person")
    for n in range(5):
        response = client.get("/api/v1/workspaces/", headers={"Authorization": f"Bearer nope{n}"})
        assert response.status_code == 401
    assert (
        client.post("/accounts/login/", {"username": "person", "password": PASSWORD}).status_code
        == 302
    )
