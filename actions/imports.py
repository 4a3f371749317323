"""Import an action's schema from a URL: the request (API side) and the work (Celery side).

The fetch goes through the guarded outbound client, so an import can reach only what an action
could. The work is idempotent: a job that already finished is not done again, which makes
`acks_late` redelivery after a worker crash safe.
"""

import logging

from django.db import transaction
from django.utils import timezone

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
    """Record the job and queue it once the transaction commits."""
    from actions.tasks import import_schema

    if not isinstance(url, str) or not url.strip():
        raise RuleViolation("invalid", "Enter the URL of an OpenAPI document.", field="url")
    url = url.strip()
    if len(url) > 2000:
        raise RuleViolation("invalid", "The URL is at most 2000 characters.", field="url")
    try:
        host = host_from_url(url)
    except DomainError as exc:
        raise RuleViolation("invalid", f"Enter an http(s) URL: {exc}", field="url") from None
    with transaction.atomic():
        job = SchemaImport.objects.create(
            action=action, workspace=action.workspace, url=url, requested_by=acting_user
        )
        transaction.on_commit(lambda: import_schema.delay(job.pk))
    logger.info("schema import %s queued for action %s (host %s)", job.pk, action.pk, host)
    return job


def import_run(*, job_id: int) -> None:
    """Carry out one import job. Raises RetryableImportError for network trouble."""
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
