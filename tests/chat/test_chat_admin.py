"""Conversations in the admin after a real turn: the workspace admin sees who talked to which GPT
and what was called, on which channel, and never a credential (the action's key went to the API
as a header, and the API even echoed it back)."""

import json

import pytest
from django.test import Client
from werkzeug import Response

from actions.models import Consent
from chat.models import Conversation
from tests.factories import add_member
from workspaces.models import Role

pytestmark = pytest.mark.django_db

API_KEY = "sk-chat-admin-secret-0123456789abcdef"


def test_the_admin_shows_the_turn_and_no_secret(world, script, api):
    action = world["action"]
    action.auth_type, action.api_key, action.api_key_auth_type = "api_key", API_KEY, "bearer"
    action.save()
    Consent.objects.create(
        user=world["member"],
        gpt=world["gpt"],
        action=action,
        workspace=world["acme"],
        operation_id="getWeather",
    )
    api.expect_request("/weather").respond_with_handler(
        lambda request: Response(
            json.dumps({"sky": "sunny", "you_sent": request.headers.get("Authorization")}),
            content_type="application/json",
        )
    )
    script.tool("getWeather", {"location": "Paris"}, "w1").text("Sunny in Paris.")
    member = Client()
    member.force_login(world["member"])
    created = member.post(f"/api/v1/gpts/{world['gpt'].pk}/conversations/", {}, "application/json")
    cid = created.json()["id"]
    turn = member.post(
        f"/api/v1/conversations/{cid}/messages/", {"content": "weather?"}, "application/json"
    )
    assert turn.json()["status"] == "done", turn.content
    request, _ = api.log[0]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"  # it was really sent

    admin = Client()
    admin.force_login(add_member(world["acme"], role=Role.ADMIN, staff=True))
    changelist = admin.get("/admin/chat/conversation/")
    assert changelist.status_code == 200
    assert [c.pk for c in changelist.context["cl"].result_list] == [cid]
    page = admin.get(f"/admin/chat/conversation/{cid}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "weather?" in html and "Sunny in Paris." in html
    assert "getWeather" in html and "HTTP 200" in html
    invocations = admin.get("/admin/actions/invocation/", {"channel__exact": "chat"})
    assert len(invocations.context["cl"].result_list) == 1
    for response in (changelist, page, invocations):
        text = response.content.decode()
        assert API_KEY not in text
        assert API_KEY[3:-4] not in text  # no recognisable part of it either
    assert Conversation.objects.get(pk=cid).state == "idle"
    # The stranger workspace's owner, made staff, sees none of it.
    outsider = Client()
    outsider.force_login(add_member(world["globex"], role=Role.OWNER, staff=True))
    assert len(outsider.get("/admin/chat/conversation/").context["cl"].result_list) == 0
    assert outsider.get(f"/admin/chat/conversation/{cid}/change/").status_code in (302, 404)
