"""URL import end to end: the API queues on commit, a real Celery worker on Redis fetches the
document from a real HTTP server on 127.0.0.1, validates and saves it (into an existing action,
or into a new one the worker creates only when the import succeeds)."""

import json

import pytest
from rest_framework.test import APIClient

from actions.models import Action, ImportStatus, SchemaImport
from tests.api.conftest import WEATHER
from tests.factories import add_member, make_gpt, make_workspace
from tests.integration.conftest import wait_for
from workspaces.models import Role

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def local_schema(port: int) -> str:
    document = json.loads(json.dumps(WEATHER))
    document["servers"] = [{"url": f"http://127.0.0.1:{port}/api"}]
    return json.dumps(document)


def test_import_runs_on_a_real_worker(httpserver, settings, celery_worker_factory):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    httpserver.expect_request("/openapi.json").respond_with_data(
        local_schema(httpserver.port), content_type="application/json"
    )
    worker = celery_worker_factory()

    workspace = make_workspace()
    builder = add_member(workspace, role=Role.BUILDER)
    gpt = make_gpt(workspace, created_by=builder)
    action = Action.objects.create(gpt=gpt, workspace=workspace)
    client = APIClient()
    client.force_authenticate(builder)

    response = client.post(
        f"/api/v1/actions/{action.pk}/imports/",
        {"url": httpserver.url_for("/openapi.json")},
        format="json",
    )
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    job_id = response.json()["id"]

    def finished():
        return SchemaImport.objects.get(pk=job_id).status in (
            ImportStatus.SUCCEEDED,
            ImportStatus.FAILED,
        )

    assert wait_for(finished, timeout=60), worker.output()
    job = client.get(f"/api/v1/imports/{job_id}/").json()
    assert job["status"] == "succeeded", job
    action.refresh_from_db()
    assert action.domain == "127.0.0.1"
    assert list(action.operations.values_list("operation_id", flat=True)) == ["GetCurrentWeather"]


def test_import_of_a_refused_address_fails_clearly(settings, celery_worker_factory, httpserver):
    settings.OUTBOUND_ALLOW_PRIVATE = []  # the local server is not allowlisted
    httpserver.expect_request("/openapi.json").respond_with_data("{}")
    worker = celery_worker_factory()
    workspace = make_workspace()
    builder = add_member(workspace, role=Role.BUILDER)
    action = Action.objects.create(gpt=make_gpt(workspace, created_by=builder), workspace=workspace)
    client = APIClient()
    client.force_authenticate(builder)
    job_id = client.post(
        f"/api/v1/actions/{action.pk}/imports/",
        {"url": httpserver.url_for("/openapi.json")},
        format="json",
    ).json()["id"]
    assert wait_for(
        lambda: SchemaImport.objects.get(pk=job_id).status == ImportStatus.FAILED, timeout=60
    ), worker.output()
    job = SchemaImport.objects.get(pk=job_id)
    # The kind of address, never the address a name resolved to (that would map the network).
    assert "loopback address" in job.error
    assert "127.0.0.1" not in job.error
    assert len(httpserver.log) == 0


def test_an_import_into_a_new_action_creates_it_on_the_worker(
    httpserver, settings, celery_worker_factory
):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    httpserver.expect_request("/openapi.json").respond_with_data(
        local_schema(httpserver.port), content_type="application/json"
    )
    httpserver.expect_request("/missing.json").respond_with_data("gone", status=404)
    worker = celery_worker_factory()
    workspace = make_workspace()
    builder = add_member(workspace, role=Role.BUILDER)
    gpt = make_gpt(workspace, created_by=builder)
    client = APIClient()
    client.force_authenticate(builder)

    def run(path: str) -> dict:
        response = client.post(
            f"/api/v1/gpts/{gpt.pk}/imports/", {"url": httpserver.url_for(path)}, format="json"
        )
        assert response.status_code == 202
        assert (response.json()["status"], response.json()["action"]) == ("pending", None)
        job_id = response.json()["id"]
        done = (ImportStatus.SUCCEEDED, ImportStatus.FAILED)
        assert wait_for(lambda: SchemaImport.objects.get(pk=job_id).status in done, timeout=60), (
            worker.output()
        )
        return client.get(f"/api/v1/imports/{job_id}/").json()

    failed = run("/missing.json")
    assert failed["status"] == "failed" and failed["action"] is None
    assert not Action.objects.exists()

    job = run("/openapi.json")
    assert job["status"] == "succeeded", job
    action = Action.objects.get()
    assert job["action"] == action.pk and action.gpt == gpt and action.domain == "127.0.0.1"
