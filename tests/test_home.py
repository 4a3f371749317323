"""The home page points each person to where they work, as their role allows."""

import pytest

from tests.factories import add_member, make_workspace
from workspaces.models import Role

pytestmark = pytest.mark.django_db


def test_anonymous_sees_the_login_link(client):
    html = client.get("/").content.decode()
    assert "/accounts/login/" in html and 'href="/editor/"' not in html


@pytest.mark.parametrize(
    "role,editor,admin",
    [
        (Role.OWNER, True, True),
        (Role.ADMIN, True, True),
        (Role.BUILDER, True, False),
        (Role.MEMBER, False, False),
    ],
)
def test_links_follow_the_role(client, role, editor, admin):
    workspace = make_workspace()
    user = add_member(workspace, role=role, staff=role in (Role.OWNER, Role.ADMIN))
    client.force_login(user)
    html = client.get("/").content.decode()
    assert ('<a href="/editor/"><strong>' in html) is editor
    assert ('<a href="/admin/"><strong>' in html) is admin
    assert '<a href="/me/connections/"><strong>' in html


def test_login_page_logs_in(client):
    from tests.factories import PASSWORD, make_user

    make_user("walter")
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "walter", "password": PASSWORD})
    assert response.status_code == 302
    bad = client.post("/accounts/login/", {"username": "walter", "password": "nope"})
    assert bad.status_code == 200 and "alert" in bad.content.decode()


def test_unknown_urls_answer_404_in_the_callers_language(client):
    api = client.get("/api/v1/no-such-thing/")
    assert api.status_code == 404
    assert api.json() == {"code": "not_found", "detail": "Not found."}
    page = client.get("/no-such-page/")
    assert page.status_code == 404 and "Not found" in page.content.decode()
