"""Celery tasks. Each takes ids, re-reads its rows, calls a service, and owns its retries."""

import logging

from celery import shared_task
from celery.signals import worker_ready

from actions.imports import (
    RetryableImportError,
    import_dispatch_pending,
    import_give_up,
    import_run,
)

logger = logging.getLogger(__name__)

MAX_IMPORT_RETRIES = 4


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_IMPORT_RETRIES)
def import_schema(self, job_id: int) -> None:
    """Fetch, validate and save an action's schema from a URL (retried on network errors)."""
    try:
        import_run(job_id=job_id)
    except RetryableImportError as exc:
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
