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

from django.db import transaction
from django.urls import reverse

from actions.models import Action, SchemaImport
from actions.tasks import import_dispatch
from kernel.errors import RuleViolation
from workspaces.domains import DomainError, host_from_url

logger = logging.getLogger(__name__)


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
