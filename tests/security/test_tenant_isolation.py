"""Tenant isolation, generated from the URL configuration.

Every route of config.urls that names an object (`<int:gpt_id>`, `<slug:slug>`, ...) is called
with workspace A's objects, with every HTTP method, by a logged-in member and a logged-in owner
of workspace B. Each answer must be a 404, exactly what the same call gets for an id that does
not exist (a 200 or a 403 would confirm that A's object exists; a redirect to the login page
would mean the view never looked), or a 405 for a method the route does not take at all. After
all the calls, A's rows are unchanged, to the byte.

A new route with a kwarg this file does not know fails `test_every_object_route_is_covered`
until it is added to OBJECT_KWARGS: no endpoint can escape by being new.
"""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from kernel.encryption import mask_secret
from tests.security.conftest import (
    CAPABILITY_ROUTES,
    EXCLUDED_PREFIXES,
    OBJECT_KWARGS,
    SECRETS,
    Route,
    all_routes,
    excluded,
    issue_token,
    tenant_rows,
)

METHODS = ["get", "post", "put", "patch", "delete"]

# Routes whose answer is decided before the named object is looked up, so it cannot reveal
# whether the object exists; for these the answer must still be the same as for a missing id,
# and must not be a success.
DECIDED_BEFORE_LOOKUP = {
    # The OAuth callback is keyed by the single-use `state`, which is checked first: without a
    # state of the caller's own it is "this sign-in link is not valid" for any gpt_id.
    "aip/<int:gpt_id>/oauth/callback": "state is verified before the GPT is looked at",
}

# A body that would change something if a view accepted it (JSON for the API, form otherwise).
HOSTILE = {
    "name": "taken over",
    "schema": "{}",
    "url": "http://127.0.0.1:9/openapi.json",
    "consent": "always_allow",
    "arguments": {"location": "x"},
    "visibility": "store",
    "auth_type": "none",
    "privacy_policy_url": "https://evil.example/p",
}


def object_routes() -> list[Route]:
    return [r for r in all_routes() if r.kwargs and not excluded(r)]


def plain_routes() -> list[Route]:
    return [r for r in all_routes() if not r.kwargs and not excluded(r)]


def values(route: Route, world=None) -> dict[str, object]:
    unknown = [k for k in route.kwargs if k not in OBJECT_KWARGS]
    assert not unknown, (
        f"{route.route} names {unknown}: add how to fill it to OBJECT_KWARGS "
        "so its tenant isolation is tested"
    )
    if world is None:
        return {k: OBJECT_KWARGS[k][1] for k in route.kwargs}
    return {k: OBJECT_KWARGS[k][0](world.a) for k in route.kwargs}


def call(client: Client, method: str, path: str):
    if method == "get":
        return client.get(path)
    if path.startswith("/api/"):
        return getattr(client, method)(
            path, data=json.dumps(HOSTILE), content_type="application/json"
        )
    form = {k: v for k, v in HOSTILE.items() if isinstance(v, str)}
    if method == "post":
        return client.post(path, form)
    return getattr(client, method)(path)


def test_every_object_route_is_covered():
    """Fails on a route whose kwarg has no filler (and proves the walk found the routes)."""
    routes = object_routes()
    for route in routes:
        values(route)
    names = {r.route for r in routes}
    for expected in (
        "api/v1/gpts/<int:gpt_id>/",
        "api/v1/gpts/<int:gpt_id>/imports/",
        "api/v1/actions/<int:action_id>/operations/<str:operation_id>/run",
        "editor/actions/<int:action_id>/operations/<str:operation_id>/test",
        "me/connections/<int:connection_id>/revoke",
        "actions/<int:action_id>/oauth/start",
        "api/v1/workspaces/<slug:slug>/members/<int:user_id>/",
        "api/v1/workspaces/<slug:slug>/invitations/<int:invitation_id>/",
        "api/v1/actions/<int:action_id>/operations/<str:operation_id>",
        "me/approvals/<str:token>",
    ):
        assert expected in names
    assert set(DECIDED_BEFORE_LOOKUP) <= names
    assert {
        "admin/",
        "o/",
        "sandbox/",
        ".well-known/oauth-protected-resource/",
    } == set(EXCLUDED_PREFIXES)
    assert set(CAPABILITY_ROUTES) <= {r.route for r in all_routes()}


def test_an_invitation_link_shows_nothing_but_its_own_invitation(world):
    """The token is the credential: B's owner holding A's link sees that invitation (and could
    join A with it, as anyone the link was forwarded to), but no other token, and a guessed
    one is the same "not valid" page as a used one."""
    client = Client()
    client.force_login(world.b.owner)
    page = client.get(f"/invitations/{world.a.invitation_token}/")
    assert page.status_code == 200 and world.a.workspace.name in page.content.decode()
    assert world.a.gpt.name not in page.content.decode()
    for token in (world.a.invitation_token[:-1] + "x", "", "a" * 43):
        answer = client.get(f"/invitations/{token}/")
        assert answer.status_code == 404
        assert world.a.workspace.name not in answer.content.decode()


@pytest.mark.parametrize(
    ("role", "via"), [("member", "session"), ("owner", "session"), ("member", "bearer")]
)
def test_workspace_b_gets_404_for_every_object_of_workspace_a(world, role, via):
    b_user = getattr(world.b, role)
    if via == "bearer":  # programs: the API only (pages are for people, with a session)
        client = Client(headers={"Authorization": f"Bearer {issue_token(b_user.username)}"})
        routes = [r for r in object_routes() if r.route.startswith("api/")]
    else:
        client = Client()
        client.force_login(b_user)
        routes = object_routes()
    before = tenant_rows(world.a.workspace)
    problems = []
    for route in routes:
        theirs, missing = route.path(values(route, world)), route.path(values(route))
        answers = {}
        for method in METHODS:
            got = call(client, method, theirs)
            control = call(client, method, missing)
            answers[method] = got.status_code
            if got.status_code != control.status_code:
                problems.append(
                    f"{method.upper()} {theirs}: {got.status_code}, but {control.status_code} "
                    "for an id that does not exist"
                )
            elif route.route in DECIDED_BEFORE_LOOKUP:
                if got.status_code < 400:
                    problems.append(f"{method.upper()} {theirs}: {got.status_code}")
            elif got.status_code not in (404, 405):
                problems.append(f"{method.upper()} {theirs}: {got.status_code}, expected 404")
        if route.route not in DECIDED_BEFORE_LOOKUP and 404 not in answers.values():
            problems.append(f"{theirs}: no method answered 404 ({answers})")
    assert not problems, "\n".join(problems)
    assert tenant_rows(world.a.workspace) == before


@pytest.mark.parametrize("role", ["member", "owner"])
def test_pages_and_lists_without_ids_show_nothing_of_workspace_a(world, role):
    """The routes that name no object (lists, the editor's index, the connections page) answer
    B's member without a trace of A: no name, no id-bearing link, no secret hint."""
    client = Client()
    client.force_login(getattr(world.b, role))
    a = world.a
    traces = [
        a.workspace.name,
        a.workspace.slug,
        a.gpt.name,
        a.oauth_action.gpt.name,
        f"/actions/{a.action.pk}/",
        f"/gpts/{a.gpt.pk}/",
        mask_secret(SECRETS["api_key"]),  # A's API key as a masked hint shows it
    ]
    # Whole tokens only: A's "ws-5" must not match B's "ws-57".
    patterns = [re.compile(rf"(?<![\w-]){re.escape(t)}(?![\w-])") for t in traces]
    seen, own = 0, 0
    for route in plain_routes():
        if "<" in route.route or route.route.startswith("^"):
            continue
        response = client.get("/" + route.route)
        if response.status_code != 200 or response.streaming:
            continue
        seen += 1
        body = response.content.decode(errors="replace")
        leaked = [p.pattern for p in patterns if p.search(body)]
        own += world.b.gpt.name in body  # control: B's own things are shown
        assert not leaked, f"/{route.route} shows {leaked} of workspace A to B's {role}"
    assert seen >= 8 and own >= 1
