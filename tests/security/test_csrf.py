"""CSRF protection on every form and every state-changing endpoint, found from the URL
configuration rather than listed by hand.

- No view of ours is `csrf_exempt` unless allow-listed here with its reason; DRF views are
  exempt at Django's level by design and get CSRF from SessionAuthentication, which is checked;
- every route (pages, API, admin, OAuth provider) refuses a POST without a token with 403;
- every page that renders a `<form method="post">` (crawled as the people who see it: the login
  pages, the editor, the connection pages, DOT's consent and application pages, every admin page)
  carries a csrfmiddlewaretoken, and the same form posted without it is refused, changing nothing;
- the REST API with a session needs X-CSRFToken for POST/PATCH/PUT/DELETE; with a bearer token it
  needs none (programs have no cookies to be abused).
"""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import get_access_token_model, get_application_model
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from actions.models import Consent
from tests.security.conftest import OBJECT_KWARGS, Route, all_routes, issue_token, tenant_rows

OUR_APPS = ("config", "workspaces", "gpts", "actions", "chat", "sandbox", "mcp_gateway")
# Views of ours allowed to be csrf_exempt, and why.
EXEMPT_ALLOWED = {
    "sandbox.views.todo_list": "the sandbox API reads bearer tokens only, never cookies",
    "sandbox.views.todo_detail": "the sandbox API reads bearer tokens only, never cookies",
    "sandbox.llm.chat_completions": "the demo model is called by the openai client, never a "
    "browser, and reads no cookie or user",
    # DOT's RFC 7591/7592 views (exempt upstream) with the registration bounds in front: MCP
    # clients register anonymously or with their registration token, never with cookies.
    "mcp_gateway.registration.view": "RFC 7591 registration: anonymous or bearer, no cookies",
}
# django-oauth-toolkit's client-facing endpoints (token, revoke, introspect, device, userinfo,
# dynamic registration) are exempt upstream: clients authenticate with their credentials or a
# bearer token (RFC 6749 §3.2, 7009, 7662, 8628, 7591), not with a browser's cookies.
EXEMPT_PACKAGES = ("oauth2_provider.",)
UNSAFE = ("post", "put", "patch", "delete")


def _regex(route: Route) -> bool:
    return "^" in route.route or "$" in route.route


def fill(route: Route, world) -> str:
    """A path for `route`: A's objects for the kwargs we know, an existing object for the
    admin's object_id, else any value the converter accepts (the CSRF check comes first)."""
    values = {}
    for name in route.kwargs:
        if name in OBJECT_KWARGS:
            values[name] = OBJECT_KWARGS[name][0](world.a)
        elif name in ("object_id", "id"):
            values[name] = admin_object_id(route) or world.superuser.pk
        elif name == "pk":
            values[name] = dot_object_id(route, world)
        else:
            values[name] = "x1"
    return route.path(values)


def admin_object_id(route: Route):
    """The pk of an existing object of the model an admin route is about."""
    for model in admin.site._registry:
        prefix = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        if route.route.startswith(prefix):
            obj = model._default_manager.order_by("pk").first()
            return obj.pk if obj else None
    return None


def dot_object_id(route: Route, world) -> int:
    if "authorized_tokens" in route.route:
        return get_access_token_model().objects.filter(user=world.a.owner).first().pk
    return world.extra["application"].pk


def everything(world) -> str:
    """A digest of both workspaces' rows, the users, and the OAuth provider's rows."""
    parts = [json.dumps(tenant_rows(world.a.workspace)), json.dumps(tenant_rows(world.b.workspace))]
    for model in (get_user_model(), get_application_model(), get_access_token_model()):
        rows = list(model._default_manager.order_by("pk").values())
        parts.append(json.dumps(rows, default=str, sort_keys=True))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@pytest.fixture
def world(world):
    """The security world plus a DOT application (for the provider's own pages) and an access
    token of A's owner authorized for it."""
    application = get_application_model().objects.create(
        name="CSRF app",
        client_type="public",
        authorization_grant_type="authorization-code",
        redirect_uris="http://127.0.0.1/cb",
        user=world.a.owner,
        skip_authorization=False,
    )
    issue_token(world.a.owner.username)
    world.extra["application"] = application
    return world


def test_no_view_of_ours_is_csrf_exempt_unless_listed():
    unexplained = []
    for route in all_routes():
        callback = route.callback
        view_class = route.view_class
        if view_class is not None and issubclass(view_class, APIView):
            # DRF makes every APIView exempt and enforces CSRF in SessionAuthentication itself:
            # no authentication class may be one that skips that.
            for auth in view_class().get_authenticators():
                assert isinstance(auth, (OAuth2Authentication, SessionAuthentication)), auth
                if isinstance(auth, SessionAuthentication):
                    assert type(auth).enforce_csrf is SessionAuthentication.enforce_csrf
            continue
        if not getattr(callback, "csrf_exempt", False):
            continue
        module = callback.__module__
        if module.startswith(EXEMPT_PACKAGES):
            continue
        name = f"{module}.{callback.__name__}"
        if name not in EXEMPT_ALLOWED:
            unexplained.append(f"/{route.route} ({name})")
    assert not unexplained, f"csrf_exempt without a reason in EXEMPT_ALLOWED: {unexplained}"

    # The source too: a decorated view not routed yet, or exempted some other way.
    allowed_modules = {name.rsplit(".", 1)[0] for name in EXEMPT_ALLOWED}
    base = Path(settings.BASE_DIR)
    for app in OUR_APPS:
        for path in (base / app).rglob("*.py"):
            if "csrf_exempt" in path.read_text():
                module = ".".join(path.relative_to(base).with_suffix("").parts)
                assert module in allowed_modules, f"{module} uses csrf_exempt"


def test_every_route_refuses_a_post_without_a_token(world):
    """Generated from the URL configuration: a cross-site POST (the session cookie is sent,
    the token is not) is a 403 everywhere, whatever the view would do with it."""
    person, staff = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    person.force_login(world.a.owner)
    staff.force_login(world.superuser)
    before = everything(world)
    checked, wrong = 0, []
    for route in all_routes():
        if _regex(route) or getattr(route.callback, "csrf_exempt", False):
            continue  # exempt views: the test above, and the API test below
        client = staff if route.route.startswith("admin/") else person
        path = fill(route, world)
        response = client.post(path, {"name": "forged", "post": "yes"})
        checked += 1
        if response.status_code != 403:
            wrong.append(f"POST {path}: {response.status_code}")
    assert not wrong, wrong
    assert checked > 100
    assert everything(world) == before


class Forms(HTMLParser):
    """The POST forms of a page: their action and the names and values of their fields."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._current: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            method = (attributes.get("method") or "get").lower()
            self._current = {"action": attributes.get("action"), "fields": {}}
            if method == "post":
                self.forms.append(self._current)
            return
        if self._current is not None and tag in ("input", "textarea", "select", "button"):
            name = attributes.get("name")
            if name and attributes.get("type") not in ("checkbox", "radio", "submit"):
                self._current["fields"][name] = attributes.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def pages_to_crawl(world) -> list[tuple[str, str]]:
    """(who, path) for every page route, filled with A's objects, plus the consent page of the
    OAuth provider; each seen by the person it is for."""
    application = world.extra["application"]
    pages = [
        ("anonymous", "/accounts/login/"),
        ("anonymous", "/admin/login/"),
        (
            "owner",
            "/o/authorize/?response_type=code&client_id="
            + application.client_id
            + "&redirect_uri=http://127.0.0.1/cb&state=s1&scope=read"
            + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            + "&code_challenge_method=S256",
        ),
    ]
    for route in all_routes():
        if _regex(route) or route.route.startswith("api/") or route.route.startswith("sandbox/"):
            continue
        if route.route.startswith("admin/"):
            who = "superuser"
        elif route.route.startswith("me/"):
            who = "member"  # the connection and the remembered approval are the member's
        else:
            who = "owner"
        pages.append((who, fill(route, world)))
    return pages


def test_every_post_form_carries_a_token_and_fails_without_it(world):
    users = {"owner": world.a.owner, "member": world.a.member, "superuser": world.superuser}
    clients = {"anonymous": Client(enforce_csrf_checks=True)}
    for who, user in users.items():
        clients[who] = Client(enforce_csrf_checks=True)
        clients[who].force_login(user)
    forms, missing = [], []
    for who, path in pages_to_crawl(world):
        response = clients[who].get(path)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = Forms()
        parser.feed(response.content.decode())
        for form in parser.forms:
            target = urljoin(path, form["action"] or path)
            if "csrfmiddlewaretoken" not in form["fields"]:
                missing.append(f"{path}: form to {target}")
            forms.append((who, urlsplit(target).path, form["fields"]))
    assert not missing, missing
    targets = {target for _, target, _ in forms}
    for expected in (
        "/accounts/login/",
        "/accounts/logout/",
        "/admin/login/",
        "/admin/logout/",
        f"/editor/actions/{world.a.action.pk}/",
        f"/editor/actions/{world.a.action.pk}/delete",
        f"/editor/gpts/{world.a.gpt.pk}/",
        f"/me/connections/{world.a.connection.pk}/revoke",
        f"/me/approvals/{world.a.consent.pk}/revoke",
        "/o/authorize/",
        f"/admin/actions/action/{world.a.action.pk}/change/",
    ):
        assert expected in targets, expected

    before = everything(world)
    accepted = []
    for who, target, fields in {(w, t, json.dumps(f, sort_keys=True)) for w, t, f in forms}:
        data = {k: v for k, v in json.loads(fields).items() if k != "csrfmiddlewaretoken"}
        response = clients[who].post(target, data)
        if response.status_code != 403:
            accepted.append(f"{who} POST {target}: {response.status_code}")
    assert not accepted, accepted
    assert everything(world) == before
    assert "_auth_user_id" in clients["member"].session  # the tokenless logout did nothing

    # Control: with its token the same kind of form works, so 403 above meant "no token".
    page = clients["member"].get(f"/me/approvals/{world.a.consent.pk}/revoke")
    token = page.context["csrf_token"]
    done = clients["member"].post(
        f"/me/approvals/{world.a.consent.pk}/revoke", {"csrfmiddlewaretoken": str(token)}
    )
    assert done.status_code == 302
    assert not Consent.objects.filter(pk=world.a.consent.pk).exists()


def api_calls(world) -> list[tuple[str, str]]:
    """(method, path) for every unsafe method of every REST API view, from the URL conf."""
    calls = []
    for route in all_routes():
        view_class = route.view_class
        if not route.route.startswith("api/") or view_class is None:
            continue
        for method in UNSAFE:
            if hasattr(view_class, method):
                calls.append((method, fill(route, world)))
    return calls


def test_the_api_with_a_session_needs_the_csrf_header(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.a.owner)
    client.get("/editor/")  # a page sets the csrftoken cookie, as in the browser
    token = client.cookies[settings.CSRF_COOKIE_NAME].value
    calls = api_calls(world)
    assert len(calls) >= 10
    before = everything(world)
    for method, path in calls:
        response = getattr(client, method)(path, data="{}", content_type="application/json")
        assert response.status_code == 403, (method, path, response.status_code)
        assert response.json()["code"] == "permission_denied"
        assert "CSRF" in response.json()["detail"]
    assert everything(world) == before
    # With the header the same requests get past CSRF (whatever the view then says).
    for method, path in calls:
        response = getattr(client, method)(
            path, data="{}", content_type="application/json", headers={"X-CSRFToken": token}
        )
        assert "CSRF" not in response.content.decode(), (method, path)


def test_bearer_requests_need_no_csrf_token(world):
    a = world.a
    client = Client(
        enforce_csrf_checks=True,
        headers={"Authorization": f"Bearer {issue_token(a.owner.username)}"},
    )
    created = client.post(
        "/api/v1/workspaces/", data='{"name": "By program"}', content_type="application/json"
    )
    assert created.status_code == 201, created.content
    renamed = client.patch(
        f"/api/v1/gpts/{a.gpt.pk}/", data='{"name": "Renamed"}', content_type="application/json"
    )
    assert renamed.status_code == 200, renamed.content
    deleted = client.delete(f"/api/v1/actions/{a.oauth_action.pk}/")
    assert deleted.status_code == 204, deleted.content
