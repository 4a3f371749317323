"""Celery tasks. Each takes ids, re-reads its rows, calls a service, and owns its retries."""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.db.models import Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from actions.import_job import RetryableImportError, import_give_up, import_run
from actions.models import ImportStatus, SchemaImport

logger = logging.getLogger(__name__)

MAX_IMPORT_RETRIES = 4


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_IMPORT_RETRIES)
def import_schema(self, job_id: int) -> None:
    """Fetch, validate and save an action's schema from a URL (retried on network errors)."""
    try:
        import_run(job_id=job_id)
    except RetryableImportError as exc:
        # In eager mode (no broker) the task runs inside the request: a retry would escape as
        # an exception into the view and leave the job pending forever, and waiting out the
        # backoff would hold the request for half a minute. The job ends failed, saying why.
        if self.request.is_eager:
            import_give_up(job_id=job_id, reason=f"{exc} (no task queue is configured, so the "
                           "import was not retried; try again)")
            return
        if self.request.retries >= MAX_IMPORT_RETRIES:
            import_give_up(job_id=job_id, reason=str(exc))
            return
        # Exponential backoff: 2, 4, 8, 16 s.
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc


@shared_task(ignore_result=True)
def dispatch_pending_imports() -> int:
    """Queue the imports the broker could not take when they were asked for (celery beat runs
    this every 30 s: CELERY_BEAT_SCHEDULE)."""
    return import_dispatch_pending()


@worker_ready.connect
def _dispatch_pending_on_worker_start(sender=None, **kwargs) -> None:
    """A worker coming up (often right after the broker came back) catches up at once rather
    than at the next beat."""
    try:
        dispatch_pending_imports.delay()
    except Exception:  # a worker must start even if this publish fails; beat tries again
        logger.exception("could not queue dispatch_pending_imports at worker start")


def import_dispatch(*, job_id: int, previous: datetime | None = None) -> bool:
    """Hand a PENDING job that has not started to the broker. False when the broker could not
    take it (the job stays pending, unclaimed, for the next sweep).

    `previous` is the `dispatched_at` the caller saw: the claim succeeds only if it is still
    that value, so a request and a sweep (or two sweeps) never both publish the same job.
    """
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
