"""Query-count baselines of every list and detail endpoint, page and admin page, in one file.

Each entry is measured in a world of 1 row of everything and again in a world of 6 rows: the
larger world may not take more queries than the smaller (no query per row), and neither more
than the baseline written here. A change that adds a query to a page shows up as a one-line
diff of this table, where it can be discussed.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from actions.approvals import approval_request
from tests.world import World, build_world

# name: (who asks, the URL in that world, the most queries it may take)
Route = tuple[str, Callable[[World], str], int]

API: dict[str, Route] = {
    "workspace-list": ("owner", lambda w: reverse("api:workspace-list"), 3),
    "workspace-detail": (
        "owner",
        lambda w: reverse("api:workspace-detail", args=[w.a.workspace.slug]),
        2,
    ),
    "gpt-list": ("owner", lambda w: reverse("api:gpt-list", args=[w.a.workspace.slug]), 4),
    "gpt-detail": ("owner", lambda w: reverse("api:gpt-detail", args=[w.a.gpt.pk]), 2),
    "gpt-models": ("owner", lambda w: reverse("api:gpt-models", args=[w.a.gpt.pk]), 2),
    "gpt-tools": ("member", lambda w: reverse("api:gpt-tools", args=[w.a.gpt.pk]), 4),
    "action-list": ("owner", lambda w: reverse("api:action-list", args=[w.a.gpt.pk]), 4),
    "action-detail": ("owner", lambda w: reverse("api:action-detail", args=[w.a.action.pk]), 3),
    "import-detail": (
        "builder",
        lambda w: reverse("api:import-detail", args=[w.a.action.imports.get().pk]),
        1,
    ),
    "connected-account-list": ("member", lambda w: reverse("api:connected-account-list"), 2),
    "consent-list": ("member", lambda w: reverse("api:consent-list"), 2),
    "member-list": ("admin", lambda w: reverse("api:member-list", args=[w.a.workspace.slug]), 3),
    "invitation-list": (
        "admin",
        lambda w: reverse("api:invitation-list", args=[w.a.workspace.slug]),
        3,
    ),
}

PAGES: dict[str, Route] = {
    "home": ("owner", lambda w: reverse("home"), 3),
    "editor:gpt-list": ("builder", lambda w: reverse("editor:gpt-list"), 5),
    "editor:gpt-detail": ("builder", lambda w: reverse("editor:gpt-detail", args=[w.a.gpt.pk]), 6),
    "editor:gpt-delete": ("builder", lambda w: reverse("editor:gpt-delete", args=[w.a.gpt.pk]), 3),
    "editor:gpt-duplicate": (
        "builder",
        lambda w: reverse("editor:gpt-duplicate", args=[w.a.gpt.pk]),
        3,
    ),
    "editor:action-detail": (
        "builder",
        lambda w: reverse("editor:action-detail", args=[w.a.action.pk]),
        6,
    ),
    "editor:operation-test": (
        "member",
        lambda w: reverse("editor:operation-test", args=[w.a.action.pk, "get0"]),
        5,
    ),
    "me-connections": ("member", lambda w: reverse("me-connections"), 4),
    "me-approval": ("member", lambda w: reverse("me-approval", args=[_approval(w)]), 4),
}

# model: (changelist as the operator, changelist as a workspace admin, change form as operator)
ADMIN: dict[str, tuple[int, int, int]] = {
    "workspaces/workspace": (5, 8, 11),
    "workspaces/membership": (6, 9, 14),
    "workspaces/alloweddomain": (6, 9, 5),
    "workspaces/auditevent": (7, 10, 6),
    "gpts/gpt": (7, 10, 7),  # the model filter lists the models in use (one DISTINCT query)
    "actions/action": (6, 9, 8),
    "actions/operation": (6, 9, 6),
    "actions/schemaimport": (6, 9, 7),
    "actions/connectedaccount": (8, 11, 8),
    "actions/consent": (6, 9, 8),
    "actions/invocation": (7, 10, 8),
    "actions/oauthstate": (5, 8, 6),
    "actions/review": (6, 9, 5),
    "workspaces/invitation": (6, 9, 5),
    "chat/conversation": (8, 11, 5),
}


def _approval(world: World) -> str:
    """The URL token of a call waiting for the member's approval (actions/approvals.py)."""
    return approval_request(
        user=world.a.member,
        action=world.a.action,
        operation_id="getWeather",
        arguments={"location": "x"},
        prompt={"request": {"method": "GET", "url": "https://example.com/x", "body": None}},
    )


def _user(world: World, who: str):
    return world.superuser if who == "superuser" else getattr(world.a, who)


def _count(client_for, world: World, who: str, url: str) -> int:
    client = client_for(_user(world, who))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(queries)


def _api_client(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _session_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _check(client_for, who, url_for, most, django_assert_max_num_queries):
    small = build_world(rows=1)
    counted_small = _count(client_for, small, who, url_for(small))
    large = build_world(rows=6)
    client = client_for(_user(large, who))
    url = url_for(large)
    with django_assert_max_num_queries(most):
        response = client.get(url)
    assert response.status_code == 200
    counted_large = _count(client_for, large, who, url)
    # Caches warmed by the first world (content types, permissions) may save a query later.
    assert counted_large <= counted_small, "queries grow with the rows"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(API))
def test_api_query_count_is_constant(name, django_assert_max_num_queries):
    who, url_for, most = API[name]
    _check(_api_client, who, url_for, most, django_assert_max_num_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_query_count_is_constant(name, django_assert_max_num_queries):
    who, url_for, most = PAGES[name]
    _check(_session_client, who, url_for, most, django_assert_max_num_queries)


def _changelist(model: str) -> Callable[[World], str]:
    return lambda w: f"/admin/{model}/"


def _change(model: str) -> Callable[[World], str]:
    app, name = model.split("/")

    def url(world: World) -> str:
        from django.apps import apps

        row = apps.get_model(app, name).objects.order_by("-pk").first()  # this world's newest
        return f"/admin/{model}/{row.pk}/change/"

    return url


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["superuser", "admin"])
@pytest.mark.parametrize("model", sorted(ADMIN))
def test_admin_changelist_query_count_is_constant(model, who, django_assert_max_num_queries):
    most = ADMIN[model][0 if who == "superuser" else 1]
    _check(_session_client, who, _changelist(model), most, django_assert_max_num_queries)


@pytest.mark.django_db
@pytest.mark.parametrize("model", sorted(ADMIN))
def test_admin_change_form_query_count_is_constant(model, django_assert_max_num_queries):
    most = ADMIN[model][2]
    _check(_session_client, "superuser", _change(model), most, django_assert_max_num_queries)
