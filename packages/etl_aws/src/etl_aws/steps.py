"""The pipeline steps, shared by both orchestrators: extract → transform → load → request_approval → finalize.

Each step is a plain function over small models; each is idempotent (safe to run again after a crash at
any point) and turns transient AWS failures into `TransientError`, the only error orchestrators retry.
A file that cannot be processed ends the job FAILED (source preserved) and raises `FileRejected`.
"""

from __future__ import annotations

import io
import json
from typing import Any

import etl_core
from etl_aws import callbacks, job_metrics, policy, policy_decisions, review_requests, s3io, staging, tokens
from etl_aws import contract as C
from etl_aws.config import ApprovalRequestSettings, JobSettings, LoadSettings, StepSettings, settings
from etl_aws.errors import InvalidTransition, transient_aware

# finalize lives in its own module; both orchestrators reach every step through this one.
from etl_aws.finalize import finalize
from etl_aws.jobs import Job, JobsRepository, iso_in, now_iso
from etl_aws.layout import dataset_of, key_problem, staging_key
from etl_aws.models import (
    ApprovalRequested,
    Counts,
    Extracted,
    JobStatus,
    Loaded,
    ObjectRef,
    Source,
    StartRequest,
    Transformed,
)
from etl_aws.observability import bind_job, logger
from etl_aws.policy import Policies
from etl_aws.s3io import MultipartWriter, open_object
from etl_aws.staging import staged_records
from etl_aws.step_support import (
    dataset_of_job,
    recorded_failure,
    refuse,
    repo_for,
    source_of,
)
from etl_core import profile

__all__ = ["extract", "finalize", "load", "refuse", "register", "request_approval", "transform"]

_HEAD_BYTES = 64 * 1024


# ---- start ----------------------------------------------------------------------------------------


@transient_aware
def register(ref: ObjectRef, job_id: str, cfg: JobSettings | None = None) -> Job:
    """Create the job record (RECEIVED). Idempotent: the same object twice is the same job."""
    cfg = cfg or settings(JobSettings)
    return repo_for(cfg).create(job_id, cfg.workflow, ref, cfg.retention_days)


# ---- extract --------------------------------------------------------------------------------------


@transient_aware
def extract(request: StartRequest, cfg: StepSettings | None = None) -> Extracted:
    """Pin the exact object version, check size, encoding and header before any work is done."""
    cfg = cfg or settings(StepSettings)
    repo = repo_for(cfg)
    job_id, ref = request.job_id, request.object
    bind_job(job_id)
    job = repo.create(job_id, cfg.workflow, ref, cfg.retention_days)
    if job.status == JobStatus.FAILED:
        raise recorded_failure(job)
    if job.status != JobStatus.RECEIVED:
        return Extracted(job_id=job_id, source=source_of(job))

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
    repo = repo_for(cfg)
    job_id, source = extracted.job_id, extracted.source
    bind_job(job_id)
    job = repo.get(job_id)
    records_key = staging_key(job_id, C.RECORDS_FILE)
    rejects_key = staging_key(job_id, C.REJECTS_FILE)
    if job.status != JobStatus.EXTRACTED:  # TRANSFORMED or later: the outputs are staged and recorded
        if job.status == JobStatus.FAILED:
            raise recorded_failure(job)
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
            "staged": staged_records(records.written, rejects.written),
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
    """Check both staged outputs are there and unchanged, write the manifest, and record what was staged
    (each object's SHA-256, ETag, VersionId: what a decision will be bound to): the job is LOADED.

    Then the dataset's quality policy sorts the result into a band (stored with the job, with what changed
    since the last published version); a pass it publishes or a fail it rejects is decided here, and the
    result carries that decision (`Loaded.decided`) so no reviewer is asked."""
    cfg = cfg or settings(LoadSettings)
    repo = repo_for(cfg)
    job_id = transformed.job_id
    bind_job(job_id)
    manifest_key = staging_key(job_id, C.MANIFEST_FILE)
    job = repo.get(job_id)
    if job.status != JobStatus.TRANSFORMED:  # LOADED or later: written once, or the recorded version moves
        if job.status == JobStatus.FAILED:
            raise recorded_failure(job)
        job = _decide_by_policy(repo, job)  # a crash may have come between LOADED and the decision
        decided = policy_decisions.policy_decision(job)
        return Loaded(job_id=job_id, counts=transformed.counts, manifest_key=manifest_key, decided=decided)
    staged = dict(job.staged or {})
    for name, key in (("records", transformed.records_key), ("rejects", transformed.rejects_key)):
        head = s3io.head(cfg.output_bucket, key)
        if head is None:
            raise refuse(repo, job_id, "staging_missing", f"staged {name} output is missing")
        problem = staging.changed_since_written(staged.get(name), head)
        if problem:
            raise refuse(repo, job_id, staging.CHANGED, f"staged {name} output {problem}")
        staged[name] = staging.from_head(staged.get(name), key, head)
    manifest = {
        "job_id": job_id,
        "workflow": job.workflow,
        "source": transformed.source.model_dump(exclude_none=True),
        "counts": transformed.counts.model_dump(),
        "reasons": transformed.reasons,
        "columns": job.summary.get("columns", []),
        "files": {
            C.RECORDS_FILE: staging.file_entry(staged["records"], transformed.counts.valid),
            C.REJECTS_FILE: staging.file_entry(staged["rejects"], transformed.counts.rejected),
        },
    }
    staged["manifest"] = s3io.put_json(cfg.output_bucket, manifest_key, manifest).record()
    outputs = {"records": transformed.records_key, "rejects": transformed.rejects_key}
    outputs["manifest"] = manifest_key
    fields = {"outputs": outputs, "staged": staged, **_quality(cfg, repo, job)}
    job = _decide_by_policy(repo, repo.transition(job_id, [JobStatus.TRANSFORMED], JobStatus.LOADED, fields))
    decided = policy_decisions.policy_decision(job)
    return Loaded(job_id=job_id, counts=transformed.counts, manifest_key=manifest_key, decided=decided)


def _decide_by_policy(repo: JobsRepository, job: Job) -> Job:
    """Record the policy's decision on a LOADED job whose evaluation decides; any other job as it is."""
    if job.status == JobStatus.LOADED and job.policy is not None and job.policy.decides:
        return policy_decisions.decide_at_load(repo, job)
    return job


def _quality(cfg: StepSettings, repo: JobsRepository, job: Job) -> dict[str, str]:
    """The job's changes since the dataset's last published version and its policy evaluation (unless the
    default policy applies: the record stays as without policies), as attributes of the LOADED write.
    A function without policies (not a LoadSettings) applies none."""
    changes = _changes_since_published(repo, job)
    policies = cfg.dataset_policies if isinstance(cfg, LoadSettings) else Policies()
    evaluation = policy.evaluate(
        policies,
        dataset_of_job(job),
        job.counts,
        job.reasons,
        list(job.summary.get("columns", [])),
        changes,
    )
    fields = {"policy_json": evaluation.model_dump_json()} if evaluation.applies else {}
    if changes:
        fields["changes_json"] = json.dumps(changes, separators=(",", ":"))
    return fields


# ---- request approval -----------------------------------------------------------------------------


@transient_aware
def request_approval(
    loaded: Loaded,
    callback_token: str,
    cfg: ApprovalRequestSettings | None = None,
    execution_arn: str | None = None,
) -> ApprovalRequested:
    """Store the callback reference and a hashed review token, then e-mail the reviewers.

    Each request is a new generation with a review link of its own. Run again for a job still waiting
    (a retried or re-driven Step Functions task waits on a new task token), it issues a new link and
    e-mails it: the earlier links answer "superseded" and can no longer decide. When a decision was
    recorded meanwhile, it delivers that decision to the new token at once, so no recorded decision is
    left waiting on a token nobody will answer. The same request repeated (same token) changes nothing.
    """
    cfg = cfg or settings(ApprovalRequestSettings)
    repo = repo_for(cfg)
    job_id = loaded.job_id
    bind_job(job_id)
    job = repo.get(job_id)
    if job.notified_at and job.approval_expires_at and not _follow_new_token(repo, job, callback_token):
        return ApprovalRequested(job_id=job_id, approval_expires_at=job.approval_expires_at)
    decided = policy_decisions.policy_decision(job)
    if decided is not None:  # Step Functions asks anyway: hand the state machine the policy's decision
        callbacks.send_decision(job.workflow, callback_token, decided)
        logger.info("policy decision delivered to the approval step")
        return ApprovalRequested(job_id=job_id, approval_expires_at="", notified=False)
    if job.status not in (JobStatus.LOADED, JobStatus.PENDING_APPROVAL):
        raise InvalidTransition(f"job {job_id} is {job.status}: cannot request approval")
    review_policy = cfg.review.for_dataset(dataset_of_job(job))
    links = review_requests.new_links(review_policy)
    expires_at = iso_in(cfg.approval_timeout_seconds)
    changes = job.changes
    # A re-run (its first run stopped between storing and e-mailing) keeps the approvals recorded since.
    extra = review_requests.stored_fields(review_policy, links) | (
        {"approvals": job.approvals} if job.approvals else {}
    )
    extra["approval_generation"] = job.approval_generation + 1
    if changes is None:  # loaded before the load step stored them (without a profile: None, no read)
        changes = _changes_since_published(repo, job)
        if changes:
            extra["changes_json"] = json.dumps(changes, separators=(",", ":"))
    if job.status == JobStatus.PENDING_APPROVAL:  # links were issued before: superseded, not voided
        extra["superseded_token_hashes"] = tokens.superseded(repo.approval_secrets(job_id))
    try:
        job = repo.store_approval(
            job_id, callback_token, review_requests.shared_hash(links), expires_at, execution_arn, extra=extra
        )
    except InvalidTransition:  # a decision arrived meanwhile: the new token gets it, no new link
        job = repo.get(job_id)
        _deliver_recorded(repo, job, callback_token)
        return ApprovalRequested(job_id=job_id, approval_expires_at=job.approval_expires_at or expires_at)
    message = {
        "file_name": job.file_name,
        "counts": job.counts,
        "reasons": job.reasons,
        "api_url": cfg.api_url,
        "expires_at": expires_at,
        "changes": profile.describe_changes(changes) if changes else None,
        "approvals_required": review_policy.approvals_required,
        "generation": job.approval_generation,
    }
    # Never skipped: ETL_TOPIC_ARN is required (config.ApprovalRequestSettings), checked at cold start.
    review_requests.send(cfg.topic_arn, job_id, links, message)
    repo.update(job_id, {"notified_at": now_iso()})
    logger.info(
        "approval requested",
        extra={"approval_expires_at": expires_at, "generation": job.approval_generation},
    )
    return ApprovalRequested(job_id=job_id, approval_expires_at=expires_at)


def _changes_since_published(repo: JobsRepository, job: Job) -> dict[str, Any] | None:
    """The job's profile diffed against the last published version of its dataset (None without a
    profile, e.g. a job transformed before profiles existed). One read of the dataset's pointer item."""
    if not job.profile:
        return None
    previous = repo.latest_published(dataset_of_job(job))
    if previous is None or previous.job_id == job.job_id or not previous.profile:
        return profile.diff_profiles(None, job.profile)
    changes = profile.diff_profiles(previous.profile, job.profile)
    changes["since"] = {"job_id": previous.job_id, "finalized_at": previous.finalized_at}
    return changes


def _follow_new_token(repo: JobsRepository, job: Job, callback_token: str) -> bool:
    """The workflow now waits on `callback_token`. True when the job still waits for a decision (a new
    link is to be issued); otherwise a decision recorded meanwhile is delivered to the new token."""
    secrets = repo.approval_secrets(job.job_id)
    if secrets.callback_token == callback_token or job.finalized_at:
        return False
    if job.status == JobStatus.PENDING_APPROVAL:
        return True
    _deliver_recorded(repo, job, callback_token)
    return False


def _deliver_recorded(repo: JobsRepository, job: Job, callback_token: str) -> None:
    """Point the job at `callback_token` and send it the decision recorded meanwhile (if there is one)."""
    if job.decision is None or job.status not in (JobStatus.APPROVED, JobStatus.REJECTED):
        return
    repo.update(job.job_id, {"callback_token": callback_token}, only_if=[job.status])
    callbacks.send_decision(job.workflow, callback_token, job.decision)
    repo.mark_callback_sent(job.job_id)
    logger.info("recorded decision delivered to the retried approval request")
