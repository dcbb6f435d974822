"""Undo a publish: take a COMPLETED job's output away from consumers without losing it.

The job first becomes RETRACTED with its audit record (who, when, why, how) in one conditional write, so
the first request wins and a repeat returns that record. Then each published object is moved from
`processed/<job_id>/` to `retracted/<job_id>/` (the manifest first, so a consumer never finds a manifest
whose files are gone), `retraction.json` is written beside them, and the record notes when the move was
done. A request repeated after a crash finishes the move; nothing is ever deleted without its copy.
"""

from __future__ import annotations

from typing import Any

from etl_aws import contract as C
from etl_aws import s3io
from etl_aws.approval import ReasonRequired, Via
from etl_aws.clock import now_iso
from etl_aws.config import settings
from etl_aws.errors import InvalidTransition, PipelineError, transient_aware
from etl_aws.jobs import Job, JobsRepository
from etl_aws.layout import OUTPUT_FILES, processed_key, retracted_key
from etl_aws.models import JobStatus
from etl_aws.observability import bind_job, logger, metrics

# Taken back in this order: the manifest (what consumers wait for) first, the reverse of publishing.
RETRACT_ORDER = tuple(reversed(OUTPUT_FILES))


class NotPublished(PipelineError):
    """Only a COMPLETED job has a published output to take back."""

    code = "not_published"


@transient_aware
def unpublish(
    job_id: str, who: str, reason: str, via: Via = "iam", repo: JobsRepository | None = None
) -> tuple[Job, bool]:
    """Retract a COMPLETED job's published output. Returns (job, created): created is True for the
    request that retracted it, False for a repeat (which returns the first request's record and finishes
    a move a crash cut short). Raises ReasonRequired, JobNotFound, NotPublished (any other status)."""
    repo = repo or JobsRepository(settings().jobs_table)
    bind_job(job_id)
    reason = reason.strip()
    if not reason:
        raise ReasonRequired("unpublishing needs a reason")
    job = repo.get(job_id)
    created = False
    if job.status == JobStatus.COMPLETED:
        job, created = _mark_retracted(repo, job, who, reason, via)
    if job.status != JobStatus.RETRACTED:
        raise NotPublished(
            f"job {job_id} is {job.status}: only a COMPLETED job's published output can be unpublished"
        )
    if not (job.retraction or {}).get("moved_at"):
        job = _move_outputs(repo, job)
    logger.info("unpublished" if created else "unpublish repeated", extra={"via": via})
    return job, created


def _mark_retracted(repo: JobsRepository, job: Job, who: str, reason: str, via: Via) -> tuple[Job, bool]:
    if not job.output_bucket:
        raise NotPublished(
            f"job {job.job_id} does not say which bucket it was published to; move "
            f"{C.PROCESSED_PREFIX}{job.job_id}/ to {C.RETRACTED_PREFIX}{job.job_id}/ by hand"
        )
    record = {"by": who[:256], "at": now_iso(), "reason": reason[:1000], "via": via}
    try:
        done = repo.transition(job.job_id, [JobStatus.COMPLETED], JobStatus.RETRACTED, {"retraction": record})
    except InvalidTransition:  # it ended another way meanwhile: the caller reports that status
        return repo.get(job.job_id), False
    created = done.retraction == record  # False: a concurrent request retracted it first
    if created:
        metrics.add_metric(name="OutputsRetracted", unit="Count", value=1)
    return done, created


def _move_outputs(repo: JobsRepository, job: Job) -> Job:
    """Move every published object under retracted/, write the audit object, note the move as done."""
    bucket = job.output_bucket or ""
    moved: dict[str, str] = {}
    for name in RETRACT_ORDER:
        source, target = processed_key(job.job_id, name), retracted_key(job.job_id, name)
        if _move(bucket, source, target):
            moved[name.split(".")[0]] = target
    audit: dict[str, Any] = {
        "job_id": job.job_id,
        "file_name": job.file_name,
        "published": job.outputs,
        "retracted": moved,
        **(job.retraction or {}),
    }
    s3io.put_json(bucket, retracted_key(job.job_id, C.RETRACTION_FILE), audit)
    record = {**(job.retraction or {}), "moved_at": now_iso(), "outputs": moved}
    return repo.update(job.job_id, {"retraction": record}, only_if=[JobStatus.RETRACTED])


def _move(bucket: str, source: str, target: str) -> bool:
    """Move one published object; True when it is (now, or from an earlier attempt) under `target`."""
    current = s3io.head(bucket, source, denied_is_missing=True)
    if current is None:
        return s3io.head(bucket, target, denied_is_missing=True) is not None
    etag = str(current.get("ETag", "")).strip('"')
    return s3io.move_version(bucket, source, None, etag, target)
