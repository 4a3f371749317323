"""URL import with Celery in eager mode: every way a fetch can go wrong ends in a clear error,
and a failed import leaves the action's schema as it was."""

import json

import pytest

from actions.models import Action, SchemaImport
from tests.api.conftest import WEATHER, weather_schema
from tests.factories import make_gpt

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def setup(world, api, settings, httpserver):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    gpt = make_gpt(world["acme"], created_by=world["builder"])
    client = api(world["builder"])
    action = client.post(
        f"/api/v1/gpts/{gpt.pk}/actions/", {"schema": weather_schema()}, format="json"
    ).json()
    return client, action["id"], httpserver


def run_import(client, action_id, url):
    response = client.post(f"/api/v1/actions/{action_id}/imports/", {"url": url}, format="json")
    assert response.status_code == 202, response.json()
    return client.get(f"/api/v1/imports/{response.json()['id']}/").json()


def test_successful_import_replaces_the_schema(setup):
    client, action_id, server = setup
    document = json.loads(json.dumps(WEATHER))
    document["servers"] = [{"url": "https://api.weather.example.org"}]
    server.expect_request("/spec.yaml").respond_with_data(
        json.dumps(document), content_type="application/json; charset=utf-8"
    )
    job = run_import(client, action_id, server.url_for("/spec.yaml"))
    assert job["status"] == "succeeded", job
    assert Action.objects.get(pk=action_id).domain == "api.weather.example.org"


@pytest.mark.parametrize(
    "respond,expected",
    [
        ({"response_data": "not found", "status": 404}, "404"),
        ({"response_data": "{{{{ nope", "content_type": "application/json"}, "parsed"),
        ({"response_data": b"\x89PNG\r\n\x1a\n\x00\x00", "content_type": "image/png"}, "binary"),
        (
            {"response_data": json.dumps({"openapi": "3.1.0"}), "content_type": "application/json"},
            "problem",
        ),
    ],
)
def test_failed_imports_say_why_and_keep_the_schema(setup, respond, expected):
    client, action_id, server = setup
    server.expect_request("/spec").respond_with_data(**respond)
    job = run_import(client, action_id, server.url_for("/spec"))
    assert job["status"] == "failed"
    assert expected in job["error"].lower()
    assert Action.objects.get(pk=action_id).schema == weather_schema()


@pytest.mark.parametrize(
    "url", ["", "ftp://example.com/spec", "not a url", 42, "https://" + "a" * 2100 + ".com"]
)
def test_bad_import_urls_are_a_clear_400(setup, url):
    client, action_id, _ = setup
    response = client.post(f"/api/v1/actions/{action_id}/imports/", {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"]
    assert not SchemaImport.objects.exists()


def test_import_is_idempotent(setup):
    from actions.import_job import import_run

    client, action_id, server = setup
    server.expect_request("/spec").respond_with_data(
        weather_schema("again.example.com"), content_type="application/json"
    )
    job = run_import(client, action_id, server.url_for("/spec"))
    assert job["status"] == "succeeded"
    import_run(job_id=job["id"])  # a redelivered message does nothing
    assert len(server.log) == 1
    assert SchemaImport.objects.get(pk=job["id"]).attempts == 1
