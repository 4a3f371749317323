"""Issue 16, point 6: the 1–4 MB documents builders bring, through the API as the editor uses
it: paste (validate: too many operations, all listed), pick (select), save, run — the run
against a pytest-httpserver standing in for the API (its address allowed through
OUTBOUND_ALLOW_PRIVATE, as the runtime tests do)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from actions import openapi
from actions.models import Action
from actions.openapi.select import dump
from tests.factories import make_gpt

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "openapi"
BIG = {
    "stripe-openapi__spec3-2023-09-12.yaml": 468,
    "openai-openapi__openapi.yaml": 288,
    "PagerDuty-api-schema__REST.json": 465,
    "sentry-api-schema__openapi-derefed.json": 223,
}


def argument_for(parameter: dict):
    kind = (parameter.get("schema") or {}).get("type")
    if kind == "integer" or kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return ["x"]
    return "x"


@pytest.mark.parametrize("name", sorted(BIG))
def test_paste_pick_save_run(world, api, settings, httpserver, name):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    text = (CORPUS / name).read_text(encoding="utf-8")
    client = api(world["builder"])
    gpt = make_gpt(world["acme"], created_by=world["builder"])

    pasted = client.post(
        "/api/v1/schema/validate", {"schema": text, "gpt": gpt.pk}, format="json"
    ).json()
    assert "too_many_operations" in [e["code"] for e in pasted["errors"]]
    assert len(pasted["operations"]) == BIG[name]  # every one listed for the picker

    gets = [
        op
        for op in pasted["operations"]
        if op["method"] == "GET"
        and "{" not in op["path"]
        and op["operation_id"]
        # OpenAI's fine-tuning schemas write `exclusiveMinimum: true` (3.0 style) in a 3.1
        # document: an error on purpose (the runtime would read it as the number 1), so the
        # builder keeps other operations.
        and "fine_tuning" not in op["path"]
    ]
    picked = [op["operation_id"] for op in gets[:30]]
    selected = client.post(
        "/api/v1/schema/select", {"schema": text, "operations": picked}, format="json"
    )
    assert selected.status_code == 200
    kept = selected.json()["schema"]

    # The builder points the server at the stand-in (the one edit before saving).
    document = json.loads(kept) if name.endswith(".json") else yaml.safe_load(kept)
    document["servers"] = [{"url": f"http://127.0.0.1:{httpserver.port}"}]
    kept = dump(document, "json" if name.endswith(".json") else "yaml", kept)

    checked = client.post(
        "/api/v1/schema/validate", {"schema": kept, "gpt": gpt.pk}, format="json"
    ).json()
    assert checked["valid"], checked["errors"][:3]
    saved = client.post(f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": kept}, format="json")
    assert saved.status_code == 201, saved.json()
    action = Action.objects.get(pk=saved.json()["id"])
    assert sorted(action.operations.values_list("operation_id", flat=True)) == sorted(picked)

    operation = openapi.validate(kept).operations[0]
    arguments = {
        p["name"]: argument_for(p)
        for p in operation.parameters
        if p.get("required") and p.get("in") == "query"
    }
    httpserver.expect_request(operation.path).respond_with_json({"ok": True})
    ran = client.post(
        f"/api/v1/actions/{action.pk}/operations/{operation.operation_id}/run",
        {"arguments": arguments, "consent": "allow"},
        format="json",
    )
    assert ran.status_code == 200, ran.json()
    assert ran.json()["response"]["status"] == 200
    assert [request.path for request, _ in httpserver.log] == [operation.path]
