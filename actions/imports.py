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
- an import into a new action creates the action when it succeeds, in the transaction that
  marks the job succeeded: a job that ran is never run again, so no second action is made.
"""

import logging

from django.db import transaction
from django.urls import reverse

from actions.models import Action, SchemaImport
from actions.services import new_action_check
from actions.tasks import import_dispatch
from gpts.models import GPT
from kernel.errors import RuleViolation
from workspaces.domains import DomainError, host_from_url

logger = logging.getLogger(__name__)

URL_MAX_CHARS = 2000


def import_request(*, action: Action, url, acting_user) -> SchemaImport:
    """Record a job that replaces `action`'s schema and queue it once the transaction commits.
    Raises RuleViolation queue_unavailable (503) when the broker can not take it: the job is
    kept and queued later."""
    url = _checked_url(url)
    job = SchemaImport(
        action=action,
        gpt_id=action.gpt_id,
        workspace_id=action.workspace_id,
        url=url,
        requested_by=acting_user,
    )
    return _queue(job)


def import_request_new_action(
    *, gpt: GPT, url, acting_user, privacy_policy_url: str = ""
) -> SchemaImport:
    """Record a job that creates a new action of `gpt` from the document at `url`, and queue
    it as `import_request` does.

    The action is created by the job, and only when the import succeeds (through
    `action_create`, so with every rule a save obeys): a failed import leaves nothing behind,
    whether the page that asked is still open or not. What would refuse any new action of the
    GPT is refused now, before anything is queued.
    """
    url = _checked_url(url)
    privacy_policy_url = new_action_check(gpt=gpt, privacy_policy_url=privacy_policy_url)
    job = SchemaImport(
        gpt=gpt,
        workspace_id=gpt.workspace_id,
        url=url,
        requested_by=acting_user,
        privacy_policy_url=privacy_policy_url,
    )
    return _queue(job)


def _checked_url(url) -> str:
    if not isinstance(url, str) or not url.strip():
        raise RuleViolation("invalid", "Enter the URL of an OpenAPI document.", field="url")
    url = url.strip()
    if len(url) > URL_MAX_CHARS:
        raise RuleViolation(
            "invalid", f"The URL is at most {URL_MAX_CHARS} characters.", field="url"
        )
    try:
        host_from_url(url)
    except DomainError as exc:
        raise RuleViolation("invalid", f"Enter an http(s) URL: {exc}", field="url") from None
    return url


def _queue(job: SchemaImport) -> SchemaImport:
    dispatched: list[bool] = []
    with transaction.atomic():
        job.save()
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
    target = f"action {job.action_id}" if job.action_id else f"a new action of GPT {job.gpt_id}"
    logger.info("schema import %s queued for %s (host %s)", job.pk, target, host_from_url(job.url))
    return job
