"""A Celery worker killed with SIGKILL in the middle of a URL import.

The upstream holds the first request open so the kill lands while the task is running. The
task is acknowledged late, so its message stays in the broker's "unacked" set; after the
visibility timeout (5 s here, 10 min in production) the next worker gets it again and the job,
left RUNNING by the dead worker, is run to the end. Exactly once: one document served in full,
one set of operations, the job SUCCEEDED, both attempts counted, nothing left in the queue.
"""

import json
import os
import signal
import time

import pytest
from rest_framework.test import APIClient

from actions.models import Action, ImportStatus, Operation, SchemaImport
from tests.api.conftest import WEATHER
from tests.factories import add_member, make_gpt, make_workspace
from tests.faults.conftest import wait_for
from workspaces.models import Role

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def document_for(port: int) -> bytes:
    document = json.loads(json.dumps(WEATHER))
    document["servers"] = [{"url": f"http://127.0.0.1:{port}/api"}]
    return json.dumps(document).encode()


def hold_first_request(server, conn, number):
    """The first request waits until the test is over; the others get the document."""
    if number == 1:
        server.release.wait(60)
        return
    server.answer(conn, document_for(server.port), "application/json")


def setup_action(settings, port):
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{port}"]
    acme, globex = make_workspace("Acme"), make_workspace("Globex")
    builder = add_member(acme, role=Role.BUILDER)
    action = Action.objects.create(gpt=make_gpt(acme, created_by=builder), workspace=acme)
    other = Action.objects.create(gpt=make_gpt(globex), workspace=globex)
    client = APIClient()
    client.force_authenticate(builder)
    return client, action, other


def start_import(client, action, port) -> int:
    response = client.post(
        f"/api/v1/actions/{action.pk}/imports/",
        {"url": f"http://127.0.0.1:{port}/openapi.json"},
        format="json",
    )
    assert response.status_code == 202, response.json()
    return response.json()["id"]


def job_status(job_id) -> str:
    return SchemaImport.objects.get(pk=job_id).status


def assert_nothing_left_in_the_broker(own_redis):
    client = own_redis.client()
    assert client.llen("celery") == 0
    assert client.hlen("unacked") == 0, client.hgetall("unacked")


def test_an_import_survives_its_worker_being_killed_and_runs_exactly_once(
    settings, raw_server, workers, own_redis
):
    upstream = raw_server(hold_first_request)
    client, action, other = setup_action(settings, upstream.port)
    first = workers()
    first.wait_ready()

    job_id = start_import(client, action, upstream.port)
    assert upstream.arrived.wait(30), first.output()
    assert wait_for(lambda: job_status(job_id) == ImportStatus.RUNNING, timeout=10)
    killed_at = time.monotonic()
    first.process.send_signal(signal.SIGKILL)  # no warm shutdown: the task is not given back
    first.process.wait(timeout=10)
    assert first.process.returncode == -9
    assert own_redis.client().hlen("unacked") == 1  # the broker still holds the task

    second = workers()
    assert wait_for(lambda: job_status(job_id) == ImportStatus.SUCCEEDED, timeout=40), (
        second.output()
    )
    # Redelivered after the visibility timeout, not before (the job was RUNNING meanwhile).
    assert time.monotonic() - killed_at >= 4

    job = SchemaImport.objects.get(pk=job_id)
    assert job.attempts == 2  # the killed run and the one that finished
    assert job.error == ""
    assert upstream.requests == 2 and upstream.served == 1
    assert list(action.operations.values_list("operation_id", flat=True)) == ["GetCurrentWeather"]
    assert Operation.objects.count() == 1  # one set of operations, and none elsewhere
    assert not other.operations.exists()
    time.sleep(1.5)  # a second delivery, if there were one, would have been taken by now
    assert_nothing_left_in_the_broker(own_redis)
    assert SchemaImport.objects.get(pk=job_id).attempts == 2


def test_a_killed_pool_process_gives_the_task_back_at_once(
    settings, raw_server, workers, own_redis
):
    """Prefork: the OOM killer takes the child running the task, the worker lives on. With
    reject_on_worker_lost the worker requeues the task itself: no visibility timeout involved
    (this worker's is the production 10 minutes)."""
    upstream = raw_server(hold_first_request)
    client, action, _ = setup_action(settings, upstream.port)
    worker = workers(pool="prefork", concurrency=1, CELERY_VISIBILITY_TIMEOUT="600")
    worker.wait_ready()

    job_id = start_import(client, action, upstream.port)
    assert upstream.arrived.wait(30), worker.output()
    [child] = worker.children()
    os.kill(child, signal.SIGKILL)
    assert wait_for(lambda: job_status(job_id) == ImportStatus.SUCCEEDED, timeout=20), (
        worker.output()
    )
    assert "WorkerLostError" in worker.output()
    job = SchemaImport.objects.get(pk=job_id)
    assert job.attempts == 2
    assert upstream.requests == 2 and upstream.served == 1
    assert action.operations.count() == 1
    time.sleep(1)
    assert_nothing_left_in_the_broker(own_redis)
