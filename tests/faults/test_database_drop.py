"""The PostgreSQL connection of a request dropped in the middle of that request.

Real HTTP against the live server; the request's own database session is ended from another
session with pg_terminate_backend at a chosen moment:
- between two writes of one service (saving an action: the action row is updated, then its
  operations are replaced): the request is held on a row lock this test takes, after the
  first write, and terminated there;
- while a run's outbound call is in flight (the upstream holds the request), so the run's
  record is the first query after the drop.
Either way: a clean 503 `database_unavailable` (no 500, no stack trace), nothing of the request
written, and the next request is served normally.
"""

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import psycopg
import pytest
from django.db import connection

from actions.models import Action, Invocation, Operation
from actions.services import action_create
from tests.factories import add_member, make_gpt, make_workspace
from tests.faults.conftest import bearer_token, http_json, require, wait_for
from workspaces.models import AuditEvent, Plan, Role
from workspaces.services import domain_policy_update

pytestmark = pytest.mark.django_db(transaction=True)


def schema(port: int, title: str, operation_id: str) -> str:
    return json.dumps(
        {
            "openapi": "3.1.0",
            "info": {"title": title, "version": "1.0.0"},
            "servers": [{"url": f"http://127.0.0.1:{port}"}],
            "paths": {
                "/things": {
                    "get": {
                        "operationId": operation_id,
                        "responses": {"200": {"description": "OK"}},
                    }
                }
            },
        }
    )


def raw_connection() -> psycopg.Connection:
    """A session of our own, outside Django: it takes locks and ends other sessions."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    )


@pytest.fixture
def scene(live_server, settings):
    require(connection.vendor == "postgresql", "these tests end PostgreSQL sessions")
    port = int(live_server.url.rsplit(":", 1)[1])
    settings.ACTION_DOMAIN_ALLOW_IP_LITERALS = True
    acme = make_workspace("Acme", plan=Plan.ENTERPRISE)
    globex = make_workspace("Globex", plan=Plan.ENTERPRISE)
    owner = add_member(acme, role=Role.OWNER)
    builder = add_member(acme, role=Role.BUILDER)
    add_member(globex, role=Role.OWNER)
    domain_policy_update(workspace=acme, actor=owner, allow_all=False, allowed=["127.0.0.1"])
    return {
        "base": live_server.url,
        "port": port,
        "acme": acme,
        "globex": globex,
        "builder": builder,
        "token": bearer_token(builder),
    }


def terminate_when(predicate_sql: str, params, timeout=15.0) -> tuple[int, set[str], str]:
    """Find exactly one other session of this database matching `predicate_sql` and end it.
    Returns its pid, the tables its transaction had written to so far (it holds their
    RowExclusiveLock, which INSERT/UPDATE/DELETE take and SELECT ... FOR UPDATE does not) and
    the statement it was on."""
    with closing(raw_connection()) as killer:
        found: list[tuple[int, str]] = []

        def spotted() -> bool:
            found[:] = killer.execute(
                "SELECT pid, query FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                f"AND {predicate_sql}",
                params,
            ).fetchall()
            return len(found) == 1

        assert wait_for(spotted, timeout=timeout, interval=0.02), found
        [(pid, query)] = found
        written = {
            row[0]
            for row in killer.execute(
                "SELECT relation::regclass::text FROM pg_locks "
                "WHERE pid = %s AND locktype = 'relation' AND mode = 'RowExclusiveLock'",
                [pid],
            )
        }
        assert killer.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        return pid, written, query


# A new schema and new authentication: the action row, its operations, an audit event.
CHANGE = {
    "schema": schema(9, "After", "getAfter"),
    "auth": {"type": "api_key", "api_key": "sk-fault-1234567890", "auth_type": "bearer"},
}


def test_connection_dropped_between_two_writes_leaves_nothing_half_saved(scene, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = ["127.0.0.1:9"]  # the schemas' server: never called
    gpt = make_gpt(scene["acme"], created_by=scene["builder"])
    action = action_create(
        gpt=gpt, acting_user=scene["builder"], schema=schema(9, "Before", "getBefore")
    )
    before = Action.objects.values().get(pk=action.pk)
    audit_before = AuditEvent.objects.count()
    path = f"/api/v1/actions/{action.pk}/"

    with closing(raw_connection()) as locker, ThreadPoolExecutor(1) as pool:
        # Hold the operation rows: the save updates the action row, then blocks on replacing
        # its operations, inside its transaction.
        locker.execute("BEGIN")
        locker.execute(
            "SELECT id FROM actions_operation WHERE action_id = %s FOR UPDATE", [action.pk]
        )
        locker_pid = locker.info.backend_pid
        future = pool.submit(http_json, scene["base"], "PATCH", path, scene["token"], CHANGE)
        blocked, written, statement = terminate_when(
            "%s = ANY(pg_blocking_pids(pid))", [locker_pid]
        )
        locker.execute("ROLLBACK")
        status, headers, body = future.result(timeout=30)

    assert blocked != locker_pid
    # Cut between the writes: the action row was already updated in that transaction, the
    # operations were being replaced.
    assert "actions_action" in written, written
    assert statement.startswith('DELETE FROM "actions_operation"'), statement
    assert status == 503, body
    assert body["code"] == "database_unavailable"
    assert "Nothing was saved" in body["detail"]
    assert headers.get("Retry-After") == "5"
    assert Action.objects.values().get(pk=action.pk) == before  # the first write rolled back
    assert list(Operation.objects.values_list("operation_id", flat=True)) == ["getBefore"]
    assert AuditEvent.objects.count() == audit_before

    # The server is fine: the next request gets a fresh connection and saves.
    status, _, body = http_json(scene["base"], "PATCH", path, scene["token"], CHANGE)
    assert status == 200, body
    assert [op["operation_id"] for op in body["operations"]] == ["getAfter"]
    assert body["auth"]["type"] == "api_key"
    assert AuditEvent.objects.count() == audit_before + 1


def test_connection_dropped_during_a_runs_outbound_call(scene, settings, raw_server):
    release_answer = threading.Event()

    def answer_when_told(server, conn, number):
        release_answer.wait(20)
        server.answer(conn, b'{"ok": true}', "application/json")

    upstream = raw_server(answer_when_told)
    settings.OUTBOUND_ALLOW_PRIVATE = [f"127.0.0.1:{upstream.port}"]
    gpt = make_gpt(scene["acme"], created_by=scene["builder"], visibility="workspace")
    action = action_create(
        gpt=gpt, acting_user=scene["builder"], schema=schema(upstream.port, "Things", "getThings")
    )
    with connection.cursor() as cursor:
        own_pid = cursor.connection.info.backend_pid  # this test's own session
    path = f"/api/v1/actions/{action.pk}/operations/getThings/run"

    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(
            http_json, scene["base"], "POST", path, scene["token"], {"consent": "allow"}
        )
        assert upstream.arrived.wait(15)
        # The request's session is the only other one on this database right now.
        terminate_when("pid <> %s", [own_pid])
        release_answer.set()
        status, _, body = future.result(timeout=30)

    assert status == 503, body
    assert body["code"] == "database_unavailable"
    assert upstream.requests == 1 and upstream.served == 1  # sent once, not retried
    assert not Invocation.objects.exists()

    # And the next run works and is recorded.
    status, _, body = http_json(scene["base"], "POST", path, scene["token"], {"consent": "allow"})
    assert status == 200, body
    assert Invocation.objects.filter(workspace=scene["acme"]).count() == 1
    assert not Invocation.objects.filter(workspace=scene["globex"]).exists()
