"""The work of a URL import, as a Celery worker runs it: fetch, validate, save (into the job's
action, or into a new action of the job's GPT, created only then).

The fetch goes through the guarded outbound client, so an import can reach only what an action
could. A job that already finished is not done again, and a job another live worker is running
right now (a duplicate delivery) is left to it: a PostgreSQL advisory lock, held by the running
worker's session, says so. A killed worker's session ends with it, and so does the lock, so a
redelivery after a crash is never locked out. The queue's side is `actions.tasks`; the API's
side (recording a request) is `actions.imports`.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from actions import openapi
from actions.models import ImportStatus, SchemaImport
from actions.openapi.convert import convert_document
from actions.openapi.select import dump
from actions.services import action_create, action_update
from kernel.errors import RuleViolation
from outbound import OutboundError, fetch, schema_import
from workspaces.policy import domain_check

logger = logging.getLogger(__name__)

IMPORT_TIMEOUT_SECONDS = 45
# Network hiccups are worth another try; a refused address or a 404 is not.
RETRYABLE_CODES = frozenset({"timeout", "connection_failed", "dns_failure"})
ACCEPTED_TYPES = "application/json, application/yaml, application/x-yaml, text/yaml, text/plain"


class RetryableImportError(Exception):
    pass


@contextmanager
def _running_alone(job_id: int) -> Iterator[bool]:
    """True while this database session holds the job's advisory lock; False when another
    live session (a worker running the same job from a duplicate message) holds it."""
    if connection.vendor != "postgresql":  # development's SQLite runs tasks in-process
        yield True
        return
    key = f"actions.schema_import:{job_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
            except DatabaseError:
                pass  # the session is gone, and its lock with it


def import_run(*, job_id: int) -> None:
    """Carry out one import job. Raises RetryableImportError for network trouble."""
    with _running_alone(job_id) as alone:
        if not alone:
            logger.info("schema import %s is running elsewhere; duplicate delivery ignored", job_id)
            return
        _run(job_id)


def _run(job_id: int) -> None:
    with transaction.atomic():
        job = (
            SchemaImport.objects.select_for_update(of=("self",))
            .select_related("action", "gpt__workspace", "requested_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
            return  # gone, or already done by an earlier delivery
        job.status = ImportStatus.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
    workspace = job.gpt.workspace
    try:
        response = fetch(
            "GET",
            job.url,
            headers={"Accept": ACCEPTED_TYPES},
            host_check=lambda host: domain_check(workspace=workspace, host=host),
            policy=schema_import(max_body_chars=_max_chars(), timeout=IMPORT_TIMEOUT_SECONDS),
        )
    except OutboundError as exc:
        if exc.code in RETRYABLE_CODES:
            _set(job, ImportStatus.PENDING, exc.detail)
            raise RetryableImportError(exc.detail) from exc
        _finish(job, ImportStatus.FAILED, exc.detail)
        return
    if response.status >= 400:
        _finish(
            job,
            ImportStatus.FAILED,
            f"The server answered {response.status}; expected the OpenAPI document.",
        )
        return
    text = response.text
    try:
        parsed = openapi.parse(text)
    except openapi.SchemaParseError as exc:
        first = exc.problems[0].message if exc.problems else "unreadable"
        _finish(job, ImportStatus.FAILED, f"The document can not be parsed: {first}")
        return
    if str(parsed.document.get("swagger", "")).startswith("2"):
        converted, notes = convert_document(parsed.document)
        text = dump(converted, parsed.format, parsed.text)
        job.notes = ["Converted from Swagger 2.0 to OpenAPI 3.0.", *notes]
        job.save(update_fields=["notes"])
    try:
        # The save and the job's success together or not at all: a worker dying in between
        # would otherwise leave a new action the job does not name, and its redelivery would
        # then fail on that action's domain.
        with transaction.atomic():
            _save_schema(job, text)
            _finish(job, ImportStatus.SUCCEEDED, "")
    except RuleViolation as exc:
        _finish(job, ImportStatus.FAILED, exc.detail)


def _save_schema(job: SchemaImport, text: str) -> None:
    """Replace the job's action's schema, or create the job's new action with it (the job
    then names the action)."""
    if job.action is not None:
        action_update(action=job.action, acting_user=job.requested_by, schema=text)
        return
    job.action = action_create(
        gpt=job.gpt,
        acting_user=job.requested_by,
        schema=text,
        privacy_policy_url=job.privacy_policy_url,
    )
    job.save(update_fields=["action"])


def import_give_up(*, job_id: int, reason: str) -> None:
    job = SchemaImport.objects.filter(pk=job_id).first()
    if job is not None and job.status not in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
        _finish(job, ImportStatus.FAILED, f"Gave up after {job.attempts} attempts: {reason}")


def _max_chars() -> int:
    return settings.SCHEMA_MAX_BYTES


def _set(job: SchemaImport, status: str, error: str) -> None:
    job.status, job.error = status, error
    job.save(update_fields=["status", "error"])


def _finish(job: SchemaImport, status: str, error: str) -> None:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
