"""URL import with Celery in eager mode: every way a fetch can go wrong ends in a clear error,
a failed import leaves the action's schema as it was, and a failed import into a new action
creates no action at all."""

import json

import pytest

from actions.models import Action, SchemaImport
from actions.services import action_create
from tests.api.conftest import WEATHER, weather_schema
from tests.factories import make_gpt
from workspaces.models import AllowedDomain

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


# Into a new action: POST /gpts/{id}/imports/ -----------------------------------------------------


@pytest.fixture
def new_import(world, api, settings, httpserver):
    """A GPT without actions, its builder's client, and the local server imports may reach."""
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    gpt = make_gpt(world["acme"], created_by=world["builder"], visibility="workspace")
    return gpt, api(world["builder"]), httpserver


def start_new(client, gpt, url, **fields):
    return client.post(f"/api/v1/gpts/{gpt.pk}/imports/", {"url": url, **fields}, format="json")


def run_new_import(client, gpt, url, **fields):
    response = start_new(client, gpt, url, **fields)
    assert response.status_code == 202, response.json()
    started = response.json()
    assert started["action"] is None and started["gpt"] == gpt.pk
    return client.get(started["links"]["self"]).json()


def test_a_new_action_import_creates_one_action_and_names_it(new_import):
    gpt, client, server = new_import
    server.expect_request("/spec.json").respond_with_data(
        weather_schema(), content_type="application/json"
    )
    job = run_new_import(
        client, gpt, server.url_for("/spec.json"), privacy_policy_url="https://example.com/p"
    )
    assert job["status"] == "succeeded", job
    action = Action.objects.get(gpt=gpt)
    assert job["action"] == action.pk and job["gpt"] == gpt.pk
    assert action.schema == weather_schema() and action.domain == "weather.example.com"
    assert action.privacy_policy_url == "https://example.com/p"
    assert list(action.operations.values_list("operation_id", flat=True)) == ["GetCurrentWeather"]
    # The page then edits that action, as any other.
    shown = client.get(f"/api/v1/actions/{action.pk}/").json()
    assert shown["schema"] == weather_schema()


def test_a_redelivered_new_action_import_makes_no_second_action(new_import):
    from actions.import_job import import_run

    gpt, client, server = new_import
    server.expect_request("/spec.json").respond_with_data(
        weather_schema(), content_type="application/json"
    )
    job = run_new_import(client, gpt, server.url_for("/spec.json"))
    assert job["status"] == "succeeded"
    import_run(job_id=job["id"])
    assert Action.objects.filter(gpt=gpt).count() == 1
    assert len(server.log) == 1


def _refusing_policy(world, *patterns):
    acme = world["acme"]
    acme.allow_all_domains = False
    acme.save()
    for pattern in patterns:
        AllowedDomain.objects.create(workspace=acme, pattern=pattern)


@pytest.mark.parametrize(
    "scene,expected",
    [
        ("404", "answered 404"),
        ("not a schema", "can not be parsed"),
        ("invalid schema", "problem"),
        ("import host refused", "not allowed"),
        ("schema server refused", "weather.example.com"),
        ("duplicate domain", "duplicate domains"),
    ],
)
def test_a_failed_new_action_import_creates_nothing(new_import, world, scene, expected):
    gpt, client, server = new_import
    if scene == "404":
        server.expect_request("/spec").respond_with_data("gone", status=404)
    elif scene == "not a schema":
        server.expect_request("/spec").respond_with_data("{{{{ nope", content_type="text/plain")
    elif scene == "invalid schema":
        server.expect_request("/spec").respond_with_json({"openapi": "3.1.0"})
    else:
        server.expect_request("/spec").respond_with_data(
            weather_schema(), content_type="application/json"
        )
    if scene == "import host refused":
        _refusing_policy(world, "weather.example.com")
    elif scene == "schema server refused":
        _refusing_policy(world, "localhost")
    elif scene == "duplicate domain":
        action_create(
            gpt=gpt,
            acting_user=world["builder"],
            schema=weather_schema(operation_id="Other"),
        )
    before = Action.objects.count()
    for _ in range(3):  # each try used to leave an empty action behind
        job = run_new_import(client, gpt, server.url_for("/spec"))
        assert job["status"] == "failed", job
        assert expected in job["error"], job["error"]
        assert job["action"] is None
    assert Action.objects.count() == before
    assert SchemaImport.objects.filter(gpt=gpt, action__isnull=True).count() == 3


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "   "}, "url"),
        ({"url": 42}, "url"),
        ({"url": ["https://example.com/spec"]}, "url"),
        ({"url": "ftp://example.com/spec"}, "url"),
        ({"url": "https://" + "a" * 2100 + ".com/spec"}, "url"),
        ({"url": "https://example.com/spec", "privacy_policy_url": 5}, "privacy_policy_url"),
        (
            {"url": "https://example.com/spec", "privacy_policy_url": "not a url"},
            "privacy_policy_url",
        ),
    ],
)
def test_bad_new_action_import_requests_are_a_clear_400(new_import, body, field):
    gpt, client, _ = new_import
    response = client.post(f"/api/v1/gpts/{gpt.pk}/imports/", body, format="json")
    assert response.status_code == 400, response.json()
    answer = response.json()
    assert answer["detail"] and answer["code"] in ("invalid", "invalid_privacy_policy_url")
    assert answer.get("field", field) == field or field in answer.get("fields", {})
    assert not SchemaImport.objects.exists()


def test_a_new_action_import_is_refused_at_once_for_what_refuses_any_new_action(new_import, world):
    gpt, client, server = new_import
    gpt.visibility = "link"
    gpt.save()
    refused = start_new(client, gpt, server.url_for("/spec"))
    assert refused.status_code == 400
    assert refused.json()["code"] == "privacy_policy_required"
    gpt.visibility, gpt.apps = "workspace", ["github"]
    gpt.save()
    refused = start_new(client, gpt, server.url_for("/spec"))
    assert refused.json()["code"] == "apps_and_actions"
    assert not SchemaImport.objects.exists() and not server.log


def test_a_public_gpt_gets_its_new_action_with_the_privacy_policy(new_import):
    gpt, client, server = new_import
    gpt.visibility = "link"
    gpt.save()
    server.expect_request("/spec.json").respond_with_data(
        weather_schema(), content_type="application/json"
    )
    job = run_new_import(
        client, gpt, server.url_for("/spec.json"), privacy_policy_url="https://example.com/p"
    )
    assert job["status"] == "succeeded", job
    assert Action.objects.get(pk=job["action"]).privacy_policy_url == "https://example.com/p"


def test_new_action_imports_are_for_editors_of_the_gpt_only(new_import, world, api):
    gpt, builder, server = new_import
    server.expect_request("/spec.json").respond_with_data(
        weather_schema(), content_type="application/json"
    )
    member = api(world["member"])
    refused = start_new(member, gpt, server.url_for("/spec.json"))
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"
    other_builder = start_new(api(world["builder2"]), gpt, server.url_for("/spec.json"))
    assert other_builder.status_code == 403  # a builder edits the GPTs they created
    stranger = api(world["stranger"])
    assert start_new(stranger, gpt, server.url_for("/spec.json")).status_code == 404
    assert not SchemaImport.objects.exists() and not server.log

    job = run_new_import(builder, gpt, server.url_for("/spec.json"))
    assert stranger.get(f"/api/v1/imports/{job['id']}/").status_code == 404
    assert member.get(f"/api/v1/imports/{job['id']}/").json()["action"] == job["action"]
    assert Action.objects.count() == 1
