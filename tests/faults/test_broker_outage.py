"""Redis (the broker) stopped, frozen, restarted: imports asked for meanwhile are not lost.

The import API answers at once with 503 queue_unavailable and keeps the job, pending and not
dispatched. When Redis and a worker are back, the worker's start-up sweep (the same task celery
beat runs every 30 s) queues it, and it completes, once. The broker is this suite's own
redis-server on a free port: the machine's shared Redis is never stopped.
"""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import pytest
from django.conf import settings as django_settings
from django.db import connections
from rest_framework.test import APIClient
from werkzeug import Response

from actions.models import Action, ImportStatus, SchemaImport
from actions.tasks import (
    dispatch_pending_imports,
    import_dispatch,
    import_dispatch_pending,
    import_schema,
)
from tests.api.conftest import WEATHER
from tests.factories import add_member, make_gpt, make_workspace
from tests.faults.conftest import wait_for
from workspaces.models import Role

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

# A web request must never wait on a dead broker longer than this (measured: a stopped broker
# is refused in well under a second, a frozen one after the 2 s socket timeout).
ANSWER_WITHIN = 8.0


def local_document(port: int, title: str = "Get weather data") -> str:
    document = json.loads(json.dumps(WEATHER))
    document["info"]["title"] = title
    document["servers"] = [{"url": f"http://127.0.0.1:{port}/api"}]
    return json.dumps(document)


@pytest.fixture
def scene(settings, httpserver):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{httpserver.port}"]
    httpserver.expect_request("/openapi.json").respond_with_data(
        local_document(httpserver.port), content_type="application/json"
    )
    acme, globex = make_workspace("Acme"), make_workspace("Globex")
    builder = add_member(acme, role=Role.BUILDER)
    stranger = add_member(globex, role=Role.OWNER)

    def new_action():
        return Action.objects.create(gpt=make_gpt(acme, created_by=builder), workspace=acme)

    def new_gpt():
        return make_gpt(acme, created_by=builder)

    client = APIClient()
    client.force_authenticate(builder)
    return {
        "client": client,
        "new_action": new_action,
        "new_gpt": new_gpt,
        "url": httpserver.url_for("/openapi.json"),
        "upstream": httpserver,
        "stranger": stranger,
    }


def ask_import(scene, action=None, *, gpt=None):
    """POST the import (into `action`, or into a new action of `gpt`) from another thread, so
    that a request that hangs fails this test after ANSWER_WITHIN + 5 s instead of hanging the
    suite."""
    pool = ThreadPoolExecutor(1)
    started = time.monotonic()
    path = f"/api/v1/gpts/{gpt.pk}/imports/" if gpt else f"/api/v1/actions/{action.pk}/imports/"

    def post():
        try:
            return scene["client"].post(path, {"url": scene["url"]}, format="json")
        finally:
            connections.close_all()  # this thread's own database session

    future = pool.submit(post)
    try:
        response = future.result(timeout=ANSWER_WITHIN + 5)
    except FutureTimeout:
        pytest.fail(f"the import API hung for more than {ANSWER_WITHIN + 5:g}s on the broker")
    finally:
        pool.shutdown(wait=False)
    return response, time.monotonic() - started


def assert_kept_pending(scene, response, elapsed) -> int:
    assert elapsed < ANSWER_WITHIN, f"the API hung {elapsed:.1f}s on a dead broker"
    assert response.status_code == 503, response.json()
    body = response.json()
    assert body["code"] == "queue_unavailable"
    assert "saved" in body["detail"] and "queue is back" in body["detail"]
    job = SchemaImport.objects.get(pk=body["import_id"])
    assert (job.status, job.dispatched_at, job.attempts) == (ImportStatus.PENDING, None, 0)
    # The job is there to follow, for its owner only.
    followed = scene["client"].get(body["links"]["self"])
    assert followed.status_code == 200 and followed.json()["status"] == "pending"
    outsider = APIClient()
    outsider.force_authenticate(scene["stranger"])
    assert outsider.get(body["links"]["self"]).status_code == 404
    return job.pk


def succeeded(*job_ids):
    return lambda: all(
        SchemaImport.objects.get(pk=pk).status == ImportStatus.SUCCEEDED for pk in job_ids
    )


def test_imports_asked_for_while_redis_is_down_run_once_it_is_back(
    scene, own_redis, fault_broker, workers
):
    action, later = scene["new_action"](), scene["new_action"]()
    own_redis.stop()

    response, elapsed = ask_import(scene, action)
    job_id = assert_kept_pending(scene, response, elapsed)
    assert import_dispatch_pending() == 0  # still down: the sweep keeps it waiting
    assert SchemaImport.objects.get(pk=job_id).dispatched_at is None

    own_redis.start()  # same port, empty: whatever it held before is gone
    # The web process's pooled broker connection died with the old server; the next publish
    # reconnects by itself.
    response, elapsed = ask_import(scene, later)
    assert response.status_code == 202, response.json()
    assert elapsed < ANSWER_WITHIN
    later_id = response.json()["id"]

    worker = workers()
    assert wait_for(succeeded(job_id, later_id), timeout=30), worker.output()
    for pk in (job_id, later_id):
        job = SchemaImport.objects.get(pk=pk)
        assert job.attempts == 1 and job.error == "" and job.dispatched_at is not None
    assert len(scene["upstream"].log) == 2  # one fetch per job, no more
    assert action.operations.count() == 1 and later.operations.count() == 1


def test_a_frozen_redis_is_a_quick_503_not_a_hung_request(scene, own_redis, fault_broker, workers):
    action = scene["new_action"]()
    assert import_dispatch_pending() == 0  # connects this process to Redis while it is healthy
    own_redis.freeze()
    try:
        response, elapsed = ask_import(scene, action)
        job_id = assert_kept_pending(scene, response, elapsed)
    finally:
        own_redis.thaw()
    worker = workers()
    assert wait_for(succeeded(job_id), timeout=30), worker.output()
    assert SchemaImport.objects.get(pk=job_id).attempts == 1
    assert len(scene["upstream"].log) == 1


def serve_document_slowly(scene):
    """The upstream answers the import with a document after a second: long enough for two
    deliveries of the same job to overlap."""
    upstream = scene["upstream"]
    upstream.clear()

    def slow_document(request):
        time.sleep(1.0)
        return Response(local_document(upstream.port), content_type="application/json")

    upstream.expect_request("/openapi.json").respond_with_handler(slow_document)
    return upstream


def test_redispatch_never_runs_a_queued_import_twice(scene, own_redis, fault_broker, workers):
    """The sweep skips a job already queued; and even a duplicate message, delivered to two
    pool processes at the same moment, fetches and saves once."""
    upstream = serve_document_slowly(scene)
    action = scene["new_action"]()
    response, _ = ask_import(scene, action)
    assert response.status_code == 202
    job_id = response.json()["id"]
    queued_at = SchemaImport.objects.get(pk=job_id).dispatched_at
    assert queued_at is not None
    assert import_dispatch_pending() == 0  # queued already: nothing to re-dispatch
    assert import_dispatch(job_id=job_id) is True  # a stale claim publishes nothing...
    assert SchemaImport.objects.get(pk=job_id).dispatched_at == queued_at  # ...and changes nothing
    import_schema.delay(job_id)  # ...but a duplicate message all the same

    worker = workers(pool="prefork", concurrency=2)
    assert wait_for(succeeded(job_id), timeout=30), worker.output()
    time.sleep(1.5)  # let the duplicate finish as well
    assert own_redis.client().llen("celery") == 0
    job = SchemaImport.objects.get(pk=job_id)
    assert job.attempts == 1, worker.output()
    assert len(upstream.log) == 1
    assert "running elsewhere; duplicate delivery ignored" in worker.output()
    assert action.operations.count() == 1


def test_a_new_action_import_kept_through_an_outage_creates_one_action(
    scene, own_redis, fault_broker, workers
):
    """Asked for while Redis is down, then queued twice (the start-up sweep and a duplicate
    message) to two pool processes: one fetch, one new action, named by the job."""
    upstream = serve_document_slowly(scene)
    gpt = scene["new_gpt"]()
    own_redis.stop()
    response, elapsed = ask_import(scene, gpt=gpt)
    job_id = assert_kept_pending(scene, response, elapsed)
    assert SchemaImport.objects.get(pk=job_id).action is None
    assert not Action.objects.filter(gpt=gpt).exists()

    own_redis.start()
    import_schema.delay(job_id)  # a duplicate of what the worker's start-up sweep queues
    worker = workers(pool="prefork", concurrency=2)
    assert wait_for(succeeded(job_id), timeout=30), worker.output()
    time.sleep(1.5)  # let the duplicate finish as well
    job = SchemaImport.objects.get(pk=job_id)
    action = Action.objects.get(gpt=gpt)
    assert job.action == action and job.attempts == 1, worker.output()
    assert action.operations.count() == 1
    assert len(upstream.log) == 1


def test_the_sweep_is_on_celery_beats_schedule():
    entries = [
        entry
        for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == dispatch_pending_imports.name
    ]
    assert entries and entries[0]["schedule"] <= 60
