"""The chat pages and the GPT's conversation starters: who may open which page, what it shows
(and does not: a GPT's configuration on /g/), the starters in the editor and the API."""

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from actions.models import AuthType
from chat.models import Conversation
from tests.factories import make_gpt

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def no_inline_script(html: str) -> None:
    # The CSP is default-src 'self': every script is a file.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "onclick=" not in html and "style=" not in html


def test_preview_page(world):
    gpt = world["gpt"]
    response = browser(world["builder"]).get(f"/editor/gpts/{gpt.pk}/preview")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-starter="Weather in Paris?"' in html
    assert 'data-channel="preview"' in html
    assert f"/editor/actions/{world['action'].pk}/operations/getWeather/test" in html
    assert "/static/chat/chat.js" in html
    no_inline_script(html)
    assert browser(world["stranger"]).get(f"/editor/gpts/{gpt.pk}/preview").status_code == 404


def test_gpt_chat_page_follows_visibility(world):
    acme = world["acme"]
    private = make_gpt(
        acme, created_by=world["builder"], visibility="only_me", instructions="SECRET PLAN"
    )
    shared = make_gpt(
        acme,
        created_by=world["builder"],
        visibility="link",
        instructions="SECRET PLAN",
        conversation_starters=["Hi there"],
    )
    assert browser(world["builder"]).get(f"/g/{private.pk}/").status_code == 200
    assert browser(world["member"]).get(f"/g/{private.pk}/").status_code == 404
    assert browser(world["owner"]).get(f"/g/{private.pk}/").status_code == 404
    assert browser(world["stranger"]).get(f"/g/{world['gpt'].pk}/").status_code == 404
    page = browser(world["stranger"]).get(f"/g/{shared.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "SECRET PLAN" not in html and "Hi there" in html
    assert 'data-channel="chat"' in html
    no_inline_script(html)
    assert Client().get(f"/g/{shared.pk}/").status_code == 302  # sign in first


def test_page_loads_only_the_users_own_conversation(world):
    gpt = world["gpt"]
    mine = Conversation.objects.create(workspace=world["acme"], gpt=gpt, user=world["member"])
    theirs = Conversation.objects.create(workspace=world["acme"], gpt=gpt, user=world["owner"])
    client = browser(world["member"])
    assert (
        f'data-conversation="{mine.pk}"' in client.get(f"/g/{gpt.pk}/?c={mine.pk}").content.decode()
    )
    html = client.get(f"/g/{gpt.pk}/?c={theirs.pk}").content.decode()
    assert 'data-conversation=""' in html
    assert 'data-conversation=""' in client.get(f"/g/{gpt.pk}/?c=x'%3E").content.decode()


def test_no_model_configured_is_said_on_the_page(world, settings):
    settings.LLM_BASE_URL = ""
    html = browser(world["member"]).get(f"/g/{world['gpt'].pk}/").content.decode()
    assert "No model is configured" in html


def test_someone_a_public_gpt_is_shared_with_may_connect_their_account(world, api):
    gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="link")
    action = world["action"]
    action.gpt = gpt
    action.auth_type = AuthType.OAUTH
    action.oauth_client_id = "client"
    action.oauth_client_secret = "client-secret-value"
    action.authorization_url = f"http://127.0.0.1:{api.port}/authorize"
    action.token_url = f"http://127.0.0.1:{api.port}/token"
    action.save()
    response = browser(world["stranger"]).get(f"/actions/{action.pk}/oauth/start")
    assert response.status_code == 302
    assert response["Location"].startswith(f"http://127.0.0.1:{api.port}/authorize?")
    # An only-me GPT's action stays out of reach.
    gpt.visibility = "only_me"
    gpt.save()
    assert browser(world["stranger"]).get(f"/actions/{action.pk}/oauth/start").status_code == 404


def test_starters_in_the_editor_form(world):
    gpt = world["gpt"]
    client = browser(world["builder"])
    page = client.get(f"/editor/gpts/{gpt.pk}/").content.decode()
    assert "Weather in Paris?" in page and f"/editor/gpts/{gpt.pk}/preview" in page
    response = client.post(
        f"/editor/gpts/{gpt.pk}/",
        {"name": gpt.name, "conversation_starters": "First one\r\n\r\n  Second  \r\nFirst one"},
    )
    assert response.status_code == 302
    gpt.refresh_from_db()
    assert gpt.conversation_starters == ["First one", "Second"]
    too_many = "\n".join(f"starter {n}" for n in range(9))
    refused = client.post(
        f"/editor/gpts/{gpt.pk}/", {"name": gpt.name, "conversation_starters": too_many}
    )
    assert refused.status_code == 400 and "at most 8" in refused.content.decode()


def test_starters_in_the_api(world):
    gpt = world["gpt"]
    client = APIClient()
    client.force_login(world["builder"])
    url = f"/api/v1/gpts/{gpt.pk}/"
    assert client.get(url).json()["conversation_starters"] == ["Weather in Paris?"]
    ok = client.patch(url, {"conversation_starters": ["a", "b"]}, format="json")
    assert ok.status_code == 200 and ok.json()["conversation_starters"] == ["a", "b"]
    for bad in ("a", [1], ["x" * 301], [f"s{n}" for n in range(9)], [None]):
        response = client.patch(url, {"conversation_starters": bad}, format="json")
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["code"] == "invalid"
    gpt.refresh_from_db()
    assert gpt.conversation_starters == ["a", "b"]
    created = client.post(
        f"/api/v1/workspaces/{world['acme'].slug}/gpts/",
        {"name": "New", "conversation_starters": ["Hello"]},
        format="json",
    )
    assert created.status_code == 201 and created.json()["conversation_starters"] == ["Hello"]
