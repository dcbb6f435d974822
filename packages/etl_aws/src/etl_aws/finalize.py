"""The last step of both orchestrators: end the job and, when approved, publish its output.

Publishing is the commit point: it comes after every other part that can fail for good, and a job that ends
any other way has nothing under processed/. Safe to re-run after a crash at any point.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from etl_aws import job_metrics, policy_decisions, s3io, staging
from etl_aws.config import StepSettings, settings
from etl_aws.errors import InvalidTransition, transient_aware
from etl_aws.jobs import Job, JobsRepository, now_iso
from etl_aws.layout import OUTPUT_FILES, archive_key, processed_key, staging_key
from etl_aws.models import Decision, Finalized, JobStatus, Outcome, Source
from etl_aws.observability import bind_job, logger
from etl_aws.step_support import NON_TERMINAL, dataset_of_job, refuse, repo_for, source_of


@transient_aware
def finalize(
    job_id: str,
    outcome: Outcome,
    decision: Decision | None = None,
    error: dict[str, str] | None = None,
    cfg: StepSettings | None = None,
) -> Finalized:
    """End the job. Approved: check the staged objects are still exactly the recorded ones (else FAILED,
    nothing published, the source left in place), archive the source, then publish the recorded versions
    to processed/<job_id>/ → COMPLETED.
    Rejected / expired: publish nothing, archive the source → REJECTED / EXPIRED. Expired: the dataset\'s
    policy may instead reject, or approve and publish (etl_aws.policy_decisions.at_timeout).
    Failed: record the error, take back anything published, keep the source in place → FAILED.

    Publishing is the commit point: it comes after every other part that can fail for good, and a job
    that ends any other way has nothing under processed/. Safe to re-run after a crash at any point."""
    cfg = cfg or settings(StepSettings)
    repo = repo_for(cfg)
    bind_job(job_id)
    job = repo.get(job_id)
    if job.finalized_at and job.terminal:
        if job.status != JobStatus.FAILED:
            _delete_staging(cfg, job_id)  # a crash after the commit may have left it
        _mark_published(repo, job)  # likewise (a conditional put: a newer version is never replaced)
        return Finalized(job_id=job_id, status=job.status, outputs=job.outputs)
    if outcome == Outcome.EXPIRED:  # the dataset's policy may reject or approve at the timeout instead
        job, outcome = policy_decisions.at_timeout(repo, job)
    if outcome == Outcome.FAILED:
        return _finalize_failed(repo, job, cfg, error or {"code": "error", "message": "the workflow failed"})
    if outcome in (Outcome.APPROVED, Outcome.REJECTED) and job.status == JobStatus.PENDING_APPROVAL:
        # The decision reached the workflow without passing through the approval service: record it.
        decision = decision or Decision(approved=outcome == Outcome.APPROVED, decided_at=now_iso())
        job, _ = repo.record_decision(job_id, decision)
    if outcome == Outcome.APPROVED:
        return _finalize_approved(repo, job, cfg)
    status = JobStatus.REJECTED if outcome == Outcome.REJECTED else JobStatus.EXPIRED
    allowed = (
        [JobStatus.REJECTED]
        if status == JobStatus.REJECTED
        else [JobStatus.PENDING_APPROVAL, JobStatus.APPROVED, JobStatus.REJECTED, JobStatus.EXPIRED]
    )
    if job.status not in allowed:
        raise InvalidTransition(f"job {job_id} is {job.status}: cannot end {status}")
    outputs = {}
    archived = _archive(job_id, source_of(job))
    if archived:
        outputs["archive"] = archived
    done = repo.transition(job_id, allowed, status, {"finalized_at": now_iso(), "outputs": outputs})
    job_metrics.job_ended(job, status, cfg.jobs_table)
    _delete_staging(cfg, job_id)
    logger.info("finalized", extra={"status": status.value})
    return Finalized(job_id=job_id, status=done.status, outputs=done.outputs)


def _finalize_approved(repo: JobsRepository, job: Job, cfg: StepSettings) -> Finalized:
    if job.status not in (JobStatus.APPROVED, JobStatus.COMPLETED):
        raise InvalidTransition(f"job {job.job_id} is {job.status}: cannot publish")
    problem = _binding_problem(job, cfg)  # before anything moves: the source stays where it is
    if problem:
        raise refuse(repo, job.job_id, staging.CHANGED, f"{problem}; nothing was published")
    archived = _archive(job.job_id, source_of(job))
    if archived is None:
        raise refuse(
            repo,
            job.job_id,
            "source_missing",
            "the uploaded file was deleted while the job waited for its decision; nothing was published",
        )
    outputs = {"archive": archived}
    for name in OUTPUT_FILES:  # the manifest last: a consumer that sees it sees the whole output
        short = name.split(".")[0]
        recorded = (job.staged or {}).get(short, {})
        src, dst = staging_key(job.job_id, name), processed_key(job.job_id, name)
        try:  # exactly the recorded version, and only while it still has the recorded ETag
            # The recorded version's size (the binding check found that version current).
            size = int(recorded["bytes"]) if "bytes" in recorded else None
            s3io.copy(cfg.output_bucket, src, dst, recorded.get("version_id"), recorded.get("etag"), size)
        except ClientError as exc:
            if not (recorded and s3io.precondition_failed(exc)):
                raise
            _retract(cfg, job.job_id)  # no partial publish: records without rejects, or the reverse
            message = f"the staged {short} output changed while it was being published; nothing was published"
            raise refuse(repo, job.job_id, staging.CHANGED, message) from None
        outputs[short] = dst
    fields = {"finalized_at": now_iso(), "outputs": outputs, "output_bucket": cfg.output_bucket}
    done = repo.transition(job.job_id, [JobStatus.APPROVED], JobStatus.COMPLETED, fields)
    _mark_published(repo, done)
    job_metrics.job_ended(job, JobStatus.COMPLETED, cfg.jobs_table)
    _delete_staging(cfg, job.job_id)
    logger.info("finalized", extra={"status": "COMPLETED"})
    return Finalized(job_id=job.job_id, status=done.status, outputs=done.outputs)


def _binding_problem(job: Job, cfg: StepSettings) -> str | None:
    """Why the approved job's staged objects are not the ones its decision was made on (None: they are).

    The decision's hashes must be the recorded ones, and each staged key must still hold the recorded
    version (one HeadObject each). A job staged before hashes were recorded has nothing to check."""
    if not job.staged:
        return None
    presented = job.decision.staged if job.decision is not None else None
    if presented and presented != staging.hashes(job.staged):
        return "the decision was made on other staged data than the job recorded"
    return staging.current_problem(cfg.output_bucket, job.staged)


def _finalize_failed(repo: JobsRepository, job: Job, cfg: StepSettings, error: dict[str, str]) -> Finalized:
    if job.status != JobStatus.COMPLETED:
        _retract(cfg, job.job_id)  # a publish cut short must not stay visible to consumers
    _delete_staging(cfg, job.job_id)
    fields: dict[str, Any] = {"finalized_at": now_iso()}
    if job.status != JobStatus.FAILED:
        fields["error"] = {
            "code": str(error.get("code", "error"))[:100],
            "message": str(error.get("message"))[:500],
        }
    try:
        done = repo.transition(job.job_id, [*NON_TERMINAL, JobStatus.FAILED], JobStatus.FAILED, fields)
    except InvalidTransition:
        done = repo.get(job.job_id)  # it ended another way first; that ending stands
    else:
        job_metrics.job_ended(job, JobStatus.FAILED, cfg.jobs_table)
    return Finalized(job_id=job.job_id, status=done.status, outputs=done.outputs)


def _archive(job_id: str, source: Source) -> str | None:
    """Move the exact source version to archive/<job_id>/; a newer upload of the same key is untouched.

    Returns the archive key, or None when the source version no longer exists and was never archived
    (it was deleted, or overwritten in a bucket without versioning, while the job waited)."""
    key = archive_key(job_id, source.key)
    moved = s3io.move_version(
        source.bucket, source.key, source.version_id, source.etag, key, size=source.size or None
    )
    return key if moved else None


def _delete_staging(cfg: StepSettings, job_id: str) -> None:
    s3io.delete_keys(cfg.output_bucket, [staging_key(job_id, n) for n in OUTPUT_FILES])


def _retract(cfg: StepSettings, job_id: str) -> None:
    s3io.delete_keys(cfg.output_bucket, [processed_key(job_id, n) for n in OUTPUT_FILES])


def _mark_published(repo: JobsRepository, job: Job) -> None:
    """Make `job` (COMPLETED) the version the dataset's next upload is compared with."""
    if job.status == JobStatus.COMPLETED and job.profile and job.retraction is None:
        repo.mark_published(dataset_of_job(job), job)
