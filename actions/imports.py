"""Import an action's schema from a URL: the request (API side) and the work (Celery side).

The fetch goes through the guarded outbound client, so an import can reach only what an action
could.

Exactly once, whatever fails:
- the job row is written first and the task queued on commit; when the broker can not take it,
  the row stays PENDING without `dispatched_at` and the request answers 503 queue_unavailable.
  `import_dispatch_pending` (Celery beat every 30 s, and every worker as it starts) queues such
  jobs again. A claim on `dispatched_at` (compare-and-set) lets only one party publish a job.
- the task is acknowledged late: a worker killed mid-import leaves the message unacknowledged,
  and the broker hands it to another worker after the visibility timeout. The job, left
  RUNNING, is then run again.
- a job that already finished is not done again, and a job another live worker is running
  right now (a duplicate delivery) is left to it: a PostgreSQL advisory lock, held by the
  running worker's session, says so. A killed worker's session ends with it, and so does the
  lock, so a redelivery after a crash is never locked out.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from actions import openapi
from actions.models import Action, ImportStatus, SchemaImport
from actions.runtime.outbound import OutboundError, fetch
from actions.services import action_update
from config.errors import RuleViolation
from workspaces.domains import DomainError, host_from_url
from workspaces.policy import domain_check

logger = logging.getLogger(__name__)

IMPORT_TIMEOUT_SECONDS = 45
# Network hiccups are worth another try; a refused address or a 404 is not.
RETRYABLE_CODES = frozenset({"timeout", "connection_failed", "dns_failure"})
ACCEPTED_TYPES = "application/json, application/yaml, application/x-yaml, text/yaml, text/plain"


class RetryableImportError(Exception):
    pass


def import_request(*, action: Action, url, acting_user) -> SchemaImport:
    """Record the job and queue it once the transaction commits. Raises RuleViolation
    queue_unavailable (503) when the broker can not take it: the job is kept and queued later."""
    if not isinstance(url, str) or not url.strip():
        raise RuleViolation("invalid", "Enter the URL of an OpenAPI document.", field="url")
    url = url.strip()
    if len(url) > 2000:
        raise RuleViolation("invalid", "The URL is at most 2000 characters.", field="url")
    try:
        host = host_from_url(url)
    except DomainError as exc:
        raise RuleViolation("invalid", f"Enter an http(s) URL: {exc}", field="url") from None
    dispatched: list[bool] = []
    with transaction.atomic():
        job = SchemaImport.objects.create(
            action=action, workspace=action.workspace, url=url, requested_by=acting_user
        )
        transaction.on_commit(lambda: dispatched.append(import_dispatch(job_id=job.pk)))
    # Inside a caller's own transaction the commit (and the publish) comes later; a publish
    # that fails then is caught up by import_dispatch_pending like any other.
    if dispatched == [False]:
        raise RuleViolation(
            "queue_unavailable",
            "The task queue is unavailable right now. Your import is saved and will start "
            "when the queue is back; follow it at the import's address.",
            status=503,
            import_id=job.pk,
            links={"self": reverse("api:import-detail", args=[job.pk])},
        )
    logger.info("schema import %s queued for action %s (host %s)", job.pk, action.pk, host)
    return job


def import_dispatch(*, job_id: int, previous: datetime | None = None) -> bool:
    """Hand a PENDING job that has not started to the broker. False when the broker could not
    take it (the job stays pending, unclaimed, for the next sweep).

    `previous` is the `dispatched_at` the caller saw: the claim succeeds only if it is still
    that value, so a request and a sweep (or two sweeps) never both publish the same job.
    """
    from actions.tasks import import_schema

    claimed_at = timezone.now()
    claimed = SchemaImport.objects.filter(
        pk=job_id, status=ImportStatus.PENDING, started_at__isnull=True, dispatched_at=previous
    ).update(dispatched_at=claimed_at)
    if not claimed:
        return True  # already queued by someone else, or already under way
    try:
        import_schema.delay(job_id)
    except (BrokerError, OSError) as exc:
        SchemaImport.objects.filter(pk=job_id, dispatched_at=claimed_at).update(
            dispatched_at=previous
        )
        logger.warning("schema import %s not queued, broker unavailable: %s", job_id, exc)
        return False
    return True


# A message that sat this long in the queue without being taken is presumed lost (a broker
# restarted without persistence); queueing it again is harmless, the run being idempotent.
REDISPATCH_AFTER = timedelta(minutes=10)


def import_dispatch_pending(*, limit: int = 200) -> int:
    """Queue the pending jobs that never reached the broker (or whose message was lost).
    Returns how many were queued; stops at the first refusal (the broker is still away)."""
    stale = timezone.now() - REDISPATCH_AFTER
    waiting = (
        SchemaImport.objects.filter(status=ImportStatus.PENDING, started_at__isnull=True)
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=stale))
        .order_by("id")
        .values_list("pk", "dispatched_at")[:limit]
    )
    queued = 0
    for job_id, previous in waiting:
        if not import_dispatch(job_id=job_id, previous=previous):
            break
        queued += 1
    if queued:
        logger.info("re-dispatched %s pending schema import(s)", queued)
    return queued


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
            .select_related("action__gpt__workspace", "requested_by")
            .filter(pk=job_id)
            .first()
        )
        if job is None or job.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
            return  # gone, or already done by an earlier delivery
        job.status = ImportStatus.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
    action = job.action
    workspace = action.workspace
    try:
        response = fetch(
            "GET",
            job.url,
            headers={"Accept": ACCEPTED_TYPES},
            host_check=lambda host: domain_check(workspace=workspace, host=host),
            timeout=IMPORT_TIMEOUT_SECONDS,
            max_body_chars=_max_chars(),
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
    try:
        openapi.parse(response.text)
    except openapi.SchemaParseError as exc:
        first = exc.problems[0].message if exc.problems else "unreadable"
        _finish(job, ImportStatus.FAILED, f"The document can not be parsed: {first}")
        return
    try:
        action_update(action=action, acting_user=job.requested_by, schema=response.text)
    except RuleViolation as exc:
        _finish(job, ImportStatus.FAILED, exc.detail)
        return
    _finish(job, ImportStatus.SUCCEEDED, "")


def import_give_up(*, job_id: int, reason: str) -> None:
    job = SchemaImport.objects.filter(pk=job_id).first()
    if job is not None and job.status not in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
        _finish(job, ImportStatus.FAILED, f"Gave up after {job.attempts} attempts: {reason}")


def _max_chars() -> int:
    from django.conf import settings

    return settings.SCHEMA_MAX_BYTES


def _set(job: SchemaImport, status: str, error: str) -> None:
    job.status, job.error = status, error
    job.save(update_fields=["status", "error"])


def _finish(job: SchemaImport, status: str, error: str) -> None:
    job.status, job.error, job.finished_at = status, error, timezone.now()
    job.save(update_fields=["status", "error", "finished_at"])
