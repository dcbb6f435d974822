"""The pipeline steps, shared by both orchestrators: extract → transform → load → request_approval → finalize.

Each step is a plain function over small models; each is idempotent (safe to run again after a crash at
any point) and turns transient AWS failures into `TransientError`, the only error orchestrators retry.
A file that cannot be processed ends the job FAILED (source preserved) and raises `FileRejected`.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import etl_core
from etl_aws import callbacks, job_metrics, notify, s3io, tokens
from etl_aws import contract as C
from etl_aws.config import ApprovalRequestSettings, JobSettings, StepSettings, settings
from etl_aws.errors import FileRejected, InvalidTransition, transient_aware
from etl_aws.jobs import Job, JobsRepository, iso_in, now_iso
from etl_aws.layout import OUTPUT_FILES, archive_key, dataset_of, key_problem, processed_key, staging_key
from etl_aws.models import (
    TERMINAL,
    ApprovalRequested,
    Counts,
    Decision,
    Extracted,
    Finalized,
    JobStatus,
    Loaded,
    ObjectRef,
    Outcome,
    Source,
    StartRequest,
    Transformed,
)
from etl_aws.observability import bind_job, logger
from etl_aws.s3io import MultipartWriter, open_object
from etl_core import profile

_NON_TERMINAL = [s for s in JobStatus if s not in TERMINAL]
_HEAD_BYTES = 64 * 1024


def _repo(cfg: JobSettings) -> JobsRepository:
    return JobsRepository(cfg.jobs_table)


def refuse(
    repo: JobsRepository, job_id: str, code: str, message: str, fields: dict[str, Any] | None = None
) -> FileRejected:
    """Mark the job FAILED with the reason (the source stays where it is) and return the error to raise.

    Idempotent: a job already terminal is left as it is. `fields`: more attributes to record with it."""
    error = {"error": {"code": code, "message": message}}
    with contextlib.suppress(InvalidTransition):  # already terminal: nothing more to record
        repo.transition(job_id, _NON_TERMINAL, JobStatus.FAILED, {**error, **(fields or {})})
    logger.warning("file refused", extra={"reason": code, "detail": message})
    return FileRejected(message, code=code)


def _recorded_failure(job: Job) -> FileRejected:
    """The error a FAILED job ended with, raised again when a step is re-run on it."""
    error = job.error or {}
    return FileRejected(error.get("message", "job failed"), code=error.get("code"))


def _source_of(job: Job) -> Source:
    return Source.model_validate(job.source)


# ---- start ----------------------------------------------------------------------------------------


@transient_aware
def register(ref: ObjectRef, job_id: str, cfg: JobSettings | None = None) -> Job:
    """Create the job record (RECEIVED). Idempotent: the same object twice is the same job."""
    cfg = cfg or settings(JobSettings)
    return _repo(cfg).create(job_id, cfg.workflow, ref, cfg.retention_days)


# ---- extract --------------------------------------------------------------------------------------


@transient_aware
def extract(request: StartRequest, cfg: StepSettings | None = None) -> Extracted:
    """Pin the exact object version, check size, encoding and header before any work is done."""
    cfg = cfg or settings(StepSettings)
    repo = _repo(cfg)
    job_id, ref = request.job_id, request.object
    bind_job(job_id)
    job = repo.create(job_id, cfg.workflow, ref, cfg.retention_days)
    if job.status == JobStatus.FAILED:
        raise _recorded_failure(job)
    if job.status != JobStatus.RECEIVED:
        return Extracted(job_id=job_id, source=_source_of(job))

    problem_with_keys = key_problem(job_id, ref.key)
    if problem_with_keys:  # refused now, not after a reviewer approved a file that cannot be archived
        raise refuse(repo, job_id, "key_too_long", problem_with_keys)
    head = s3io.head(ref.bucket, ref.key, ref.version_id, denied_is_missing=True)
    if head is None:
        raise refuse(repo, job_id, "source_missing", "the uploaded object no longer exists")
    source = Source(
        bucket=ref.bucket,
        key=ref.key,
        version_id=head.get("VersionId") if head.get("VersionId") not in (None, "null") else None,
        etag=str(head.get("ETag", "")).strip('"') or None,
        size=int(head.get("ContentLength", 0)),
    )
    if source.size == 0:
        raise refuse(repo, job_id, etl_core.errors.EMPTY, "file is empty")
    if source.size > cfg.max_file_bytes:
        raise refuse(repo, job_id, "file_too_large", cfg.file_too_large(source.size))
    problem = _check_head(source)
    if problem is not None:
        raise refuse(repo, job_id, problem.code, problem.message)
    repo.transition(
        job_id, [JobStatus.RECEIVED], JobStatus.EXTRACTED, {"source": source.model_dump(exclude_none=True)}
    )
    logger.info("extracted", extra={"bytes": source.size})
    return Extracted(job_id=job_id, source=source)


def _check_head(source: Source) -> etl_core.FileError | None:
    """Run etl_core over the first complete lines: file-level problems show up before any real work."""
    head = s3io.read_start(source.bucket, source.key, source.version_id, _HEAD_BYTES)
    if source.size > len(head) and b"\n" in head:
        head = head[: head.rindex(b"\n") + 1]
    try:
        etl_core.process(io.BytesIO(head), io.BytesIO(), io.BytesIO())
    except etl_core.FileError as exc:
        return exc
    return None


# ---- transform ------------------------------------------------------------------------------------


@transient_aware
def transform(extracted: Extracted, cfg: StepSettings | None = None) -> Transformed:
    """Stream the pinned source through etl_core into staging/<job_id>/ (records and rejects)."""
    cfg = cfg or settings(StepSettings)
    repo = _repo(cfg)
    job_id, source = extracted.job_id, extracted.source
    bind_job(job_id)
    job = repo.get(job_id)
    records_key = staging_key(job_id, C.RECORDS_FILE)
    rejects_key = staging_key(job_id, C.REJECTS_FILE)
    if job.status != JobStatus.EXTRACTED:  # TRANSFORMED or later: the outputs are staged and recorded
        if job.status == JobStatus.FAILED:
            raise _recorded_failure(job)
        return _transformed_from(job, source, records_key, rejects_key)
    try:
        with (
            open_object(source.bucket, source.key, source.version_id, source.etag) as stream,
            MultipartWriter(cfg.output_bucket, records_key) as records,
            MultipartWriter(cfg.output_bucket, rejects_key) as rejects,
        ):
            summary = etl_core.process(stream, records, rejects)
    except etl_core.FileError as exc:
        raise refuse(repo, job_id, exc.code, exc.message) from None
    data = summary.to_dict()
    counts = Counts(rows=summary.rows, valid=summary.valid, rejected=summary.rejected)
    repo.transition(
        job_id,
        [JobStatus.EXTRACTED],
        JobStatus.TRANSFORMED,
        {
            "counts": counts.model_dump(),
            "reasons": data["reasons"],
            "summary": data,
            "outputs": {"records": records_key, "rejects": rejects_key},
            "dataset": dataset_of(source.key),
            "profile_json": json.dumps(summary.profile, separators=(",", ":")),
        },
    )
    job_metrics.rows_transformed(job.workflow, cfg.jobs_table, counts)
    logger.info("transformed", extra={"rows": summary.rows, "rejected": summary.rejected})
    return Transformed(
        job_id=job_id,
        source=source,
        counts=counts,
        reasons=data["reasons"],
        records_key=records_key,
        rejects_key=rejects_key,
    )


def _transformed_from(job: Job, source: Source, records_key: str, rejects_key: str) -> Transformed:
    return Transformed(
        job_id=job.job_id,
        source=source,
        counts=Counts.model_validate(job.counts),
        reasons=job.reasons,
        records_key=records_key,
        rejects_key=rejects_key,
    )


# ---- load -----------------------------------------------------------------------------------------


@transient_aware
def load(transformed: Transformed, cfg: StepSettings | None = None) -> Loaded:
    """Check both staged outputs are there, write the manifest, record counts: the job is LOADED."""
    cfg = cfg or settings(StepSettings)
    repo = _repo(cfg)
    job_id = transformed.job_id
    bind_job(job_id)
    manifest_key = staging_key(job_id, C.MANIFEST_FILE)
    job = repo.get(job_id)
    if job.status not in (JobStatus.TRANSFORMED, JobStatus.LOADED):
        if job.status == JobStatus.FAILED:
            raise _recorded_failure(job)
        return Loaded(job_id=job_id, counts=transformed.counts, manifest_key=manifest_key)
    sizes = {}
    for name, key in (("records", transformed.records_key), ("rejects", transformed.rejects_key)):
        staged = s3io.head(cfg.output_bucket, key)
        if staged is None:
            raise refuse(repo, job_id, "staging_missing", f"staged {name} output is missing")
        sizes[name] = int(staged["ContentLength"])
    manifest = {
        "job_id": job_id,
        "workflow": job.workflow,
        "source": transformed.source.model_dump(exclude_none=True),
        "counts": transformed.counts.model_dump(),
        "reasons": transformed.reasons,
        "columns": job.summary.get("columns", []),
        "files": {
            C.RECORDS_FILE: {"bytes": sizes["records"], "lines": transformed.counts.valid},
            C.REJECTS_FILE: {"bytes": sizes["rejects"], "lines": transformed.counts.rejected},
        },
    }
    s3io.put_json(cfg.output_bucket, manifest_key, manifest)
    repo.transition(
        job_id,
        [JobStatus.TRANSFORMED],
        JobStatus.LOADED,
        {
            "outputs": {
                "records": transformed.records_key,
                "rejects": transformed.rejects_key,
                "manifest": manifest_key,
            }
        },
    )
    return Loaded(job_id=job_id, counts=transformed.counts, manifest_key=manifest_key)


# ---- request approval -----------------------------------------------------------------------------


@transient_aware
def request_approval(
    loaded: Loaded,
    callback_token: str,
    cfg: ApprovalRequestSettings | None = None,
    execution_arn: str | None = None,
) -> ApprovalRequested:
    """Store the callback reference and a hashed review token, then e-mail the reviewers once.

    Run again (a retried Step Functions task waits on a new task token), it points the job at the new
    token; and when a decision was recorded meanwhile, it delivers that decision to the new token at
    once, so no recorded decision is left waiting on a token nobody will answer.
    """
    cfg = cfg or settings(ApprovalRequestSettings)
    repo = _repo(cfg)
    job_id = loaded.job_id
    bind_job(job_id)
    job = repo.get(job_id)
    if job.notified_at and job.approval_expires_at:
        _follow_new_token(repo, job, callback_token)
        return ApprovalRequested(job_id=job_id, approval_expires_at=job.approval_expires_at)
    if job.status not in (JobStatus.LOADED, JobStatus.PENDING_APPROVAL):
        raise InvalidTransition(f"job {job_id} is {job.status}: cannot request approval")
    token = tokens.new_token()
    expires_at = iso_in(cfg.approval_timeout_seconds)
    changes = _changes_since_published(repo, job)
    extra = {"changes_json": json.dumps(changes, separators=(",", ":"))} if changes else None
    job = repo.store_approval(
        job_id, callback_token, tokens.hash_token(token), expires_at, execution_arn, extra=extra
    )
    subject, body = notify.approval_message(
        job_id,
        job.file_name,
        job.counts,
        job.reasons,
        cfg.api_url,
        token,
        expires_at,
        changes=profile.describe_changes(changes) if changes else None,
    )
    # Never skipped: ETL_TOPIC_ARN is required (config.ApprovalRequestSettings), checked at cold start.
    notify.publish(cfg.topic_arn, subject, body, {"job_id": job_id})
    repo.update(job_id, {"notified_at": now_iso()})
    logger.info("approval requested", extra={"approval_expires_at": expires_at})
    return ApprovalRequested(job_id=job_id, approval_expires_at=expires_at)


def _changes_since_published(repo: JobsRepository, job: Job) -> dict[str, Any] | None:
    """The job's profile diffed against the last published version of its dataset (None without a
    profile, e.g. a job transformed before profiles existed). One read of the dataset's pointer item."""
    if not job.profile:
        return None
    previous = repo.latest_published(_dataset(job))
    if previous is None or previous.job_id == job.job_id or not previous.profile:
        return profile.diff_profiles(None, job.profile)
    changes = profile.diff_profiles(previous.profile, job.profile)
    changes["since"] = {"job_id": previous.job_id, "finalized_at": previous.finalized_at}
    return changes


def _dataset(job: Job) -> str:
    return job.dataset if job.dataset is not None else dataset_of(str(job.source.get("key", "")))


def _mark_published(repo: JobsRepository, job: Job) -> None:
    """Make `job` (COMPLETED) the version the dataset's next upload is compared with."""
    if job.status == JobStatus.COMPLETED and job.profile and job.retraction is None:
        repo.mark_published(_dataset(job), job)


def _follow_new_token(repo: JobsRepository, job: Job, callback_token: str) -> None:
    """The workflow now waits on `callback_token`: store it, and deliver a decision recorded meanwhile."""
    secrets = repo.approval_secrets(job.job_id)
    if secrets.callback_token == callback_token or job.finalized_at:
        return
    if job.status == JobStatus.PENDING_APPROVAL:
        try:
            repo.update(job.job_id, {"callback_token": callback_token}, only_if=[JobStatus.PENDING_APPROVAL])
            return
        except InvalidTransition:  # a decision arrived meanwhile: deliver it below
            job = repo.get(job.job_id)
    if job.decision is None or job.status not in (JobStatus.APPROVED, JobStatus.REJECTED):
        return
    repo.update(job.job_id, {"callback_token": callback_token}, only_if=[job.status])
    callbacks.send_decision(secrets.workflow, callback_token, job.decision)
    repo.mark_callback_sent(job.job_id)
    logger.info("recorded decision delivered to the retried approval request")


# ---- finalize -------------------------------------------------------------------------------------


@transient_aware
def finalize(
    job_id: str,
    outcome: Outcome,
    decision: Decision | None = None,
    error: dict[str, str] | None = None,
    cfg: StepSettings | None = None,
) -> Finalized:
    """End the job. Approved: archive the source, then publish to processed/<job_id>/ → COMPLETED.
    Rejected / expired: publish nothing, archive the source → REJECTED / EXPIRED.
    Failed: record the error, take back anything published, keep the source in place → FAILED.

    Publishing is the commit point: it comes after every other part that can fail for good, and a job
    that ends any other way has nothing under processed/. Safe to re-run after a crash at any point."""
    cfg = cfg or settings(StepSettings)
    repo = _repo(cfg)
    bind_job(job_id)
    job = repo.get(job_id)
    if job.finalized_at and job.terminal:
        if job.status != JobStatus.FAILED:
            _delete_staging(cfg, job_id)  # a crash after the commit may have left it
        _mark_published(repo, job)  # likewise (a conditional put: a newer version is never replaced)
        return Finalized(job_id=job_id, status=job.status, outputs=job.outputs)
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
    archived = _archive(job_id, _source_of(job))
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
    archived = _archive(job.job_id, _source_of(job))
    if archived is None:
        raise refuse(
            repo,
            job.job_id,
            "source_missing",
            "the uploaded file was deleted while the job waited for its decision; nothing was published",
        )
    outputs = {"archive": archived}
    for name in OUTPUT_FILES:  # the manifest last: a consumer that sees it sees the whole output
        src, dst = staging_key(job.job_id, name), processed_key(job.job_id, name)
        s3io.copy(cfg.output_bucket, src, dst)
        outputs[name.split(".")[0]] = dst
    fields = {"finalized_at": now_iso(), "outputs": outputs, "output_bucket": cfg.output_bucket}
    done = repo.transition(job.job_id, [JobStatus.APPROVED], JobStatus.COMPLETED, fields)
    _mark_published(repo, done)
    job_metrics.job_ended(job, JobStatus.COMPLETED, cfg.jobs_table)
    _delete_staging(cfg, job.job_id)
    logger.info("finalized", extra={"status": "COMPLETED"})
    return Finalized(job_id=job.job_id, status=done.status, outputs=done.outputs)


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
        done = repo.transition(job.job_id, [*_NON_TERMINAL, JobStatus.FAILED], JobStatus.FAILED, fields)
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
    moved = s3io.move_version(source.bucket, source.key, source.version_id, source.etag, key)
    return key if moved else None


def _delete_staging(cfg: StepSettings, job_id: str) -> None:
    s3io.delete_keys(cfg.output_bucket, [staging_key(job_id, n) for n in OUTPUT_FILES])


def _retract(cfg: StepSettings, job_id: str) -> None:
    s3io.delete_keys(cfg.output_bucket, [processed_key(job_id, n) for n in OUTPUT_FILES])
