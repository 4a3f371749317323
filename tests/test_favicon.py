"""Every page has an icon, so browsers log no 404 for /favicon.ico (issue 17.6)."""

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def test_pages_link_the_icon_and_it_exists():
    html = Client().get("/accounts/login/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    path = finders.find("favicon.svg")
    assert path is not None and open(path, encoding="utf-8").read().startswith("<svg")


def test_favicon_ico_leads_to_the_icon():
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"
