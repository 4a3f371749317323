"""Celery tasks. Each takes ids, re-reads its rows, calls a service, and owns its retries."""

from celery import shared_task

from actions.imports import RetryableImportError, import_give_up, import_run

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
