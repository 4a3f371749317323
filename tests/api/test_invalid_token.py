"""A bearer token that matches nothing (wrong, expired, revoked) is said to be invalid, not
"credentials were not provided" (issue 17.6); a missing one still says it is missing."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

pytestmark = pytest.mark.django_db

URL = "/api/v1/workspaces/"


def token_for(username: str) -> str:
    out = StringIO()
    call_command("issue_api_token", username, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def test_a_wrong_token_is_invalid(world):
    response = Client().get(URL, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "invalid_token"
    assert "invalid or has expired" in body["detail"]
    assert "not provided" not in body["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_expired_token_is_invalid(world):
    token = token_for("builder")
    assert Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401 and response.json()["code"] == "invalid_token"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz"])
def test_no_bearer_token_still_says_credentials_are_missing(world, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = Client().get(URL, **extra)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
