"""Issue 16, points 3 and 7: what save refuses, validate shows first, at the same place.

* placeholders in server URLs and paths: the same code and pointer from validate and save;
* inside a GPT (validate with `gpt` or `action`): a domain or operationId another action has,
  a domain the workspace does not allow, each at its line — only for callers who see the GPT;
* a Swagger 2.0 import is converted, with notes; the editor page refuses an empty save.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actions.models import Action
from tests.api.conftest import weather_schema
from tests.factories import make_gpt
from workspaces.models import AllowedDomain

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "openapi"


@pytest.fixture
def gpt(world):
    return make_gpt(world["acme"], created_by=world["builder"])


def with_server(url: str, path: str = "/location") -> str:
    document = json.loads(weather_schema())
    document["servers"][0]["url"] = url
    document["paths"] = {path: document["paths"]["/location"]}
    return json.dumps(document, indent=2)


@pytest.mark.parametrize(
    ("url", "path", "code", "pointer", "focus"),
    [
        (
            "https://<subdomain>.example.com",
            "/location",
            "server_placeholder",
            "/servers/0/url",
            "<subdomain>",
        ),
        (
            "https://{instance}.example.com",
            "/location",
            "server_variable",
            "/servers/0/url",
            "{instance}",
        ),
        (
            "https://your_instance.service-now.com",
            "/location",
            "server_placeholder",
            "/servers/0/url",
            "your_instance",
        ),
        (
            "https://YOUR-DOMAIN.example.com",
            "/location",
            "server_placeholder",
            "/servers/0/url",
            "YOUR-DOMAIN",
        ),
        (
            "https://api.example.com",
            "/v1/<project_id>/location",
            "path_placeholder",
            "/paths/~1v1~1<project_id>~1location",
            "<project_id>",
        ),
        (
            "https://api.example.com",
            "/orgs/YOUR_ORG/location",
            "path_placeholder",
            "/paths/~1orgs~1YOUR_ORG~1location",
            "YOUR_ORG",
        ),
    ],
)
def test_placeholders_validate_and_save_agree(world, api, gpt, url, path, code, pointer, focus):
    text = with_server(url, path)
    client = api(world["builder"])
    verdict = client.post("/api/v1/schema/validate", {"schema": text}, format="json").json()
    [error] = [e for e in verdict["errors"] if e["code"] == code]
    assert error["pointer"] == pointer
    # Line and column are the placeholder's own.
    line = text.splitlines()[error["line"] - 1]
    assert line[error["column"] - 1 :].startswith(focus)
    saved = client.post(f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": text}, format="json")
    assert saved.status_code == 400
    body = saved.json()
    assert body["code"] == "invalid_schema"
    assert [(e["code"], e["pointer"], e["line"], e["column"]) for e in body["errors"]] == [
        (e["code"], e["pointer"], e["line"], e["column"]) for e in verdict["errors"]
    ]
    assert not Action.objects.filter(gpt=gpt).exists()


def test_live_check_in_a_gpt_shows_what_save_refuses(world, api, gpt):
    client = api(world["builder"])
    first = client.post(
        f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": weather_schema()}, format="json"
    )
    assert first.status_code == 201
    text = weather_schema()  # same domain, same operationId
    plain = client.post("/api/v1/schema/validate", {"schema": text}, format="json").json()
    assert plain["valid"] is True
    inside = client.post(
        "/api/v1/schema/validate", {"schema": text, "gpt": gpt.pk}, format="json"
    ).json()
    assert inside["valid"] is False
    by_code = {e["code"]: e for e in inside["errors"]}
    assert set(by_code) == {"duplicate_domain", "duplicate_operation_id"}
    lines = text.splitlines()
    assert '"url"' in lines[by_code["duplicate_domain"]["line"] - 1]
    assert '"operationId"' in lines[by_code["duplicate_operation_id"]["line"] - 1]
    saved = client.post(f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": text}, format="json")
    assert saved.json()["code"] == "duplicate_domain"
    assert saved.json()["detail"] == by_code["duplicate_domain"]["message"]
    # The action itself (editing it): its own domain and operations are not a clash.
    mine = client.post(
        "/api/v1/schema/validate", {"schema": text, "action": first.json()["id"]}, format="json"
    ).json()
    assert mine["valid"] is True


def test_live_check_shows_a_domain_the_workspace_does_not_allow(world, api, gpt):
    acme = world["acme"]
    acme.allow_all_domains = False
    acme.save()
    AllowedDomain.objects.create(workspace=acme, pattern="other.example")
    client = api(world["builder"])
    text = weather_schema()
    inside = client.post(
        "/api/v1/schema/validate", {"schema": text, "gpt": gpt.pk}, format="json"
    ).json()
    [error] = inside["errors"]
    assert error["code"] == "domain_not_allowed" and error["pointer"] == "/servers/0/url"
    saved = client.post(f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": text}, format="json")
    assert saved.status_code == 403 and saved.json()["detail"] == error["message"]


def test_live_check_is_scoped_to_the_caller(world, api, gpt):
    stranger = api(world["stranger"])
    for extra in ({"gpt": gpt.pk}, {"action": 10**9}, {"gpt": 10**12}):
        response = stranger.post(
            "/api/v1/schema/validate", {"schema": weather_schema(), **extra}, format="json"
        )
        assert response.status_code == 404
    for bad in ({"gpt": "x"}, {"gpt": -1}, {"action": 2**70}):
        response = stranger.post(
            "/api/v1/schema/validate", {"schema": weather_schema(), **bad}, format="json"
        )
        assert response.status_code == 400


@pytest.mark.django_db(transaction=True)
def test_swagger_2_import_is_converted_with_notes(world, api, gpt, settings, httpserver):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    document = json.loads(
        (CORPUS / "OAI-OpenAPI-Specification__v2.0-petstore.json").read_text(encoding="utf-8")
    )
    document["schemes"] = ["https"]
    httpserver.expect_request("/swagger.json").respond_with_data(
        json.dumps(document), content_type="application/json"
    )
    client = api(world["builder"])
    started = client.post(
        f"/api/v1/gpts/{gpt.pk}/imports/",
        {"url": httpserver.url_for("/swagger.json")},
        format="json",
    )
    job = client.get(f"/api/v1/imports/{started.json()['id']}/").json()
    assert job["status"] == "succeeded", job
    assert job["notes"][0] == "Converted from Swagger 2.0 to OpenAPI 3.0."
    saved = Action.objects.get(pk=job["action"], gpt=gpt)
    assert json.loads(saved.schema)["openapi"] == "3.0.3"
    assert saved.domain == "petstore.swagger.io"
    assert sorted(saved.operations.values_list("operation_id", flat=True)) == [
        "createPets",
        "listPets",
        "showPetById",
    ]


def test_editor_refuses_an_empty_save(world, client, gpt):
    client.force_login(world["builder"])
    response = client.post(
        f"/editor/gpts/{gpt.pk}/actions/new", {"schema": "  \n", "auth_type": "none"}
    )
    assert response.status_code == 400
    assert b"Add a schema before saving" in response.content
    assert not Action.objects.filter(gpt=gpt).exists()
