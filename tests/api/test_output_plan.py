"""kernel.serializers.PlannedSerializer answers exactly what DRF's own to_representation would.

Every read endpoint of the API (the query-count table's, plus a verdict with errors, warnings
and fixes, a conversation with tool calls, the GPT list) is asked twice: with the plan, and
with `PlannedSerializer.to_representation` put back to DRF's. The answers must be equal. The
unit tests below cover the corners one by one (optional fields, defaults, relations, method
fields reading the context, custom fields, callables, dotted sources).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework import serializers
from rest_framework.test import APIClient

from kernel.serializers import FAST, LIVE, METHOD, PlannedSerializer
from tests.test_query_counts import API, _user
from tests.world import build_world

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "openapi"


def _drf_answer(monkeypatch, ask):
    with monkeypatch.context() as patch:
        patch.setattr(
            PlannedSerializer, "to_representation", serializers.Serializer.to_representation
        )
        return ask()


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(API))
def test_every_read_endpoint_answers_as_drf(name, monkeypatch):
    world = build_world(rows=2)
    who, url_for, _ = API[name]
    client = _client(_user(world, who))
    url = url_for(world)
    planned = client.get(url)
    assert planned.status_code == 200
    assert planned.json() == _drf_answer(monkeypatch, lambda: client.get(url).json())


@pytest.mark.django_db
def test_conversation_answers_as_drf(monkeypatch):
    world = build_world(rows=1)
    conversation = world.a.gpt.conversations.get()
    client = _client(world.a.member)
    url = reverse("api:conversation-detail", args=[conversation.pk])
    planned = client.get(url).json()
    assert planned["messages"][1]["tool_calls"], "the world's conversation has a tool call"
    assert planned == _drf_answer(monkeypatch, lambda: client.get(url).json())


# A warning with a fix (an unknown Parameter field) and an error (a placeholder host).
FIXABLE = """openapi: 3.1.0
info: {title: Fixable, version: "1"}
servers: [{url: "https://<subdomain>.example.com"}]
paths:
  /items:
    get:
      operationId: listItems
      parameters:
        - {name: q, in: query, constant: true, schema: {type: string}}
      responses: {"200": {description: OK}}
"""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "document",
    [
        "OAI-OpenAPI-Specification__v3.0-petstore-expanded.yaml",
        "OAI-OpenAPI-Specification__v2.0-petstore.json",
        "twilio-oai__twilio_messaging_v1.yaml",
        "fixable",
    ],
)
def test_verdicts_answer_as_drf(document, monkeypatch):
    text = FIXABLE if document == "fixable" else (CORPUS / document).read_text()
    world = build_world(rows=1)
    client = _client(world.a.builder)
    url = reverse("api:schema-validate")

    def ask():
        return client.post(url, {"schema": text}, format="json").json()

    planned = ask()
    if document == "fixable":
        assert planned["errors"] and any("fix" in w for w in planned["warnings"])
    assert planned == _drf_answer(monkeypatch, ask)


# The corners ------------------------------------------------------------------------------


class Child(PlannedSerializer):
    name = serializers.CharField()
    size = serializers.IntegerField(required=False)


class ContextChild(PlannedSerializer):
    label = serializers.SerializerMethodField()

    def get_label(self, value) -> str:
        return f"{self.context.get('prefix', '?')}{value['name']}"


class Upper(serializers.Field):
    def to_representation(self, value):
        return str(value).upper()


class Corners(PlannedSerializer):
    plain = serializers.CharField()
    dotted = serializers.CharField(source="inner.name")
    optional = serializers.CharField(required=False)
    defaulted = serializers.CharField(default="dflt")
    nullable = serializers.IntegerField(allow_null=True)
    flag = serializers.BooleanField()
    choice = serializers.ChoiceField(choices=["a", "b"])
    items = serializers.ListField(child=serializers.IntegerField())
    child = Child()
    children = Child(many=True)
    context_child = ContextChild(source="inner")
    custom = Upper(source="plain")
    called = serializers.CharField(source="method")
    computed = serializers.SerializerMethodField()
    secret = serializers.CharField(write_only=True)

    def get_computed(self, instance) -> str:
        return f"{self.context.get('prefix', '?')}-{instance.plain}"


class Inner:
    name = "inner name"

    def __getitem__(self, key):
        return {"name": "item name"}[key]


class Instance:
    plain = "text"
    inner = Inner()
    nullable = None
    flag = 1
    choice = "b"
    items = (1, 2)
    child = {"name": "one", "size": 3}
    children = [{"name": "two"}, {"name": "three", "size": 0}]
    secret = "never shown"

    def method(self):
        return "called"


def test_plan_kinds():
    kinds = {name: kind for name, kind, _, _ in Corners.output_plan()}
    assert kinds["plain"] == kinds["dotted"] == kinds["items"] == kinds["children"] == FAST
    assert kinds["computed"] == METHOD
    assert kinds["custom"] == kinds["context_child"] == LIVE  # may read more than the value
    assert "secret" not in kinds


@pytest.mark.parametrize("context", [{}, {"prefix": ">"}])
def test_corners_answer_as_drf(context, monkeypatch):
    planned = Corners(Instance(), context=context).data
    drf = _drf_answer(monkeypatch, lambda: Corners(Instance(), context=context).data)
    assert planned == drf
    assert "optional" not in planned and planned["defaulted"] == "dflt"
    assert planned["called"] == "called" and planned["custom"] == "TEXT"
    assert planned["computed"] == f"{context.get('prefix', '?')}-text"
    assert planned["context_child"] == {"label": f"{context.get('prefix', '?')}item name"}
    assert planned["children"] == [{"name": "two"}, {"name": "three", "size": 0}]


def test_a_wrong_plan_is_caught(monkeypatch):
    """The comparison can fail: a plan that converts a field the wrong way is seen."""
    drf = Corners(Instance()).data
    monkeypatch.setattr(
        Corners,
        "_output_plan",
        [(n, k, Upper() if n == "plain" else f, s) for n, k, f, s in Corners.output_plan()],
    )
    assert Corners(Instance()).data != drf
